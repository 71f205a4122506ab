"""Live transcription of a recording arriving from the browser in chunks.

The browser's MediaRecorder sends a WebM/Opus stream in timeslices; concatenated in order they
are one file. :class:`ChunkStream` is a blocking, non-seekable file object fed with those
chunks; a :class:`LiveSession` thread demuxes and decodes it with PyAV as it grows (nothing is
decoded twice), resamples to 16 kHz mono and feeds a :class:`~scribe.asr.streaming.LiveTranscriber`.
No audio touches disk: the chunks themselves are kept by the encrypted store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import av
import numpy as np

from scribe.asr.streaming import LiveTranscriber
from scribe.audio.decode import SAMPLE_RATE
from scribe.errors import TranscriptionError
from scribe.records import Segment, Transcript

log = logging.getLogger(__name__)

FEED_SECONDS = 1.0  # hand decoded audio to the transcriber in blocks of about this length
READ_SIZE = 1 << 16


class ChunkStream:
    """A blocking, non-seekable byte stream: one thread writes chunks, PyAV reads them in another."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ended = False
        self._cond = threading.Condition()
        self.received = 0

    def write(self, data: bytes) -> None:
        """Append bytes; ignored after :meth:`end`."""
        with self._cond:
            if self._ended:
                return
            self._buffer += data
            self.received += len(data)
            self._cond.notify_all()

    def end(self) -> None:
        """No more bytes will come: readers get what is left, then end of stream."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, waiting until some arrive; b"" only at the end of the stream."""
        with self._cond:
            while not self._buffer and not self._ended:
                self._cond.wait()
            count = len(self._buffer) if size is None or size < 0 else min(size, len(self._buffer))
            data = bytes(self._buffer[:count])
            del self._buffer[:count]
            return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


class LiveSession:
    """One consultation's live transcription: chunks in (in sequence order), segments out.

    ``make_transcriber`` runs on the session's thread (loading the engine there keeps the web
    request that delivered the first chunk fast). ``on_segments`` receives the segments so far
    whenever new ones are recognised (the live drafter reads them). ``lock`` is held around every piece of speech
    recognition so it never competes with the language model for the CPU cores.
    """

    def __init__(
        self,
        consultation_id: str,
        make_transcriber: Callable[[], LiveTranscriber],
        lock: threading.Lock,
        *,
        next_seq: int = 0,
        preload: bytes = b"",
        on_segments: Callable[[list[Segment]], None] | None = None,
    ) -> None:
        self.consultation_id = consultation_id
        self._make_transcriber = make_transcriber
        self._lock = lock
        self._stream = ChunkStream()
        self._stream.write(preload)  # chunks stored before this session began (a restart mid-recording)
        self._segments: list[Segment] = []
        self._segments_lock = threading.Lock()
        self._on_segments = on_segments
        self._pending: dict[int, bytes] = {}
        self._next_seq = next_seq
        self._feed_lock = threading.Lock()
        self._transcriber: LiveTranscriber | None = None
        self._ready = threading.Event()
        self.error: str = ""
        self._thread = threading.Thread(target=self._run, name=f"live-{consultation_id[:8]}", daemon=True)
        self._thread.start()

    def feed(self, seq: int, data: bytes) -> None:
        """Add chunk ``seq``; chunks may arrive out of order or twice (browser retries)."""
        with self._feed_lock:
            if seq < self._next_seq or seq in self._pending:
                return
            self._pending[seq] = data
            while self._next_seq in self._pending:
                self._stream.write(self._pending.pop(self._next_seq))
                self._next_seq += 1

    def segments(self) -> list[Segment]:
        """The segments recognised so far (speaker roles are provisional until the end)."""
        with self._segments_lock:
            return list(self._segments)

    @property
    def failed(self) -> bool:
        return bool(self.error)

    @property
    def bytes_received(self) -> int:
        """Bytes of the recording this session was given, to compare with what the store holds."""
        return self._stream.received

    def end_input(self) -> None:
        """No more chunks will come; decoding runs on to the end of what arrived."""
        self._stream.end()

    def finish(self, timeout: float | None = None) -> Transcript:
        """Recording stopped: decode the rest, transcribe the last stretch, return the whole transcript.

        Raises TranscriptionError when live decoding failed; the caller then transcribes the
        stored recording from the start instead. Must not be called with ``lock`` held.
        """
        self.end_input()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TranscriptionError("live transcription did not finish in time; transcribing the recording instead")
        if self.error or self._transcriber is None:
            raise TranscriptionError(self.error or "live transcription never started")
        with self._lock:
            tail = self._transcriber.finish()
            transcript = self._transcriber.transcript()
        self._add(tail)
        return transcript

    def abort(self) -> None:
        """Stop without a transcript (server shutting down); the stored chunks remain."""
        self.end_input()
        self._thread.join(10)

    def _add(self, segments: list[Segment]) -> None:
        if segments:
            with self._segments_lock:
                self._segments.extend(segments)
                so_far = list(self._segments)
            if self._on_segments is not None:
                self._on_segments(so_far)

    def _run(self) -> None:
        try:
            self._transcriber = self._make_transcriber()
            self._decode()
        except av.error.FFmpegError as exc:
            self.error = f"the browser's recording could not be decoded live ({exc.strerror or type(exc).__name__})"
            log.warning("live session %s: %s", self.consultation_id, self.error)
        except Exception as exc:  # noqa: BLE001  # the session fails alone; the stored chunks are transcribed instead
            self.error = f"live transcription failed ({type(exc).__name__})"
            log.warning("live session %s: %s", self.consultation_id, self.error)
        finally:
            self._stream.end()  # writers stop buffering once nobody reads
            self._drain()

    def _drain(self) -> None:
        while self._stream.read(READ_SIZE):
            pass

    def _decode(self) -> None:
        assert self._transcriber is not None
        container = av.open(self._stream, mode="r", metadata_errors="ignore")
        with container:
            if not container.streams.audio:
                raise TranscriptionError("the recording holds no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=SAMPLE_RATE)
            pending: list[np.ndarray] = []
            frames = 0
            for frame in container.decode(stream):
                frame.pts = None
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray()[0])
                    frames += out.samples
                if frames >= FEED_SECONDS * SAMPLE_RATE:
                    self._feed(np.concatenate(pending))
                    pending, frames = [], 0
            for out in resampler.resample(None):
                pending.append(out.to_ndarray()[0])
            if pending:
                self._feed(np.concatenate(pending))

    def _feed(self, block: np.ndarray) -> None:
        assert self._transcriber is not None
        with self._lock:
            ready = self._transcriber.feed(block)
        self._add(ready)
