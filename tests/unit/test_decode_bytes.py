"""Decoding audio held in memory (uploads, stored recordings) exactly as files are decoded, and probing uploads."""

from __future__ import annotations

import builtins
import hashlib
import io
import wave
from pathlib import Path

import numpy as np
import pytest
from helpers.audio_bytes import encode_bytes

from scribe.audio.decode import decode_bytes, decode_file, probe_audio
from scribe.errors import AudioTooLongError, CorruptAudioError, EmptyAudioError


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((samples * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.mark.parametrize("fixture", ["sample_mono", "sample_stereo"])
def test_decode_bytes_equals_decode_file(fixture: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(fixture)
    data = path.read_bytes()
    from_file = decode_file(path)
    from_memory = decode_bytes(data, name="sample")
    assert np.array_equal(from_file.samples, from_memory.samples)
    assert from_memory.info.sha256 == from_file.info.sha256 == hashlib.sha256(data).hexdigest()
    assert from_memory.info.path is None
    assert from_memory.info.model_dump(exclude={"path"}) == from_file.info.model_dump(exclude={"path"})


def test_decode_bytes_never_opens_a_file(sample_mono: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sample_mono.read_bytes()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a file was opened: {args!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    assert decode_bytes(data).duration == pytest.approx(45, abs=1)
    assert probe_audio(data).channels == 1


def test_wav_header_read_from_memory() -> None:
    data = wav_bytes(tone(2.0, 8000), 8000)
    decoded = decode_bytes(data, name="note.wav")
    assert decoded.info.format == "wav"
    assert decoded.duration == pytest.approx(2.0, abs=0.01)
    # a header claiming more than the data holds is truncation, as for files
    cut = data[: len(data) // 2]
    with pytest.raises(CorruptAudioError, match="note.wav: truncated"):
        decode_bytes(cut, name="note.wav")


def test_webm_opus_from_memory() -> None:
    decoded = decode_bytes(encode_bytes(tone(3.0, 48_000)[None, :], 48_000))
    assert decoded.info.format.startswith("matroska")
    assert decoded.duration == pytest.approx(3.0, abs=0.1)


def test_decode_bytes_refusals() -> None:
    with pytest.raises(EmptyAudioError, match="upload: the file is empty"):
        decode_bytes(b"")
    with pytest.raises(CorruptAudioError, match="scan.pdf: not an audio file"):
        decode_bytes(b"%PDF-1.4 not audio at all" * 50, name="scan.pdf")
    with pytest.raises(EmptyAudioError, match="silent"):
        decode_bytes(wav_bytes(np.zeros(16_000, dtype=np.float32), 16_000))
    with pytest.raises(AudioTooLongError, match="SCRIBE_MAX_AUDIO_SECONDS"):
        decode_bytes(wav_bytes(tone(3.0, 8000), 8000), max_seconds=1.0)


def test_probe_audio_reads_the_header(sample_stereo: Path) -> None:
    info = probe_audio(sample_stereo.read_bytes(), "sample.flac")
    assert info.format == "flac"
    assert info.channels == 2
    assert info.duration == pytest.approx(45, abs=1)
    assert info.path is None


def test_probe_audio_refusals(sample_mono: Path) -> None:
    with pytest.raises(EmptyAudioError, match="empty"):
        probe_audio(b"", "empty.wav")
    with pytest.raises(CorruptAudioError, match="notes.txt: not an audio file"):
        probe_audio(b"Patient notes, not audio.\n" * 100, "notes.txt")
    with pytest.raises(CorruptAudioError):
        probe_audio(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "image.png")
    with pytest.raises(AudioTooLongError, match="exceeds"):
        probe_audio(sample_mono.read_bytes(), "long.flac", max_seconds=10)
    # the head of a FLAC file without its frames holds no audio
    with pytest.raises((EmptyAudioError, CorruptAudioError)):
        probe_audio(sample_mono.read_bytes()[:200], "cut.flac")
