#!/usr/bin/env python3
"""Benchmark the review app: review-page render time, and many clinicians at once.

Runs a real ``scribe serve`` (uvicorn, no background worker) on 127.0.0.1 over a fresh encrypted
store in a temporary folder, filled with SYNTHETIC consultations built from the hand-written knee
consultation in ``tests/data`` (lines repeated until the transcript spans ``--minutes``), each with a
note of every gp-template section citing evidence across the whole transcript. No model runs.

- Render: the review page of one 20-minute consultation fetched ``--renders`` times in a row by a
  signed-in clinician; wall time per request on loopback (server render + transfer). Target <= 300 ms.
- Load: ``--clinicians`` users, each with their own consultation, for ``--seconds``: each loops over
  the list page, the review page, an edit form, an edit, and an active-review heartbeat, with
  ``--think`` seconds between requests. Reports errors and p50/p95/max latency per request kind.

Writes ``docs/benchmarks/review.json`` and ``docs/benchmarks/review.md`` and prints a table.

Usage::

    .venv/bin/python scripts/bench_review.py                     # 20 min, 20 clinicians, 60 s
    .venv/bin/python scripts/bench_review.py --seconds 10 --clinicians 4 --out /tmp/review
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from benchkit import (
    CSRF_FIELD,
    CSRF_META,
    REPO,
    SCRIBE_PACKAGES,
    console,
    latency_summary,
    machine_facts,
    review_server,
    table,
    write_outputs,
)

from scribe.config import load_settings
from scribe.notes.inputs import load_transcript
from scribe.notes.templates import load_template
from scribe.records import NoteDraft, NoteSection, Segment, Statement, Transcript
from scribe.rows import Consent, ConsultationStatus, PatientDetails, Role
from scribe.store import open_store
from scribe.store.accounts import hash_password
from scribe.store.store import Store

KNEE = REPO / "tests" / "data" / "knee_consultation.json"
PASSWORD = "bench-password-not-secret"
log = logging.getLogger("bench_review")


def synthetic_transcript(minutes: float) -> Transcript:
    """The knee consultation's lines repeated, back to back, until the transcript spans ``minutes``."""
    base = load_transcript(KNEE).segments
    span = base[-1].end + 1.0
    segments: list[Segment] = []
    offset = 0.0
    while offset < minutes * 60:
        for s in base:
            if offset + s.end > minutes * 60:
                break
            segments.append(
                s.model_copy(update={"id": len(segments), "start": offset + s.start, "end": offset + s.end})
            )
        offset += span
    return Transcript(segments=segments, duration=minutes * 60, language="en", speaker_method="channel")


def synthetic_note(transcript: Transcript, per_section: int = 5) -> NoteDraft:
    """A gp-template note whose statements quote lines spread over the whole transcript (some flagged)."""
    template = load_template("gp")
    n = len(transcript.segments)
    sections = []
    k = 0
    for spec in template.sections:
        statements = []
        for _ in range(per_section):
            seg = transcript.segments[(k * 7919) % n]
            k += 1
            supported = k % 9 != 0
            statements.append(
                Statement(
                    text=seg.text,
                    evidence=[seg.id],
                    supported=supported,
                    reason="quoted" if supported else "synthetic flag for the benchmark",
                )
            )
        sections.append(NoteSection(key=spec.key, title=spec.title, statements=statements))
    return NoteDraft(template="gp", title=template.title, sections=sections, model="synthetic", backend="none")


def fill_store(store: Store, clinicians: int, minutes: float) -> list[tuple[str, str]]:
    """Create ``clinicians`` users, each owning one drafted consultation; returns (username, consultation id)."""
    transcript = synthetic_transcript(minutes)
    note = synthetic_note(transcript)
    password_hash = hash_password(PASSWORD)
    made = []
    for i in range(clinicians):
        name = f"clin{i:02d}"
        user = store.users.create(name, f"Dr Bench {i:02d}", Role.CLINICIAN, password_hash, totp_required=False)
        c = store.consultations.create(user.id, "gp", PatientDetails(name=f"Synthetic Patient {i}", reason="knee pain"))
        store.consultations.set_consent(c.id, Consent(informed=True, agreed=True, recorded_by=user.id))
        store.notes.put_transcript(c.id, transcript)
        store.notes.add_version(c.id, note, created_by=None)
        store.consultations.set_status(c.id, ConsultationStatus.DRAFTED)
        made.append((user.username, c.id))
    return made


async def sign_in(client: httpx.AsyncClient, username: str) -> str:
    """Sign in; returns the session's CSRF token."""
    page = await client.get("/login")
    token = CSRF_FIELD.search(page.text).group(1)
    done = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"}
    )
    home = await client.get("/")
    match = CSRF_META.search(home.text)
    if done.status_code >= 400 or match is None:
        raise SystemExit(f"sign-in failed for {username}: HTTP {done.status_code}")
    return match.group(1)


@dataclass
class Latencies:
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, seconds: float, ok: bool) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)
        if not ok:
            self.errors[kind] = self.errors.get(kind, 0) + 1


async def timed(client: httpx.AsyncClient, lat: Latencies, kind: str, method: str, url: str, **kw) -> httpx.Response:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kw)
        ok = response.status_code < 400
    except httpx.HTTPError:
        response, ok = None, False
    lat.add(kind, time.perf_counter() - started, ok)
    return response


async def measure_render(base: str, username: str, cid: str, renders: int) -> list[float]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await sign_in(client, username)
        lat = Latencies()
        await timed(client, lat, "warm-up", "GET", f"/consultations/{cid}")
        for _ in range(renders):
            await timed(client, lat, "review", "GET", f"/consultations/{cid}")
        if lat.errors:
            raise SystemExit(f"review page failed: {lat.errors}")
        return lat.by_kind["review"]


async def clinician(base: str, username: str, cid: str, until: float, think: float, lat: Latencies) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        csrf = await sign_in(client, username)
        headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        turn = 0
        while time.monotonic() < until:
            await timed(client, lat, "list", "GET", "/")
            await asyncio.sleep(think)
            await timed(client, lat, "review", "GET", f"/consultations/{cid}")
            await asyncio.sleep(think)
            key, index = "plan", turn % 5
            await timed(
                client, lat, "edit-form", "GET", f"/consultations/{cid}/statements/{key}/{index}/edit", headers=headers
            )
            await asyncio.sleep(think)
            text = f"Statement revised by the clinician, turn {turn}."
            await timed(
                client,
                lat,
                "edit",
                "POST",
                f"/consultations/{cid}/statements/{key}/{index}",
                data={"text": text, "version": "1", "csrf_token": csrf},
                headers=headers,
            )
            await asyncio.sleep(think)
            await timed(
                client,
                lat,
                "heartbeat",
                "POST",
                f"/consultations/{cid}/heartbeat",
                data={"csrf_token": csrf},
                headers=headers,
            )
            await asyncio.sleep(think)
            turn += 1


async def load(base: str, made: list[tuple[str, str]], seconds: float, think: float) -> Latencies:
    lat = Latencies()
    # Sign-ins (Argon2id, 64 MiB each) happen before the clock starts.
    until = time.monotonic() + seconds + 5.0
    await asyncio.gather(*(clinician(base, u, c, until, think, lat) for u, c in made))
    return lat


def markdown(result: dict) -> str:
    r, m = result["render"], result["machine"]
    lines = [
        "# Review app benchmark",
        "",
        f"Command: `{result['command']}`. Date: {result['date']}. Machine: {m['logical_cores']} cores, "
        f"{m['cpu_model']}, {m['ram_gb']} GB RAM, Python {m['python']}.",
        "",
        "SYNTHETIC data: the hand-written knee consultation's lines repeated to "
        f"{result['minutes']:.0f} minutes ({result['segments']} segments) and a note of "
        f"{result['statements']} statements; a real `scribe serve` (uvicorn, one process) on 127.0.0.1 over an "
        "encrypted SQLite store. Times are wall time per request seen by the client on loopback; the "
        "load generator (one asyncio process) runs on the same cores as the server.",
        "",
        "## Review page render",
        "",
        "| renders | p50 ms | p95 ms | max ms | target |",
        "|---:|---:|---:|---:|---|",
        f"| {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | p50 <= 300 ms: "
        f"{'met' if r['p50_ms'] <= 300 else 'NOT met'} |",
        "",
        f"## {result['clinicians']} clinicians for {result['seconds']:.0f} s (think time {result['think']} s)",
        "",
        "| request | n | errors | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, s in result["load"].items():
        lines.append(f"| {kind} | {s['n']} | {s['errors']} | {s['p50_ms']} | {s['p95_ms']} | {s['max_ms']} |")
    lines += [
        "",
        f"Total requests {result['requests']}, errors {result['errors']}, "
        f"throughput {result['requests_per_second']} requests/s.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="Length of each synthetic consultation.")
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--clinicians", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=0.5, help="Seconds between one clinician's requests.")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks", help="Where review.json/.md go.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="scribe-bench-review-") as tmp:
        key_file = Path(tmp) / "store.key"
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)
        env = {**os.environ, "SCRIBE_DATA_DIR": str(Path(tmp) / "data"), "SCRIBE_STORE_KEY_FILE": str(key_file)}
        settings = load_settings(data_dir=Path(tmp) / "data", store_key_file=key_file)
        store = open_store(settings)
        made = fill_store(store, args.clinicians, args.minutes)
        transcript = store.notes.get_transcript(made[0][1])
        statements = sum(len(s.statements) for s in store.notes.get_version(made[0][1]).note.sections)
        store.close()

        with review_server(env) as base:
            renders = asyncio.run(measure_render(base, *made[0], args.renders))
            started = time.monotonic()
            lat = asyncio.run(load(base, made, args.seconds, args.think))
            elapsed = time.monotonic() - started

    requests = sum(len(v) for v in lat.by_kind.values())
    errors = sum(lat.errors.values())
    result = {
        "command": " ".join(["scripts/bench_review.py", *sys.argv[1:]]),
        "machine": machine_facts(SCRIBE_PACKAGES),
        "date": time.strftime("%Y-%m-%d"),
        "minutes": args.minutes,
        "segments": len(transcript.segments),
        "statements": statements,
        "render": latency_summary(renders),
        "clinicians": args.clinicians,
        "seconds": args.seconds,
        "think": args.think,
        "load": {k: {**latency_summary(v), "errors": lat.errors.get(k, 0)} for k, v in lat.by_kind.items()},
        "requests": requests,
        "errors": errors,
        "requests_per_second": round(requests / elapsed, 1),
    }
    write_outputs(args.out / "review.json", result, args.out / "review.md", markdown(result))

    rows = table(
        f"review app: {args.clinicians} clinicians, {args.minutes:.0f}-min SYNTHETIC consultations",
        ("request", "n", "errors", "p50 ms", "p95 ms", "max ms"),
    )
    r = result["render"]
    rows.add_row("review page (alone)", str(r["n"]), "0", str(r["p50_ms"]), str(r["p95_ms"]), str(r["max_ms"]))
    for kind, s in result["load"].items():
        rows.add_row(kind, str(s["n"]), str(s["errors"]), str(s["p50_ms"]), str(s["p95_ms"]), str(s["max_ms"]))
    console().print(rows)
    console().print(f"wrote {args.out / 'review.json'} and {args.out / 'review.md'}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
