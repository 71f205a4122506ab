"""Decode any audio file PyAV reads into 16 kHz float32, keeping up to two channels.

Stereo recordings with one speaker per channel (as PriMock57 records them) keep both channels
so speakers can be told apart by channel; everything else is mono. Problems with the input
raise an :class:`~scribe.errors.AudioError` subclass whose message says what to do.
"""

from __future__ import annotations

import hashlib
import logging
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from scribe.errors import AudioNotFoundError, AudioTooLongError, CorruptAudioError, EmptyAudioError
from scribe.records import AudioInfo

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SILENCE_PEAK = 10 ** (-80 / 20)  # -80 dBFS: digital silence or a dead microphone
TRUNCATION_TOLERANCE = 0.9  # decoded/declared duration below this means the file is cut short


@dataclass(frozen=True)
class DecodedAudio:
    """Samples shaped (channels, frames) at 16 kHz, with what was learnt about the source."""

    samples: np.ndarray
    info: AudioInfo

    @property
    def mono(self) -> np.ndarray:
        """The channels averaged to one."""
        return self.samples.mean(axis=0) if self.samples.shape[0] > 1 else self.samples[0]

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _declared_seconds(
    path: Path, container: av.container.InputContainer, stream: av.audio.stream.AudioStream
) -> float | None:
    """Duration the file claims; for PCM WAV the header's own size, which FFmpeg would re-derive."""
    if container.format.name == "wav":
        try:
            with wave.open(str(path), "rb") as handle:
                return handle.getnframes() / handle.getframerate()
        except (wave.Error, EOFError, ZeroDivisionError):
            pass
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def decode_file(path: str | Path, *, max_seconds: float = 4 * 3600, keep_stereo: bool = True) -> DecodedAudio:
    """Decode ``path`` to 16 kHz float32; refuse missing, empty, silent, corrupt or too-long input."""
    path = Path(path)
    if not path.is_file():
        raise AudioNotFoundError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{path}: the file is empty (0 bytes); record again or pick another file")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptAudioError(
            f"{path}: not an audio file scribe can read ({type(exc).__name__}); use wav, flac, mp3, m4a, ogg or webm"
        ) from None
    with container:
        if not container.streams.audio:
            raise CorruptAudioError(f"{path}: the file holds no audio stream; use wav, flac, mp3, m4a, ogg or webm")
        stream = container.streams.audio[0]
        source_rate = stream.codec_context.sample_rate or stream.rate or 0
        source_channels = stream.codec_context.channels or 1
        declared = _declared_seconds(path, container, stream)
        if declared is not None and declared > max_seconds:
            raise AudioTooLongError(
                f"{path}: {declared / 3600:.1f} h of audio exceeds the {max_seconds / 3600:.1f} h limit; "
                "split the file or raise SCRIBE_MAX_AUDIO_SECONDS"
            )
        channels = 2 if keep_stereo and source_channels >= 2 else 1
        samples = _decode_stream(container, stream, path, channels, max_seconds)

    frames = samples.shape[1]
    if frames == 0:
        raise EmptyAudioError(f"{path}: the file decodes to zero samples; record again or pick another file")
    decoded_seconds = frames / SAMPLE_RATE
    if declared and declared > 1.0 and decoded_seconds < TRUNCATION_TOLERANCE * declared:
        raise CorruptAudioError(
            f"{path}: truncated: the header declares {declared:.1f} s but only {decoded_seconds:.1f} s decode; "
            "recover the original file or re-export it"
        )
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise EmptyAudioError(
            f"{path}: the audio is silent (peak below -80 dBFS); check the microphone is connected and unmuted"
        )
    info = AudioInfo(
        path=str(path),
        sha256=_sha256(path),
        format=container.format.name,
        duration=decoded_seconds,
        sample_rate=int(source_rate) or SAMPLE_RATE,
        channels=int(source_channels),
    )
    log.info("decoded %s: %.1f s, %d channel(s) at %d Hz", path.name, decoded_seconds, source_channels, source_rate)
    return DecodedAudio(samples=samples, info=info)


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    path: Path,
    channels: int,
    max_seconds: float,
) -> np.ndarray:
    resampler = av.AudioResampler(format="fltp", layout="stereo" if channels == 2 else "mono", rate=SAMPLE_RATE)
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        for frame in container.decode(stream):
            frame.pts = None
            for out in resampler.resample(frame):
                chunk = out.to_ndarray()
                chunks.append(chunk)
                total += chunk.shape[1]
            if total > limit:
                raise AudioTooLongError(
                    f"{path}: longer than the {max_seconds / 3600:.1f} h limit; "
                    "split the file or raise SCRIBE_MAX_AUDIO_SECONDS"
                )
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    except av.error.FFmpegError as exc:
        if total == 0:
            raise CorruptAudioError(
                f"{path}: the audio data cannot be decoded ({exc.strerror or type(exc).__name__}); "
                "the file is damaged or not audio"
            ) from None
        raise CorruptAudioError(
            f"{path}: the file is damaged after {total / SAMPLE_RATE:.1f} s ({exc.strerror or type(exc).__name__}); "
            "recover the original file or re-export it"
        ) from None
    if not chunks:
        return np.zeros((channels, 0), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(chunks, axis=1), dtype=np.float32)


def from_array(samples: np.ndarray, *, synthetic: bool = False) -> DecodedAudio:
    """Wrap 16 kHz float32 samples (frames,) or (channels, frames) already in memory."""
    samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    if samples.shape[1] == 0:
        raise EmptyAudioError("no audio samples were given; record again")
    info = AudioInfo(
        duration=samples.shape[1] / SAMPLE_RATE,
        sample_rate=SAMPLE_RATE,
        channels=samples.shape[0],
        synthetic=synthetic,
    )
    return DecodedAudio(samples=samples, info=info)
