"""The crash-safe recording: round trip, sync cadence, kill -9, overwrite refusal, repair."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from scribe.audio import recording
from scribe.audio.recording import RecordingExistsError, RecordingWriter, open_recording, recover
from scribe.errors import AudioNotFoundError, CorruptAudioError, EmptyAudioError

RATE = 16000


def ramp(frames: int, start: int = 0) -> np.ndarray:
    """A deterministic signal whose every sample tells where it came from: 1/1000-ths of a sawtooth."""
    return (((np.arange(start, start + frames) % 2000) - 1000) / 1000 * 0.9).astype(np.float32)


def test_round_trip_mono_and_stereo(tmp_path: Path) -> None:
    mono = ramp(RATE * 2)
    with RecordingWriter(tmp_path / "m.wav") as w:
        for block in np.array_split(mono, 7):
            w.append(block)
        assert w.frames == len(mono) and w.duration == pytest.approx(2.0)
    audio, rate = open_recording(tmp_path / "m.wav")
    assert rate == RATE and audio.shape == (len(mono), 1) and audio.dtype == np.float32
    np.testing.assert_allclose(audio[:, 0], mono, atol=1e-4)

    stereo = np.stack([mono, -mono], axis=1)
    with RecordingWriter(tmp_path / "s.wav", sample_rate=8000, channels=2) as w:
        w.append(stereo)
    audio, rate = open_recording(tmp_path / "s.wav")
    assert rate == 8000 and audio.shape == stereo.shape
    np.testing.assert_allclose(audio, stereo, atol=1e-4)
    # Any WAV reader agrees: the finished header is standard.
    data, sf_rate = sf.read(tmp_path / "s.wav", dtype="float32")
    assert sf_rate == 8000
    np.testing.assert_allclose(data, stereo, atol=1e-4)


def test_out_of_range_samples_are_clipped(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path / "c.wav") as w:
        w.append(np.array([2.0, -2.0, 0.5], dtype=np.float32))
    audio, _ = open_recording(tmp_path / "c.wav")
    np.testing.assert_allclose(audio[:, 0], [32767 / 32768, -32767 / 32768, 0.5], atol=1e-4)


def test_wrong_shape_is_refused(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path / "w.wav", channels=2) as w, pytest.raises(ValueError, match="frames, 2"):
        w.append(np.zeros(10, dtype=np.float32))


def test_refuses_to_overwrite_unless_told(tmp_path: Path) -> None:
    path = tmp_path / "r.wav"
    with RecordingWriter(path) as w:
        w.append(ramp(RATE))
    before = path.read_bytes()
    with pytest.raises(RecordingExistsError, match="already exists"):
        RecordingWriter(path)
    with pytest.raises(FileExistsError):  # also catchable as the builtin
        RecordingWriter(path)
    assert path.read_bytes() == before
    with RecordingWriter(path, overwrite=True) as w:
        w.append(ramp(100))
    assert open_recording(path)[0].shape == (100, 1)


def test_sync_cadence_reader_sees_all_but_one_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without close, a separate reader trusting the header sees all but at most ~1 s of audio."""
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(recording.os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    path = tmp_path / "live.wav"
    w = RecordingWriter(path, sync_seconds=1.0)
    fsyncs.clear()  # the header's own sync at open
    block = RATE // 10
    for i in range(53):  # 5.3 s in 0.1 s blocks
        w.append(ramp(block, i * block))
    appended = w.frames
    assert len(fsyncs) == 5  # once per second of audio, not per block

    seen = sf.info(path).frames  # libsndfile reads the header sizes as they stand
    assert appended - RATE <= seen <= appended
    data, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(data, ramp(seen), atol=1e-4)
    # Our reader sizes stale data from the file length: nothing is missing before a crash.
    audio, _ = open_recording(path)
    assert len(audio) == appended
    w.close()
    assert sf.info(path).frames == appended


def test_sync_seconds_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    def count(fd: int) -> None:
        nonlocal calls
        calls += 1

    with RecordingWriter(tmp_path / "f.wav", sync_seconds=0.25) as w:
        monkeypatch.setattr(recording.os, "fsync", count)
        for _ in range(20):
            w.append(ramp(RATE // 20))  # 1 s in all, 50 ms blocks
        assert calls == 4


CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from scribe.audio.recording import RecordingWriter

    block = 1600  # 0.1 s
    with RecordingWriter(sys.argv[1], sync_seconds=1.0) as w:
        n = 0
        while True:
            t = np.arange(n, n + block)
            w.append((((t % 2000) - 1000) / 1000 * 0.9).astype(np.float32))
            n += block
            print(n, flush=True)
            time.sleep(0.005)
    """
)


def test_kill_9_loses_at_most_one_second(tmp_path: Path) -> None:
    """A recording process killed with SIGKILL leaves a file that recovers to within ~1 s."""
    path = tmp_path / "crash.wav"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    reported = 0
    deadline = time.monotonic() + 20
    while reported < 5 * RATE + 700 and time.monotonic() < deadline:  # mid-way between syncs
        line = child.stdout.readline()
        if not line:
            break
        reported = int(line)
    child.send_signal(signal.SIGKILL)
    rest, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL, err
    reported = max([reported, *(int(x) for x in rest.split())])
    assert reported >= 5 * RATE

    info = recover(path)
    frames = round(info.duration * RATE)
    assert reported - RATE <= frames <= reported + 1600  # the child may append one block unreported
    audio, rate = open_recording(path)
    assert rate == RATE and len(audio) == frames
    np.testing.assert_allclose(audio[:, 0], ramp(frames), atol=1e-4)
    # After repair the header is standard: other readers agree.
    assert sf.info(path).frames == frames


def _stale(path: Path, data_size: int | None = None) -> None:
    """Leave the header as a crash would: sizes behind the data (or zero)."""
    with open(path, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", 36 + (data_size or 0)))
        f.seek(40)
        f.write(struct.pack("<I", data_size or 0))


def test_recover_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    with RecordingWriter(path) as w:
        w.append(ramp(RATE * 3))
    with open(path, "r+b") as f:  # cut mid-sample, as a crash mid-write would
        f.truncate(44 + 2 * RATE * 2 + 1)
    _stale(path, 2 * RATE)  # header still claims the last synced second count
    info = recover(path)
    assert info.duration == pytest.approx(2.0) and info.sample_rate == RATE and info.channels == 1
    assert path.stat().st_size == 44 + 2 * RATE * 2  # partial frame cut off
    assert sf.info(path).frames == 2 * RATE
    np.testing.assert_allclose(open_recording(path)[0][:, 0], ramp(2 * RATE), atol=1e-4)
    # Recovering a healthy file changes nothing.
    before = path.read_bytes()
    assert recover(path).duration == pytest.approx(2.0)
    assert path.read_bytes() == before


def test_recover_header_claiming_more_than_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "h.wav"
    with RecordingWriter(path) as w:
        w.append(ramp(RATE))
    with open(path, "r+b") as f:
        f.truncate(44 + RATE)  # half the data gone, header still claims 1 s
    assert recover(path).duration == pytest.approx(0.5)
    assert sf.info(path).frames == RATE // 2


def test_open_stale_header_without_repair(tmp_path: Path) -> None:
    path = tmp_path / "z.wav"
    with RecordingWriter(path) as w:
        w.append(ramp(RATE))
    _stale(path)  # a crash before the first sync: sizes zero
    before = path.read_bytes()
    audio, _ = open_recording(path)
    assert len(audio) == RATE
    assert path.read_bytes() == before  # reading never writes


def test_unreadable_recordings(tmp_path: Path) -> None:
    with pytest.raises(AudioNotFoundError):
        open_recording(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("not audio at all")
    with pytest.raises(CorruptAudioError, match="not a WAV"):
        recover(tmp_path / "text.wav")
    with RecordingWriter(tmp_path / "empty.wav"):
        pass
    with pytest.raises(EmptyAudioError):
        open_recording(tmp_path / "empty.wav")
    assert recover(tmp_path / "empty.wav").duration == 0
    header_only = (tmp_path / "empty.wav").read_bytes()[:30]
    (tmp_path / "cut.wav").write_bytes(header_only)
    with pytest.raises(CorruptAudioError, match="truncated"):
        recover(tmp_path / "cut.wav")
    sf.write(tmp_path / "float.wav", np.zeros(10, dtype=np.float32), RATE, subtype="FLOAT")
    with pytest.raises(CorruptAudioError, match="16-bit PCM"):
        open_recording(tmp_path / "float.wav")


def test_torn_header_write_is_detected(tmp_path: Path) -> None:
    """Data size zero but RIFF size right: the audio after the data chunk is still found."""
    path = tmp_path / "torn.wav"
    with RecordingWriter(path) as w:
        w.append(ramp(RATE))
    with open(path, "r+b") as f:
        f.seek(40)
        f.write(struct.pack("<I", 0))
    assert len(open_recording(path)[0]) == RATE
    assert recover(path).duration == pytest.approx(1.0)


def test_chunks_after_the_data_are_respected(tmp_path: Path) -> None:
    """A WAV from another writer with a LIST chunk after its data is read by its header."""
    path = tmp_path / "list.wav"
    with RecordingWriter(path) as w:
        w.append(ramp(1000))
    extra = b"LIST" + struct.pack("<I", 4) + b"INFO"
    with open(path, "r+b") as f:
        f.seek(0, os.SEEK_END)
        f.write(extra)
        f.seek(4)
        f.write(struct.pack("<I", 36 + 2000 + len(extra)))
    before = path.read_bytes()
    assert len(open_recording(path)[0]) == 1000
    recover(path)
    assert path.read_bytes() == before
