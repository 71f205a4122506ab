"""The review app's background work on real models: pipeline stages, live transcription of browser
chunks, and the job runner from upload to a drafted note (Whisper tiny.en, SmolLM2-135M)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from audio_bytes import encode_bytes, split

from scribe.asr.engine import decode_options
from scribe.asr.streaming import LiveTranscriber
from scribe.asr.transcribe import speaker_options
from scribe.audio.decode import decode_bytes, decode_file
from scribe.config import Settings
from scribe.errors import TranscriptionError
from scribe.review.live import ChunkStream, LiveSession
from scribe.review.pipeline import playback_flac, transcribe_audio

pytestmark = pytest.mark.slow


def words(text: str) -> set[str]:
    return {w.strip(".,?!").lower() for w in text.split() if len(w) > 3}


@pytest.fixture(scope="module")
def webm_chunks(sample_mono: Path) -> list[bytes]:
    """The sample as a browser would send it: WebM/Opus in 22 pieces of about 2 s each."""
    decoded = decode_file(sample_mono)
    return split(encode_bytes(decoded.samples, 16_000), 22)


def test_playback_flac_keeps_channels_in_memory(sample_stereo: Path) -> None:
    decoded = decode_file(sample_stereo)
    playback = playback_flac(decoded)
    assert playback.media_type == "audio/flac"
    again = decode_bytes(playback.data)
    assert again.samples.shape == decoded.samples.shape
    assert np.max(np.abs(again.samples - decoded.samples)) < 1e-3  # 16-bit PCM


def test_transcribe_audio_from_bytes(sample_mono: Path, settings: Settings, tiny_engine) -> None:
    transcript = transcribe_audio(sample_mono.read_bytes(), settings, tiny_engine)
    assert transcript.segments
    assert transcript.duration == pytest.approx(45, abs=1)
    assert transcript.model == "whisper-tiny.en"


def test_chunk_stream_blocks_until_data_or_end() -> None:
    stream = ChunkStream()
    assert not stream.seekable()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend([stream.read(4), stream.read(100), stream.read(100)]))
    reader.start()
    time.sleep(0.1)
    assert not got  # still waiting
    stream.write(b"abcdef")
    time.sleep(0.1)
    stream.end()
    reader.join(5)
    assert got == [b"abcd", b"ef", b""]
    stream.write(b"late")  # ignored after the end
    assert stream.read(10) == b""


def _session(settings: Settings, engine, cid: str = "c0ffee") -> LiveSession:
    def make() -> LiveTranscriber:
        return LiveTranscriber(engine, decode_options(settings), speaker_options(settings))

    return LiveSession(cid, make, threading.Lock())


def test_live_session_transcribes_chunks_as_they_arrive(
    webm_chunks: list[bytes], sample_mono: Path, settings: Settings, tiny_engine
) -> None:
    session = _session(settings, tiny_engine)
    order = list(range(len(webm_chunks)))
    order[3], order[4] = order[4], order[3]  # a retried chunk arrives late
    for seq in order:
        session.feed(seq, webm_chunks[seq])
        if seq == 6:
            session.feed(seq, webm_chunks[seq])  # and one twice
    deadline = time.monotonic() + 120
    while not session.segments() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session.segments(), "segments stream in before the recording stops"
    transcript = session.finish(timeout=120)
    assert not session.failed
    assert transcript.duration == pytest.approx(45, abs=1)
    streamed = words(" ".join(s.text for s in session.segments()))  # the final transcript re-splits at speaker turns
    assert streamed == words(" ".join(s.text for s in transcript.segments))
    whole = transcribe_audio(sample_mono.read_bytes(), settings, tiny_engine)
    live_words = words(" ".join(s.text for s in transcript.segments))
    file_words = words(" ".join(s.text for s in whole.segments))
    assert len(live_words & file_words) >= 0.7 * len(file_words)


def test_live_session_that_cannot_decode_fails_alone(settings: Settings, tiny_engine) -> None:
    session = _session(settings, tiny_engine)
    session.feed(0, b"this is not a webm stream " * 400)
    with pytest.raises(TranscriptionError, match="could not be decoded live"):
        session.finish(timeout=30)
    assert session.failed
    assert session.segments() == []
