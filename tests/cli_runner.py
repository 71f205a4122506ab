"""Run the `scribe` command line in a subprocess with a private data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def scribe(*args: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m scribe ARGS` with its data in ``tmp_path`` and no site configuration file."""
    environment = {
        **os.environ,
        "SCRIBE_DATA_DIR": str(tmp_path / "data"),
        "SCRIBE_CONFIG": str(tmp_path / "none.toml"),
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "scribe", *args], capture_output=True, text=True, env=environment, timeout=600
    )
