#!/usr/bin/env python3
"""Benchmark scribe's speech recognition on SYNTHETIC renders of PriMock57 consultations.

The audio is SYNTHETIC text-to-speech (piper ``en_US-joe-medium`` for the clinician, espeak-ng
``en-gb+f3`` for the patient) reading PriMock57 transcripts (Korfiatis et al., ACL 2022,
CC BY 4.0), made by ``scripts/synth_consultation.py``. Numbers on real speech will differ.

One run measures every configuration (see ``CONFIGS``) over the same consultations:

- WER with Whisper's English normalisation, pooled (errors summed over consultations / reference
  words summed) and the mean of per-consultation WERs; clinical-term recall (pooled);
- speaker attribution accuracy on words (stereo: by channel; mono: voice embeddings, and text
  cues as the fallback);
- real-time factor (wall seconds / audio seconds) of the ASR stage and of the whole
  ``transcribe()``; model load time is measured separately and never counted in the RTF;
- hallucination-guard rejections, peak RSS per configuration, and for ``live`` the wait after
  the clinician presses stop (``finish()`` + ``transcript()``);
- scribe's overhead over calling faster-whisper directly with the same model and parameters
  (``raw-faster-whisper``), measured in the same process on the same audio, interleaved.

Each group of configurations runs in a fresh worker process (this script with ``--worker``) so
peak RSS (VmHWM) belongs to that group alone; the engine is loaded once per worker.
Results go to ``docs/benchmarks/asr.json``; ``docs/benchmarks/asr.md`` is generated from it.

Usage::

    .venv/bin/python scripts/bench_asr.py --limit 3              # all configs, 3 consultations
    .venv/bin/python scripts/bench_asr.py --quick                # smoke: 1 consultation, tiny.en
    .venv/bin/python scripts/bench_asr.py --configs base-int8,raw-faster-whisper --ids day1_consultation01
    .venv/bin/python scripts/bench_asr.py --data tests/data --ids sample --configs tiny.en-int8 --out /tmp/a.json
    .venv/bin/python scripts/bench_asr.py --markdown-only        # regenerate asr.md from asr.json

Data files per consultation id in ``--data`` (default ``.cache/synth``): ``{id}_stereo.flac``,
``{id}_mono.flac``, ``{id}_mono_snr10.flac`` (made in memory with the synth script's noise if
absent) and ``{id}_reference.json``. Missing renders of PriMock57 consultations are rendered
through ``synth_consultation.render_to_files``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchkit import (
    REPO,
    SCRIBE_PACKAGES,
    at_most,
    console,
    machine_facts,
    pct,
    peak_rss_bytes,
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

log = logging.getLogger("bench_asr")

DEFAULT_DATA = REPO / ".cache" / "synth"
DEFAULT_OUT = REPO / "docs" / "benchmarks" / "asr.json"
QUICK_OUT = REPO / ".cache" / "bench" / "asr-quick.json"
SAMPLE_RATE = 16_000
LANGUAGE = "en"  # forced for every configuration so scribe and raw decode the same way
NOISE_SNR = 10.0

SYNTHETIC_STATEMENT = (
    "All audio in this benchmark is SYNTHETIC text-to-speech (TTS): the piper `en_US-joe-medium` voice "
    "(clinician) and the espeak-ng `en-gb+f3` voice (patient) reading PriMock57 mock-consultation "
    "transcripts (Korfiatis et al., ACL 2022, CC BY 4.0), rendered by `scripts/synth_consultation.py`. "
    "It is not real speech and not a real consultation; numbers on real clinical speech will differ "
    "(real speech has disfluencies, accents, crosstalk, room acoustics and microphones that TTS lacks)."
)


# ------------------------------------------------------------------------------------------
# Configurations
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One measured configuration. Configurations of one ``group`` share a worker and its engine."""

    name: str
    group: str
    description: str
    model: str = "whisper-base"
    compute_type: str = "int8"
    input: str = "stereo"  # stereo | mono | mono_snr10
    speakers: str = "channel"  # channel | embedding | text | none
    kind: str = "scribe"  # scribe | raw | live
    batched: bool = False
    batch_size: int = 8
    vocabulary: bool = False


CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config(
            "base-int8",
            "base-int8",
            "scribe, whisper-base CPU int8, sequential, beam 5, stereo input, channel attribution",
        ),
        Config(
            "raw-faster-whisper",
            "base-int8",
            "the same whisper-base int8 model through faster_whisper.WhisperModel.transcribe, same parameters, "
            "no guards or attribution (overhead baseline; same worker as base-int8, interleaved)",
            kind="raw",
            speakers="none",
        ),
        Config(
            "base-int8-mono",
            "base-int8-mono",
            "scribe, whisper-base int8, mono input, voice-embedding attribution (resemblyzer)",
            input="mono",
            speakers="embedding",
        ),
        Config(
            "base-int8-mono-text",
            "base-int8-mono",
            "as base-int8-mono but text-cue attribution (the fallback without the speakers extra); "
            "shares base-int8-mono's recognition pass",
            input="mono",
            speakers="text",
        ),
        Config("base-float32", "base-float32", "base-int8 but compute type float32", compute_type="float32"),
        Config(
            "base-int8-batched",
            "base-int8-batched",
            "base-int8 but BatchedInferencePipeline, batch size 8",
            batched=True,
        ),
        Config(
            "tiny.en-int8",
            "tiny.en-int8",
            "scribe, whisper-tiny.en CPU int8, stereo, channel attribution",
            model="whisper-tiny.en",
        ),
        Config(
            "base-int8-noise10",
            "base-int8-noise10",
            "base-int8 on mono with synthetic room noise at 10 dB SNR, voice-embedding attribution",
            input="mono_snr10",
            speakers="embedding",
        ),
        Config(
            "live",
            "live",
            "LiveTranscriber (whisper-base int8) fed the mono audio in 0.5 s chunks as fast as it takes them; "
            "voice-embedding attribution",
            input="mono",
            speakers="embedding",
            kind="live",
        ),
        Config(
            "base-int8-vocab",
            "base-int8-vocab",
            "base-int8 plus the clinical vocabulary as hotwords",
            vocabulary=True,
        ),
    )
}
QUICK_CONFIGS = ("tiny.en-int8",)


# ------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------


def _ratio(hits: float, total: float) -> float | None:
    return hits / total if total else None


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


def default_ids(data_dir: Path) -> list[str]:
    """All PriMock57 consultations the synth script knows, else the ids rendered in ``data_dir``."""
    try:
        ids = tool("synth_consultation").list_consultations()
    except Exception as exc:  # noqa: BLE001 - the transcripts are optional here
        log.debug("cannot list PriMock57 consultations: %s", exc)
        ids = []
    return ids or sorted(p.name[: -len("_reference.json")] for p in data_dir.glob("*_reference.json"))


def load_reference(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def reference_segments(ref: dict[str, Any]):
    from scribe.evaluate.asr_metrics import RefSegment
    from scribe.records import SpeakerRole

    segs = sorted(ref["segments"], key=lambda s: (s["start"], s["end"]))
    return [RefSegment(float(s["start"]), float(s["end"]), SpeakerRole(s["speaker"]), s["text"]) for s in segs]


def load_audio(paths: dict[str, Path], kind: str):
    """DecodedAudio for ``kind``; the 10 dB noisy mix is made in memory if no file holds it."""
    from scribe.audio.decode import DecodedAudio, decode_file
    from scribe.records import AudioInfo

    if kind != "mono_snr10" or paths[kind].is_file():
        return decode_file(paths[kind])
    clean = decode_file(paths["mono"])
    synth = tool("synth_consultation")
    noisy = synth.mix_noise(clean.mono, NOISE_SNR, seed=0, sample_rate=SAMPLE_RATE).astype("float32")
    info = AudioInfo(
        path=f"{paths['mono']} + noise {NOISE_SNR:g} dB",
        duration=clean.duration,
        sample_rate=SAMPLE_RATE,
        channels=1,
        synthetic=True,
    )
    return DecodedAudio(samples=noisy.reshape(1, -1), info=info)


# ------------------------------------------------------------------------------------------
# Worker: one group of configurations, one loaded engine, a fresh process
# ------------------------------------------------------------------------------------------


def _score(record: dict[str, Any], ref_text: str, hyp_text: str, refsegs, transcript=None) -> None:
    from scribe.evaluate.asr_metrics import attribution, term_recall, word_errors

    record["text_sha1"] = hashlib.sha1(hyp_text.encode("utf-8")).hexdigest()
    errors = word_errors(ref_text, hyp_text)
    terms = term_recall(ref_text, hyp_text)
    record.update(
        errors=errors.hits,
        ref_words=errors.total,
        wer=errors.value,
        term_hits=terms.hits,
        term_total=terms.total,
    )
    if transcript is not None and transcript.speaker_method not in ("none", ""):
        attr = attribution(transcript, refsegs)
        record.update(attr_hits=attr.hits, attr_total=attr.total, attribution=attr.value)


def _dump(hyp_dir: Path | None, config: str, cid: str, hypothesis: Any) -> None:
    """Keep what was recognised (text, or the Transcript as JSON) for inspection; not part of the report."""
    if hyp_dir is None:
        return
    folder = hyp_dir / config
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(hypothesis, str):
        (folder / f"{cid}.txt").write_text(hypothesis + "\n", encoding="utf-8")
    else:
        (folder / f"{cid}.txt").write_text(hypothesis.text + "\n", encoding="utf-8")
        (folder / f"{cid}.json").write_text(hypothesis.model_dump_json(indent=1), encoding="utf-8")


def run_worker(
    names: Sequence[str], data_dir: Path, ids: Sequence[str], chunk_seconds: float, hyp_dir: Path | None = None
) -> dict[str, Any]:
    """Measure the configurations ``names`` (one group) over ``ids``; returns a JSON-able dict."""
    started_worker = time.perf_counter()
    load_before = os.getloadavg()
    import psutil

    from scribe.asr import speakers as spk
    from scribe.asr.engine import decode_options, faster_whisper_arguments, load_engine
    from scribe.asr.streaming import LiveTranscriber
    from scribe.asr.transcribe import SpeakerOptions, assemble, attribute, clock, stage_timing, transcribe
    from scribe.config import load_settings

    configs = [CONFIGS[n] for n in names]
    models = {(c.model, c.compute_type) for c in configs}
    if len(models) != 1:
        raise SystemExit(f"one worker loads one engine; {names} need {sorted(models)}")
    model, compute_type = models.pop()
    rss_imports = peak_rss_bytes()

    settings = load_settings(device="cpu", compute_type=compute_type, language=LANGUAGE)
    t0 = time.perf_counter()
    engine = load_engine(settings, model=model, device="cpu")
    load_seconds = time.perf_counter() - t0
    rss_after_load = psutil.Process().memory_info().rss

    encoder = None
    encoder_load_seconds = None
    if any(c.speakers == "embedding" for c in configs):
        t0 = time.perf_counter()
        encoder = spk.VoiceEncoder()
        encoder_load_seconds = time.perf_counter() - t0

    vocab_settings = load_settings(device="cpu", compute_type=compute_type, language=LANGUAGE, vocabulary=True)
    options = {
        c.name: decode_options(
            vocab_settings if c.vocabulary else settings,
            batched=c.batched,
            batch_size=c.batch_size,
            language=LANGUAGE,
            beam_size=5,
        )
        for c in configs
    }
    # Warm-up, timed apart like the load: the first decode loads Silero VAD and the batched
    # pipeline, the first embedding initialises torch. Not counted in any RTF.
    t0 = time.perf_counter()
    from scribe.audio.decode import decode_file

    clip = decode_file(synth_paths(data_dir, ids[0])["mono"]).mono[: 15 * SAMPLE_RATE]
    for opts in {(o.batched, o.hotwords): o for o in options.values()}.values():
        list(engine.decode(clip, opts).segments)
    if encoder is not None:
        encoder.embed(clip[: 3 * SAMPLE_RATE])
    warmup_seconds = time.perf_counter() - t0
    del clip

    # Scribe configurations with identical recognition share one pass (attribution differs only).
    asr_key = {c.name: (c.input, c.batched, c.vocabulary) for c in configs if c.kind == "scribe"}
    shared = {k for k in asr_key.values() if list(asr_key.values()).count(k) > 1}

    per: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configs}
    for index, cid in enumerate(ids):
        paths = synth_paths(data_dir, cid)
        ref = load_reference(paths["reference"])
        refsegs = reference_segments(ref)
        ref_text = " ".join(s.text for s in refsegs)
        audio_cache: dict[str, Any] = {}
        shared_asr: dict[tuple, Any] = {}

        # alternate the order so neither of an interleaved pair always runs first (cache, drift)
        order = configs if index % 2 == 0 else list(reversed(configs))
        for cfg in order:
            if cfg.input not in audio_cache:
                audio_cache[cfg.input] = load_audio(paths, cfg.input)
            audio = audio_cache[cfg.input]
            opts = options[cfg.name]
            rec: dict[str, Any] = {"id": cid, "duration": audio.duration}
            log.info("%s: %s (%.0f s of audio)", cfg.name, cid, audio.duration)
            try:
                if cfg.kind == "raw":
                    mono = audio.mono
                    t0 = time.perf_counter()
                    # the very model scribe's engine holds, called directly
                    segments, _info = engine._model.transcribe(mono, **faster_whisper_arguments(opts))  # noqa: SLF001
                    segments = list(segments)
                    wall = time.perf_counter() - t0
                    hyp = " ".join(s.text.strip() for s in segments if s.text.strip())
                    rec.update(
                        wall_s=wall,
                        asr_wall_s=wall,
                        speakers_wall_s=0.0,
                        segments=len(segments),
                        # windows re-decoded by sampling (temperature > 0): random, so runs can differ
                        fallback_segments=sum(1 for seg in segments if (seg.temperature or 0.0) > 0.0),
                    )
                    _score(rec, ref_text, hyp, refsegs)
                    _dump(hyp_dir, cfg.name, cid, hyp)
                elif cfg.kind == "live":
                    live = LiveTranscriber(
                        engine, opts, SpeakerOptions(method=cfg.speakers), channels=1, encoder=encoder
                    )
                    mono = audio.mono
                    step = max(1, int(round(chunk_seconds * SAMPLE_RATE)))
                    slowest = 0.0
                    t0 = time.perf_counter()
                    for start in range(0, mono.shape[0], step):
                        t_feed = time.perf_counter()
                        live.feed(mono[start : start + step])
                        slowest = max(slowest, time.perf_counter() - t_feed)
                    t_stop = time.perf_counter()
                    live.finish()
                    transcript = live.transcript()
                    t_end = time.perf_counter()
                    timing = {t.stage: t for t in transcript.timings}
                    rec.update(
                        wall_s=t_end - t0,
                        asr_wall_s=timing["asr"].wall_seconds,
                        speakers_wall_s=timing["speakers"].wall_seconds,
                        latency_s=t_end - t_stop,
                        feed_wall_s=t_stop - t0,
                        slowest_feed_s=slowest,
                        chunks=(mono.shape[0] + step - 1) // step,
                        segments=len(transcript.segments),
                        rejected=len(transcript.rejected),
                        speaker_method=transcript.speaker_method,
                    )
                    _score(rec, ref_text, transcript.text, refsegs, transcript)
                    _dump(hyp_dir, cfg.name, cid, transcript)
                else:
                    key = asr_key[cfg.name]
                    if key in shared:
                        if key not in shared_asr:
                            t0 = time.perf_counter()
                            base = transcribe(audio, engine, opts, SpeakerOptions(method="none"))
                            shared_asr[key] = (base, time.perf_counter() - t0)
                        base, asr_total = shared_asr[key]
                        started = clock()
                        sopts = SpeakerOptions(method=cfg.speakers)
                        segs, speakers = attribute(base.segments, audio.samples, cfg.speakers, sopts, encoder=encoder)
                        asr_timing = next(t for t in base.timings if t.stage == "asr")
                        spk_timing = stage_timing("speakers", engine, audio.duration, since=started, model=cfg.speakers)
                        transcript = assemble(
                            segs,
                            base.rejected,
                            speakers=speakers,
                            method=cfg.speakers,
                            engine=engine,
                            language=base.language,
                            language_probability=base.language_probability,
                            duration=audio.duration,
                            vocabulary=bool(opts.hotwords),
                            timings=[asr_timing, spk_timing],
                        )
                        wall = asr_total + (time.perf_counter() - started[0])
                        rec["shared_asr_pass"] = True
                    else:
                        t0 = time.perf_counter()
                        transcript = transcribe(
                            audio, engine, opts, SpeakerOptions(method=cfg.speakers), encoder=encoder
                        )
                        wall = time.perf_counter() - t0
                    timing = {t.stage: t for t in transcript.timings}
                    rec.update(
                        wall_s=wall,
                        asr_wall_s=timing["asr"].wall_seconds,
                        speakers_wall_s=timing["speakers"].wall_seconds,
                        segments=len(transcript.segments),
                        rejected=len(transcript.rejected),
                        speaker_method=transcript.speaker_method,
                    )
                    _score(rec, ref_text, transcript.text, refsegs, transcript)
                    _dump(hyp_dir, cfg.name, cid, transcript)
            except Exception as exc:  # noqa: BLE001 - record the failure and keep measuring
                log.exception("%s on %s failed", cfg.name, cid)
                rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["rtf"] = rec["wall_s"] / rec["duration"] if "wall_s" in rec else None
            rec["rtf_asr"] = rec["asr_wall_s"] / rec["duration"] if "asr_wall_s" in rec else None
            per[cfg.name].append(rec)
            if "wer" in rec:
                log.info("%s: %s WER %.3f RTF %.3f", cfg.name, cid, rec["wer"], rec["rtf"])
        audio_cache.clear()
        shared_asr.clear()

    return {
        "configs": list(names),
        "model": model,
        "compute_type": compute_type,
        "device": engine.device,
        "threads": settings.threads or os.cpu_count(),
        "load_s": load_seconds,
        "encoder_load_s": encoder_load_seconds,
        "warmup_s": warmup_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_after_imports_bytes": rss_imports,
        "rss_after_load_bytes": rss_after_load,
        "worker_wall_s": time.perf_counter() - started_worker,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "per_consultation": per,
    }


# ------------------------------------------------------------------------------------------
# Summaries and targets
# ------------------------------------------------------------------------------------------


def summarise(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pooled and mean metrics over the consultations of one configuration."""
    ok = [r for r in records if "error" not in r]
    out: dict[str, Any] = {"consultations": len(ok), "failed": len(records) - len(ok)}
    if not ok:
        return out
    duration = sum(r["duration"] for r in ok)
    out.update(
        audio_s=duration,
        wer=_ratio(sum(r["errors"] for r in ok), sum(r["ref_words"] for r in ok)),
        wer_mean=statistics.fmean(r["wer"] for r in ok),
        term_recall=_ratio(sum(r["term_hits"] for r in ok), sum(r["term_total"] for r in ok)),
        term_hits=sum(r["term_hits"] for r in ok),
        term_total=sum(r["term_total"] for r in ok),
        wall_s=sum(r["wall_s"] for r in ok),
        rtf=sum(r["wall_s"] for r in ok) / duration,
        rtf_asr=sum(r["asr_wall_s"] for r in ok) / duration,
    )
    if all("attr_total" in r for r in ok):
        out["attribution"] = _ratio(sum(r["attr_hits"] for r in ok), sum(r["attr_total"] for r in ok))
        out["speaker_method"] = ok[0].get("speaker_method")
    if all("rejected" in r for r in ok):
        out["rejected"] = sum(r["rejected"] for r in ok)
    if all("latency_s" in r for r in ok):
        out["latency_mean_s"] = statistics.fmean(r["latency_s"] for r in ok)
        out["latency_max_s"] = max(r["latency_s"] for r in ok)
        out["slowest_feed_s"] = max(r["slowest_feed_s"] for r in ok)
    return out


def overhead(results: dict[str, Any]) -> dict[str, Any] | None:
    """scribe base-int8 wall / raw faster-whisper wall - 1, over the consultations both finished."""
    if "base-int8" not in results or "raw-faster-whisper" not in results:
        return None
    scribe = {r["id"]: r for r in results["base-int8"]["per_consultation"] if "error" not in r}
    raw = {r["id"]: r for r in results["raw-faster-whisper"]["per_consultation"] if "error" not in r}
    both = sorted(set(scribe) & set(raw))
    if not both:
        return None
    raw_wall = sum(raw[i]["wall_s"] for i in both)
    return {
        "consultations": both,
        "scribe_wall_s": sum(scribe[i]["wall_s"] for i in both),
        "scribe_asr_wall_s": sum(scribe[i]["asr_wall_s"] for i in both),
        "raw_wall_s": raw_wall,
        "total": sum(scribe[i]["wall_s"] for i in both) / raw_wall - 1,
        "asr_stage": sum(scribe[i]["asr_wall_s"] for i in both) / raw_wall - 1,
        "per_consultation": {i: scribe[i]["wall_s"] / raw[i]["wall_s"] - 1 for i in both},
        "identical_text": {
            i: scribe[i]["text_sha1"] == raw[i]["text_sha1"]
            for i in both
            if "text_sha1" in scribe[i] and "text_sha1" in raw[i]
        },
        "raw_fallback_segments": {i: raw[i]["fallback_segments"] for i in both if "fallback_segments" in raw[i]},
        "how": "same worker process, same loaded model, same audio array; raw and scribe alternate "
        "which runs first per consultation. 'total' is the whole transcribe() call (recognition, guards, "
        "channel attribution); 'asr_stage' excludes attribution.",
    }


def _summary(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    entry = results.get(name)
    return entry["summary"] if entry and entry["summary"].get("consultations") else None


def evaluate_targets(results: dict[str, Any], over: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The project's targets, each PASS / FAIL, or None where the configuration was not run."""
    targets: list[dict[str, Any]] = []

    def add(name: str, threshold: str, value: float | None, passed: bool | None, shown: str) -> None:
        targets.append(target(name, threshold, value, passed, shown))

    def le(name: str, threshold: str, value: float | None, limit: float, fmt: str) -> None:
        add(name, threshold, value, at_most(value, limit), "not run" if value is None else fmt.format(value))

    def ge(name: str, threshold: str, value: float | None, limit: float, fmt: str) -> None:
        passed = None if value is None else value >= limit
        add(name, threshold, value, passed, "not run" if value is None else fmt.format(value))

    s = _summary(results, "base-int8-batched")
    le("RTF whisper-base int8 batched (whole transcribe)", "<= 0.06", s and s["rtf"], 0.06, "{:.3f}")
    s = _summary(results, "base-int8")
    le("RTF whisper-base int8 sequential (whole transcribe)", "<= 0.12", s and s["rtf"], 0.12, "{:.3f}")
    le("scribe overhead over raw faster-whisper (whole transcribe)", "<= 5%", over and over["total"], 0.05, "{:+.1%}")
    rss = [r["peak_rss_bytes"] for r in results.values() if r.get("peak_rss_bytes")]
    le("peak RSS, worst configuration", "<= 1.5 GB", max(rss) / 1e9 if rss else None, 1.5, "{:.2f} GB")
    s = _summary(results, "live")
    le(
        "live: transcript complete after stop, worst consultation",
        "<= 2 s",
        s and s.get("latency_max_s"),
        2.0,
        "{:.2f} s",
    )
    s = _summary(results, "base-int8")
    ge("speaker attribution, stereo (channel), words", ">= 95%", s and s.get("attribution"), 0.95, "{:.1%}")
    s = _summary(results, "base-int8-mono")
    ge("speaker attribution, mono (voice embeddings), words", ">= 90%", s and s.get("attribution"), 0.90, "{:.1%}")
    s, r = _summary(results, "base-int8"), _summary(results, "raw-faster-whisper")
    if s and r:
        add(
            "WER no worse than raw faster-whisper",
            "scribe <= raw",
            s["wer"] - r["wer"],
            s["wer"] <= r["wer"] + 1e-12,
            f"{s['wer']:.2%} vs {r['wer']:.2%} ({(s['wer'] - r['wer']) * 100:+.2f} pp)",
        )
    else:
        add("WER no worse than raw faster-whisper", "scribe <= raw", None, None, "not run")
    s, v = _summary(results, "base-int8"), _summary(results, "base-int8-vocab")
    if s and v:
        helped = v["wer"] < s["wer"] or (v["term_recall"] or 0) > (s["term_recall"] or 0)
        shown = (
            f"WER {v['wer']:.2%} vs {s['wer']:.2%} ({(v['wer'] - s['wer']) * 100:+.2f} pp); term recall "
            f"{pct(v['term_recall'])} vs {pct(s['term_recall'])}; RTF {v['rtf']:.3f} vs {s['rtf']:.3f}"
        )
        add(
            "clinical vocabulary helped (finding, not a target)", "lower WER or higher term recall", None, helped, shown
        )
    else:
        add(
            "clinical vocabulary helped (finding, not a target)",
            "lower WER or higher term recall",
            None,
            None,
            "not run",
        )
    return targets


# ------------------------------------------------------------------------------------------
# Markdown (generated from the JSON, never edited by hand)
# ------------------------------------------------------------------------------------------


def _num(value: float | None, fmt: str = "{:.3f}") -> str:
    return "–" if value is None else fmt.format(value)


def _load(entry: dict[str, Any]) -> str:
    text = _num(entry.get("load_s"), "{:.2f}")
    if entry.get("warmup_s") is not None:
        text += f" (+{entry['warmup_s']:.1f})"
    return text


def render_markdown(report: dict[str, Any]) -> str:
    m, d = report["machine"], report["data"]
    results = report["results"]
    lines: list[str] = []
    add = lines.append
    add("# ASR benchmark: scribe on SYNTHETIC consultations")
    add("")
    add(
        "<!-- Generated by scripts/bench_asr.py from docs/benchmarks/asr.json. Do not edit by hand: rerun the "
        "script (or `scripts/bench_asr.py --markdown-only`). -->"
    )
    add("")
    add(f"> **SYNTHETIC AUDIO.** {SYNTHETIC_STATEMENT}")
    add("")
    minutes = d["total_audio_s"] / 60
    add(
        f"- **Subset:** {d['n']} of {d['available']} PriMock57 consultations "
        f"({', '.join(d['ids'])}), {minutes:.1f} minutes of audio in all."
        + (f" {d['subset_reason']}" if d.get("subset_reason") else "")
    )
    add(
        f"- **Machine:** {m['cpu_model']}, {m['logical_cores']} logical cores ({m['physical_cores']} physical), "
        f"{m['ram_gb']} GB RAM, {m['os']}; Python {m['python']}, ctranslate2 {m['versions'].get('ctranslate2')}, "
        f"faster-whisper {m['versions'].get('faster-whisper')}, onnxruntime {m['versions'].get('onnxruntime')}, "
        f"torch {m['versions'].get('torch')}."
    )
    add(
        f"- **Timings were taken on a shared 2-core VM** (load average at start {m['load_average_at_start']}); "
        "other processes may have used the CPU during the run, so RTFs are indicative, not precise."
    )
    command = report["command"]
    reason = d.get("subset_reason")
    if reason:  # shown above; keep the command readable
        command = command.replace(shlex.quote(reason), "'…'").replace(reason, "'…'")
    add(f"- **Run:** {report['date']}, `{command}`, {report['run_wall_s'] / 60:.1f} min wall.")
    add(
        f"- **Decoding:** language forced to `{report['language']}`, beam 5, word timestamps, Silero VAD "
        "(min silence 500 ms), no conditioning on previous text, Whisper's temperature fallback on (scribe's "
        "default: an earlier run of this benchmark with it off gave higher WER, e.g. 16.9% against 13.0% on "
        "day1_consultation01); CPU, one thread per core. "
        "RTF = wall seconds / audio seconds; model load is measured separately and not in the RTF."
    )
    add(
        "- **WER:** Whisper English normalisation; *pooled* = errors summed over consultations / reference "
        "words summed; *mean* = mean of per-consultation WERs. Term recall: occurrences of clinical terms "
        "in the reference that the hypothesis also has (pooled). Attribution: recognised words whose "
        "speaker matches the reference speaker at the word's midpoint."
    )
    add("")
    add("## Results")
    add("")
    add(
        "| config | input | speakers | WER pooled | WER mean | term recall | attribution | RTF ASR | RTF total "
        "| rejected | load s (+ warm-up s) | peak RSS MB |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in report["configs"]:
        entry = results.get(name)
        cfg = report["config_details"][name]
        if not entry or not entry["summary"].get("consultations"):
            err = (entry or {}).get("error", "not run")
            add(f"| {name} | {cfg['input']} | {cfg['speakers']} | failed: {err} |  |  |  |  |  |  |  |  |")
            continue
        s = entry["summary"]
        attr = pct(s.get("attribution"))
        add(
            f"| {name} | {cfg['input']} | {cfg['speakers']} | {pct(s['wer'], 2)} | {pct(s['wer_mean'], 2)} "
            f"| {pct(s['term_recall'])} ({s['term_hits']}/{s['term_total']}) | {attr} | {_num(s['rtf_asr'])} "
            f"| {_num(s['rtf'])} | {s.get('rejected', '–')} | {_load(entry)} "
            f"| {entry['peak_rss_bytes'] / 1e6:.0f} |"
        )
    add("")
    notes = []
    if "raw-faster-whisper" in results:
        notes.append(
            "`raw-faster-whisper` ran in the same worker as `base-int8` (same loaded model), so they "
            "share one peak RSS and load time."
        )
    if "base-int8-mono-text" in results:
        notes.append(
            "`base-int8-mono-text` reuses `base-int8-mono`'s recognition pass (only attribution "
            "differs); its RTF counts that pass plus its own attribution."
        )
    notes.append(
        "Load = Whisper model load; warm-up = one untimed decode of 15 s (loads Silero VAD, the batched "
        "pipeline) plus, where voice embeddings are used, loading and first use of the resemblyzer encoder. "
        "Neither counts in any RTF."
    )
    notes.append(
        "Mono inputs are the two channels summed (scaled only against clipping); stereo configs "
        "recognise the channel average and attribute words by channel energy."
    )
    durations = d.get("durations_s") or {}
    after_load = ", ".join(
        f"{n} {results[n]['rss_after_load_bytes'] / 1e6:.0f} MB"
        for n in report["configs"]
        if results.get(n, {}).get("rss_after_load_bytes")
    )
    notes.append(
        "Peak RSS is each worker's high-water mark (VmHWM): Python, imports (torch where voice embeddings are used), "
        "the model, the decoded recording and faster-whisper's features, which it computes for the whole recording "
        "at once, so peak RSS grows with recording length"
        + (f" (longest recording here: {max(durations.values()) / 60:.1f} min)" if durations else "")
        + (f". RSS right after model load: {after_load}." if after_load else ".")
    )
    for n in notes:
        add(f"- {n}")
    live = _summary(results, "live")
    if live:
        add("")
        add("## Live mode")
        add("")
        add(
            f"`live` feeds the mono audio in {report['chunk_seconds']:g} s chunks to `LiveTranscriber` as fast as it "
            "accepts them; latency is the wall time of `finish()` + `transcript()` after the last chunk, i.e. what "
            "the clinician waits after pressing stop."
        )
        add("")
        add("| consultation | audio s | wait after stop s | slowest feed() s | live wall / audio | WER |")
        add("|---|---|---|---|---|---|")
        for r in results["live"]["per_consultation"]:
            if "error" in r:
                add(f"| {r['id']} | {r['duration']:.0f} | failed: {r['error']} |  |  |  |")
                continue
            add(
                f"| {r['id']} | {r['duration']:.0f} | {r['latency_s']:.2f} | {r['slowest_feed_s']:.2f} "
                f"| {r['rtf']:.3f} | {pct(r['wer'], 2)} |"
            )
        add(
            f"| **all** | {live['audio_s']:.0f} | mean {live['latency_mean_s']:.2f}, max {live['latency_max_s']:.2f} "
            f"| {live['slowest_feed_s']:.2f} | {live['rtf']:.3f} | {pct(live['wer'], 2)} |"
        )
        add("")
        add(
            "*slowest feed()* is the longest one 0.5 s chunk was held while a stretch (8-28 s) was recognised; "
            "during a real consultation capture keeps buffering meanwhile, so the transcript on screen lags by "
            "up to that much. *live wall / audio* above 1 would mean live recognition cannot keep up."
        )
        file_mode = _summary(results, "base-int8-mono")
        if file_mode and "rejected" in live and "rejected" in file_mode:
            add("")
            add(
                f"The hallucination guards rejected {live['rejected']} segment(s) in live mode against "
                f"{file_mode['rejected']} for the same mono audio transcribed as a file (`base-int8-mono`); "
                "rejected segments are left out of the WER hypothesis, so rejections of real speech raise live WER."
            )
    over = report.get("overhead")
    if over:
        add("")
        add("## scribe overhead over raw faster-whisper")
        add("")
        add(
            f"Over {len(over['consultations'])} consultation(s): scribe `transcribe()` {over['scribe_wall_s']:.1f} s, "
            f"its ASR stage {over['scribe_asr_wall_s']:.1f} s, raw faster-whisper {over['raw_wall_s']:.1f} s: "
            f"overhead **{over['total']:+.1%}** (whole call), {over['asr_stage']:+.1%} (ASR stage only). "
            f"Per consultation: {', '.join(f'{k} {v:+.1%}' for k, v in over['per_consultation'].items())}. "
            f"{over['how'][:1].upper()}{over['how'][1:]}"
        )
        same = over.get("identical_text") or {}
        fallbacks = over.get("raw_fallback_segments") or {}
        if same:
            add("")
            add(
                "Recognised text identical to raw faster-whisper: "
                + ", ".join(
                    f"{k} {'yes' if v else 'no'}"
                    + (f" (raw re-decoded {fallbacks[k]} segment(s) by sampling)" if k in fallbacks else "")
                    for k, v in same.items()
                )
                + "."
            )
        add("")
        add(
            "Run-to-run noise: when a window's beam-search output looks wrong (compression ratio > 2.4 or mean "
            "log-probability < -1) faster-whisper decodes it again by *sampling* at temperatures 0.2-1.0, and "
            "CTranslate2 seeds its sampler per thread from a random device. Two runs of the same model on the same "
            "audio can therefore give different text, and once one window differs the following window boundaries "
            "move too; a fallback also costs extra decoding time. Differences between `base-int8` and "
            "`raw-faster-whisper` (WER, wall time) include this noise, not only scribe's own work; a few "
            "consultations cannot separate the two."
        )
    add("")
    add("## Targets")
    add("")
    lines += targets_markdown(report["targets"])
    add("")
    add("## Per consultation")
    add("")
    ids = d["ids"]
    add("WER (RTF total) per consultation:")
    add("")
    add("| config | " + " | ".join(ids) + " |")
    add("|---|" + "---|" * len(ids))
    for name in report["configs"]:
        entry = results.get(name)
        if not entry:
            continue
        by_id = {r["id"]: r for r in entry["per_consultation"]}
        cells = []
        for cid in ids:
            r = by_id.get(cid)
            cells.append("–" if r is None else "failed" if "error" in r else f"{pct(r['wer'], 2)} ({r['rtf']:.3f})")
        add(f"| {name} | " + " | ".join(cells) + " |")
    add("")
    add("## Configurations")
    add("")
    for name in report["configs"]:
        add(f"- `{name}`: {report['config_details'][name]['description']}.")
    add("")
    add(
        "Numbers on real speech will differ: TTS voices are clean, consistent and never mumble, overlap or "
        "hesitate, so WER here is not the WER a clinic will see; relative comparisons between configurations "
        "on the same audio are the useful part."
    )
    add("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Orchestration
# ------------------------------------------------------------------------------------------


def _groups(names: Sequence[str]) -> list[list[str]]:
    order: dict[str, list[str]] = {}
    for n in names:
        order.setdefault(CONFIGS[n].group, []).append(n)
    return list(order.values())


def _spawn_worker(
    names: Sequence[str], data_dir: Path, ids: Sequence[str], chunk: float, verbose: bool, hyp_dir: Path | None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_asr_") as tmp:
        out = Path(tmp) / "worker.json"
        cmd = (
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                ",".join(names),
                "--data",
                str(data_dir),
                "--ids",
                *ids,
                "--worker-out",
                str(out),
                "--chunk",
                str(chunk),
            ]
            + (["-v"] if verbose else [])
            + (["--hyp-dir", str(hyp_dir)] if hyp_dir else [])
        )
        started = time.perf_counter()
        proc = subprocess.run(cmd, check=False)
        if proc.returncode != 0 or not out.is_file():
            return {
                "error": f"worker exited with status {proc.returncode}",
                "worker_wall_s": time.perf_counter() - started,
            }
        return json.loads(out.read_text())


def build_report(
    *,
    configs: Sequence[str],
    workers: dict[str, dict[str, Any]],
    data_dir: Path,
    ids: Sequence[str],
    durations: dict[str, float],
    available: int,
    subset_reason: str | None,
    machine: dict[str, Any],
    command: str,
    run_wall: float,
    chunk: float,
    complete: bool,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in configs:
        w = workers.get(name)
        if w is None:
            continue
        if "error" in w:
            results[name] = {"error": w["error"], "per_consultation": [], "summary": {"consultations": 0}}
            continue
        recs = w["per_consultation"][name]
        results[name] = {
            "model": w["model"],
            "compute_type": w["compute_type"],
            "device": w["device"],
            "threads": w["threads"],
            "load_s": w["load_s"],
            "encoder_load_s": w["encoder_load_s"],
            "warmup_s": w.get("warmup_s"),
            "peak_rss_bytes": w["peak_rss_bytes"],
            "rss_after_load_bytes": w["rss_after_load_bytes"],
            "worker_configs": w["configs"],
            "worker_wall_s": w["worker_wall_s"],
            "load_average_before": w["load_average_before"],
            "load_average_after": w["load_average_after"],
            "summary": summarise(recs),
            "per_consultation": recs,
        }
    over = overhead(results)
    return {
        "synthetic": True,
        "notice": SYNTHETIC_STATEMENT,
        "complete": complete,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "run_wall_s": run_wall,
        "machine": machine,
        "language": LANGUAGE,
        "chunk_seconds": chunk,
        "data": {
            "dir": os.path.relpath(data_dir, REPO) if data_dir.is_relative_to(REPO) else str(data_dir),
            "ids": list(ids),
            "n": len(ids),
            "available": available,
            "durations_s": durations,
            "total_audio_s": sum(durations.values()),
            "subset_reason": subset_reason,
            "source": "PriMock57 (babylonhealth/primock57), Korfiatis et al., ACL 2022, CC BY 4.0; "
            "SYNTHETIC TTS renders by scripts/synth_consultation.py",
        },
        "configs": list(configs),
        "config_details": {n: asdict(CONFIGS[n]) for n in configs},
        "results": results,
        "overhead": over,
        "targets": evaluate_targets(results, over),
    }


def print_table(report: dict[str, Any]) -> None:
    results = table(
        f"ASR benchmark on SYNTHETIC TTS audio: {report['data']['n']} consultation(s), "
        f"{report['data']['total_audio_s'] / 60:.1f} min",
        (
            "config",
            "WER pooled",
            "WER mean",
            "terms",
            "attrib.",
            "RTF asr",
            "RTF total",
            "rejected",
            "load s",
            "peak RSS MB",
            "live wait s",
        ),
    )
    for name in report["configs"]:
        entry = report["results"].get(name)
        if not entry or not entry["summary"].get("consultations"):
            results.add_row(name, "failed", *[""] * 9)
            continue
        s = entry["summary"]
        results.add_row(
            name,
            pct(s["wer"], 2),
            pct(s["wer_mean"], 2),
            pct(s["term_recall"]),
            pct(s.get("attribution")),
            _num(s["rtf_asr"]),
            _num(s["rtf"]),
            str(s.get("rejected", "–")),
            _load(entry),
            f"{entry['peak_rss_bytes'] / 1e6:.0f}",
            _num(s.get("latency_max_s"), "{:.2f}"),
        )
    out = console(width=170)
    out.print(results)
    over = report.get("overhead")
    if over:
        out.print(f"scribe overhead over raw faster-whisper: {over['total']:+.1%} (ASR stage {over['asr_stage']:+.1%})")
    out.print(targets_table(report["targets"]))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of {id}_stereo/mono/reference files")
    p.add_argument("--ids", nargs="+", help="consultation ids (default: all 25 PriMock57 consultations)")
    p.add_argument("--limit", type=int, help="only the first N ids")
    p.add_argument("--configs", help=f"comma-separated; default all: {','.join(CONFIGS)}")
    p.add_argument("--out", type=Path, help=f"JSON path (default {DEFAULT_OUT.relative_to(REPO)})")
    p.add_argument("--markdown", type=Path, help="markdown path (default: --out with .md)")
    p.add_argument("--quick", action="store_true", help="smoke test: --limit 1, tiny.en-int8 only")
    p.add_argument("--chunk", type=float, default=0.5, help="live chunk seconds (default 0.5)")
    p.add_argument("--subset-reason", help="why a subset was used (goes into the markdown)")
    p.add_argument("--markdown-only", action="store_true", help="regenerate the markdown from the JSON and stop")
    p.add_argument("--hyp-dir", type=Path, help="also write each recognised transcript here (for inspection)")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    data_dir = args.data.resolve()

    if args.worker:
        if not args.worker_out or not args.ids:
            raise SystemExit("--worker needs --worker-out and --ids")
        result = run_worker(args.worker.split(","), data_dir, args.ids, args.chunk, args.hyp_dir)
        args.worker_out.write_text(json.dumps(result), encoding="utf-8")
        return 0

    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    markdown = args.markdown or out.with_suffix(".md")
    if args.markdown_only:
        report = json.loads(out.read_text(encoding="utf-8"))
        write_text_atomic(markdown, render_markdown(report))
        print_table(report)
        return 0

    names = (
        [n.strip() for n in args.configs.split(",")]
        if args.configs
        else (list(QUICK_CONFIGS) if args.quick else list(CONFIGS))
    )
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown config(s) {unknown}; choose from {', '.join(CONFIGS)}")
    names = [n for n in CONFIGS if n in names]  # canonical order
    all_ids = default_ids(data_dir)
    ids = list(args.ids) if args.ids else all_ids
    limit = 1 if args.quick and args.limit is None else args.limit
    if limit is not None:
        ids = ids[:limit]
    if not ids:
        raise SystemExit(f"no consultations: nothing in {data_dir} and no PriMock57 transcripts to render")
    available = max(len(all_ids), len(ids))

    # the 10 dB noisy mix is made in memory where no file holds it; a consultation rendered now gets its file
    need_noise = any(CONFIGS[n].input == "mono_snr10" for n in names)
    render_missing(data_dir, ids, noise_snrs=[NOISE_SNR] if need_noise else [])
    durations = {cid: float(load_reference(synth_paths(data_dir, cid)["reference"])["duration"]) for cid in ids}
    subset_reason = args.subset_reason
    if subset_reason is None and len(ids) < available:
        subset_reason = f"A subset ({len(ids)} of {available}) was measured."
    machine = machine_facts(SCRIBE_PACKAGES)
    command = shlex.join(["python", "scripts/bench_asr.py", *(sys.argv[1:] if argv is None else argv)])
    log.info(
        "benchmarking %s on %d consultation(s), %.1f min of SYNTHETIC audio",
        ", ".join(names),
        len(ids),
        sum(durations.values()) / 60,
    )

    started = time.perf_counter()
    workers: dict[str, dict[str, Any]] = {}
    groups = _groups(names)
    for number, group in enumerate(groups, start=1):
        log.info("worker %d/%d: %s", number, len(groups), ", ".join(group))
        result = _spawn_worker(group, data_dir, ids, args.chunk, args.verbose, args.hyp_dir)
        for n in group:
            workers[n] = result
        report = build_report(
            configs=names,
            workers=workers,
            data_dir=data_dir,
            ids=ids,
            durations=durations,
            available=available,
            subset_reason=subset_reason,
            machine=machine,
            command=command,
            run_wall=time.perf_counter() - started,
            chunk=args.chunk,
            complete=number == len(groups),
        )
        # after every worker, so a cut-short run keeps its results
        write_outputs(out, report, markdown, render_markdown(report))
    print_table(report)
    log.info("wrote %s and %s", out, markdown)
    failed = [n for n in names if not report["results"].get(n, {}).get("summary", {}).get("consultations")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
