"""Running the pipeline over evaluation cases: transcribe, draft, write the letter, score, measure cost.

Models load once. Each finished case is appended to ``OUT/cases.jsonl`` at once, so a long run
that stops (Ctrl-C, a crash, a reboot) resumes where it stopped: cases already there are not run
again, provided the options and models are the same (a fingerprint is kept in ``OUT/run.json``
from the start; a different one is refused unless the caller starts afresh). A case that fails
(bad audio, a model error) is recorded with its error and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scribe.config import Settings
from scribe.errors import ConfigError, DraftError, ScribeError
from scribe.evaluate.cases import EvalCase
from scribe.evaluate.cost import StageMeter
from scribe.evaluate.results import CaseResult, EvaluationRun, TimeScores
from scribe.evaluate.scoring import note_scores, speech_scores
from scribe.fileio import write_text_atomic
from scribe.records import Letter, LetterKind, NoteDraft, Transcript

log = logging.getLogger(__name__)

CASES_FILE = "cases.jsonl"
RUN_FILE = "run.json"
_SECRETS = ("key", "token", "password", "secret")


@dataclass(frozen=True)
class RunOptions:
    """What to run for each case."""

    speech: bool = True
    """Transcribe cases that have audio (else the reference transcript is used)."""
    notes: bool = True
    letters: bool = False
    """Also draft the patient letter and measure its reading level (one more LLM call per case)."""
    template: str = "gp"


def public_config(settings: Settings, options: RunOptions) -> dict[str, Any]:
    """Settings and options as recorded with the results: no keys, tokens or passwords."""
    values = settings.model_dump(mode="json")
    clean = {k: v for k, v in values.items() if not any(word in k for word in _SECRETS)}
    return {"options": asdict(options), "settings": clean}


def fingerprint(dataset: str, options: RunOptions, models: dict[str, str]) -> str:
    """What must match for a run to resume: dataset, options and models."""
    text = json.dumps({"dataset": dataset, "options": asdict(options), "models": models}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Pipeline:
    """The models a run needs, loaded once and only when first used, over :mod:`scribe.pipeline`'s steps."""

    def __init__(self, settings: Settings, options: RunOptions) -> None:
        self.settings = settings
        self.options = options
        self._engine: Any = None
        self._backend: Any = None
        self._template: Any = None

    def models(self) -> dict[str, str]:
        """Role -> model name, from settings (no loading)."""
        out = {}
        if self.options.speech:
            out["speech recognition"] = self.settings.asr_model
        if self.options.notes:
            out["note drafting"] = f"{self.settings.llm_backend}:{self.settings.llm_model}"
        return out

    def engine(self) -> Any:
        """The speech engine, loaded on first use."""
        if self._engine is None:
            from scribe.asr.engine import load_engine

            self._engine = load_engine(self.settings)
        return self._engine

    def backend(self) -> Any:
        """The language model (and the run's note template), loaded on first use."""
        if self._backend is None:
            from scribe import pipeline
            from scribe.notes.backends import load_backend

            self._backend = load_backend(self.settings)
            self._template = pipeline.note_template(self.settings, self.options.template)
        return self._backend

    def transcribe(self, audio: Path) -> Transcript:
        """The case's recording, transcribed with the settings' options."""
        from scribe import pipeline

        return pipeline.transcribe_audio(audio, self.settings, self.engine())

    def draft(self, transcript: Transcript) -> NoteDraft:
        """The note, drafted with the run's template."""
        from scribe import pipeline

        backend = self.backend()
        return pipeline.draft(transcript, self.settings, backend, self._template)

    def letter(self, draft: NoteDraft, transcript: Transcript) -> Letter:
        """The patient letter, drafted from ``draft``."""
        from scribe import pipeline

        return pipeline.letter(draft, transcript, self.settings, self.backend(), LetterKind.PATIENT)

    def close(self) -> None:
        """Release the language model, if one was loaded."""
        if self._backend is not None and hasattr(self._backend, "close"):
            self._backend.close()


def evaluate_case(case: EvalCase, pipeline: Pipeline) -> CaseResult:
    """Run and score one case; a ScribeError becomes the result's ``error``."""
    result = CaseResult(
        case_id=case.id,
        dataset=case.dataset,
        synthetic_audio=case.synthetic_audio,
        has_audio=case.audio is not None,
        consultation_type=case.consultation_type,
        subgroups=dict(case.subgroups),
    )
    meter = StageMeter()
    try:
        transcript = case.reference_transcript
        asr_seconds = 0.0
        if case.audio is not None and pipeline.options.speech:
            device = pipeline.engine().device
            with meter.stage("transcribe", device=device) as stage:
                transcript = pipeline.transcribe(case.audio)
            asr_seconds = stage.result.wall_seconds
            result.speech = speech_scores(transcript, case, asr_seconds=asr_seconds)
        if pipeline.options.notes and transcript is not None:
            device = getattr(pipeline.backend(), "device", "cpu")
            with meter.stage("draft", device=device) as stage:
                draft = pipeline.draft(transcript)
            draft_seconds = stage.result.wall_seconds
            letter = _letter(case, draft, transcript, pipeline, meter, device) if pipeline.options.letters else None
            result.note = note_scores(draft, case.reference_note, letter=letter, draft_seconds=draft_seconds)
            # Offline, the whole recording is transcribed after it ends (live mode would have done most of it).
            result.time = TimeScores(time_to_draft_seconds=asr_seconds + draft_seconds)
    except ScribeError as exc:
        log.warning("%s: %s", case.id, exc)
        result.error = f"{type(exc).__name__}: {exc}"
    result.costs = list(meter.results)
    return result


def _letter(
    case: EvalCase, draft: NoteDraft, transcript: Transcript, pipeline: Pipeline, meter: StageMeter, device: str
) -> Letter | None:
    """The patient letter, or None when the draft gives nothing to write from (the note is still scored)."""
    try:
        with meter.stage("letter", device=device):
            return pipeline.letter(draft, transcript)
    except DraftError as exc:
        log.warning("%s: no patient letter: %s", case.id, exc)
        return None


def recorded_run(out_dir: Path) -> dict[str, Any] | None:
    """The run.json a previous run left in ``out_dir``: None if there is none, {} if it cannot be read."""
    run_file = out_dir / RUN_FILE
    if not run_file.is_file():
        return None
    try:
        data = json.loads(run_file.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def load_done(out_dir: Path, print_: str, recorded: dict[str, Any] | None) -> dict[str, CaseResult]:
    """Cases a previous run finished, if its run.json (``recorded``) has the same fingerprint; else ConfigError."""
    cases_file = out_dir / CASES_FILE
    if recorded is None:
        return {}
    if (recorded.get("config") or {}).get("fingerprint") != print_:
        raise ConfigError(
            f"{out_dir} holds a run with other options, models or data; use another --out, or --restart to replace it"
        )
    done: dict[str, CaseResult] = {}
    if cases_file.is_file():
        for number, line in enumerate(cases_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                case = CaseResult.model_validate_json(line)
            except ValueError:
                log.warning("%s line %d is damaged (an interrupted write?): that case runs again", cases_file, number)
                continue
            done[case.case_id] = case
    return done


def _started_at(recorded: dict[str, Any]) -> datetime | None:
    """When a recorded run started (None if its run.json cannot say)."""
    started = recorded.get("started_at")
    try:
        return datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        return None


def run_evaluation(
    cases: Sequence[EvalCase],
    settings: Settings,
    out_dir: Path,
    *,
    dataset: str,
    options: RunOptions = RunOptions(),
    restart: bool = False,
    machine: dict[str, Any] | None = None,
    assumed_baseline_minutes: float | None = None,
    on_case: Callable[[CaseResult], None] | None = None,
    pipeline: Pipeline | None = None,
) -> EvaluationRun:
    """Evaluate every case (resuming a run in ``out_dir``), then return the whole run (also in ``run.json``)."""
    pipeline = pipeline or Pipeline(settings, options)
    models = pipeline.models()
    config = public_config(settings, options) | {"fingerprint": fingerprint(dataset, options, models)}
    out_dir.mkdir(parents=True, exist_ok=True)
    if restart:
        (out_dir / CASES_FILE).unlink(missing_ok=True)
        (out_dir / RUN_FILE).unlink(missing_ok=True)
    recorded = recorded_run(out_dir)
    done = load_done(out_dir, config["fingerprint"], recorded)
    run = EvaluationRun(
        dataset=dataset,
        config=config,
        models=models,
        machine=machine or {},
        assumed_baseline_minutes=assumed_baseline_minutes,
    )
    if done and recorded:  # a resumed run started when its first case did
        run.started_at = _started_at(recorded) or run.started_at
        log.info("resuming: %d of %d cases already done in %s", len(done), len(cases), out_dir)
    write_text_atomic(out_dir / RUN_FILE, run.model_dump_json(indent=2))
    results = []
    try:
        with (out_dir / CASES_FILE).open("a", encoding="utf-8") as sink:
            for case in cases:
                result = done.get(case.id)
                if result is None:
                    started = time.perf_counter()
                    result = evaluate_case(case, pipeline)
                    sink.write(result.model_dump_json() + "\n")
                    sink.flush()
                    log.info("%s done in %.1f s", case.id, time.perf_counter() - started)
                results.append(result)
                if on_case is not None:
                    on_case(result)
    finally:
        pipeline.close()
    run = run.model_copy(update={"cases": results, "finished_at": datetime.now(UTC)})
    write_text_atomic(out_dir / RUN_FILE, run.model_dump_json(indent=2))
    return run
