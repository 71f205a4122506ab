"""Letters from a note: to the GP (or referral recipient) and to the patient in plain language.

The model reads the note's statements that the grounding check supported, numbered, never the
flagged ones; each sentence it writes cites those numbers, which map back to the transcript
segments behind them, and the letter is grounded against the transcript like the note. The
patient letter's reading level is measured.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from scribe.config import Settings
from scribe.errors import DraftError
from scribe.notes import prompts
from scribe.notes.answers import NOT_DISCUSSED, StatementAnswer, section_schema
from scribe.notes.ask import Source, ask
from scribe.notes.backends.base import Backend
from scribe.records import Letter, LetterKind, NoteDraft, StageTiming, Statement, Transcript

SALUTATION = {LetterKind.GP: "Dear Colleague,", LetterKind.PATIENT: "Dear [patient's name],"}
CLOSING = "Yours sincerely,\n[clinician's name]"

_TASKS = {
    LetterKind.GP: (
        "Task: write the body of a letter from the clinician to the patient's GP about this consultation, using only "
        "the numbered facts above: why the patient was seen, the relevant history and findings, the assessment, the "
        "plan including medicines with doses, and any actions for the GP. Formal British clinical English, third "
        'person ("I saw [the patient] today..." is fine without a name). 3 to 5 paragraphs.'
    ),
    LetterKind.PATIENT: (
        "Task: write the body of a letter to the patient about this consultation, using only the numbered facts above. "
        'Write to them as "you", in plain English for someone with a reading age of 9 to 11: short sentences, everyday '
        "words, no abbreviations, explain any medical word. Say what we found, what we think is going on, what happens "
        "next, medicines and how to take them, and when to get help. 3 to 5 short paragraphs."
    ),
}


@dataclass(frozen=True)
class LetterOptions:
    """How much a letter may take, and how many tries it gets."""

    max_tokens: int = 700
    attempts: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> LetterOptions:
        return cls(max_tokens=settings.llm_max_tokens, attempts=settings.llm_attempts)


class _ParagraphAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    statements: list[StatementAnswer]


class LetterAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    paragraphs: list[_ParagraphAnswer]


def _schema() -> dict:
    paragraph = section_schema(6)
    return {
        "type": "object",
        "properties": {"paragraphs": {"type": "array", "items": paragraph, "minItems": 1, "maxItems": 6}},
        "required": ["paragraphs"],
        "additionalProperties": False,
    }


def note_facts(draft: NoteDraft) -> Source:
    """The note's supported statements and items as numbered lines mapped to their segments."""
    facts: list[str] = []
    expand: dict[int, list[int]] = {}
    for section in draft.sections:
        for statement in section.statements:
            if statement.supported is False or statement.text == NOT_DISCUSSED:
                continue
            expand[len(facts)] = list(statement.evidence)
            facts.append(f"{section.title}: {statement.text}")
    for label, items in (
        ("Medication", draft.medications),
        ("Allergy", draft.allergies),
        ("Problem", draft.problems),
        ("Finding", draft.findings),
    ):
        for item in items:
            if item.supported is not False:
                expand[len(facts)] = list(item.evidence)
                facts.append(f"{label}: {item.claim()}")
    if not facts:
        raise DraftError("the note has no supported statements to write a letter from; review the note first")
    lines = "".join(f"[{i}] {text}\n" for i, text in enumerate(facts))
    return Source(lines, expand)


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
    source = note_facts(draft)
    call = ask(
        backend,
        source.lines,
        _TASKS[kind],
        _schema(),
        LetterAnswer,
        options.max_tokens,
        options.attempts,
        f"letter:{kind}",
        frame=prompts.NOTE_FRAME,
    )
    letter = Letter(kind=kind, salutation=SALUTATION[kind], closing=CLOSING, model=backend.model, backend=backend.name)
    if call.answer is None:
        letter.complete = False
        letter.incomplete_reason = call.error
    else:
        assert isinstance(call.answer, LetterAnswer)
        for paragraph in call.answer.paragraphs:
            statements = [
                Statement(text=" ".join(s.text.split()), evidence=source.evidence(s.evidence))
                for s in paragraph.statements
                if s.text.strip()
            ]
            if statements:
                letter.paragraphs.append(statements)
        ground_letter(letter, transcript)
        if letter.statements():
            letter.readability = letter_readability(letter)
    letter.timings = {
        **{t.stage: t for t in call.timings},
        "letter": StageTiming(stage="letter", wall_seconds=time.perf_counter() - started, model=backend.model),
    }
    return letter
