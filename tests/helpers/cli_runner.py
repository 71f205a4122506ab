"""Run the `scribe` command line with a private data directory: in-process, or in a subprocess where needed.

``scribe`` invokes the app in this process (no interpreter start, models already loaded stay
loaded), with the same exit codes and stderr lines a user sees: the root group turns a
ScribeError into one line and its exit code. ``scribe_subprocess`` runs ``python -m scribe`` for
what only a separate process shows (the console entry point, signals, a server).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import TextIO

from typer.testing import CliRunner

from scribe.cli import cli_app


def cli_overrides(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """What the CLI's environment adds: scribe's data in ``tmp_path``, no site configuration file, then ``env``."""
    return {"SCRIBE_DATA_DIR": str(tmp_path / "data"), "SCRIBE_CONFIG": str(tmp_path / "none.toml"), **(env or {})}


def cli_environment(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with :func:`cli_overrides` applied (for subprocesses)."""
    return {**os.environ, **cli_overrides(tmp_path, env)}


class _CurrentStderr(logging.StreamHandler):
    """Writes log records to whatever ``sys.stderr`` is at the time (the runner swaps it per invocation)."""

    @property  # type: ignore[override]  # the base class stores the stream; this one looks it up each time
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def scribe(*args: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`scribe ARGS` in this process, as a CompletedProcess (returncode, stdout, stderr)."""
    root = logging.getLogger()
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO if {"-v", "--verbose"} & set(args) else logging.WARNING)
    try:
        result = CliRunner().invoke(cli_app(), list(args), env=cli_overrides(tmp_path, env))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))  # what the interpreter would print
    return subprocess.CompletedProcess(["scribe", *args], result.exit_code, result.stdout, stderr)


def scribe_subprocess(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m scribe ARGS` in a subprocess with its data in ``tmp_path`` and no site configuration file."""
    return subprocess.run(
        [sys.executable, "-m", "scribe", *args],
        capture_output=True,
        text=True,
        env=cli_environment(tmp_path, env),
        timeout=600,
    )
