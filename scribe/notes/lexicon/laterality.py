"""Laterality facts: left, right or bilateral, only where they name a side of the body."""

from __future__ import annotations

from scribe.notes.lexicon.facts import Doc
from scribe.notes.lexicon.phrases import VAGUE_PARTS, PhraseIndex, body_parts
from scribe.notes.lexicon.tokens import PUNCT, singular

_SIDE_ABBREVIATIONS = {"llq": "left", "luq": "left", "lif": "left", "rlq": "right", "ruq": "right", "rif": "right"}
_SIDE_PREFIX = {"on", "to", "in", "at", "towards", "from", "of"}
_SIDE_DETERMINERS = {"the", "your", "my", "his", "her", "their", "its"}
_SUBJECTS = {"i", "you", "he", "she", "we", "they", "it", "have", "had", "has", "was", "were", "been", "just"}


def laterality_facts(doc: Doc) -> None:
    """Left, right or bilateral, only where they name a side of the body."""
    toks = doc.toks
    parts = body_parts()
    for i, t in enumerate(toks):
        n = t.norm
        side = None
        if n in _SIDE_ABBREVIATIONS:
            side = _SIDE_ABBREVIATIONS[n]
        elif n in ("bilateral", "bilaterally", "both-sided"):
            side = "bilateral"
        elif n == "both":
            k = i + 1 + (doc.norm(i + 1) in ("of", "my", "your", "his", "her", "the"))
            k += doc.norm(k) in ("my", "your", "his", "her", "the")
            if k < len(toks) and parts.at(toks, k):
                side = "bilateral"
        elif n.split("-")[0] in ("left", "right") and ("-" in n or n in ("left", "right")):
            side = _side_word(doc, i, parts)
        if side:
            doc.add("laterality", i, i + 1, side, subject=_part_after(doc, i, parts))


def _part_after(doc: Doc, i: int, parts: PhraseIndex) -> str:
    """The body part a side word names ("right knee" → knee, "left-sided chest pain" → chest), or ''."""
    for k in range(i + 1, min(i + 4, len(doc.toks))):
        if _stop(doc, i, k):
            break
        hit = parts.at(doc.toks, k)
        if hit is not None:
            part = " ".join(singular(t.norm) for t in doc.toks[k : k + hit[0]])
            if part not in VAGUE_PARTS:
                return part
    return ""


def _side_word(doc: Doc, i: int, parts: PhraseIndex) -> str | None:
    """'left' or 'right' at token i when it names a side ("right knee", "on the left"), else None."""
    n = doc.norm(i)
    word = n.split("-")[0]
    if "-" in n:
        return word if n.split("-", 1)[1] in ("sided", "hand", "handed", "side") else None
    verb = word == "left" and doc.norm(i - 1) in _SUBJECTS  # "I left work"
    idiom = doc.norm(i - 1) == "all" or doc.norm(i + 1) in ("now", "away", "after", "before", "there", "here")
    if verb or idiom:
        return None
    toks = doc.toks
    body = any(parts.at(toks, k) for k in range(i + 1, min(i + 4, len(toks))) if not _stop(doc, i, k))
    placed = doc.norm(i - 1) in _SIDE_DETERMINERS and doc.norm(i - 2) in _SIDE_PREFIX  # "on the left"
    return word if body or placed else None


def _stop(doc: Doc, i: int, k: int) -> bool:
    """Whether punctuation lies between tokens i and k."""
    return any(doc.toks[m].norm in PUNCT for m in range(i + 1, k + 1))
