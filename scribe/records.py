"""The contracts between stages: pydantic v2 models that round-trip through JSON.

Every stage reads and writes these records and nothing else, so a transcript made by
``scribe transcribe`` today is the input of the note stage tomorrow, and evaluation reads the
same timings that clinicians produced.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat


def _now() -> datetime:
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
    started_at: datetime = Field(default_factory=_now)
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
    created_at: datetime = Field(default_factory=_now)
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
    created_at: datetime = Field(default_factory=_now)
    timings: dict[str, StageTiming] = Field(default_factory=dict, description="By stage.")

    def statements(self) -> list[Statement]:
        return [s for p in self.paragraphs for s in p]


# --- Consultations, review and approval --------------------------------------------------------


class ConsultationStatus(StrEnum):
    """Where a consultation is in its life, as the consultation list shows it."""

    CONSENT = "consent"  # created, consent not yet recorded
    NOT_RECORDED = "not recorded"  # the patient objected: no audio, ever
    RECORDING = "recording"
    TRANSCRIBING = "transcribing"
    DRAFTING = "drafting"
    DRAFTED = "drafted"  # waiting for the clinician's review
    APPROVED = "approved"
    EXPORTED = "exported"
    REJECTED = "rejected"
    FAILED = "failed"  # a pipeline stage failed; `Consultation.error` says which and why


class Role(StrEnum):
    """What a user may do: clinicians record and approve, admins manage, integrators export."""

    CLINICIAN = "clinician"
    ADMIN = "admin"
    INTEGRATOR = "integrator"


class Consent(Record):
    """That the patient was told about the recording, and what they decided."""

    informed: bool = Field(description="The patient was told the consultation would be recorded and why.")
    agreed: bool = Field(description="The patient agreed; False means they objected and nothing is recorded.")
    recorded_by: int = Field(description="User id of the clinician who asked.")
    recorded_at: datetime = Field(default_factory=_now)


class PatientDetails(Record):
    """Who the consultation is with. Encrypted at rest; never logged."""

    name: str = ""
    nhs_number: str = Field(default="", description="10 digits, or empty when not known.")
    birth_date: str = Field(default="", description="ISO date, or empty.")
    reason: str = Field(default="", description="Free-text reason for the visit, shown in the list.")


class SectionChange(Record):
    """How much the clinician changed one section between the draft and the approved note."""

    chars_draft: int = 0
    chars_changed: int = Field(default=0, description="Character edit distance, draft to approved.")
    statements_draft: int = 0
    statements_edited: int = 0
    statements_added: int = 0
    statements_deleted: int = 0


class ReviewMetrics(Record):
    """Measured from real use, for evaluation: when things happened and how much was edited."""

    recording_started_at: datetime | None = None
    recording_stopped_at: datetime | None = None
    draft_ready_at: datetime | None = None
    first_shown_at: datetime | None = Field(default=None, description="When a clinician first saw the draft.")
    approved_at: datetime | None = None
    active_review_seconds: float = Field(default=0.0, ge=0, description="Time the review page was in active use.")
    sections: dict[str, SectionChange] = Field(default_factory=dict, description="By section key, at approval.")
    arm: Literal["scribe", "control"] = Field(
        default="scribe",
        description="scribe: reviewed scribe's draft; control: the clinician wrote the note unaided (the baseline).",
    )


class Consultation(Record):
    """One consultation: the id that threads through every stage, and where it stands."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    owner_id: int = Field(default=0, description="User id of the responsible clinician.")
    created_at: datetime = Field(default_factory=_now)
    status: ConsultationStatus = ConsultationStatus.CONSENT
    template: str = "gp"
    consent: Consent | None = None
    audio: AudioInfo | None = None
    audio_deleted_at: datetime | None = None
    current_version: int = Field(default=0, description="The note version under review or approved; 0: none yet.")
    error: str = Field(default="", description="Why the last stage failed; never patient data.")
    metrics: ReviewMetrics = Field(default_factory=ReviewMetrics)
    timings: list[StageTiming] = Field(default_factory=list)


class NoteState(StrEnum):
    DRAFT = "draft"  # editable, awaiting approval
    APPROVED = "approved"  # read-only; a correction makes a new version
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # an approved version replaced by a later approved correction


class Approval(Record):
    """The clinician's attestation that a note version is accurate."""

    user_id: int
    name: str = Field(description="The approving clinician's full name, as attested.")
    at: datetime = Field(default_factory=_now)
    attestation: str
    flags_acknowledged: int = Field(default=0, ge=0, description="Unsupported statements and omissions seen.")


class NoteVersion(Record):
    """One version of a consultation's note: the model's draft is version 1, corrections follow."""

    consultation_id: str
    version: int = Field(ge=1)
    note: NoteDraft
    state: NoteState = NoteState.DRAFT
    based_on: int | None = Field(default=None, description="The version this one corrects.")
    created_by: int | None = Field(default=None, description="User id; None when the model drafted it.")
    created_at: datetime = Field(default_factory=_now)
    approval: Approval | None = None
    rejected_reason: str = ""


class EditAction(StrEnum):
    EDIT = "edit"
    ADD = "add"
    DELETE = "delete"
    RESTORE = "restore"
    """A statement the grounding check removed, put back into its section by the clinician (still flagged)."""


class Edit(Record):
    """One change a clinician made to a note version."""

    consultation_id: str
    version: int
    user_id: int
    at: datetime = Field(default_factory=_now)
    section: str = Field(description="Section key, or 'medications', 'allergies', 'problems', 'findings'.")
    index: int | None = Field(default=None, description="Position of the statement/item in the section.")
    action: EditAction = EditAction.EDIT
    before: str = ""
    after: str = ""


class Dispute(Record):
    """A patient's disagreement with what the note says; carried into every later export."""

    id: int = 0
    consultation_id: str
    version: int
    text: str
    recorded_by: int
    recorded_at: datetime = Field(default_factory=_now)


class ExportRecord(Record):
    """One export attempt of an approved note."""

    id: int = 0
    consultation_id: str
    version: int
    format: str = Field(description="fhir-document, fhir-transaction, pdf-letter, text, json ...")
    user_id: int | None = None
    at: datetime = Field(default_factory=_now)
    destination: str = Field(default="download", description="download, or the server it was sent to.")
    ok: bool = True
    detail: str = ""


class User(Record):
    """A person who signs in. Password hash and TOTP secret stay inside the store."""

    id: int = 0
    username: str
    full_name: str
    role: Role
    active: bool = True
    totp_enabled: bool = Field(default=False, description="A TOTP secret is enrolled.")
    totp_required: bool = Field(default=False, description="Sign-in needs the second factor (always for admins).")
    created_at: datetime = Field(default_factory=_now)


class AuditEvent(Record):
    """Who did what, when, from where. Never patient data: ids, actions and outcomes only."""

    id: int = 0
    at: datetime = Field(default_factory=_now)
    user_id: int | None = None
    username: str = Field(default="", description="As typed at sign-in for failures; the account otherwise.")
    action: str = Field(description="e.g. sign-in, view, edit, approve, export, delete, retention.")
    target: str = Field(default="", description="e.g. 'consultation:<id>', 'user:<id>'.")
    ip: str = ""
    outcome: str = Field(default="ok", description="ok, denied or failed.")
    detail: str = ""
    hash: str = Field(default="", description="sha256 over this event and the previous event's hash.")


class JobKind(StrEnum):
    TRANSCRIBE = "transcribe"
    DRAFT = "draft"
    LETTERS = "letters"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Record):
    """Background work on one consultation, kept in the store so a restart resumes it."""

    id: int = 0
    consultation_id: str
    kind: JobKind
    state: JobState = JobState.QUEUED
    attempts: int = 0
    error: str = ""
    created_at: datetime = Field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
