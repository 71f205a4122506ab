"""A recording played into the recorder as if it were the microphone (`scribe record --replay`).

For trying the live path without a microphone: a demo, a site checking its set-up on a known
consultation, a benchmark. The file's audio reaches the recorder in blocks at real time (or
``speed`` times it) through the same callback a sounddevice ``InputStream`` calls, so everything
after the microphone (the crash-safe file, live transcription, live drafting) runs as it would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from scribe.audio.decode import SAMPLE_RATE

Callback = Callable[[np.ndarray, int, Any, Any], None]


class FileInput:
    """An input stream over decoded audio (frames x channels at 16 kHz); ``on_end`` runs when it is all played."""

    def __init__(
        self,
        samples: np.ndarray,
        *,
        speed: float = 1.0,
        on_end: Callable[[], None] | None = None,
        channels: int = 1,
        samplerate: float | None = None,
        blocksize: int = 0,
        callback: Callback | None = None,
        **_: Any,  # device, dtype: a file has neither choice
    ) -> None:
        audio = samples if samples.ndim == 2 else samples[:, None]
        if samplerate not in (None, SAMPLE_RATE):
            raise ValueError(f"a replayed file plays at {SAMPLE_RATE} Hz")
        if channels > audio.shape[1]:
            raise ValueError(f"the file has {audio.shape[1]} channel(s); record it with --channels {audio.shape[1]}")
        if channels < audio.shape[1]:
            audio = audio.mean(axis=1, keepdims=True)  # a stereo file recorded as mono: the two sides mixed
        self.audio = np.ascontiguousarray(audio, dtype=np.float32)
        self.samplerate = float(SAMPLE_RATE)
        self.channels = channels
        self.blocksize = blocksize or SAMPLE_RATE // 10
        self.callback = callback
        self.speed = speed
        self.on_end = on_end
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._play, name="scribe-replay", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        started = time.monotonic()
        for start in range(0, len(self.audio), self.blocksize):
            if self._halt.is_set():
                return
            block = self.audio[start : start + self.blocksize]
            if self.callback is not None:
                self.callback(block.copy(), len(block), SimpleNamespace(currentTime=start / self.samplerate), None)
            if self.speed > 0:  # the next block is due when it would have been captured
                due = started + (start + len(block)) / self.samplerate / self.speed
                self._halt.wait(max(0.0, due - time.monotonic()))
        if self.on_end is not None and not self._halt.is_set():
            self.on_end()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    abort = stop

    def close(self) -> None:
        self.stop()
