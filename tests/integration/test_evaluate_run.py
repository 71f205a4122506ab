"""`scribe evaluate` end to end on real models: Whisper tiny.en and SmolLM2 over the bundled SYNTHETIC sample.

SmolLM2-135M is the fast test model: its notes are poor, so only the machinery is checked here,
never the quality. The audio is synthetic text-to-speech.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers.cli_runner import scribe
from helpers.fast_llm import fast_env

from scribe.config import Settings, load_settings
from scribe.evaluate.cases import folder_cases
from scribe.evaluate.results import EvaluationRun
from scribe.evaluate.run import Pipeline, RunOptions, run_evaluation

DATA = Path(__file__).parent.parent / "data"
FAST = {
    "SCRIBE_ASR_MODEL": "whisper-tiny.en",
    "SCRIBE_LLM_MODEL": "smollm2-135m-instruct",
    "SCRIBE_LLM_CONTEXT": "4096",
}


def _dataset(root: Path, *, with_text_case: bool = True) -> Path:
    reference = json.loads((DATA / "sample_reference.json").read_text())
    for name in ("sample-a", "sample-b"):
        case = root / name
        case.mkdir(parents=True)
        shutil.copy(DATA / "sample_mono.flac", case / "audio.flac")
        (case / "transcript.json").write_text(json.dumps({"segments": reference["segments"]}))
        (case / "meta.json").write_text(
            json.dumps({"synthetic_audio": True, "subgroups": {"voice": "piper joe / espeak en-gb", "language": "en"}})
        )
        (case / "note.txt").write_text("Headache for three days. No fever. Paracetamol as needed.\n")
    if with_text_case:
        text = root / "text-only"
        text.mkdir()
        (text / "transcript.json").write_text(json.dumps({"segments": reference["segments"]}))
    return root


def test_cli_evaluates_a_folder_writes_the_report_and_resumes(tmp_path: Path) -> None:
    cases = _dataset(tmp_path / "cases")
    shutil.rmtree(cases / "sample-b")
    out = tmp_path / "report"
    fast = fast_env(tmp_path)
    args = ("evaluate", str(cases), "--out", str(out), "--letters", "--template", "brief")
    done = scribe(*args, tmp_path=tmp_path, env=fast)
    assert done.returncode == 0, done.stderr
    assert "SYNTHETIC" in done.stderr and "2 of 2 consultations evaluated" in done.stderr
    for name in ("report.html", "summary.json", "cases.csv", "run.json", "cases.jsonl"):
        assert (out / name).is_file(), name
    run = EvaluationRun.model_validate_json((out / "run.json").read_text())
    audio, text = sorted(run.cases, key=lambda c: c.case_id)
    assert audio.case_id == "sample-a" and audio.synthetic_audio and audio.speech is not None
    assert audio.speech.reference_words > 50 and audio.speech.wer is not None and audio.speech.wer < 0.6
    assert audio.speech.attribution_accuracy is not None and audio.speech.real_time_factor is not None
    assert audio.note is not None and audio.note.statements > 0 and audio.note.rouge1 is not None
    assert [c.stage for c in audio.costs] == ["transcribe", "draft", "letter"], "--letters drafts the patient letter"
    assert "no patient letter" in done.stderr or audio.note.letter_grade is not None, "a failed letter keeps the note"
    assert all(c.cpu_seconds > 0 and c.peak_rss_mb for c in audio.costs)
    assert text.speech is None and text.note is not None and text.note.rouge1 is None, "no audio, no reference note"
    assert run.models["speech recognition"] == "whisper-tiny.en"
    assert not any("key" in k or "token" in k for k in run.config["settings"]), "no secrets in the record"
    html = (out / "report.html").read_text()
    assert "SYNTHETIC" in html
    again = scribe("-v", *args, tmp_path=tmp_path, env=fast)
    assert again.returncode == 0 and "resuming: 2 of 2 cases already done" in again.stderr, again.stderr
    other = scribe("evaluate", str(cases), "--out", str(out), "--no-notes", tmp_path=tmp_path, env=fast)
    assert other.returncode == 2 and "--restart" in other.stderr


class CountingPipeline(Pipeline):
    """The real pipeline, counting what it transcribes."""

    def __init__(self, settings: Settings, options: RunOptions) -> None:
        super().__init__(settings, options)
        self.transcribed: list[Path] = []

    def transcribe(self, audio: Path):
        self.transcribed.append(audio)
        return super().transcribe(audio)


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    cases = folder_cases(_dataset(tmp_path / "cases", with_text_case=False))
    settings = load_settings(data_dir=tmp_path / "data", asr_model="whisper-tiny.en")
    options = RunOptions(notes=False)
    out = tmp_path / "out"

    def stop_after_first(_case) -> None:
        raise KeyboardInterrupt

    first = CountingPipeline(settings, options)
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(cases, settings, out, dataset="t", options=options, on_case=stop_after_first, pipeline=first)
    assert len(first.transcribed) == 1
    assert len((out / "cases.jsonl").read_text().splitlines()) == 1
    started = EvaluationRun.model_validate_json((out / "run.json").read_text()).started_at
    with (out / "cases.jsonl").open("a") as sink:
        sink.write('{"case_id": "sample-b", "dataset": "t", "synth')  # a write cut off by the interruption
    second = CountingPipeline(settings, options)
    run = run_evaluation(cases, settings, out, dataset="t", options=options, pipeline=second)
    assert [p.parent.name for p in second.transcribed] == ["sample-b"], "only the unfinished case runs again"
    assert [c.case_id for c in run.cases] == ["sample-a", "sample-b"] and all(c.speech for c in run.cases)
    assert run.started_at == started, "a resumed run keeps the time it first started"


def test_a_failing_case_is_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "cases", with_text_case=False)
    (root / "sample-a" / "audio.flac").write_bytes(b"this is not audio at all")
    settings = load_settings(data_dir=tmp_path / "data", asr_model="whisper-tiny.en")
    run = run_evaluation(folder_cases(root), settings, tmp_path / "out", dataset="t", options=RunOptions(notes=False))
    broken, good = run.cases
    assert broken.error.startswith(("CorruptAudioError", "EmptyAudioError")) and broken.speech is None
    assert not good.error and good.speech is not None
