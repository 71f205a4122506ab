"""What the benchmark and demo scripts share, so that none of them imports another.

- outputs: the JSON report and its Markdown, each written atomically;
- tables (rich) and the targets: one verdict, one Markdown table, one rich table;
- percentiles and latency summaries; peak RSS (high-water mark) and an RSS sampler thread;
- machine facts with the versions of the packages a benchmark names;
- servers: a free port, ``scribe serve`` for the review app, the in-memory test FHIR server;
- the SYNTHETIC renders' paths, and the tool scripts (``synth_consultation``, ``oneshot_note``).

Scripts import it as ``import benchkit``: a script run as ``python scripts/NAME.py`` has scripts/
on ``sys.path`` already (tests load scripts with ``tests/helpers/script_loader.py``, which does the
same). scripts/ is not a package.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import os
import platform
import queue
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from scribe.fileio import write_text_atomic

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
FHIR_SERVER_DIR = REPO / "tests" / "fhir_server"
FHIR_READY = re.compile(r"FHIR server listening on (http://\S+)")
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SCRIBE_PACKAGES = (
    "scribe",
    "ctranslate2",
    "faster-whisper",
    "onnxruntime",
    "numpy",
    "torch",
    "resemblyzer",
    "jiwer",
)
log = logging.getLogger("benchkit")


def tool(name: str) -> ModuleType:
    """The tool script ``scripts/NAME.py`` (``synth_consultation``, ``oneshot_note``) as a module."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)


# ------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------


def write_outputs(json_path: Path, report: Any, markdown_path: Path, markdown: str, *, indent: int = 2) -> None:
    """The report as JSON and its Markdown, each replaced atomically (a cut-short run never leaves half a file)."""
    write_text_atomic(json_path, json.dumps(report, indent=indent) + "\n")
    write_text_atomic(markdown_path, markdown)


def say(text: str) -> None:
    """One line of a demo's narrative on stdout, flushed (it interleaves with the scribe commands' output)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_scribe(env: dict[str, str], *args: str) -> None:
    """Run the ``scribe`` command of this environment with ``args``; raises if it fails."""
    scribe = Path(sys.executable).with_name("scribe")
    subprocess.run([str(scribe), *args], env={**env, "COLUMNS": "160"}, check=True)


# ------------------------------------------------------------------------------------------
# Tables and targets
# ------------------------------------------------------------------------------------------


def console(width: int | None = None) -> Console:
    """A rich console; ``width`` when the output is not a terminal (a log file keeps wide tables whole)."""
    return Console() if width is None or sys.stdout.isatty() else Console(width=width)


def table(title: str, columns: Sequence[str]) -> Table:
    """A rich table whose first column is left-aligned and the others, numbers, right-aligned."""
    out = Table(title=title)
    for index, column in enumerate(columns):
        out.add_column(column, justify="left" if index == 0 else "right")
    return out


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage, "–" when not measured."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def target(name: str, threshold: str, value: float | None, passed: bool | None, shown: str) -> dict[str, Any]:
    """One target of a report: ``passed`` is None where it was not measured."""
    return {"target": name, "threshold": threshold, "value": value, "passed": passed, "shown": shown}


def at_most(value: float | None, limit: float) -> bool | None:
    """``value <= limit``, None when not measured."""
    return None if value is None else value <= limit


def verdict(entry: dict[str, Any], fail: str = "FAIL") -> str:
    """PASS/FAIL for a target, yes/no for a finding (named "(finding, ...)"), n/a when it was not measured."""
    if entry["passed"] is None:
        return "n/a"
    if "(finding" in entry["target"]:
        return "yes" if entry["passed"] else "no"
    return "PASS" if entry["passed"] else fail


def targets_markdown(targets: Iterable[dict[str, Any]]) -> list[str]:
    """The targets as a Markdown table (a failure in bold)."""
    lines = ["| target | threshold | measured | result |", "|---|---|---|---|"]
    lines += [f"| {t['target']} | {t['threshold']} | {t['shown']} | {verdict(t, fail='**FAIL**')} |" for t in targets]
    return lines


def targets_table(targets: Iterable[dict[str, Any]]) -> Table:
    """The targets as a rich table."""
    out = Table(title="Targets")
    for column in ("target", "threshold", "measured", "result"):
        out.add_column(column)
    for t in targets:
        out.add_row(t["target"], t["threshold"], t["shown"], verdict(t))
    return out


# ------------------------------------------------------------------------------------------
# Percentiles and timing summaries
# ------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Count, p50, p95 and max of request times, in milliseconds to 0.1."""
    return {
        "n": len(seconds),
        "p50_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


# ------------------------------------------------------------------------------------------
# Memory
# ------------------------------------------------------------------------------------------


def peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux: ``VmHWM`` of /proc/self/status, the peak of this program's own address space.
    ``ru_maxrss`` is not used there: a child inherits its parent's value across fork and exec, so a
    worker started by a large process (pytest holding a model) would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


class RssSampler:
    """Samples this process's resident set size in a thread; ``peak`` is the largest seen."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak = 0

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self._process.memory_info().rss)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------------------------------
# Machine facts
# ------------------------------------------------------------------------------------------


def package_version(dist: str) -> str | None:
    """The installed version of the distribution ``dist``, None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts(packages: Sequence[str]) -> dict[str, Any]:
    """CPU, cores, memory, OS, Python, the versions of ``packages`` and the load when the run started."""
    import psutil

    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {dist: package_version(dist) for dist in packages},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "shared": "shared 2-core VM: other processes (tests, renders) may have been using the CPU during the run",
    }


# ------------------------------------------------------------------------------------------
# SYNTHETIC renders (scripts/synth_consultation.py)
# ------------------------------------------------------------------------------------------


def synth_paths(data_dir: Path, cid: str) -> dict[str, Path]:
    """The renders of one consultation: stereo, mono, mono with noise at 10 dB SNR, and the reference."""
    return {
        "stereo": data_dir / f"{cid}_stereo.flac",
        "mono": data_dir / f"{cid}_mono.flac",
        "mono_snr10": data_dir / f"{cid}_mono_snr10.flac",
        "reference": data_dir / f"{cid}_reference.json",
    }


def render_missing(data_dir: Path, ids: Sequence[str], noise_snrs: Sequence[float] = ()) -> None:
    """Render (SYNTHETIC) each consultation whose stereo, mono or reference file is missing."""
    for cid in ids:
        paths = synth_paths(data_dir, cid)
        missing = [k for k in ("stereo", "mono", "reference") if not paths[k].is_file()]
        if missing:
            log.info("%s: rendering SYNTHETIC audio into %s (missing %s)", cid, data_dir, ", ".join(missing))
            tool("synth_consultation").render_to_files(cid, data_dir, noise_snrs=list(noise_snrs))


# ------------------------------------------------------------------------------------------
# Servers
# ------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def review_server(env: dict[str, str], startup_seconds: float = 60.0) -> Iterator[str]:
    """``scribe serve --no-worker`` with ``env`` on a free port of 127.0.0.1; yields its base URL, stops it after."""
    port = free_port()
    scribe = Path(sys.executable).with_name("scribe")
    command = [str(scribe), "serve", "--port", str(port), "--no-worker"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if server.poll() is not None:
                raise SystemExit(f"scribe serve exited: {server.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"scribe serve did not start within {startup_seconds:.0f} s") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class FhirServer:
    """A FHIR server; ``process`` and ``tail`` (its last output lines) when a script started it."""

    url: str
    process: subprocess.Popen | None = None
    tail: list[str] = field(default_factory=list)

    def gone(self) -> str | None:
        """Why the server a script started is no longer running (exit status, last output), or None."""
        if self.process is None or self.process.poll() is None:
            return None
        output = "\n".join(self.tail) or "(none)"
        return (
            f"the test FHIR server exited with status {self.process.returncode} during the run; its output:\n{output}"
        )


@contextmanager
def local_fhir_server(timeout: float = 60.0) -> Iterator[FhirServer]:
    """Start ``tests/fhir_server/server.mjs`` on a free port of 127.0.0.1; yields it, stops it after."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("Node.js is not installed: the test FHIR server needs node >= 20.19 (or pass --server URL)")
    if not (FHIR_SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise SystemExit("the test FHIR server's npm packages are missing: run `make` (npm ci in tests/fhir_server)")
    env = {k: v for k, v in os.environ.items() if k != "SCRIBE_FHIR_FAULTS"}  # no injected faults here
    command = [node, str(FHIR_SERVER_DIR / "server.mjs"), "--port", "0", "--host", "127.0.0.1"]
    server = subprocess.Popen(
        command, cwd=FHIR_SERVER_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()
    tail: list[str] = []

    def drain() -> None:  # reads until the server exits, so its pipe never fills
        for line in server.stdout:
            tail.append(line.rstrip())
            del tail[:-40]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SystemExit(f"the FHIR server did not start within {timeout:.0f} s") from None
            if line is None:
                raise SystemExit("the FHIR server exited:\n" + "\n".join(tail))
            if match := FHIR_READY.search(line):
                break
        log.info("test FHIR server at %s (pid %d)", match.group(1), server.pid)
        yield FhirServer(match.group(1), server, tail)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
