"""Safety-netting facts: advice on what to do if things change ("if it gets worse, call 111")."""

from __future__ import annotations

from functools import cache

from scribe.notes.lexicon.facts import Doc, Fact
from scribe.notes.lexicon.negation import CONDITION_REACH
from scribe.notes.lexicon.phrases import PhraseIndex
from scribe.notes.lexicon.tokens import SENTENCE_END, phrase_key
from scribe.notes.lexicon.wordlists import read_pairs


@cache
def _safety_index() -> PhraseIndex:
    index: dict[tuple[str, ...], object] = {}
    for words, value in read_pairs("safety_netting.txt"):
        index.setdefault(phrase_key(words), (value, words.isupper() and len(words) > 1))
    return PhraseIndex(index)


_SN_CONDITIONS = {"if", "should", "unless", "any", "anything", "whenever", "worse", "worsen", "worsens", "worsening"}
_SN_CONDITIONS |= {"persist", "persists", "persistent", "improve", "improving", "better", "develop", "case"}
_SN_URGENT = {"call 111", "call 999", "go to a&e"}
_SN_URGE = {"go", "call", "ring", "phone", "dial", "attend", "head", "straight", "immediately", "urgently"}


def safety_netting_facts(doc: Doc) -> None:
    """Advice on what to do if things change: 'if it gets worse, call 111', 'go to A&E if...'."""
    index = _safety_index()
    toks = doc.toks
    seen: set[tuple[int, str]] = set()
    for i, t in enumerate(toks):
        hit = index.at(toks, i)
        if hit is None:
            continue
        n, (value, caps) = hit  # type: ignore[misc]
        words = toks[i : i + n]
        if caps and not all(x.raw.isupper() for x in words):
            continue
        sentence = doc.sentences[t.sentence]
        near = toks[max(0, i - CONDITION_REACH) : i + n + CONDITION_REACH]
        conditional = any(x.norm in _SN_CONDITIONS and x.sentence == t.sentence for x in near)
        bare = n == 1 and words[0].norm in ("emergency", "er", "return")
        urged = any(x.norm in _SN_URGE for x in toks[max(0, i - 3) : i] if x.sentence == t.sentence)
        urgent = value in _SN_URGENT and not bare and (urged or words[0].norm.isdigit())
        if (urgent or conditional) and (t.sentence, value) not in seen:
            seen.add((t.sentence, value))
            body = [x for x in sentence if x.norm not in SENTENCE_END]
            start, end = body[0].start, body[-1].end
            doc.facts.append(Fact("safety_netting", doc.text[start:end], start, end, value))
