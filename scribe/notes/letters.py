"""Letters from a note: to the GP (or referral recipient) and to the patient in plain language.

The model reads the note's statements that the grounding check supported, never the flagged
ones, and writes the letter's body as plain prose, the form a small model writes best (a
JSON-shaped letter, with a number cited per sentence, looped on the demo consultation: one
invented sentence written 16 times). The answer is split into paragraphs and sentences; a
sentence written a fourth time ends the answer, a repeated one is kept once, the greeting and
sign-off the model adds are left out (the letter has its own), and every sentence is grounded
against the transcript like the note: the check finds its evidence or flags it for the
clinician. The patient letter's reading level is measured.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from scribe.config import Settings
from scribe.errors import DraftError
from scribe.notes.answers import NOT_DISCUSSED
from scribe.notes.backends.base import Backend, Message, call_timing
from scribe.notes.prose import BULLET, complete_part, sentences, unique_statements
from scribe.records import Letter, LetterKind, NoteDraft, StageTiming, Transcript

log = logging.getLogger(__name__)

SALUTATION = {LetterKind.GP: "Dear Colleague,", LetterKind.PATIENT: "Dear [patient's name],"}
CLOSING = "Yours sincerely,\n[clinician's name]"
SYSTEM = "You are a helpful assistant that writes letters from clinical notes."
_TASKS = {
    LetterKind.GP: (
        "Write the body of a letter from the clinician to the patient's GP about this consultation, using only the "
        "facts above: why the patient was seen, the relevant history and findings, the assessment, the plan "
        "including medicines with doses, and any actions for the GP. Formal British clinical English. 3 to 5 "
        "paragraphs. Do not write the greeting or the sign-off."
    ),
    LetterKind.PATIENT: (
        "Write the body of a letter to the patient about this consultation, using only the facts above. Write to "
        'them as "you", in plain English for someone with a reading age of 9 to 11: short sentences, everyday '
        "words, no abbreviations, explain any medical word. Say what was found, what happens next, medicines and "
        "how to take them, and when to get help, where the facts say so. 3 to 5 short paragraphs. Do not write "
        "the greeting or the sign-off."
    ),
}
_HEADING = re.compile(r"^(?:#+\s.*|\*\*[^*]+\*\*:?|[A-Z][A-Za-z ]{0,40}:)$")
_GREETING = re.compile(r"^(dear\b|to whom|hello\b|hi\b)", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^(yours\b|kind regards|best regards|warm regards|best wishes|with best wishes|all the best|take care\b"
    r"|regards\b|sincerely\b|\[[^\]]*name[^\]]*\])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LetterOptions:
    """How much a letter may take."""

    max_tokens: int = 700

    @classmethod
    def from_settings(cls, settings: Settings) -> LetterOptions:
        return cls(max_tokens=settings.llm_max_tokens)


def note_facts(draft: NoteDraft) -> str:
    """The note's supported statements and items, one per line, as the letter's model reads them."""
    facts: list[str] = []
    for section in draft.sections:
        facts.extend(
            f"{section.title}: {s.text}"
            for s in section.statements
            if s.supported is not False and s.text != NOT_DISCUSSED
        )
    for label, items in (
        ("Medication", draft.medications),
        ("Allergy", draft.allergies),
        ("Problem", draft.problems),
        ("Finding", draft.findings),
    ):
        facts.extend(f"{label}: {item.claim()}" for item in items if item.supported is not False)
    if not facts:
        raise DraftError("the note has no supported statements to write a letter from; review the note first")
    return "".join(f"- {fact}\n" for fact in facts)


def letter_prompt(draft: NoteDraft, kind: LetterKind) -> list[Message]:
    """The request: the note's supported facts, then what the letter is for and how it reads."""
    facts = note_facts(draft)
    return [Message("system", SYSTEM), Message("user", f"Facts from the consultation note:\n{facts}\n{_TASKS[kind]}")]


def split_letter(text: str) -> list[list[str]]:
    """Paragraphs of sentences in a letter's body, without the greeting and anything from the sign-off on."""
    paragraphs: list[list[str]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        found: list[str] = []
        for raw in block.splitlines():
            if _HEADING.match(raw.strip()):  # a heading the model added: letters have none
                continue
            line = BULLET.sub("", raw).strip().strip("*#").strip()
            if _SIGN_OFF.match(line):
                return [p for p in [*paragraphs, found] if p]
            if line and not _GREETING.match(line):
                found.extend(sentences(line))
        if found:
            paragraphs.append(found)
    return paragraphs


def draft_letter(
    draft: NoteDraft,
    transcript: Transcript,
    backend: Backend,
    kind: LetterKind,
    *,
    options: LetterOptions | None = None,
) -> Letter:
    """Draft, ground and (for patients) measure a letter from ``draft``."""
    from scribe.notes.grounding import ground_letter
    from scribe.notes.readability import letter_readability

    options = options or LetterOptions()
    started = time.perf_counter()
    messages = letter_prompt(draft, kind)
    done = backend.complete(messages, max_tokens=options.max_tokens, stop_loops=True)
    letter = Letter(kind=kind, salutation=SALUTATION[kind], closing=CLOSING, model=backend.model, backend=backend.name)
    seen: set[str] = set()
    for paragraph in split_letter(complete_part(done)):
        statements = unique_statements(paragraph, seen)
        if statements:
            letter.paragraphs.append(statements)
    if done.finish_reason == "length":
        letter.complete = False
        letter.incomplete_reason = f"the letter was cut at {options.max_tokens} tokens; its last sentence is left out"
    if not letter.paragraphs:
        letter.complete = False
        letter.incomplete_reason = "the model wrote no letter; write it by hand or draft it again"
        log.warning("%s letter: no sentences in the model's answer %r", kind, done.text[:200])
    ground_letter(letter, transcript)
    if letter.statements():
        letter.readability = letter_readability(letter)
    letter.timings = {
        f"letter:{kind}": call_timing(f"letter:{kind}", started, backend, done),
        "letter": StageTiming(stage="letter", wall_seconds=time.perf_counter() - started, model=backend.model),
    }
    return letter
