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
    FlagCode,
    Segment,
    SegmentFlag,
    Speaker,
    SpeakerRole,
    StageTiming,
    Transcript,
    Word,
)
from scribe.rows import Consultation, ConsultationStatus

__version__ = "0.1.0"

# The speech API is imported on first use, so `import scribe` for the records alone stays light.
_LAZY = {
    "decode_file": "scribe.audio.decode",
    "DecodedAudio": "scribe.audio.decode",
    "WhisperEngine": "scribe.asr.engine",
    "DecodeOptions": "scribe.asr.engine",
    "load_engine": "scribe.asr.engine",
    "transcribe": "scribe.asr.transcribe",
    "SpeakerOptions": "scribe.asr.transcribe",
    "LiveTranscriber": "scribe.asr.streaming",
    "live_segments": "scribe.asr.streaming",
    "Recorder": "scribe.audio.capture",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scribe' has no attribute {name!r}")


__all__ = [  # records and errors, then the lazily imported speech API
    *_LAZY,
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
