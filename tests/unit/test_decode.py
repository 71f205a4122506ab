"""Decoding every audio format users bring, and refusing every bad input with a clear error."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from scribe.audio.decode import SAMPLE_RATE, decode_file, from_array
from scribe.errors import AudioNotFoundError, AudioTooLongError, CorruptAudioError, EmptyAudioError


def tone(seconds: float, rate: int, channels: int) -> np.ndarray:
    """A 440 Hz tone on channel 0 and 660 Hz on channel 1, shaped (channels, frames)."""
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * (440 + 220 * c) * t) for c in range(channels)]).astype(np.float32)


def encode(path: Path, samples: np.ndarray, rate: int, codec: str) -> Path:
    """Write ``samples`` (channels, frames) with PyAV's ``codec`` into ``path``."""
    channels = samples.shape[0]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo" if channels == 2 else "mono")
        fmt = stream.codec_context.codec.audio_formats[0].name
        block = 1024 if codec not in ("libopus", "opus") else 960
        for start in range(0, samples.shape[1], block):
            piece = np.ascontiguousarray(samples[:, start : start + block])
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=stream.layout.name)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            resampler = av.AudioResampler(format=fmt, layout=stream.layout.name, rate=rate)
            for out in resampler.resample(frame):
                out.pts = start
                for packet in stream.encode(out):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


FORMATS = [
    ("wav", "pcm_s16le", 44_100),
    ("flac", "flac", 22_050),
    ("mp3", "libmp3lame", 44_100),
    ("m4a", "aac", 48_000),
    ("ogg", "libopus", 48_000),
    ("webm", "libopus", 48_000),
]


@pytest.mark.parametrize(("suffix", "codec", "rate"), FORMATS)
@pytest.mark.parametrize("channels", [1, 2])
def test_formats_decode_to_16khz_keeping_stereo(
    tmp_path: Path, suffix: str, codec: str, rate: int, channels: int
) -> None:
    path = encode(tmp_path / f"tone.{suffix}", tone(2.0, rate, channels), rate, codec)
    decoded = decode_file(path)
    assert decoded.samples.dtype == np.float32
    assert decoded.samples.shape[0] == channels
    assert decoded.duration == pytest.approx(2.0, abs=0.1)
    assert decoded.info.channels == channels and decoded.info.sample_rate == rate
    assert len(decoded.info.sha256 or "") == 64
    spectrum = np.abs(np.fft.rfft(decoded.samples[0][SAMPLE_RATE // 4 : SAMPLE_RATE]))
    assert np.argmax(spectrum) / 0.75 == pytest.approx(440, abs=3)  # still a 440 Hz tone at 16 kHz
    if channels == 2:
        right = np.abs(np.fft.rfft(decoded.samples[1][SAMPLE_RATE // 4 : SAMPLE_RATE]))
        assert np.argmax(right) / 0.75 == pytest.approx(660, abs=3)  # channels are not mixed
        assert decoded.mono.shape == (decoded.samples.shape[1],)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioNotFoundError, match="no such file"):
        decode_file(tmp_path / "absent.wav")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="0 bytes"):
        decode_file(tmp_path / "empty.wav")


def test_non_audio_bytes(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_bytes(b"%PDF-1.7 this is not audio at all " * 50)
    with pytest.raises(CorruptAudioError, match="not an audio file|cannot be decoded|no audio stream"):
        decode_file(path)


def test_zero_length_audio(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    with wave.open(str(path), "wb") as out:  # a valid header and no samples
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
    with pytest.raises(EmptyAudioError):
        decode_file(path)


def test_silence_only(tmp_path: Path) -> None:
    path = encode(tmp_path / "silence.flac", np.zeros((1, 3 * 16_000), dtype=np.float32), 16_000, "flac")
    with pytest.raises(EmptyAudioError, match="silent"):
        decode_file(path)


def test_truncated_wav(tmp_path: Path) -> None:
    whole = encode(tmp_path / "whole.wav", tone(4.0, 16_000, 1), 16_000, "pcm_s16le")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:40_000])
    with pytest.raises(CorruptAudioError, match="truncated"):
        decode_file(cut)


def test_corrupt_middle_of_mp3(tmp_path: Path) -> None:
    whole = encode(tmp_path / "whole.mp3", tone(4.0, 44_100, 1), 44_100, "libmp3lame").read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(CorruptAudioError):
        decode_file(cut)


def test_too_long_is_refused_before_decoding(tmp_path: Path) -> None:
    path = encode(tmp_path / "long.flac", tone(3.0, 16_000, 1), 16_000, "flac")
    with pytest.raises(AudioTooLongError, match="SCRIBE_MAX_AUDIO_SECONDS"):
        decode_file(path, max_seconds=1.0)


def test_from_array() -> None:
    wrapped = from_array(np.zeros(16_000) + 0.1, synthetic=True)
    assert wrapped.samples.shape == (1, 16_000) and wrapped.info.synthetic
    with pytest.raises(EmptyAudioError):
        from_array(np.zeros(0))
