"""A crash-safe, append-only recording on disk: 16-bit PCM WAV written as audio arrives.

The header goes first, samples are appended as they come, and at least once per second of
audio the header sizes are rewritten and the file is fsync'ed. A crash, ``kill -9`` or power
cut therefore loses at most about one second; a file left with stale header sizes reads
correctly with :func:`open_recording` and is repaired in place by :func:`recover`.

:class:`RecordingWriter` is the one place recorded bytes reach the disk, so encryption at rest
can be added there alone.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from scribe.errors import AudioNotFoundError, AudioTooLongError, CorruptAudioError, EmptyAudioError, ScribeError
from scribe.records import AudioInfo

_HEADER_BYTES = 44  # RIFF(12) + fmt chunk(24) + data chunk header(8)
_RIFF_SIZE_AT = 4
_DATA_SIZE_AT = 40
_MAX_DATA_BYTES = 0xFFFFFFFF - (_HEADER_BYTES - 8)
_PCM = 1
_EXTENSIBLE = 0xFFFE


class RecordingExistsError(ScribeError, FileExistsError):
    """The recording file already exists and overwriting was not asked for."""


def _header(sample_rate: int, channels: int, data_bytes: int) -> bytes:
    block_align = channels * 2
    byte_rate = sample_rate * block_align
    return (
        struct.pack("<4sI4s", b"RIFF", 36 + data_bytes, b"WAVE")
        + struct.pack("<4sIHHIIHH", b"fmt ", 16, _PCM, channels, sample_rate, byte_rate, block_align, 16)
        + struct.pack("<4sI", b"data", data_bytes)
    )


def _to_pcm16(samples: np.ndarray, channels: int) -> np.ndarray:
    """float32 in [-1, 1], shape (frames,) or (frames, channels) → interleaved little-endian int16."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != channels:
        raise ValueError(f"expected audio shaped (frames, {channels}), got {x.shape}")
    return np.rint(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")


class RecordingWriter:
    """Append float32 audio to a 16-bit PCM WAV so that a crash loses at most ``sync_seconds``.

    Writes go straight to ``path`` (unbuffered: a killed process loses nothing it appended; a
    power cut loses at most what came since the last sync). The file is never deleted: an
    incomplete recording is still a recording. An existing file is refused unless
    ``overwrite=True``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int = 16000,
        channels: int = 1,
        *,
        sync_seconds: float = 1.0,
        overwrite: bool = False,
    ) -> None:
        if sample_rate <= 0 or channels < 1:
            raise ValueError(f"bad format: {sample_rate} Hz, {channels} channels")
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = 0
        self._sync_every = max(1, int(sync_seconds * sample_rate))
        self._unsynced = 0
        try:
            self._file = open(self.path, "wb" if overwrite else "xb", buffering=0)  # noqa: SIM115
        except FileExistsError:
            raise RecordingExistsError(
                f"{self.path} already exists; choose another file name or allow overwriting it"
            ) from None
        self._write(_header(sample_rate, channels, 0))
        self.sync()

    @property
    def duration(self) -> float:
        """Seconds of audio appended so far."""
        return self.frames / self.sample_rate

    @property
    def closed(self) -> bool:
        return self._file.closed

    def append(self, samples: np.ndarray) -> None:
        """Append float32 samples, shape (frames,) for mono or (frames, channels)."""
        pcm = _to_pcm16(samples, self.channels)
        if (self.frames + len(pcm)) * self.channels * 2 > _MAX_DATA_BYTES:
            raise AudioTooLongError(f"{self.path} would pass the 4 GiB WAV limit; start a new recording")
        self._write(pcm.tobytes())
        self.frames += len(pcm)
        self._unsynced += len(pcm)
        if self._unsynced >= self._sync_every:
            self.sync()

    def sync(self) -> None:
        """Rewrite the header sizes to match the data written, then flush and fsync."""
        data_bytes = self.frames * self.channels * 2
        # Data size first, RIFF size last: a crash between the two leaves the RIFF size stale,
        # which readers take as the sign to size the data from the file length.
        self._file.seek(_DATA_SIZE_AT)
        self._write(struct.pack("<I", data_bytes))
        self._file.seek(_RIFF_SIZE_AT)
        self._write(struct.pack("<I", 36 + data_bytes))
        self._file.seek(0, os.SEEK_END)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._unsynced = 0

    def close(self) -> None:
        """Finalise the header and close the file. Safe to call twice."""
        if not self._file.closed:
            try:
                self.sync()
            finally:
                self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write(self, data: bytes) -> None:
        # The one place recorded bytes reach the disk.
        view = memoryview(data)
        while view:
            n = self._file.write(view)
            view = view[n:]


@dataclass(frozen=True)
class _Layout:
    sample_rate: int
    channels: int
    data_offset: int
    data_bytes: int  # whole frames, from the header or, when the header is stale, from the file length
    stale: bool
    file_bytes: int

    @property
    def frames(self) -> int:
        return self.data_bytes // (self.channels * 2)


def _layout(path: Path) -> _Layout:
    try:
        with open(path, "rb") as f:
            file_bytes = os.fstat(f.fileno()).st_size
            riff = f.read(12)
            if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
                raise CorruptAudioError(f"{path} is not a WAV recording")
            (riff_size,) = struct.unpack_from("<I", riff, 4)
            fmt: tuple[int, ...] | None = None
            while True:
                chunk_header = f.read(8)
                if len(chunk_header) < 8:
                    raise CorruptAudioError(f"{path} is truncated: its header is incomplete, so it holds no audio")
                chunk, size = struct.unpack("<4sI", chunk_header)
                if chunk == b"data":
                    break
                body = f.read(size + (size & 1))
                if chunk == b"fmt " and len(body) >= 16:
                    fmt = struct.unpack_from("<HHIIHH", body)
            data_offset = f.tell()
            f.seek(data_offset + size + (size & 1))
            after_data = f.read(4)
    except FileNotFoundError:
        raise AudioNotFoundError(f"{path} does not exist") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise AudioNotFoundError(f"{path} cannot be read ({exc.strerror})") from None
    if fmt is None:
        raise CorruptAudioError(f"{path} has no format chunk before its audio")
    audio_format, channels, sample_rate, _, _, bits = fmt
    if audio_format not in (_PCM, _EXTENSIBLE) or bits != 16 or channels < 1 or sample_rate < 1:
        raise CorruptAudioError(
            f"{path} is not a 16-bit PCM WAV recording (format {audio_format}, {bits} bits); "
            "use `scribe transcribe`, which decodes other formats"
        )
    available = max(0, file_bytes - data_offset)
    # Stale when the RIFF size disagrees with the file, the data runs past it, or bytes follow
    # the data that are not another chunk (a chunk id is four printable ASCII characters).
    orphan_bytes = bool(after_data) and not (len(after_data) == 4 and all(32 <= b < 127 for b in after_data))
    stale = riff_size != file_bytes - 8 or size > available or orphan_bytes
    data_bytes = available if stale else size
    data_bytes -= data_bytes % (channels * 2)
    return _Layout(sample_rate, channels, data_offset, data_bytes, stale, file_bytes)


def open_recording(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a recording as float32 shaped (frames, channels) and its sample rate.

    A recording whose header sizes are stale (the writer crashed) is read to the last whole
    frame in the file; the file itself is not changed (see :func:`recover`).
    """
    path = Path(path)
    layout = _layout(path)
    if layout.frames == 0:
        raise EmptyAudioError(f"{path} holds no audio samples")
    pcm = np.fromfile(path, dtype="<i2", count=layout.data_bytes // 2, offset=layout.data_offset)
    return (pcm.astype(np.float32) / 32768.0).reshape(-1, layout.channels), layout.sample_rate


def recover(path: str | os.PathLike[str]) -> AudioInfo:
    """Repair in place a recording left with stale header sizes by a crash.

    The sizes are recomputed from the file length, and a trailing partial frame is cut off.
    A file whose header is already consistent is left untouched. Returns what the file holds.
    """
    path = Path(path)
    layout = _layout(path)
    if layout.stale:
        with open(path, "r+b") as f:
            f.truncate(layout.data_offset + layout.data_bytes)
            f.seek(layout.data_offset - 4)
            f.write(struct.pack("<I", layout.data_bytes))
            f.seek(_RIFF_SIZE_AT)
            f.write(struct.pack("<I", layout.data_offset - 8 + layout.data_bytes))
            f.flush()
            os.fsync(f.fileno())
    return AudioInfo(
        path=str(path),
        format="wav",
        duration=layout.frames / layout.sample_rate,
        sample_rate=layout.sample_rate,
        channels=layout.channels,
    )
