"""The faster-whisper engine: one loaded model, segments yielded lazily as records.

Device "auto" picks CUDA with float16 when CTranslate2 sees a GPU, else the CPU with int8 and
one thread per core (:mod:`scribe.devices`). Silero VAD (shipped inside faster-whisper) skips
silence; word timestamps are always on because speaker attribution and evidence links need them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import BatchedInferencePipeline, WhisperModel

from scribe.asr.vocabulary import hotwords, load_terms
from scribe.catalogue import resolve
from scribe.config import Settings
from scribe.devices import choose_device
from scribe.errors import ModelError, TranscriptionError
from scribe.records import Segment, Word

log = logging.getLogger(__name__)


# Whisper's own schedule: re-decode by sampling at rising temperatures when a window looks bad.
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class DecodeOptions:
    """How to decode: the knobs a site or a benchmark turns."""

    language: str | None = None
    beam_size: int = 5
    batched: bool = False
    batch_size: int = 8
    hotwords: str | None = None
    vad: bool = True
    min_silence_ms: int = 500
    condition_on_previous_text: bool = False  # off: conditioning is the main cause of loops
    temperature_fallback: bool = True  # Whisper's fallback: the benchmark measured lower WER with it on


@dataclass(frozen=True)
class Decoded:
    """What the engine heard: segments (iterated lazily) and the detected language."""

    segments: Iterator[Segment]
    language: str
    language_probability: float
    duration: float


def faster_whisper_arguments(options: DecodeOptions, *, multilingual: bool = True) -> dict[str, Any]:
    """The keyword arguments scribe passes to faster-whisper's ``transcribe`` for ``options``.

    Public so a benchmark can run raw faster-whisper with exactly the same decoding.
    """
    return {
        "language": options.language or (None if multilingual else "en"),
        "beam_size": options.beam_size,
        "word_timestamps": True,
        "vad_filter": options.vad,
        "vad_parameters": {"min_silence_duration_ms": options.min_silence_ms},
        "condition_on_previous_text": options.condition_on_previous_text,
        "hotwords": options.hotwords or None,
        "temperature": list(FALLBACK_TEMPERATURES) if options.temperature_fallback else 0.0,
    }


class WhisperEngine:
    """A faster-whisper model loaded once and reused for every file or live chunk."""

    def __init__(
        self,
        model_path: Path,
        *,
        name: str | None = None,
        device: str = "auto",
        compute_type: str | None = None,
        threads: int = 0,
    ) -> None:
        self.device, self.compute_type = choose_device(device, compute_type)
        self.name = name or model_path.name
        cpu_threads = threads or os.cpu_count() or 1
        self.threads = cpu_threads
        try:
            self._model = WhisperModel(
                str(model_path),
                device=self.device,
                compute_type=self.compute_type,
                cpu_threads=cpu_threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"cannot load Whisper model {self.name} from {model_path} on {self.device}/{self.compute_type}: "
                f"{exc}; run `scribe models verify`"
            ) from None
        self._batched: BatchedInferencePipeline | None = None
        log.info("loaded %s on %s (%s, %d threads)", self.name, self.device, self.compute_type, cpu_threads)

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def decode(self, audio: np.ndarray, options: DecodeOptions, *, offset: float = 0.0, first_id: int = 0) -> Decoded:
        """Decode 16 kHz mono float32 ``audio``; times are shifted by ``offset`` seconds."""
        language = options.language
        if language and language != "en" and not self.multilingual:
            raise TranscriptionError(f"model {self.name} is English-only; use whisper-base for language {language!r}")
        kwargs = faster_whisper_arguments(options, multilingual=self.multilingual)
        try:
            if options.batched:
                if self._batched is None:
                    self._batched = BatchedInferencePipeline(self._model)
                raw, info = self._batched.transcribe(audio, batch_size=options.batch_size, **kwargs)
            else:
                raw, info = self._model.transcribe(audio, **kwargs)
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"recognition failed: {exc}") from None

        def records() -> Iterator[Segment]:
            for index, seg in enumerate(raw, start=first_id):
                yield _to_record(seg, index, offset)

        return Decoded(
            segments=records(),
            language=info.language,
            language_probability=float(info.language_probability),
            duration=float(info.duration),
        )


def _to_record(seg: object, index: int, offset: float) -> Segment:
    words = [
        Word(
            start=round(max(0.0, w.start + offset), 3),
            end=round(max(0.0, w.end + offset), 3),
            text=w.word,
            probability=min(1.0, max(0.0, float(w.probability))),
        )
        for w in (seg.words or [])
    ]
    confidence = float(np.mean([w.probability for w in words])) if words else None
    return Segment(
        id=index,
        start=round(max(0.0, seg.start + offset), 3),
        end=round(max(0.0, seg.end + offset), 3),
        text=seg.text.strip(),
        words=words,
        avg_logprob=float(seg.avg_logprob),
        no_speech_prob=min(1.0, max(0.0, float(seg.no_speech_prob))),
        compression_ratio=max(0.0, float(seg.compression_ratio)),
        confidence=confidence,
    )


def load_engine(settings: Settings, model: str | None = None, device: str | None = None) -> WhisperEngine:
    """The engine the settings ask for: a catalogue name or a CTranslate2 folder, on the chosen device."""
    name = model or settings.asr_model
    return WhisperEngine(
        resolve(name, settings),
        name=name,
        device=device or settings.device,
        compute_type=settings.compute_type,
        threads=settings.threads,
    )


def decode_options(settings: Settings, **overrides: object) -> DecodeOptions:
    """DecodeOptions from settings (vocabulary included), with explicit overrides."""
    values: dict[str, object] = {
        "language": settings.language,
        "beam_size": settings.beam_size,
        "batched": settings.batched,
        "batch_size": settings.batch_size,
        "temperature_fallback": settings.temperature_fallback,
        "hotwords": hotwords(load_terms(settings.vocabulary_file)) if settings.vocabulary else None,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return DecodeOptions(**values)
