"""`scribe transcribe` end to end in a subprocess: outputs, and every bad input refused cleanly."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from helpers.cli_runner import scribe

pytestmark = pytest.mark.slow


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_json_output_has_the_documented_shape(sample_stereo: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.json"
    run = scribe(
        "transcribe", str(sample_stereo), "-m", "whisper-tiny.en", "--format", "json", "-o", str(out), tmp_path=tmp_path
    )
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text())
    assert {"segments", "language", "duration", "speakers", "speaker_method", "timings", "model"} <= set(data)
    assert data["speaker_method"] == "channel" and data["model"] == "whisper-tiny.en"
    assert {"id", "start", "end", "speaker", "text", "words", "confidence", "flags"} <= set(data["segments"][0])
    assert {s["speaker"] for s in data["segments"]} == {"clinician", "patient"}
    assert not list(tmp_path.glob(".t.json.*"))  # no temporary left


@pytest.mark.parametrize("fmt,start", [("text", "[00:0"), ("srt", "1\n00:00:0"), ("vtt", "WEBVTT")])
def test_text_formats_on_stdout(sample_stereo: Path, tmp_path: Path, fmt: str, start: str) -> None:
    run = scribe(
        "transcribe", str(sample_stereo), "-m", "whisper-tiny.en", "-f", fmt, "--speakers", "channel", tmp_path=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(start)
    assert "Clinician" in run.stdout and "Patient" in run.stdout


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, dict[str, str], str]]:
    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(5 * 16_000) / 16_000)
    whole = _write_wav(tmp_path / "whole.wav", tone)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole.read_bytes()[:30_000])
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.ogg"
    garbage.write_bytes(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    return {
        "missing": (tmp_path / "absent.wav", {}, "no such file"),
        "empty": (empty, {}, "empty"),
        "zero-length": (_write_wav(tmp_path / "zero.wav", np.zeros(0)), {}, "zero samples"),
        "silence": (_write_wav(tmp_path / "silence.wav", np.zeros(3 * 16_000)), {}, "silent"),
        "no speech": (_write_wav(tmp_path / "hiss.wav", 0.003 * rng.standard_normal(8 * 16_000)), {}, "no speech"),
        "non-audio": (garbage, {}, "not an audio file"),
        "truncated": (truncated, {}, "truncated"),
        "too long": (whole, {"SCRIBE_MAX_AUDIO_SECONDS": "2"}, "limit"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "empty", "zero-length", "silence", "no speech", "non-audio", "truncated", "too long"]
)
def test_bad_input_gets_one_clear_line_and_no_output(tmp_path: Path, case: str) -> None:
    path, env, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out" / "transcript.json"
    run = scribe("transcribe", str(path), "-m", "whisper-tiny.en", "-o", str(out), tmp_path=tmp_path, env=env)
    assert run.returncode not in (0, 1), run.stderr  # a specific, documented exit code
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], run.stderr
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_unknown_model_and_bad_option(sample_stereo: Path, tmp_path: Path) -> None:
    run = scribe("transcribe", str(sample_stereo), "-m", "whisper-huge-v9", tmp_path=tmp_path)
    assert run.returncode == 5 and "not in the catalogue" in run.stderr and "Traceback" not in run.stderr
    run = scribe("transcribe", str(sample_stereo), "--format", "docx", tmp_path=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_cuda_asked_for_without_a_gpu(sample_stereo: Path, tmp_path: Path) -> None:
    from scribe.devices import cuda_available

    if cuda_available():
        pytest.skip("a GPU is present")
    run = scribe("transcribe", str(sample_stereo), "-m", "whisper-tiny.en", "--device", "cuda", tmp_path=tmp_path)
    assert run.returncode == 5 and "no CUDA GPU" in run.stderr
