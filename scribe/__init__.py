"""scribe: ambient voice documentation for clinicians, on the local machine.

The public API is exported here and nowhere else.
"""

from scribe.config import Settings, load_settings
from scribe.errors import (
    AudioError,
    AudioNotFoundError,
    AudioTooLongError,
    CaptureError,
    ConfigError,
    CorruptAudioError,
    EmptyAudioError,
    ModelError,
    ScribeError,
    TranscriptionError,
)
from scribe.records import (
    AudioInfo,
    Consultation,
    ConsultationStatus,
    FlagCode,
    Segment,
    SegmentFlag,
    Speaker,
    SpeakerRole,
    StageTiming,
    Transcript,
    Word,
)

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "AudioInfo",
    "AudioNotFoundError",
    "AudioTooLongError",
    "CaptureError",
    "ConfigError",
    "Consultation",
    "ConsultationStatus",
    "CorruptAudioError",
    "EmptyAudioError",
    "FlagCode",
    "ModelError",
    "ScribeError",
    "Segment",
    "SegmentFlag",
    "Settings",
    "Speaker",
    "SpeakerRole",
    "StageTiming",
    "Transcript",
    "TranscriptionError",
    "Word",
    "__version__",
    "load_settings",
]
