"""The contracts between stages: pydantic v2 models that round-trip through JSON.

Every stage reads and writes these records and nothing else, so a transcript made by
``scribe transcribe`` today is the input of the note stage tomorrow, and evaluation reads the
same timings that clinicians produced.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

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


class ConsultationStatus(StrEnum):
    """Where a consultation is in the pipeline."""

    RECORDING = "recording"
    TRANSCRIBING = "transcribing"
    TRANSCRIBED = "transcribed"
    DRAFTED = "drafted"
    APPROVED = "approved"
    EXPORTED = "exported"


class Consultation(Record):
    """One consultation: the id that threads through every stage, its audio and its records."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = Field(default_factory=_now)
    status: ConsultationStatus = ConsultationStatus.RECORDING
    audio: AudioInfo | None = None
    transcript: Transcript | None = None
    timings: list[StageTiming] = Field(default_factory=list)
