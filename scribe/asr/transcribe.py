"""Audio in, attributed transcript out: recognition, hallucination guards, speaker roles, timings.

``transcribe()`` is the one function a file goes through; the live path in ``streaming.py``
shares ``attribute()`` and ``assemble()`` so both produce identical records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from scribe.asr import speakers as spk
from scribe.asr.engine import DecodeOptions, WhisperEngine
from scribe.asr.guards import apply_guards
from scribe.audio.decode import DecodedAudio
from scribe.config import Settings
from scribe.errors import EmptyAudioError
from scribe.records import Segment, Speaker, StageTiming, Transcript

log = logging.getLogger(__name__)

SpeakerMethod = Literal["auto", "channel", "embedding", "text", "none"]

ENROLMENT_FILE = "enrolment/clinician.npy"


@dataclass(frozen=True)
class SpeakerOptions:
    """How to attribute speech to clinician and patient."""

    method: SpeakerMethod = "auto"
    clinician_channel: int = 0
    enrolment: np.ndarray | None = None


def enrolment_path(settings: Settings) -> Path:
    """Where the clinician's voice embedding lives: SCRIBE_ENROLMENT, else in the data directory."""
    return settings.enrolment or settings.data_dir / ENROLMENT_FILE


def speaker_options(settings: Settings, method: SpeakerMethod = "auto") -> SpeakerOptions:
    """SpeakerOptions from settings: the clinician's stereo channel and enrolled voice, if any."""
    return SpeakerOptions(
        method=method,
        clinician_channel=settings.clinician_channel,
        enrolment=spk.load_enrolment(enrolment_path(settings)),
    )


def resolve_method(method: SpeakerMethod, channels: int) -> SpeakerMethod:
    """ "auto": channel for stereo, embeddings when the speakers extra is installed, else text cues."""
    if method != "auto":
        if method == "channel" and channels != 2:
            return "embedding" if spk.available() else "text"
        return method
    if channels == 2:
        return "channel"
    return "embedding" if spk.available() else "text"


def attribute(
    segments: Sequence[Segment],
    samples: np.ndarray,
    method: SpeakerMethod,
    options: SpeakerOptions,
    runs: Sequence[spk.VoiceRun] | None = None,
    encoder: spk.VoiceEncoder | None = None,
) -> tuple[list[Segment], list[Speaker]]:
    """Label every word clinician or patient with ``method`` (already resolved) and split at changes."""
    if method == "channel":
        return spk.by_channel(segments, samples, options.clinician_channel)
    if method == "embedding":
        mono = samples.mean(axis=0) if samples.ndim == 2 else samples
        if runs is None:
            runs = spk.embed_runs(segments, mono, encoder or spk.VoiceEncoder())
        return spk.by_embedding(segments, runs, options.enrolment)
    if method == "text":
        return spk.by_text(segments)
    return list(segments), []


def assemble(
    kept: Sequence[Segment],
    rejected: Sequence[Segment],
    *,
    speakers: list[Speaker],
    method: SpeakerMethod,
    engine: WhisperEngine,
    language: str | None,
    language_probability: float | None,
    duration: float,
    vocabulary: bool,
    timings: list[StageTiming],
) -> Transcript:
    """Number segments in time order (kept first, then rejected) and build the Transcript record."""
    ordered = sorted(kept, key=lambda s: (s.start, s.end))
    numbered = [s.model_copy(update={"id": i}) for i, s in enumerate(ordered)]
    dropped = [
        s.model_copy(update={"id": len(numbered) + i}) for i, s in enumerate(sorted(rejected, key=lambda s: s.start))
    ]
    return Transcript(
        segments=numbered,
        rejected=dropped,
        speakers=speakers,
        speaker_method=method,
        language=language,
        language_probability=language_probability,
        duration=duration,
        model=engine.name,
        device=engine.device,
        compute_type=engine.compute_type,
        vocabulary=vocabulary,
        timings=timings,
    )


def transcribe(
    audio: DecodedAudio,
    engine: WhisperEngine,
    options: DecodeOptions = DecodeOptions(),
    speaker_options: SpeakerOptions = SpeakerOptions(),
    *,
    on_progress: Callable[[float], None] | None = None,
    encoder: spk.VoiceEncoder | None = None,
) -> Transcript:
    """Transcribe a decoded recording into an attributed, guarded Transcript.

    ``on_progress`` receives the audio seconds reached so far. Raises EmptyAudioError when the
    recording holds no speech at all.
    """
    mono = audio.mono
    started = clock()
    decoded = engine.decode(mono, options)
    raw: list[Segment] = []
    for segment in decoded.segments:
        raw.append(segment)
        if on_progress:
            on_progress(segment.end)
    if on_progress:
        on_progress(audio.duration)
    kept, rejected = apply_guards(raw, mono)
    asr_timing = stage_timing("asr", engine, audio.duration, since=started)

    if not kept:
        reason = f" ({len(rejected)} segment(s) rejected as hallucination)" if rejected else ""
        raise EmptyAudioError(
            f"{audio.info.path or 'the recording'}: no speech was recognised{reason}; "
            "check the recording has the consultation in it"
        )

    started = clock()
    method = resolve_method(speaker_options.method, audio.samples.shape[0])
    attributed, speakers = attribute(kept, audio.samples, method, speaker_options, encoder=encoder)
    speaker_timing = stage_timing("speakers", engine, audio.duration, since=started, model=method)
    log.info("%d segments kept, %d rejected, speakers by %s", len(attributed), len(rejected), method)
    return assemble(
        attributed,
        rejected,
        speakers=speakers,
        method=method,
        engine=engine,
        language=decoded.language,
        language_probability=decoded.language_probability,
        duration=audio.duration,
        vocabulary=bool(options.hotwords),
        timings=[asr_timing, speaker_timing],
    )


def clock() -> tuple[float, float]:
    """Wall and CPU clocks now, for :func:`stage_timing`."""
    return time.perf_counter(), time.process_time()


def stage_timing(
    stage: str,
    engine: WhisperEngine,
    audio_seconds: float,
    *,
    since: tuple[float, float] | None = None,
    wall: float = 0.0,
    cpu: float = 0.0,
    model: str | None = None,
) -> StageTiming:
    """A StageTiming for ``stage``: measured ``since`` a :func:`clock` reading, or given totals."""
    if since is not None:
        wall, cpu = time.perf_counter() - since[0], time.process_time() - since[1]
    return StageTiming(
        stage=stage,
        wall_seconds=wall,
        cpu_seconds=cpu,
        audio_seconds=audio_seconds,
        model=model or engine.name,
        device=engine.device,
        compute_type=engine.compute_type,
    )
