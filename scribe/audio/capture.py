"""Microphone capture with sounddevice (PortAudio), written to a crash-safe recording.

:class:`Recorder` opens an input stream, and a consumer thread takes each block the PortAudio
callback delivers, resamples it to 16 kHz when the device refused that rate, writes it to a
:class:`~scribe.audio.recording.RecordingWriter`, updates a level meter, and hands the mono
16 kHz audio to live consumers (``on_chunk`` or :meth:`Recorder.chunks`). Paused audio is
metered but neither written nor handed on.

The stream factory is injectable (default ``sounddevice.InputStream``) so tests and other
sources can stand in for a microphone. sounddevice is imported only when a device is used, so
the rest of scribe works on machines without PortAudio.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from scribe.audio.recording import RecordingWriter
from scribe.errors import CaptureError, ScribeError
from scribe.records import AudioInfo

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_SILENCE_DBFS = -120.0
_HINT = "check the device is connected or pick one with `scribe record --list-devices`"


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise CaptureError(f"audio input is unavailable ({exc}); install PortAudio (Debian: libportaudio2)") from None
    return sounddevice


@dataclass(frozen=True)
class InputDevice:
    """A microphone PortAudio can open."""

    index: int
    name: str
    channels: int
    default_samplerate: float
    is_default: bool


def list_input_devices() -> list[InputDevice]:
    """Every device with input channels; empty when the machine has none."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise CaptureError(f"cannot list audio devices ({exc}); {_HINT}") from None
    return [
        InputDevice(
            index=d["index"],
            name=d["name"],
            channels=d["max_input_channels"],
            default_samplerate=float(d["default_samplerate"]),
            is_default=d["index"] == default,
        )
        for d in devices
        if d["max_input_channels"] > 0
    ]


@dataclass(frozen=True)
class Level:
    """Loudness of the latest block: RMS and peak in dBFS (a full-scale sine reads -3 dB RMS)."""

    rms_dbfs: float = _SILENCE_DBFS
    peak_dbfs: float = _SILENCE_DBFS

    @property
    def clipping(self) -> bool:
        return self.peak_dbfs >= -0.1

    @classmethod
    def of(cls, block: np.ndarray) -> Level:
        if block.size == 0:
            return cls()
        rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64))))
        peak = float(np.max(np.abs(block)))
        return cls(_dbfs(rms), _dbfs(peak))


def _dbfs(x: float) -> float:
    return max(_SILENCE_DBFS, 20.0 * math.log10(x)) if x > 0 else _SILENCE_DBFS


class _Resampler:
    """Streaming resampler: windowed-sinc low-pass (when going down) then linear interpolation.

    Keeps its state across blocks, so block boundaries leave no seams.
    """

    def __init__(self, source_rate: float, target_rate: int, channels: int) -> None:
        self.step = source_rate / target_rate  # source samples per output sample
        self.kernel: np.ndarray | None = None
        taps = 0
        if self.step > 1:
            half = math.ceil(8 * self.step)
            n = np.arange(-half, half + 1)
            cutoff = 0.45 / self.step  # cycles per source sample, just under the new Nyquist
            kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(len(n))
            self.kernel = (kernel / kernel.sum()).astype(np.float32)
            taps = len(n) - 1
        self.history = np.zeros((taps + 1, channels), dtype=np.float32)  # filter memory + last sample
        self.pos = 0.0  # next output's position in the coming block, in source samples (> -1)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        x = np.concatenate([self.history, block])
        self.history = x[len(x) - len(self.history) :]
        if self.kernel is None:
            y = x
        else:
            y = np.stack([np.convolve(x[:, c], self.kernel, mode="valid") for c in range(x.shape[1])], axis=1)
        # y[0] is the previous block's last sample, y[1:] this block's: position p is y[p + 1].
        last = len(block) - 1
        count = math.floor((last - self.pos) / self.step) + 1 if self.pos <= last else 0
        positions = self.pos + self.step * np.arange(count) + 1
        self.pos += count * self.step - len(block)
        grid = np.arange(len(y))
        return np.stack([np.interp(positions, grid, y[:, c]) for c in range(y.shape[1])], axis=1).astype(np.float32)


class Recorder:
    """Record a microphone to ``path`` as 16 kHz 16-bit WAV, crash-safe, with pause and a level meter.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``on_chunk`` (and the
    :meth:`chunks` generator) receive every block written, as float32 mono at 16 kHz; the
    callback runs on the consumer thread, so it should be quick or hand work off.
    ``stream_factory`` takes sounddevice's ``InputStream`` keyword arguments.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: int | str | None = None,
        channels: int = 1,
        overwrite: bool = False,
        max_seconds: float | None = None,
        on_chunk: Callable[[np.ndarray], None] | None = None,
        stream_factory: Callable[..., Any] | None = None,
        block_seconds: float = 0.1,
        sync_seconds: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.device = device
        self.channels = channels
        self.overwrite = overwrite
        self.max_frames = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
        self.on_chunk = on_chunk
        self.stream_factory = stream_factory
        self.block_seconds = block_seconds
        self.sync_seconds = sync_seconds
        self.source_rate: float = SAMPLE_RATE
        self.overflows = 0
        self.level = Level()
        self._paused = False
        self._blocks: queue.SimpleQueue[tuple[np.ndarray, bool] | None] = queue.SimpleQueue()
        self._listeners: list[queue.SimpleQueue[np.ndarray | None]] = []
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._error: BaseException | None = None
        self._stream: Any = None
        self._started = False
        self._stopped = False
        self.chunk_error: Exception | None = None
        self._resample: _Resampler | None = None
        self._writer: RecordingWriter | None = None
        self._thread: threading.Thread | None = None
        self._frames = 0

    # -- state -------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def frames(self) -> int:
        """16 kHz frames written so far."""
        return self._frames

    @property
    def duration(self) -> float:
        """Seconds of audio written so far (paused time excluded)."""
        return self._frames / SAMPLE_RATE

    @property
    def finished(self) -> bool:
        """True once recording ended by itself: the maximum length was reached, or writing failed."""
        return self._finished.is_set()

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def toggle_pause(self) -> bool:
        """Pause if recording, resume if paused; returns the new paused state."""
        self._paused = not self._paused
        return self._paused

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Open the device, then the file (so a missing microphone leaves no file), and start."""
        if self._started:
            raise RuntimeError("a recorder records once; make a new one")
        self._stream = self._open_stream()
        self._started = True
        try:
            self._writer = RecordingWriter(
                self.path, SAMPLE_RATE, self.channels, sync_seconds=self.sync_seconds, overwrite=self.overwrite
            )
            self._thread = threading.Thread(target=self._consume, name="scribe-recorder", daemon=True)
            self._thread.start()
            try:
                self._stream.start()
            except Exception as exc:
                raise CaptureError(f"the microphone did not start ({exc}); {_HINT}") from None
        except BaseException:
            self._close_stream()
            self._blocks.put(None)
            if self._thread is not None:
                self._thread.join()
            if self._writer is not None:
                self._writer.close()
                if self._frames == 0:  # nothing was recorded: leave no empty file behind
                    self.path.unlink(missing_ok=True)
            raise
        return self

    def stop(self) -> AudioInfo:
        """Stop the device, write what is queued, finalise the file, and describe it."""
        if not self._started:
            raise RuntimeError("recorder not started")
        self._close_stream()
        self._blocks.put(None)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._writer is not None and not self._writer.closed:
            self._writer.close()
        with self._lock:
            self._stopped = True
            for listener in self._listeners:
                listener.put(None)
            self._listeners.clear()
        if self._error is not None:
            error, self._error = self._error, None
            if isinstance(error, ScribeError):
                raise error
            raise ScribeError(
                f"recording stopped: could not write {self.path} ({error}); the audio before that is kept"
            ) from error
        return AudioInfo(
            path=str(self.path),
            format="wav",
            duration=self.duration,
            sample_rate=round(self.source_rate),
            channels=self.channels,
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until recording ends by itself (see :attr:`finished`) or ``timeout`` passes."""
        return self._finished.wait(timeout)

    def chunks(self) -> Iterator[np.ndarray]:
        """Yield each float32 mono 16 kHz block written from now on, until the recorder stops.

        Call it before :meth:`start` to receive the whole recording; iterate in another thread.
        """
        listener: queue.SimpleQueue[np.ndarray | None] = queue.SimpleQueue()
        with self._lock:
            if self._stopped:
                listener.put(None)
            else:
                self._listeners.append(listener)

        def generate() -> Iterator[np.ndarray]:
            while (block := listener.get()) is not None:
                yield block

        return generate()

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._started:
            self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _open_stream(self) -> Any:
        errors: tuple[type[Exception], ...] = (ValueError,)
        try:
            sd = _sounddevice()
            errors = (sd.PortAudioError, ValueError)
        except CaptureError:
            if self.stream_factory is None:
                raise
        factory = self.stream_factory or sd.InputStream
        first: Exception | None = None
        for rate in (SAMPLE_RATE, None):  # 16 kHz if the device takes it, else its default rate
            try:
                stream = factory(
                    device=self.device,
                    channels=self.channels,
                    samplerate=rate,
                    dtype="float32",
                    blocksize=round(self.block_seconds * SAMPLE_RATE) if rate else 0,
                    callback=self._callback,
                )
            except errors as exc:
                first = first or exc
                continue
            self.source_rate = float(stream.samplerate)
            if self.source_rate != SAMPLE_RATE:
                self._resample = _Resampler(self.source_rate, SAMPLE_RATE, self.channels)
            return stream
        what = "no microphone found" if self.device is None else f"microphone {self.device!r} not found or unusable"
        raise CaptureError(f"{what} ({first}; asked for {self.channels} channel(s)); {_HINT}") from None

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            finally:
                stream.close()

    def _callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        # PortAudio's thread: copy and hand over, nothing else.
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        self._blocks.put((indata.copy(), self._paused))

    def _consume(self) -> None:
        while (item := self._blocks.get()) is not None:
            if self._finished.is_set():
                continue  # drain after an error or the maximum length
            block, paused = item
            try:
                self._handle(block, paused)
            except BaseException as exc:  # noqa: BLE001 - reported by stop()
                self._error = exc
                self._finished.set()

    def _handle(self, block: np.ndarray, paused: bool) -> None:
        block = block.astype(np.float32, copy=False).reshape(len(block), self.channels)
        if self._resample is not None:
            block = self._resample(block)
        self.level = Level.of(block)
        if paused or len(block) == 0:
            return
        if self.max_frames is not None:
            block = block[: max(0, self.max_frames - self._frames)]
        assert self._writer is not None
        self._writer.append(block)
        self._frames += len(block)
        mono = block[:, 0].copy() if self.channels == 1 else block.mean(axis=1, dtype=np.float32)
        if self.on_chunk is not None:
            try:
                self.on_chunk(mono)
            except Exception as exc:  # a failing consumer must not stop the recording
                log.exception("on_chunk failed; recording continues without it")
                self.chunk_error, self.on_chunk = exc, None
        with self._lock:
            for listener in self._listeners:
                listener.put(mono)
        if self.max_frames is not None and self._frames >= self.max_frames:
            self._finished.set()
