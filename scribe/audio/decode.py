"""Decode any audio file PyAV reads into 16 kHz float32, keeping up to two channels.

Stereo recordings with one speaker per channel (as PriMock57 records them) keep both channels
so speakers can be told apart by channel; everything else is mono. Problems with the input
raise an :class:`~scribe.errors.AudioError` subclass whose message says what to do.
"""

from __future__ import annotations

import hashlib
import io
import logging
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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
    wav_source: Callable[[], str | BinaryIO],
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
) -> float | None:
    """Duration the input claims; for PCM WAV the header's own size, which FFmpeg would re-derive."""
    if container.format.name == "wav":
        try:
            with wave.open(wav_source(), "rb") as handle:
                return handle.getnframes() / handle.getframerate()
        except (wave.Error, EOFError, ZeroDivisionError):
            pass
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _open(source: str | BinaryIO, label: str) -> av.container.InputContainer:
    try:
        return av.open(source, metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptAudioError(
            f"{label}: not an audio file scribe can read ({type(exc).__name__}); use wav, flac, mp3, m4a, ogg or webm"
        ) from None


def _audio_stream(container: av.container.InputContainer, label: str) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        raise CorruptAudioError(f"{label}: the file holds no audio stream; use wav, flac, mp3, m4a, ogg or webm")
    return container.streams.audio[0]


def _check_declared(declared: float | None, label: str, max_seconds: float) -> None:
    if declared is not None and declared > max_seconds:
        raise AudioTooLongError(
            f"{label}: {declared / 3600:.1f} h of audio exceeds the {max_seconds / 3600:.1f} h limit; "
            "split the file or raise SCRIBE_MAX_AUDIO_SECONDS"
        )


def _decode(
    source: str | BinaryIO,
    label: str,
    *,
    wav_source: Callable[[], str | BinaryIO],
    path: str | None,
    sha256: str,
    max_seconds: float,
    keep_stereo: bool,
) -> DecodedAudio:
    """The one decoder behind :func:`decode_file` and :func:`decode_bytes`."""
    container = _open(source, label)
    with container:
        stream = _audio_stream(container, label)
        source_rate = stream.codec_context.sample_rate or stream.rate or 0
        source_channels = stream.codec_context.channels or 1
        declared = _declared_seconds(wav_source, container, stream)
        _check_declared(declared, label, max_seconds)
        channels = 2 if keep_stereo and source_channels >= 2 else 1
        samples = _decode_stream(container, stream, label, channels, max_seconds)
        format_name = container.format.name

    frames = samples.shape[1]
    if frames == 0:
        raise EmptyAudioError(f"{label}: the file decodes to zero samples; record again or pick another file")
    decoded_seconds = frames / SAMPLE_RATE
    if declared and declared > 1.0 and decoded_seconds < TRUNCATION_TOLERANCE * declared:
        raise CorruptAudioError(
            f"{label}: truncated: the header declares {declared:.1f} s but only {decoded_seconds:.1f} s decode; "
            "recover the original file or re-export it"
        )
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise EmptyAudioError(
            f"{label}: the audio is silent (peak below -80 dBFS); check the microphone is connected and unmuted"
        )
    audio_info = AudioInfo(
        path=path,
        sha256=sha256,
        format=format_name,
        duration=decoded_seconds,
        sample_rate=int(source_rate) or SAMPLE_RATE,
        channels=int(source_channels),
    )
    log.info(
        "decoded %s: %.1f s, %d channel(s) at %d Hz",
        Path(path).name if path else "audio from memory",
        decoded_seconds,
        source_channels,
        source_rate,
    )
    return DecodedAudio(samples=samples, info=audio_info)


def decode_file(path: str | Path, *, max_seconds: float = 4 * 3600, keep_stereo: bool = True) -> DecodedAudio:
    """Decode ``path`` to 16 kHz float32; refuse missing, empty, silent, corrupt or too-long input."""
    path = Path(path)
    if not path.is_file():
        raise AudioNotFoundError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{path}: the file is empty (0 bytes); record again or pick another file")
    return _decode(
        str(path),
        str(path),
        wav_source=lambda: str(path),
        path=str(path),
        sha256=_sha256(path),
        max_seconds=max_seconds,
        keep_stereo=keep_stereo,
    )


def decode_bytes(
    data: bytes, *, name: str = "upload", max_seconds: float = 4 * 3600, keep_stereo: bool = True
) -> DecodedAudio:
    """Decode audio held in memory (an upload, a stored recording) exactly as :func:`decode_file` would.

    Nothing is written to disk. ``name`` labels error messages; ``info.path`` stays None and
    ``info.sha256`` is the digest of ``data``.
    """
    if not data:
        raise EmptyAudioError(f"{name}: the file is empty (0 bytes); record again or pick another file")
    return _decode(
        io.BytesIO(data),
        name,
        wav_source=lambda: io.BytesIO(data),
        path=None,
        sha256=hashlib.sha256(data).hexdigest(),
        max_seconds=max_seconds,
        keep_stereo=keep_stereo,
    )


def probe_audio(data: bytes, name: str = "upload", *, max_seconds: float = 4 * 3600) -> AudioInfo:
    """Check cheaply that ``data`` is audio scribe can decode: read the header and the first frames.

    ``duration`` is what the header declares (0.0 when it declares none, as browser WebM
    recordings do). Raises EmptyAudioError, CorruptAudioError or AudioTooLongError.
    """
    if not data:
        raise EmptyAudioError(f"{name}: the file is empty (0 bytes); record again or pick another file")
    container = _open(io.BytesIO(data), name)
    with container:
        stream = _audio_stream(container, name)
        declared = _declared_seconds(lambda: io.BytesIO(data), container, stream)
        _check_declared(declared, name, max_seconds)
        try:
            frame = next(container.decode(stream), None)
        except av.error.FFmpegError as exc:
            raise CorruptAudioError(
                f"{name}: the audio data cannot be decoded ({exc.strerror or type(exc).__name__}); "
                "the file is damaged or not audio"
            ) from None
        if frame is None:
            raise EmptyAudioError(f"{name}: the file holds no audio samples; record again or pick another file")
        return AudioInfo(
            sha256=hashlib.sha256(data).hexdigest(),
            format=container.format.name,
            duration=max(0.0, declared or 0.0),
            sample_rate=int(stream.codec_context.sample_rate or stream.rate or 0) or SAMPLE_RATE,
            channels=int(stream.codec_context.channels or 1),
        )


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    label: str,
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
                    f"{label}: longer than the {max_seconds / 3600:.1f} h limit; "
                    "split the file or raise SCRIBE_MAX_AUDIO_SECONDS"
                )
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    except av.error.FFmpegError as exc:
        if total == 0:
            raise CorruptAudioError(
                f"{label}: the audio data cannot be decoded ({exc.strerror or type(exc).__name__}); "
                "the file is damaged or not audio"
            ) from None
        raise CorruptAudioError(
            f"{label}: the file is damaged after {total / SAMPLE_RATE:.1f} s ({exc.strerror or type(exc).__name__}); "
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
