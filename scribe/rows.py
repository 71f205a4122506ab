"""What the app keeps about consultations, review, approval, users, audit and jobs: records the store
persists and the review app, exports and evaluation read. The contracts between pipeline stages
(transcripts, notes, letters) are in ``scribe.records``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from scribe.records import AudioInfo, NoteDraft, Record, StageTiming, now_utc


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
    recorded_at: datetime = Field(default_factory=now_utc)


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
    created_at: datetime = Field(default_factory=now_utc)
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
    at: datetime = Field(default_factory=now_utc)
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
    created_at: datetime = Field(default_factory=now_utc)
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
    at: datetime = Field(default_factory=now_utc)
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
    recorded_at: datetime = Field(default_factory=now_utc)


class ExportRecord(Record):
    """One export attempt of an approved note."""

    id: int = 0
    consultation_id: str
    version: int
    format: str = Field(description="fhir-document, fhir-transaction, pdf-letter, text, json ...")
    user_id: int | None = None
    at: datetime = Field(default_factory=now_utc)
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
    created_at: datetime = Field(default_factory=now_utc)


class AuditEvent(Record):
    """Who did what, when, from where. Never patient data: ids, actions and outcomes only."""

    id: int = 0
    at: datetime = Field(default_factory=now_utc)
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
    created_at: datetime = Field(default_factory=now_utc)
    started_at: datetime | None = None
    finished_at: datetime | None = None
