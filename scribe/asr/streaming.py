"""Live transcription: audio is recognised while the consultation is still being recorded.

Audio accumulates until at least ``min_chunk`` seconds are pending; it is then cut in the
middle of the last pause Silero VAD finds (never inside a word) and that stretch is transcribed.
When the clinician presses stop only the stretch after the last cut remains, so the full
transcript is ready about a second later. Speaker evidence (voice embeddings) is gathered chunk
by chunk too; at the end only the two-voice clustering runs over the whole consultation.

``LiveTranscriber.feed()`` / ``finish()`` return finished segments; :func:`live_segments` is the
generator the web UI streams from.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps

from scribe.asr import speakers as spk
from scribe.asr.engine import DecodeOptions, WhisperEngine
from scribe.asr.guards import apply_guards
from scribe.asr.transcribe import SpeakerOptions, assemble, attribute, clock, resolve_method, stage_timing
from scribe.audio.decode import SAMPLE_RATE
from scribe.records import Segment, Transcript

log = logging.getLogger(__name__)


class LiveTranscriber:
    """Incremental transcription of a growing recording (16 kHz float32, mono or two channels)."""

    def __init__(
        self,
        engine: WhisperEngine,
        options: DecodeOptions = DecodeOptions(),
        speaker_options: SpeakerOptions = SpeakerOptions(),
        *,
        channels: int = 1,
        min_chunk: float = 8.0,
        max_chunk: float = 28.0,
        min_pause: float = 0.3,
        encoder: spk.VoiceEncoder | None = None,
    ) -> None:
        if channels not in (1, 2):
            raise ValueError("live transcription takes mono or two-channel audio")
        self.engine = engine
        self.options = options
        self.speaker_options = speaker_options
        self.channels = channels
        self.min_chunk, self.max_chunk, self.min_pause = min_chunk, max_chunk, min_pause
        self.method = resolve_method(speaker_options.method, channels)
        self._encoder = encoder if encoder or self.method != "embedding" else spk.VoiceEncoder()
        self._blocks: list[np.ndarray] = []
        self._audio = np.zeros((channels, 0), dtype=np.float32)
        self._committed = 0  # frames already transcribed
        self._kept: list[Segment] = []
        self._rejected: list[Segment] = []
        self._emitted = 0  # segments returned so far, for their final ids
        self._runs: list[spk.VoiceRun] = []
        self._language: str | None = options.language
        self._language_probability: float | None = None
        self._asr_seconds = 0.0
        self._asr_cpu = 0.0
        self.finished = False

    @property
    def seconds_received(self) -> float:
        return (self._audio.shape[1] + sum(b.shape[1] for b in self._blocks)) / SAMPLE_RATE

    def feed(self, chunk: np.ndarray) -> list[Segment]:
        """Add captured audio; return the segments of any stretch that became ready."""
        if self.finished:
            raise RuntimeError("feed() after finish()")
        block = np.asarray(chunk, dtype=np.float32)
        block = block.reshape(1, -1) if block.ndim == 1 else block.T if block.shape[0] != self.channels else block
        if block.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s), got {block.shape[0]}")
        self._blocks.append(block)
        pending = self.seconds_received - self._committed / SAMPLE_RATE
        if pending < self.min_chunk:
            return []
        self._gather()
        cut = self._cut_point()
        return self._transcribe_until(cut) if cut is not None else []

    def finish(self) -> list[Segment]:
        """The clinician pressed stop: transcribe what remains and return its segments."""
        self._gather()
        segments = self._transcribe_until(self._audio.shape[1]) if self._audio.shape[1] > self._committed else []
        self.finished = True
        return segments

    def transcript(self) -> Transcript:
        """The whole attributed transcript; call after :meth:`finish`."""
        if not self.finished:
            raise RuntimeError("transcript() before finish()")
        started = clock()
        attributed, speakers = attribute(
            self._kept, self._audio, self.method, self.speaker_options, runs=self._runs, encoder=self._encoder
        )
        duration = self._audio.shape[1] / SAMPLE_RATE
        timings = [
            stage_timing("asr", self.engine, duration, wall=self._asr_seconds, cpu=self._asr_cpu),
            stage_timing("speakers", self.engine, duration, since=started, model=self.method),
        ]
        return assemble(
            attributed,
            self._rejected,
            speakers=speakers,
            method=self.method,
            engine=self.engine,
            language=self._language,
            language_probability=self._language_probability,
            duration=duration,
            vocabulary=bool(self.options.hotwords),
            timings=timings,
        )

    def _gather(self) -> None:
        if self._blocks:
            self._audio = np.concatenate([self._audio, *self._blocks], axis=1)
            self._blocks = []

    def _mono(self, start: int, end: int) -> np.ndarray:
        part = self._audio[:, start:end]
        return part[0] if self.channels == 1 else part.mean(axis=0)

    def _cut_point(self) -> int | None:
        """Frame index in the middle of the last pause after ``min_chunk``; forced at ``max_chunk``."""
        start, end = self._committed, self._audio.shape[1]
        pending = self._mono(start, end)
        speech = get_speech_timestamps(
            pending, VadOptions(min_silence_duration_ms=int(self.min_pause * 1000), speech_pad_ms=100)
        )
        earliest = int(self.min_chunk * SAMPLE_RATE)
        # gaps between speech regions, and the silence after the last one if it is long enough
        gaps = [(a["end"], b["start"]) for a, b in itertools.pairwise(speech)]
        if speech and len(pending) - speech[-1]["end"] >= self.min_pause * SAMPLE_RATE:
            gaps.append((speech[-1]["end"], len(pending)))
        if not speech and len(pending) >= earliest:
            return end  # nothing but silence pending: commit it without decoding
        usable = [(a + b) // 2 for a, b in gaps if (a + b) // 2 >= earliest]
        if usable:
            return start + usable[-1]
        if len(pending) >= self.max_chunk * SAMPLE_RATE:
            window = pending[-2 * SAMPLE_RATE :]
            hop = SAMPLE_RATE // 50
            energy = [float(np.mean(window[i : i + hop] ** 2)) for i in range(0, len(window) - hop, hop)]
            return end - len(window) + hop * int(np.argmin(energy))
        return None

    def _transcribe_until(self, cut: int) -> list[Segment]:
        start = self._committed
        mono = self._mono(start, cut)
        self._committed = cut
        if not np.any(np.abs(mono) > 1e-4):
            return []
        started = clock()
        offset = start / SAMPLE_RATE
        decoded = self.engine.decode(mono, self.options, offset=offset, first_id=len(self._kept) + len(self._rejected))
        raw = list(decoded.segments)
        if self._language is None and raw:
            # the first chunk with speech settles the language for the rest of the consultation
            self._language, self._language_probability = decoded.language, decoded.language_probability
            self.options = replace(self.options, language=decoded.language)
        kept, rejected = apply_guards(raw, mono, offset=offset)
        if self.method == "embedding" and self._encoder is not None:
            self._runs.extend(spk.embed_runs(kept, mono, self._encoder, first_index=len(self._kept), offset=offset))
        self._kept.extend(kept)
        self._rejected.extend(rejected)
        self._asr_seconds += time.perf_counter() - started[0]
        self._asr_cpu += time.process_time() - started[1]
        if self.method == "channel":
            split = attribute(kept, self._audio, "channel", self.speaker_options)[0]
            return self._number(split)
        return self._number(kept)

    def _number(self, segments: list[Segment]) -> list[Segment]:
        """Give emitted segments the ids the final transcript will give them (kept, in time order),
        so consumers such as live drafting see the same lines before and after the stop."""
        ordered = sorted(segments, key=lambda s: (s.start, s.end))
        numbered = [s.model_copy(update={"id": self._emitted + i}) for i, s in enumerate(ordered)]
        self._emitted += len(numbered)
        return numbered


def live_segments(chunks: Iterable[np.ndarray], transcriber: LiveTranscriber) -> Iterator[Segment]:
    """Yield segments as they become ready while ``chunks`` (captured audio) keeps arriving.

    Channel attribution is final as yielded; with embeddings or text cues the roles are settled
    over the whole consultation in ``transcriber.transcript()`` after the generator ends.
    """
    for chunk in chunks:
        yield from transcriber.feed(chunk)
    yield from transcriber.finish()


def transcribe_live(
    chunks: Iterable[np.ndarray], transcriber: LiveTranscriber, on_segment: Callable[[Segment], None] | None = None
) -> Transcript:
    """Consume captured audio until it ends, passing each ready segment on; return the final transcript."""
    for segment in live_segments(chunks, transcriber):
        if on_segment:
            on_segment(segment)
    return transcriber.transcript()
