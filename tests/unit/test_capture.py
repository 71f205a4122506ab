"""Microphone capture and `scribe record`.

This machine has no sound card, so the recorder is driven by a *virtual input*:
``VirtualInputStream`` below behaves like ``sounddevice.InputStream`` (same keyword arguments,
context manager, start/stop/close, ``samplerate`` attribute, PortAudio errors for a bad device
or an unsupported rate) and calls ``callback(indata, frames, time, status)`` from its own thread,
at real-time pace or faster, with blocks cut from a numpy signal. The real PortAudio is still
exercised where it can be: listing devices, and failing cleanly when there is no microphone.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import sounddevice as sd
import soundfile as sf
import typer
from typer.testing import CliRunner

import scribe.cli.record as record_cli
from scribe.audio.capture import InputDevice, Level, Recorder, list_input_devices
from scribe.audio.recording import open_recording
from scribe.errors import CaptureError
from scribe.records import NoteDraft, Transcript

RATE = 16000
ROOT = Path(__file__).resolve().parents[2]


class VirtualInputStream:
    """A sounddevice-compatible virtual input (the machine has no sound card).

    Delivers ``signal`` (frames,) or (frames, channels) recorded at ``native_rate`` through the
    callback, ``speed`` times faster than real time (0: as fast as possible), then goes quiet
    like a muted microphone. Like PortAudio, it refuses any rate but its own (``samplerate=None``
    means the device default) and any device but ``None`` or 0. ``at`` maps a frame index to a
    function called just before the block starting there is delivered, to act at exact points.
    """

    def __init__(
        self,
        signal: np.ndarray,
        native_rate: int = RATE,
        *,
        speed: float = 0.0,
        at: dict[int, Callable[[], None]] | None = None,
        device: int | str | None = None,
        channels: int = 1,
        samplerate: float | None = None,
        dtype: str = "float32",
        blocksize: int = 0,
        callback: Callable[[np.ndarray, int, Any, sd.CallbackFlags], None] | None = None,
    ) -> None:
        self.signal = (signal if signal.ndim == 2 else signal[:, None]).astype(dtype)
        if device not in (None, 0):
            raise sd.PortAudioError(f"Error querying device {device}", -9996)
        if channels > self.signal.shape[1]:
            raise sd.PortAudioError("Error opening InputStream: Invalid number of channels [PaErrorCode -9998]", -9998)
        if samplerate not in (None, native_rate):
            raise sd.PortAudioError("Error opening InputStream: Invalid sample rate [PaErrorCode -9997]", -9997)
        self.samplerate = float(native_rate)
        self.channels = channels
        self.device = device
        self.blocksize = blocksize or 441  # PortAudio picks; an odd size tests the seams
        self.callback = callback
        self.speed = speed
        self.at = dict(at or {})
        self.active = False
        self.closed = False
        self.delivered = threading.Event()  # the whole signal went through the callback
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.active = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for start in range(0, len(self.signal), self.blocksize):
            if self._halt.is_set():
                return
            for frame in [f for f in self.at if f <= start]:
                self.at.pop(frame)()
            block = self.signal[start : start + self.blocksize, : self.channels]
            assert self.callback is not None
            time_info = SimpleNamespace(currentTime=start / self.samplerate)
            self.callback(block.copy(), len(block), time_info, sd.CallbackFlags())
            if self.speed:
                time.sleep(len(block) / self.samplerate / self.speed)
        for frame in sorted(self.at):  # actions at or past the end run when the signal ends
            self.at.pop(frame)()
        self.delivered.set()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join()
        self.active = False

    def abort(self) -> None:
        self.stop()

    def close(self) -> None:
        self.stop()
        self.closed = True

    def __enter__(self) -> VirtualInputStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def virtual_microphone(
    signal: np.ndarray, native_rate: int = RATE, **options: Any
) -> Callable[..., VirtualInputStream]:
    """A stream factory for Recorder; the streams it made are on ``factory.streams``."""
    streams: list[VirtualInputStream] = []

    def factory(**kwargs: Any) -> VirtualInputStream:
        stream = VirtualInputStream(signal, native_rate, **{**kwargs, **options})
        streams.append(stream)
        return stream

    factory.streams = streams  # type: ignore[attr-defined]
    return factory


def sine(seconds: float, rate: int = RATE, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def ramp(frames: int) -> np.ndarray:
    return ((np.arange(frames) % 2000 - 1000) / 1000 * 0.9).astype(np.float32)


def record_all(recorder: Recorder) -> Any:
    """Start, let the virtual input deliver its whole signal, stop."""
    factory = recorder.stream_factory
    with recorder:
        assert factory.streams[-1].delivered.wait(10)  # type: ignore[union-attr]
    return recorder.stop()


# -- Recorder with the virtual input ---------------------------------------------------------


def test_records_the_signal_exactly(tmp_path: Path) -> None:
    signal_ = sine(2.0)
    recorder = Recorder(tmp_path / "a.wav", stream_factory=virtual_microphone(signal_))
    info = record_all(recorder)
    assert info.duration == pytest.approx(2.0) and info.sample_rate == RATE and info.channels == 1
    audio, rate = open_recording(tmp_path / "a.wav")
    assert rate == RATE
    np.testing.assert_allclose(audio[:, 0], signal_, atol=1e-4)


def test_real_time_pace_and_stereo(tmp_path: Path) -> None:
    signal_ = np.stack([sine(0.5), ramp(RATE // 2)], axis=1)
    recorder = Recorder(tmp_path / "s.wav", channels=2, stream_factory=virtual_microphone(signal_, speed=1.0))
    started = time.monotonic()
    record_all(recorder)
    assert time.monotonic() - started >= 0.45
    audio, _ = open_recording(tmp_path / "s.wav")
    np.testing.assert_allclose(audio, signal_, atol=1e-4)


def test_pause_drops_audio_while_paused(tmp_path: Path) -> None:
    signal_ = ramp(3 * RATE)
    recorder = Recorder(tmp_path / "p.wav")
    recorder.stream_factory = virtual_microphone(
        signal_, blocksize=400, at={RATE: recorder.pause, 2 * RATE: recorder.resume}
    )
    info = record_all(recorder)
    assert info.duration == pytest.approx(2.0)
    audio, _ = open_recording(tmp_path / "p.wav")
    expected = np.concatenate([signal_[:RATE], signal_[2 * RATE :]])
    np.testing.assert_allclose(audio[:, 0], expected, atol=1e-4)
    assert recorder.toggle_pause() is True and recorder.paused
    assert recorder.toggle_pause() is False


def test_level_meter_reads_a_known_sine(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "l.wav", stream_factory=virtual_microphone(sine(1.0, amplitude=0.5)))
    record_all(recorder)
    # RMS of a sine is amplitude/sqrt(2): 20*log10(0.5/1.414) = -9.03 dBFS; peak 20*log10(0.5) = -6.02.
    assert recorder.level.rms_dbfs == pytest.approx(-9.03, abs=0.3)
    assert recorder.level.peak_dbfs == pytest.approx(-6.02, abs=0.1)
    assert not recorder.level.clipping
    assert Level.of(np.zeros(100, dtype=np.float32)).rms_dbfs == -120.0
    assert Level.of(np.ones(100, dtype=np.float32)).clipping


def test_paused_audio_is_still_metered(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "m.wav", stream_factory=virtual_microphone(sine(0.5, amplitude=0.1)))
    recorder.pause()
    info = record_all(recorder)
    assert info.duration == 0
    assert recorder.level.rms_dbfs == pytest.approx(-23.0, abs=0.3)


def test_chunk_hook_and_generator_receive_everything_written(tmp_path: Path) -> None:
    signal_ = np.stack([sine(1.5), -sine(1.5)], axis=1) * 0.5 + 0.1
    hooked: list[np.ndarray] = []
    recorder = Recorder(
        tmp_path / "c.wav", channels=2, on_chunk=hooked.append, stream_factory=virtual_microphone(signal_, speed=4)
    )
    generated: list[np.ndarray] = []
    chunks = recorder.chunks()  # subscribe before start to miss nothing
    consumer = threading.Thread(target=lambda: generated.extend(chunks))
    consumer.start()
    with recorder:
        assert recorder.stream_factory.streams[-1].delivered.wait(10)  # type: ignore[union-attr]
    consumer.join(5)
    assert not consumer.is_alive()  # the generator ends when the recorder stops
    mono = signal_.mean(axis=1)
    for received in (hooked, generated):
        assert all(c.ndim == 1 and c.dtype == np.float32 for c in received)
        np.testing.assert_allclose(np.concatenate(received), mono, atol=1e-6)
    assert list(recorder.chunks()) == []  # after stop: ends at once


def test_failing_chunk_consumer_does_not_stop_the_recording(tmp_path: Path) -> None:
    def broken(chunk: np.ndarray) -> None:
        raise RuntimeError("transcriber fell over")

    recorder = Recorder(tmp_path / "f.wav", on_chunk=broken, stream_factory=virtual_microphone(sine(1.0)))
    assert record_all(recorder).duration == pytest.approx(1.0)
    assert isinstance(recorder.chunk_error, RuntimeError)


def test_max_seconds_ends_the_recording(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "x.wav", max_seconds=0.75, stream_factory=virtual_microphone(sine(3.0), speed=10))
    recorder.start()
    assert recorder.wait(5) and recorder.finished
    info = recorder.stop()
    assert info.duration == pytest.approx(0.75)


@pytest.mark.parametrize("native_rate", [48000, 44100, 8000])
def test_device_refusing_16k_is_resampled(tmp_path: Path, native_rate: int) -> None:
    seconds, freq = 1.0, 440.0
    recorder = Recorder(
        tmp_path / "r.wav", stream_factory=virtual_microphone(sine(seconds, native_rate, freq), native_rate)
    )
    info = record_all(recorder)
    assert recorder.source_rate == native_rate and info.sample_rate == native_rate
    audio, rate = open_recording(tmp_path / "r.wav")
    assert rate == RATE and abs(len(audio) - seconds * RATE) <= 2
    # Compare with the ideal 16 kHz sine, delayed by the low-pass filter's half length.
    step = native_rate / RATE
    delay = np.ceil(8 * step) if step > 1 else 0
    t = (np.arange(len(audio)) * step - delay) / native_rate
    ideal = 0.5 * np.sin(2 * np.pi * freq * t)
    settled = slice(64, len(audio) - 8)
    assert np.max(np.abs(audio[settled, 0] - ideal[settled])) < 0.01


def test_resampler_removes_what_16k_cannot_hold(tmp_path: Path) -> None:
    """A 12 kHz tone at 48 kHz would alias to 4 kHz without the low-pass filter."""
    recorder = Recorder(tmp_path / "alias.wav", stream_factory=virtual_microphone(sine(0.5, 48000, 12000), 48000))
    record_all(recorder)
    audio, _ = open_recording(tmp_path / "alias.wav")
    assert Level.of(audio[200:]).rms_dbfs < -40


def test_bad_device_raises_capture_error_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "none.wav"
    with pytest.raises(CaptureError, match=r"microphone 7 not found.*--list-devices"):
        Recorder(path, device=7, stream_factory=virtual_microphone(sine(1.0))).start()
    with pytest.raises(CaptureError, match="2 channel"):
        Recorder(path, channels=2, stream_factory=virtual_microphone(sine(1.0))).start()
    assert not path.exists()


def test_existing_file_refused_before_recording(tmp_path: Path) -> None:
    path = tmp_path / "e.wav"
    path.write_bytes(b"keep me")
    factory = virtual_microphone(sine(1.0))
    with pytest.raises(FileExistsError):
        Recorder(path, stream_factory=factory).start()
    assert path.read_bytes() == b"keep me"
    assert factory.streams[-1].closed  # type: ignore[attr-defined]


# -- the real PortAudio ----------------------------------------------------------------------


def _has_input_device() -> bool:
    return any(d["max_input_channels"] > 0 for d in sd.query_devices())


def test_list_input_devices_asks_portaudio() -> None:
    devices = list_input_devices()  # must not raise: an empty list when there is no sound card
    assert isinstance(devices, list) and all(isinstance(d, InputDevice) for d in devices)
    if not _has_input_device():
        assert devices == []
    assert sum(d.is_default for d in devices) <= 1


def test_list_input_devices_maps_portaudio_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = [
        {"index": 0, "name": "HDMI out", "max_input_channels": 0, "default_samplerate": 48000.0},
        {"index": 1, "name": "USB mic", "max_input_channels": 2, "default_samplerate": 44100.0},
    ]
    monkeypatch.setattr(sd, "query_devices", lambda: fake)
    monkeypatch.setattr(sd.default, "device", [1, 0])
    assert list_input_devices() == [InputDevice(1, "USB mic", 2, 44100.0, True)]


def test_real_portaudio_bad_device_is_a_capture_error(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    with pytest.raises(CaptureError, match="microphone 987"):
        Recorder(path, device=987).start()
    assert not path.exists()


@pytest.mark.skipif(_has_input_device(), reason="this machine has a microphone")
def test_real_portaudio_no_microphone(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no microphone found"):
        Recorder(tmp_path / "x.wav").start()
    assert not (tmp_path / "x.wav").exists()


# -- scribe record ---------------------------------------------------------------------------

# `scribe record` exactly as the installed console script runs it.
ENTRY = "from scribe.cli import main; main()"


def scribe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.skipif(_has_input_device(), reason="this machine has a microphone")
def test_cli_without_microphone_fails_in_one_line(tmp_path: Path) -> None:
    result = scribe("record", "x.wav", cwd=tmp_path)
    assert result.returncode == CaptureError.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no microphone found" in lines[0] and "--list-devices" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "x.wav").exists()


def test_cli_bad_device_fails_in_one_line(tmp_path: Path) -> None:
    result = scribe("record", "--device", "987", "x.wav", cwd=tmp_path)
    assert result.returncode == CaptureError.exit_code and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "microphone 987" in result.stderr
    assert not (tmp_path / "x.wav").exists()


def _run_cli_in_process(monkeypatch: pytest.MonkeyPatch, factory: Callable[..., Any] | None, *args: str) -> Any:
    """Run `scribe record` in this process (main thread, so its signal handling is real)."""
    if factory is not None:
        monkeypatch.setattr(record_cli, "Recorder", lambda *a, **k: Recorder(*a, **{**k, "stream_factory": factory}))
    app = typer.Typer()
    record_cli.register(app)
    app.command("other", hidden=True)(lambda: None)  # keep `record` a subcommand
    return CliRunner().invoke(app, ["record", *args])


def test_cli_replays_a_file_in_place_of_the_microphone_and_stops_at_its_end(tmp_path: Path) -> None:
    from scribe.audio.decode import decode_file

    sample = Path(__file__).parent.parent / "data" / "sample_stereo.flac"
    expected = decode_file(sample).samples.T
    out = tmp_path / "replayed.wav"
    result = _run_cli_in_process(
        pytest.MonkeyPatch(), None, str(out), "--replay", str(sample), "-c", "2", "--speed", "20"
    )
    assert result.exit_code == 0, result.output
    assert "saved" in result.output and "00:45.0" in result.output
    audio, rate = open_recording(out)
    assert rate == RATE and audio.shape == expected.shape
    np.testing.assert_allclose(audio, expected, atol=1e-4)
    mono = _run_cli_in_process(
        pytest.MonkeyPatch(), None, str(tmp_path / "mono.wav"), "--replay", str(sample), "--speed", "20"
    )
    assert mono.exit_code == 0, mono.output
    np.testing.assert_allclose(open_recording(tmp_path / "mono.wav")[0][:, 0], expected.mean(axis=1), atol=1e-4)
    one = tmp_path / "one.wav"
    sf.write(one, sine(1.0), RATE)
    two = tmp_path / "two.wav"
    refused = _run_cli_in_process(pytest.MonkeyPatch(), None, str(two), "--replay", str(one), "-c", "2")
    assert isinstance(refused.exception, CaptureError) and "--channels 1" in str(refused.exception)
    assert not two.exists()


def test_cli_records_with_signals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGUSR1 pauses and resumes, SIGTERM stops and saves (the virtual input sends them)."""
    pid = os.getpid()
    factory = virtual_microphone(
        sine(20.0),
        speed=5,
        blocksize=800,
        at={
            RATE: lambda: os.kill(pid, signal.SIGUSR1),
            2 * RATE: lambda: os.kill(pid, signal.SIGUSR1),
            4 * RATE: lambda: os.kill(pid, signal.SIGTERM),
        },
    )
    out = tmp_path / "visit.wav"
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    result = _run_cli_in_process(monkeypatch, factory, str(out))
    assert result.exit_code == 0, result.output
    assert f"saved {out}" in result.output and f"scribe transcribe {out}" in result.output
    audio, _ = open_recording(out)
    assert 3 * RATE - 0.2 * RATE <= len(audio) <= 3 * RATE + 0.3 * RATE  # 4 s delivered, 1 s paused
    assert {sig: signal.getsignal(sig) for sig in before} == before  # handlers restored


def test_cli_max_minutes_and_nothing_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "short.wav"
    factory = virtual_microphone(sine(5.0), speed=20)
    result = _run_cli_in_process(monkeypatch, factory, str(out), "--max-minutes", "0.01")
    assert result.exit_code == 0, result.output
    assert "maximum length" in result.output
    assert len(open_recording(out)[0]) == int(0.6 * RATE)

    empty = tmp_path / "empty.wav"
    pid = os.getpid()  # a microphone that delivers nothing, and the user presses Ctrl-C
    quiet = virtual_microphone(np.zeros(0, dtype=np.float32), at={0: lambda: os.kill(pid, signal.SIGINT)})
    result = _run_cli_in_process(monkeypatch, quiet, str(empty))
    assert isinstance(result.exception, CaptureError) and "nothing was recorded" in str(result.exception)
    assert not empty.exists()


def test_cli_existing_file_list_devices_and_recover(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.wav").write_bytes(b"keep")
    result = _run_cli_in_process(monkeypatch, virtual_microphone(sine(1.0)), "old.wav")
    assert isinstance(result.exception, FileExistsError) and "--force" in str(result.exception)
    assert (tmp_path / "old.wav").read_bytes() == b"keep"

    result = _run_cli_in_process(monkeypatch, None, "--list-devices")
    if _has_input_device():
        assert result.exit_code == 0 and "index" in result.output
    else:
        assert isinstance(result.exception, CaptureError) and "no microphone found" in str(result.exception)

    from scribe.audio.recording import RecordingWriter

    with RecordingWriter(tmp_path / "crash.wav") as w:
        w.append(ramp(RATE))
    with open(tmp_path / "crash.wav", "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", 36))  # sizes as a crash before the first sync leaves them
        f.seek(40)
        f.write(struct.pack("<I", 0))
    result = _run_cli_in_process(monkeypatch, None, "--recover", "crash.wav")
    assert result.exit_code == 0 and "00:01.0 of audio" in result.output, result.output
    assert sf.info(tmp_path / "crash.wav").frames == RATE


@pytest.mark.slow
def test_cli_live_transcribes_and_drafts_while_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scribe record --live --note` on the virtual input playing the SYNTHETIC sample consultation at 3x speed."""
    from scribe.audio.decode import decode_file

    speech = decode_file(Path(__file__).parent.parent / "data" / "sample_mono.flac").mono[: 30 * RATE]
    pid = os.getpid()
    factory = virtual_microphone(speech, speed=3, blocksize=1600, at={len(speech): lambda: os.kill(pid, signal.SIGINT)})
    monkeypatch.setenv("SCRIBE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SCRIBE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SCRIBE_LLM_MODEL", "smollm2-135m-instruct")  # the small test LLM
    monkeypatch.setenv("SCRIBE_NOTE_TEMPLATE", "soap")
    out, note = tmp_path / "visit.wav", tmp_path / "visit.note.json"
    result = _run_cli_in_process(monkeypatch, factory, str(out), "--live", "-m", "whisper-tiny.en", "--note", str(note))
    assert result.exit_code == 0, result.output
    draft = NoteDraft.model_validate_json(note.read_text())
    assert [s.key for s in draft.sections] == ["subjective", "objective", "assessment", "plan"]
    assert "note drafted" in result.output
    transcript = Transcript.model_validate_json((tmp_path / "visit.transcript.json").read_text())
    assert "headache" in transcript.text.lower()
    assert {s.speaker.value for s in transcript.segments} <= {"clinician", "patient"}
    assert "transcript ready" in result.output and f"saved {out}" in result.output
    assert transcript.duration == pytest.approx(len(open_recording(out)[0]) / RATE, abs=0.2)
    # the model read the transcript while recording (at the stop most of the request was in its cache), and
    # the note's evidence is on the final, re-attributed ids
    note_call = draft.timings["draft:note"]
    assert note_call.cached_tokens and note_call.cached_tokens > note_call.prompt_tokens / 2, note_call
    ids = {s.id for s in transcript.segments}
    assert all(set(item.evidence) <= ids for item in draft.grounded_items())
