"""The records an evaluation produces: one ``CaseResult`` per consultation, kept whole in an ``EvaluationRun``.

Every number keeps the counts behind it (words, errors, statements), so rates can be pooled
honestly across consultations, and every case says where its audio came from (``synthetic``) and
which subgroups it belongs to, so the report can break each metric down and say what it cannot show.
A metric a case could not have (no audio, no reference note, no review) is None, never 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Arm = Literal["scribe", "control"]
"""scribe: the clinician reviewed scribe's draft; control: the clinician wrote the note unaided (baseline)."""


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpeechScores(_Result):
    """How well the recording was turned into an attributed transcript."""

    reference_words: int = Field(ge=0)
    word_errors: int = Field(ge=0, description="Substitutions + deletions + insertions after normalisation.")
    wer: float | None = None
    medical_terms: int = Field(default=0, ge=0, description="Clinical-term occurrences in the reference.")
    medical_term_errors: int = Field(default=0, ge=0, description="Of those, how many the hypothesis lacks.")
    medical_term_wer: float | None = None
    attributed_words: int = Field(default=0, ge=0, description="Recognised words with one reference speaker.")
    attribution_correct: int = Field(default=0, ge=0)
    attribution_accuracy: float | None = None
    segments: int = Field(default=0, ge=0, description="Segments kept in the transcript the clinician sees.")
    hallucinated_segments: int = Field(
        default=0, ge=0, description="Kept segments with (almost) no reference speech under them: invented text."
    )
    rejected_segments: int = Field(default=0, ge=0, description="Segments the hallucination guards removed.")
    hallucinated_segment_rate: float | None = None
    audio_seconds: float = Field(default=0.0, ge=0)
    asr_seconds: float = Field(default=0.0, ge=0, description="Wall-clock time to transcribe.")
    real_time_factor: float | None = Field(default=None, description="asr_seconds / audio_seconds; below 1 is faster.")


class FactScore(_Result):
    """Facts of one kind (medication, allergy, problem, finding, symptom) in the draft vs the reference note."""

    tp: int = Field(ge=0)
    fp: int = Field(ge=0)
    fn: int = Field(ge=0)
    precision: float | None = None
    recall: float | None = None


class NoteScores(_Result):
    """How close the draft is to the reference note, and what the grounding checks found."""

    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None  # noqa: N815  (ACI-Bench's name; it is rougeLsum, see note_metrics)
    facts: dict[str, FactScore] = Field(default_factory=dict)
    fact_precision: float | None = Field(default=None, description="Pooled over kinds.")
    fact_recall: float | None = None
    statements: int = Field(default=0, ge=0)
    unsupported: int = Field(default=0, ge=0, description="Statements the transcript does not support.")
    unsupported_rate: float | None = None
    omissions: int = Field(default=0, ge=0, description="Things the omission check found the draft left out.")
    omission_rate: float | None = Field(
        default=None, description="omissions / (statements + omissions): share of due content missing."
    )
    letter_grade: float | None = Field(default=None, description="Flesch-Kincaid grade of the patient letter.")
    letter_reading_ease: float | None = None
    draft_seconds: float | None = Field(default=None, ge=0, description="Wall-clock time to draft the note.")


class TimeScores(_Result):
    """Documentation time and edit effort, measured in the review app (or, offline, time to draft)."""

    arm: Arm = "scribe"
    time_to_draft_seconds: float | None = Field(default=None, description="End of consultation to draft ready.")
    review_seconds: float | None = Field(
        default=None, description="Active time on the note page until approval (control arm: writing it)."
    )
    documentation_seconds: float | None = Field(
        default=None, description="Clinician time spent on the note: review and edits, or unaided writing."
    )
    characters_changed: int | None = None
    statements_edited: int | None = None
    statements_added: int | None = None
    statements_deleted: int | None = None
    share_edited: float | None = Field(default=None, description="Changed characters / characters of the draft.")
    reviewed: bool = Field(
        default=False, description="The clinician approved or rejected the draft in the review app (not offline runs)."
    )
    rejected: bool = False


class StageCost(_Result):
    """Compute one stage used for one consultation."""

    stage: str = Field(description="transcribe, draft, letter ...")
    device: str = "cpu"
    wall_seconds: float = Field(ge=0)
    cpu_seconds: float = Field(ge=0, description="Process CPU time over all threads.")
    gpu_seconds: float = Field(default=0.0, ge=0, description="Wall time the stage held a GPU (0 on CPU).")
    peak_rss_mb: float | None = Field(default=None, description="Highest resident memory seen during the stage.")


class CaseResult(_Result):
    """Everything measured for one consultation."""

    case_id: str
    dataset: str
    synthetic_audio: bool = Field(description="True when the audio was made by text-to-speech.")
    has_audio: bool = False
    consultation_type: str = Field(default="", description="Template or visit type, for per-type breakdowns.")
    clinician: str = Field(default="", description="A pseudonymous clinician label, for per-clinician breakdowns.")
    subgroups: dict[str, str] = Field(
        default_factory=dict, description="e.g. gender, age_band, voice, language: what the data carries."
    )
    consulted_at: datetime | None = Field(
        default=None, description="When the consultation took place (cases from the store), for flags over time."
    )
    speech: SpeechScores | None = None
    note: NoteScores | None = None
    time: TimeScores | None = None
    costs: list[StageCost] = Field(default_factory=list)
    error: str = Field(default="", description="Why this case could not be evaluated (it is then left out).")


class EvaluationRun(_Result):
    """A whole evaluation: what was run, on what, with which models, and every case's numbers."""

    dataset: str
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    config: dict[str, object] = Field(default_factory=dict, description="Settings and options, secrets removed.")
    models: dict[str, str] = Field(default_factory=dict, description="Role -> model name and version or sha256.")
    machine: dict[str, object] = Field(default_factory=dict)
    assumed_baseline_minutes: float | None = Field(
        default=None, description="A site's own documentation-time figure, used only when no control arm was measured."
    )
    cases: list[CaseResult] = Field(default_factory=list)
