"""The contracts between stages: pydantic v2 models that round-trip through JSON.

Every stage reads and writes these records and nothing else, so a transcript made by
``scribe transcribe`` today is the input of the note stage tomorrow, and evaluation reads the
same timings that clinicians produced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat


def now_utc() -> datetime:
    """The current time, timezone-aware UTC: every timestamp in the records."""
    return datetime.now(UTC)


class Record(BaseModel):
    """Base for every contract: unknown fields are refused so typos surface early."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SpeakerRole(StrEnum):
    """Who spoke: the two parties of a consultation, or unknown when attribution failed."""

    CLINICIAN = "clinician"
    PATIENT = "patient"
    UNKNOWN = "unknown"


class Speaker(Record):
    """A voice in the recording and the role it was given."""

    id: str = Field(description="Stable label within one transcript, e.g. 'S0' or 'ch1'.")
    role: SpeakerRole = SpeakerRole.UNKNOWN
    channel: int | None = Field(default=None, description="Audio channel, for one-speaker-per-channel recordings.")


class Word(Record):
    """One recognised word with its timing and the model's probability for it."""

    start: NonNegativeFloat
    end: NonNegativeFloat
    text: str
    probability: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    speaker: SpeakerRole = SpeakerRole.UNKNOWN


class FlagCode(StrEnum):
    """Why a segment was flagged or dropped by the hallucination guards."""

    SILENCE = "silence"  # text produced where the audio holds no speech
    REPETITION = "repetition"  # a phrase looping, or a compression ratio typical of loops
    LOW_CONFIDENCE = "low_confidence"  # low log-probability or word probabilities
    KNOWN_HALLUCINATION = "known_hallucination"  # a stock phrase Whisper invents in quiet audio


class SegmentFlag(Record):
    """A guard's finding on a segment, with the measured value that triggered it."""

    code: FlagCode
    detail: str


class Segment(Record):
    """A stretch of speech by one speaker, with words and confidence measures."""

    id: int = Field(ge=0, description="Unique within the transcript; evidence in notes cites it.")
    start: NonNegativeFloat
    end: NonNegativeFloat
    speaker: SpeakerRole = SpeakerRole.UNKNOWN
    text: str
    words: list[Word] = Field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    compression_ratio: NonNegativeFloat | None = None
    confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        default=None, description="Mean word probability."
    )
    flags: list[SegmentFlag] = Field(default_factory=list)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


class StageTiming(Record):
    """How long one stage took, on what, for how much audio."""

    stage: str
    started_at: datetime = Field(default_factory=now_utc)
    wall_seconds: NonNegativeFloat
    cpu_seconds: NonNegativeFloat | None = None
    audio_seconds: NonNegativeFloat | None = None
    model: str | None = None
    device: str | None = None
    compute_type: str | None = None
    prompt_tokens: int | None = Field(default=None, ge=0, description="LLM stages: tokens in the prompt.")
    cached_tokens: int | None = Field(default=None, ge=0, description="LLM stages: prompt tokens found in the cache.")
    completion_tokens: int | None = Field(default=None, ge=0, description="LLM stages: tokens generated.")
    finish_reason: str | None = Field(
        default=None, description="LLM stages: why generation stopped (stop: the answer ended; length: cut off)."
    )

    @property
    def real_time_factor(self) -> float | None:
        if not self.audio_seconds:
            return None
        return self.wall_seconds / self.audio_seconds


class AudioInfo(Record):
    """What was decoded from an audio file or captured from a microphone."""

    path: str | None = None
    sha256: str | None = None
    format: str | None = None
    duration: NonNegativeFloat
    sample_rate: int = Field(gt=0, description="Of the source, before resampling to 16 kHz.")
    channels: int = Field(ge=1)
    synthetic: bool = Field(default=False, description="True for audio made by text-to-speech.")


class Transcript(Record):
    """The attributed transcript of one consultation."""

    segments: list[Segment] = Field(default_factory=list)
    rejected: list[Segment] = Field(
        default_factory=list, description="Segments dropped by the hallucination guards, with their flags."
    )
    speakers: list[Speaker] = Field(default_factory=list)
    speaker_method: str = Field(default="none", description="channel, embedding, text-cues or none.")
    language: str | None = None
    language_probability: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    duration: NonNegativeFloat = 0.0
    model: str | None = None
    device: str | None = None
    compute_type: str | None = None
    vocabulary: bool = Field(default=False, description="Whether a clinical vocabulary steered recognition.")
    timings: list[StageTiming] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    def words(self) -> list[Word]:
        """All kept words in time order."""
        return [w for s in self.segments for w in s.words]


# --- Notes and letters -------------------------------------------------------------------------


class Grounded(Record):
    """Something a draft asserts, the transcript segments behind it, and the grounding verdict.

    ``supported`` is None until the grounding check has run; afterwards True or False with the
    reason. Unsupported items stay in the draft, flagged, so the clinician sees them.
    """

    evidence: list[int] = Field(default_factory=list, description="Ids of the transcript segments that support it.")
    supported: bool | None = None
    reason: str = Field(default="", description="Why the grounding check decided as it did.")

    def claim(self) -> str:
        """The text this item asserts, as the grounding check and renderers read it."""
        return str(self.text)  # type: ignore[attr-defined]  # a field or property of every subclass


class Statement(Grounded):
    """One sentence of a note or letter."""

    text: str
    edited: bool = Field(default=False, description="Written or changed by the clinician, not the model.")


class MedicationChange(StrEnum):
    """What the consultation did to a medicine."""

    STARTED = "started"
    STOPPED = "stopped"
    CHANGED = "changed"
    CONTINUED = "continued"
    UNKNOWN = "unknown"


class Medication(Grounded):
    """A medicine the patient takes or was given, as said in the consultation."""

    name: str
    dose: str = ""
    route: str = ""
    frequency: str = ""
    change: MedicationChange = MedicationChange.UNKNOWN

    @property
    def text(self) -> str:
        details = ", ".join(p for p in (self.dose, self.route, self.frequency) if p)
        change = "" if self.change in (MedicationChange.UNKNOWN, MedicationChange.CONTINUED) else f" ({self.change})"
        return f"{self.name}{f' {details}' if details else ''}{change}"


class Allergy(Grounded):
    """A substance the patient reacts to, and how."""

    substance: str
    reaction: str = ""

    @property
    def text(self) -> str:
        return f"{self.substance}{f': {self.reaction}' if self.reaction else ''}"


class Problem(Grounded):
    """A problem, diagnosis or working impression named in the consultation."""

    name: str
    status: str = Field(default="", description="e.g. new, ongoing, resolved, suspected.")

    @property
    def text(self) -> str:
        return f"{self.name}{f' ({self.status})' if self.status else ''}"


class Finding(Grounded):
    """An examination finding or measurement, with its value where one was given."""

    name: str
    value: str = ""
    unit: str = ""

    @property
    def text(self) -> str:
        unit = "" if self.unit and self.value.replace(" ", "").endswith(self.unit.replace(" ", "")) else self.unit
        value = " ".join(p for p in (self.value, unit) if p)  # models often repeat the unit in the value
        return f"{self.name}{f': {value}' if value else ''}"


class NoteSection(Record):
    """One section of a note, as the template defines it."""

    key: str = Field(description="The template's key for the section, e.g. 'plan'.")
    title: str
    statements: list[Statement] = Field(default_factory=list)
    complete: bool = Field(default=True, description="False when drafting this section failed.")
    error: str = Field(default="", description="Why the section is incomplete.")


class RemovedStatement(Record):
    """A drafted statement the grounding check did not support even after one repair: kept aside, not lost.

    The review page lists these; the clinician can restore one into its section (audited).
    """

    section: str = Field(description="The key of the section it was drafted for.")
    statement: Statement


class Omission(Record):
    """A salient fact in the transcript that the draft does not mention."""

    kind: str = Field(description="medication, allergy, red_flag or safety_netting.")
    text: str = Field(description="The fact as said, e.g. 'no chest pain'.")
    evidence: list[int] = Field(default_factory=list)


class NoteDraft(Record):
    """A note drafted from a transcript, before or after clinician review."""

    template: str
    title: str = ""
    sections: list[NoteSection] = Field(default_factory=list)
    medications: list[Medication] = Field(default_factory=list)
    allergies: list[Allergy] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    omissions: list[Omission] = Field(default_factory=list)
    removed: list[RemovedStatement] = Field(
        default_factory=list, description="Statements the check took out of the draft; the clinician can restore them."
    )
    model: str = ""
    backend: str = ""
    complete: bool = Field(default=True, description="False when any part failed; `incomplete_reason` says why.")
    incomplete_reason: str = ""
    condensed: bool = Field(
        default=False, description="True when the transcript outgrew one context and drafting continued in a fresh one."
    )
    created_at: datetime = Field(default_factory=now_utc)
    timings: dict[str, StageTiming] = Field(
        default_factory=dict,
        description="By stage: every model call ('draft:note', 'draft:repair'; while recording 'draft:part1', "
        "'draft:repair1', ...) and 'draft'.",
    )

    def grounded_items(self) -> list[Grounded]:
        """Every statement and structured item, in note order."""
        items: list[Grounded] = [s for section in self.sections for s in section.statements]
        return items + [*self.medications, *self.allergies, *self.problems, *self.findings]


class LetterKind(StrEnum):
    """Which letter: to the GP or referral recipient, or to the patient in plain language."""

    GP = "gp"
    PATIENT = "patient"


class Readability(Record):
    """Reading level of a text (textstat)."""

    flesch_reading_ease: float
    flesch_kincaid_grade: float
    words: int
    sentences: int


class Letter(Record):
    """A letter drafted from a note, sentence by sentence with evidence."""

    kind: LetterKind
    salutation: str = ""
    paragraphs: list[list[Statement]] = Field(default_factory=list)
    closing: str = ""
    readability: Readability | None = None
    model: str = ""
    backend: str = ""
    complete: bool = True
    incomplete_reason: str = ""
    created_at: datetime = Field(default_factory=now_utc)
    timings: dict[str, StageTiming] = Field(default_factory=dict, description="By stage.")

    def statements(self) -> list[Statement]:
        return [s for p in self.paragraphs for s in p]
