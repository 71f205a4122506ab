"""The note of a whole transcript in one call: the model's own prose under the template's headings.

After the consultation (an upload, ``scribe note``) the transcript is known in full, and a small
model writes its most complete and readable note when simply asked for the note under the
headings: measured on ACI-Bench, this form scored about twice the ROUGE of one-fact-a-line
answers, which the same model filled sparsely (docs/benchmarks/notes.md). So one call asks for
prose; the answer is split at the headings into sentences, and what keeps the note to what was
said comes after the model, not from it:

1. every sentence is grounded against the transcript; the check finds its evidence (the model is
   not asked to cite, which made it write less), and names what it cannot find;
2. an unsupported sentence is repaired against its evidence: cut back to its longest opening the
   transcript supports ("..., with swelling and numbness in the thumb" loses "and numbness in
   the thumb" when only that is unsupported). A model repair turn was tried and measured first:
   shown the failed sentences, with or without the transcript lines closest to them, the 1.5B
   model wrote them again word for word or rewrote the whole note, rescuing 1 of 63 sentences
   over 13 notes at about 12 s a note (docs/benchmarks/notes.md);
3. the original of every unsupported sentence is kept aside as *removed* for the clinician, never
   silently dropped.

The answer has no worked example to copy, and a sentence the model writes four times ends the
answer (a greedy small model loops).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from scribe.notes.backends.base import Backend, Completion, Message, call_timing
from scribe.notes.factlog import normal_text, transcript_line
from scribe.notes.grounding import ground_items, is_not_discussed
from scribe.notes.templates import Template
from scribe.records import RemovedStatement, Segment, SpeakerRole, StageTiming, Statement, Transcript

log = logging.getLogger(__name__)

SYSTEM = "You are a helpful assistant that writes clinical notes from consultation transcripts."
RULES = "Use only what was said in the consultation."
BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_LABEL_ONLY = re.compile(r"^[*_]*[A-Za-z][A-Za-z0-9 /&()'-]{0,40}[*_]*:[*_\s]*$")
_LABEL = re.compile(r"^\*{0,2}([A-Z][A-Za-z /&-]{1,40}?)\*{0,2}:\*{0,2}\s+(?=\S)")


@dataclass(frozen=True)
class ProseOptions:
    """The answer's budget and whether unsupported sentences are repaired (cut back) before removal."""

    max_tokens: int = 1024
    repair: bool = True


@dataclass
class Drafted:
    """What a drafting design produced (prose here, or the fact log), before the note is assembled from it."""

    sections: dict[str, list[Statement]]  # kept statements per section key, grounded
    removed: list[RemovedStatement] = field(default_factory=list)
    calls: list[StageTiming] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    condensed: bool = False  # the transcript outgrew the context (fact log only)
    announced: set[str] = field(default_factory=set)  # sections already passed on as the answer came


def transcript_prefix(segments: Sequence[Segment], quoted: frozenset[int] = frozenset()) -> list[Message]:
    """The request up to the end of the transcript: what a recording can have the model read as it grows.

    :func:`note_prompt` extends exactly this text, so a model that has read it (``Backend.prefill``)
    only reads the request's closing lines once the consultation ends.
    """
    lines = "".join(transcript_line(s, s.id in quoted) + "\n" for s in segments if s.text.strip())
    return [Message("system", SYSTEM), Message("user", f"Transcript:\n{lines}")]


def note_prompt(segments: Sequence[Segment], template: Template, quoted: frozenset[int] = frozenset()) -> list[Message]:
    """The request: the transcript, then the template's headings with what belongs under each.

    Worded as the plain one-shot baseline is (scripts/oneshot_note.py): greedy decoding of a small
    model is sensitive to every word, and rules added here made its notes shorter on the tuning
    set. Lines read as instructions to software are labelled as recorded speech.
    """
    system, user = transcript_prefix(segments, quoted)
    headings = "\n".join(f"{s.title}: {s.instruction}" for s in template.sections)
    return [
        system,
        Message(
            "user",
            f"{user.content}\nWrite a {template.title} of this consultation with these headings:\n{headings}\n{RULES}",
        ),
    ]


def fits(segments: Sequence[Segment], backend: Backend, template: Template, options: ProseOptions) -> bool:
    """Whether the whole transcript and the answer's budget fit the model's context."""
    text = "".join(m.content for m in note_prompt(segments, template))
    return backend.count_tokens(text) + options.max_tokens + 64 <= backend.context_tokens


def _heading(line: str, titles: dict[str, str]) -> str | None:
    bare = re.sub(r"[#*_:]", " ", line).strip().lower()
    return titles.get(" ".join(bare.split()))


def split_note(text: str, template: Template) -> dict[str, list[str]]:
    """Sentences under each heading of ``template`` in a free-text note ("Not discussed." left out).

    Headings may stand on their own line (``## Plan``, ``**Plan:**``) or start one (``Plan: ...``);
    a bold sub-label (``**Onset:** ...``) is dropped from its sentence.
    """
    return _parse(text, template)[0]


def _parse(text: str, template: Template) -> tuple[dict[str, list[str]], list[str]]:
    """:func:`split_note`'s sentences, and the section keys in the order the note's headings came."""
    titles = {s.title.lower(): s.key for s in template.sections} | {
        s.key.replace("_", " "): s.key for s in template.sections
    }
    found: dict[str, list[str]] = {s.key: [] for s in template.sections}
    order: list[str] = []
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        key = _heading(line, titles)
        if key is None and ":" in line:  # "Plan: start naproxen" on the heading's own line
            head, _, rest = line.partition(":")
            key = _heading(head, titles)
            if key is not None:
                current, line, key = key, rest.strip(), None
                order.append(current)
                if not line:
                    continue
        if key is not None:
            current = key
            order.append(current)
            continue
        if current is None:
            continue
        body = BULLET.sub("", line).strip()
        if _LABEL_ONLY.match(body):  # "Right knee:" over the sentences it labels
            continue
        found[current].extend(sentences(_LABEL.sub("", body)))
    return found, order


def sentences(text: str) -> list[str]:
    """The sentences of a line of prose, without markdown emphasis, lone words or "Not discussed."."""
    found = []
    for sentence in _SENTENCE.split(text.strip(" *")):
        sentence = sentence.strip(" *")
        if len(re.findall(r"[A-Za-z0-9]+", sentence)) >= 2 and not is_not_discussed(sentence):
            found.append(sentence)
    return found


_ECHOES = frozenset(normal_text(s) for s in _SENTENCE.split(RULES))  # the request's own rules, written back


def unique_statements(texts: Sequence[str], seen: set[str]) -> list[Statement]:
    """Sentences as statements, each once (a sentence repeated, also under another heading, is kept once)."""
    statements = []
    for text in texts:
        norm = normal_text(text)
        if norm and norm not in seen and norm not in _ECHOES:
            seen.add(norm)
            statements.append(Statement(text=text))
    return statements


OnWritten = Callable[[str, list[Statement]], None]


class _Sections:
    """The note's sections as the answer comes: each checked, and announced once the model has moved on.

    A section is final when the model writes another heading after it, so with a callback the
    clinician's first section is ready while the rest is still being written; without one every
    section is checked at the end. Either way each sentence is checked once, in the order written.
    """

    def __init__(
        self, transcript: Transcript, template: Template, repair: bool, on_written: OnWritten | None = None
    ) -> None:
        self.transcript = transcript
        self.template = template
        self.repair = repair
        self.on_written = on_written
        self.text = ""
        self.kept: dict[str, list[Statement]] = {s.key: [] for s in template.sections}
        self.checked: dict[str, int] = {s.key: 0 for s in template.sections}  # sentences read per section
        self.announced: set[str] = set()
        self.removed: list[RemovedStatement] = []
        self.repaired = 0
        self._seen: set[str] = set()
        self.moves = {spec.key: spec.patient_words_to for spec in template.sections if spec.patient_words_to}
        self.roles = {segment.id: segment.speaker for segment in transcript.segments}

    def feed(self, piece: str) -> None:
        """Streamed text: check and announce each section the model has finished."""
        self.text += piece
        if self.on_written is None or "\n" not in piece:
            return
        found, order = _parse(self.text[: self.text.rfind("\n")], self.template)
        for key in dict.fromkeys(order[:-1]):
            if key != order[-1] and key not in self.announced:
                self._check(key, found[key])
                self.announced.add(key)
                self.on_written(key, self.kept[key])

    def finish(self, text: str) -> dict[str, list[str]]:
        """Check every sentence not yet checked (what came after the stream's last section); returns the split."""
        found = split_note(text, self.template)
        for key, written in found.items():
            self._check(key, written)
        return found

    def _check(self, key: str, written: Sequence[str]) -> None:
        statements = unique_statements(written[self.checked[key] :], self._seen)
        self.checked[key] = max(self.checked[key], len(written))
        ground_items(statements, self.transcript)
        for statement in statements:
            if statement.supported is False:
                self.removed.append(RemovedStatement(section=key, statement=statement))
                trimmed = trim(statement, self.transcript) if self.repair else None
                if trimmed is None:
                    continue
                statement = trimmed
                self.repaired += 1
            self.kept[self._home(key, statement)].append(statement)

    def _home(self, key: str, statement: Statement) -> str:
        """Where a kept statement belongs: an examination sentence the patient alone said is history."""
        target = self.moves.get(key)
        if target and statement.evidence and all(self.roles.get(i) == SpeakerRole.PATIENT for i in statement.evidence):
            log.info("%r is the patient's own words, not a finding: moved from %s to %s", statement.text, key, target)
            return target
        return key


def draft_prose(
    transcript: Transcript,
    backend: Backend,
    template: Template,
    options: ProseOptions | None = None,
    quoted: frozenset[int] = frozenset(),
    *,
    view: Sequence[Segment] | None = None,
    on_written: OnWritten | None = None,
) -> Drafted:
    """One call for the whole note, grounded; unsupported sentences cut back to what is supported, or removed.

    ``view`` is the transcript as the model is shown it when that differs from ``transcript``
    (a recording keeps the lines as first read, so the model's cache holds); the note is always
    grounded against ``transcript``. ``on_written`` receives each section's kept statements as soon
    as the model has finished it.
    """
    options = options or ProseOptions()
    messages = note_prompt(transcript.segments if view is None else view, template, quoted)
    sections = _Sections(transcript, template, options.repair, on_written)
    started = time.perf_counter()
    done = backend.complete(messages, max_tokens=options.max_tokens, stop_loops=True, on_text=sections.feed)
    note = Drafted(sections=sections.kept, calls=[call_timing("draft:note", started, backend, done)])
    if done.finish_reason == "length":
        note.problems.append(f"the note was cut at {options.max_tokens} tokens; its last sentence is left out")
    found = sections.finish(complete_part(done))
    if not any(found.values()) and done.text.strip():
        log.warning("the model's note had none of the template's headings: %r", done.text[:200])
        note.problems.append("the model's answer did not follow the template's headings")
    note.removed = sections.removed
    note.announced = sections.announced
    if note.removed:
        log.info(
            "%d sentences unsupported; %d cut back to what their evidence says", len(note.removed), sections.repaired
        )
    return note


_CLAUSE = re.compile(r",\s+|;\s+|\s+(?=(?:and|but|with|which|while|as well as|including)\s)")


def trim(statement: Statement, transcript: Transcript) -> Statement | None:
    """The repair of an unsupported sentence: its longest opening the transcript supports, or None.

    "Pain in the right wrist, with swelling and numbness in the thumb." becomes "Pain in the right
    wrist, with swelling." when only the numbness is unsupported. Only openings of at least four
    words are tried, so what is left still reads as a sentence and says what its evidence says;
    the whole sentence stays on the removed list for the clinician.
    """
    text = statement.text.rstrip(" .!?")
    cuts = [m.start() for m in _CLAUSE.finditer(text)]
    for cut in reversed(cuts):
        opening = text[:cut].rstrip(" ,;")
        if len(opening.split()) < 4:
            break
        candidate = Statement(text=opening + ".")
        ground_items([candidate], transcript)
        if candidate.supported:
            return candidate
    return None


def complete_part(done: Completion) -> str:
    """The answer without its unfinished last sentence when it was cut at the token limit."""
    if done.finish_reason != "length":
        return done.text
    return re.sub(r"[^.!?\n]*$", "", done.text)
