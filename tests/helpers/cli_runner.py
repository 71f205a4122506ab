"""Run the `scribe` command line in a subprocess with a private data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_environment(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with scribe's data in ``tmp_path``, no site configuration file, then ``env``."""
    return {
        **os.environ,
        "SCRIBE_DATA_DIR": str(tmp_path / "data"),
        "SCRIBE_CONFIG": str(tmp_path / "none.toml"),
        **(env or {}),
    }


def scribe(*args: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m scribe ARGS` with its data in ``tmp_path`` and no site configuration file."""
    return subprocess.run(
        [sys.executable, "-m", "scribe", *args],
        capture_output=True,
        text=True,
        env=cli_environment(tmp_path, env),
        timeout=600,
    )
