"""Where a consultation may go next: the state transitions of recording, transcription, drafting and review.

The review pages and the job runner both move consultations through these functions, so a web request
and the worker allow the same steps and refuse the others with the same words: each transition reads
the consultation's current status (and note version) and raises :class:`~scribe.errors.StateError`
when the step is not allowed now (the review app answers 409 with the message).

::

    CONSENT ──agreed──> RECORDING ──upload / stop──> TRANSCRIBING ──> DRAFTING ──> DRAFTED ──approve──> APPROVED
       │                    ▲                              │              │          │  ▲                 │
       └─objected─> NOT_RECORDED (note written unaided)    └──failed──> FAILED ─retry┘  └──correct───────┘
                                                                                   └─reject──> REJECTED

A control-arm consultation records nothing: its blank note is written at creation and it goes straight
to DRAFTED. Functions that queue work take ``enqueue`` (the runner's ``submit``, which also wakes the
worker, or ``store.jobs.enqueue`` when no worker runs in this process).
"""

from __future__ import annotations

from collections.abc import Callable

from scribe.errors import StateError
from scribe.notes.editing import correction_of, section_changes, undo_edits
from scribe.records import NoteDraft, now_utc
from scribe.rows import Approval, Consultation, ConsultationStatus, Job, JobKind, NoteState, NoteVersion, ReviewMetrics
from scribe.store.store import Store

Enqueue = Callable[[str, JobKind], Job]
"""Queue a job for a consultation: ``JobRunner.submit`` or ``Store.jobs.enqueue``."""

REVIEWABLE = (NoteState.APPROVED, NoteState.REJECTED)
"""Version states a correction starts from."""


# --- what a consultation is ----------------------------------------------------------------------------


def is_control(c: Consultation) -> bool:
    """Whether the clinician writes this consultation's note unaided, as the control arm (nothing is recorded)."""
    return c.metrics.arm == "control"


def recording_started(c: Consultation) -> bool:
    """Whether recording in the browser has begun (status RECORDING alone means consent given, ready to record)."""
    return c.status == ConsultationStatus.RECORDING and c.metrics.recording_started_at is not None


def check_recordable(c: Consultation) -> None:
    """StateError unless the patient agreed to recording and the consultation is not in the control arm."""
    if is_control(c):
        raise StateError("This is a control-arm consultation: nothing is recorded; write the note yourself.")
    if c.consent is None or not c.consent.agreed:
        raise StateError("Record the patient's consent before recording.")


def check_accepts_recording(c: Consultation) -> None:
    """StateError unless ``c`` may take a whole recording now (an upload, or a failed one's second try).

    It may when the patient agreed, it has no note, and it is RECORDING without a browser recording under
    way, or FAILED.
    """
    check_recordable(c)
    if recording_started(c):
        raise StateError("This consultation is being recorded in the browser; stop that recording instead.")
    if c.current_version or c.status not in (ConsultationStatus.RECORDING, ConsultationStatus.FAILED):
        raise StateError(f"This consultation is {c.status}: a recording is accepted only before drafting.")


def accepts_recording(c: Consultation) -> bool:
    """Whether :func:`check_accepts_recording` lets ``c`` take a recording now (for showing the form)."""
    try:
        check_accepts_recording(c)
    except StateError:
        return False
    return True


# --- before the recording --------------------------------------------------------------------------------


def check_consent(c: Consultation) -> None:
    """StateError when consent cannot be recorded: the control arm needs none, and it is recorded once."""
    if is_control(c):
        raise StateError("This is a control-arm consultation: nothing is recorded, so no consent is needed.")
    if c.consent is not None:
        raise StateError("Consent for this consultation is already recorded and cannot be changed.")


def write_unaided(store: Store, c: Consultation, note: NoteDraft, user_id: int) -> NoteVersion:
    """Give ``c`` the empty ``note`` to write without the scribe: after an objection, or in the control arm.

    After an objection the consultation stays NOT_RECORDED. A control-arm consultation becomes DRAFTED,
    so the review page times the writing exactly as it times a draft's review. StateError when ``c``
    already has a note or is being recorded for the scribe.
    """
    unaided = c.status == ConsultationStatus.NOT_RECORDED or (is_control(c) and c.consent is None)
    if not unaided or c.current_version:
        raise StateError("This consultation already has a note, or it is being recorded for scribe.")
    version = store.notes.add_version(c.id, note, created_by=user_id)
    if is_control(c):
        store.consultations.set_status(c.id, ConsultationStatus.DRAFTED)
    return version


def start_recording(store: Store, c: Consultation) -> None:
    """Note when recording in the browser began; StateError unless ``c`` is ready to record and has no note."""
    check_recordable(c)
    if c.status != ConsultationStatus.RECORDING or recording_started(c) or c.current_version:
        raise StateError("This consultation is already recorded or recording; reload the page.")
    store.consultations.update_metrics(c.id, stamp("recording_started_at"))


# --- from the recording to a draft ---------------------------------------------------------------------


def submit_recording(store: Store, consultation_id: str, enqueue: Enqueue) -> Job:
    """The 'original' audio is stored: TRANSCRIBING, and its transcription queued.

    StateError unless the consultation accepts a recording (:func:`check_accepts_recording`).
    """
    check_accepts_recording(store.consultations.get(consultation_id))
    store.consultations.set_status(consultation_id, ConsultationStatus.TRANSCRIBING)
    return enqueue(consultation_id, JobKind.TRANSCRIBE)


def stop_recording(store: Store, consultation_id: str, enqueue: Enqueue) -> Job:
    """The clinician pressed stop: TRANSCRIBING, the stop time noted, the transcript's completion queued.

    StateError unless the consultation is RECORDING (a second stop changes nothing).
    """
    status = store.consultations.get(consultation_id).status
    if status != ConsultationStatus.RECORDING:
        raise StateError(f"This consultation is {status}, not recording; there is nothing to stop.")
    store.consultations.set_status(consultation_id, ConsultationStatus.TRANSCRIBING)
    store.consultations.update_metrics(consultation_id, stamp("recording_stopped_at"))
    return enqueue(consultation_id, JobKind.TRANSCRIBE)


def transcribed(store: Store, consultation_id: str, enqueue: Enqueue) -> Job:
    """The transcript is stored: DRAFTING, and the note's drafting queued. StateError unless TRANSCRIBING."""
    status = store.consultations.get(consultation_id).status
    if status != ConsultationStatus.TRANSCRIBING:
        raise StateError(f"This consultation is {status}, not transcribing; the transcript was not expected.")
    store.consultations.set_status(consultation_id, ConsultationStatus.DRAFTING)
    return enqueue(consultation_id, JobKind.DRAFT)


def drafting(c: Consultation) -> bool:
    """Whether ``c`` waits for its draft: DRAFTING, or FAILED while drafting (a job the server died in)."""
    return c.status in (ConsultationStatus.DRAFTING, ConsultationStatus.FAILED)


def drafted(store: Store, consultation_id: str, enqueue: Enqueue, *, letters: bool) -> None:
    """The draft is stored: DRAFTED with the time noted, and the letters queued when ``letters``.

    StateError unless the consultation was drafting (:func:`drafting`).
    """
    c = store.consultations.get(consultation_id)
    if not drafting(c):
        raise StateError(f"This consultation is {c.status}, not drafting; the draft was not expected.")
    store.consultations.update_metrics(consultation_id, stamp("draft_ready_at"))
    store.consultations.set_status(consultation_id, ConsultationStatus.DRAFTED)
    if letters:
        enqueue(consultation_id, JobKind.LETTERS)


def retry(store: Store, c: Consultation, enqueue: Enqueue) -> Job:
    """Run a failed consultation's stage again: drafting when it has a transcript, else transcription.

    StateError unless ``c`` is FAILED and has a transcript or a recording to start from.
    """
    if c.status != ConsultationStatus.FAILED:
        raise StateError("Only a failed consultation can be retried.")
    if store.notes.get_transcript(c.id) is not None:
        store.consultations.set_status(c.id, ConsultationStatus.DRAFTING)
        return enqueue(c.id, JobKind.DRAFT)
    if store.audio.get(c.id, "original") is not None:
        store.consultations.set_status(c.id, ConsultationStatus.TRANSCRIBING)
        return enqueue(c.id, JobKind.TRANSCRIBE)
    raise StateError("There is no recording to retry; upload one instead.")


def redraft_letters(c: Consultation, enqueue: Enqueue) -> Job:
    """Queue the letters to be drafted again from the current version; StateError when there is no note."""
    if not c.current_version:
        raise StateError("There is no note to draft letters from yet.")
    return enqueue(c.id, JobKind.LETTERS)


# --- review ------------------------------------------------------------------------------------------------


def draft_version(store: Store, c: Consultation, number: int) -> NoteVersion:
    """Version ``number`` of ``c`` if it is a DRAFT (editable, approvable); StateError otherwise."""
    v = store.notes.get_version(c.id, number)
    if v.state != NoteState.DRAFT:
        raise StateError("This version is approved or rejected and read-only; use 'Correct this note'.")
    return v


def as_drafted(store: Store, consultation_id: str, version: NoteVersion) -> NoteDraft:
    """``version``'s note before any of its edits (edits change a draft version in place)."""
    edits = sorted(store.notes.edits(consultation_id, version.version), key=lambda e: e.at)
    return undo_edits(version.note, edits)


def approve(store: Store, c: Consultation, number: int, approval: Approval) -> NoteVersion:
    """DRAFT version ``number`` -> APPROVED (the consultation APPROVED), with how much each section changed
    from the model's draft kept in the review metrics. StateError unless it is a draft."""
    draft_version(store, c, number)
    approved = store.notes.approve(c.id, number, approval)
    changes = section_changes(as_drafted(store, c.id, store.notes.get_version(c.id, 1)), approved.note)

    def record(m: ReviewMetrics) -> None:
        m.approved_at = approval.at
        m.sections = changes

    store.consultations.update_metrics(c.id, record)
    return approved


def reject(store: Store, c: Consultation, number: int, reason: str, user_id: int) -> NoteVersion:
    """DRAFT version ``number`` -> REJECTED with ``reason``; StateError unless it is a draft."""
    draft_version(store, c, number)
    return store.notes.reject(c.id, number, reason, user_id)


def correct(store: Store, c: Consultation, number: int, user_id: int) -> NoteVersion:
    """A new DRAFT version copying approved or rejected version ``number``; the consultation DRAFTED again.

    StateError when version ``number`` is still a draft (it is edited in place instead).
    """
    v = store.notes.get_version(c.id, number)
    if v.state not in REVIEWABLE:
        raise StateError("Only an approved or rejected note is corrected with a new version; edit this one.")
    new = store.notes.add_version(c.id, correction_of(v.note), created_by=user_id, based_on=number)
    store.consultations.set_status(c.id, ConsultationStatus.DRAFTED)
    return new


def approved_version(store: Store, c: Consultation) -> NoteVersion:
    """The current version if it is approved (what may be exported); StateError otherwise."""
    if not c.current_version:
        raise StateError("There is no note yet; only approved notes can be exported.")
    v = store.notes.get_version(c.id, None)
    if v.state != NoteState.APPROVED or v.approval is None:
        raise StateError("Only approved notes can be exported: approve this version first.")
    return v


def stamp(field: str) -> Callable[[ReviewMetrics], None]:
    """A review-metrics change (for ``store.consultations.update_metrics``) that sets the time ``field`` to now
    unless it is already set."""

    def change(metrics: ReviewMetrics) -> None:
        if getattr(metrics, field) is None:
            setattr(metrics, field, now_utc())

    return change
