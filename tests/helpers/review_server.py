"""A real `scribe serve` on 127.0.0.1 over a fresh encrypted store, for browser and load tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from helpers.cli_runner import cli_environment, scribe
from helpers.local_server import free_port, running_server

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery staple"


@dataclass
class ReviewServer:
    url: str
    data_dir: Path
    log: Path
    consultation_id: str = ""

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def review_server(tmp_path: Path, clinicians: list[str]) -> Iterator[ReviewServer]:
    """Create a key and clinician accounts with the CLI, start `scribe serve` with its worker, stop it after.

    Whisper tiny.en and SmolLM2-135M keep the pipeline fast; the model cache is the test session's.
    """
    key_file = tmp_path / "store.key"
    env = {
        "SCRIBE_STORE_KEY_FILE": str(key_file),
        "SCRIBE_ASR_MODEL": "whisper-tiny.en",
        "SCRIBE_LLM_MODEL": "smollm2-135m-instruct",
        "SCRIBE_LLM_CONTEXT": "4096",
        "SCRIBE_LLM_MAX_TOKENS": "160",
        "SCRIBE_DRAFT_LETTERS": "false",
    }
    made = scribe("store", "init-key", tmp_path=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    for name in clinicians:
        added = subprocess.run(
            [sys.executable, "-m", "scribe", "users", "add", name, "--name", f"Dr {name.title()} Test",
             "--role", "clinician", "--password-stdin"],
            input=PASSWORD, capture_output=True, text=True, timeout=120,
            env=cli_environment(tmp_path, env),
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    port = free_port()
    log = tmp_path / "server.log"
    environment = cli_environment(tmp_path, env)
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "scribe", "-v", "serve", "--port", str(port)]
    with log.open("w+b") as out, running_server(command, f"{url}/login", "scribe serve", env=environment, log=out,
                                                 startup_seconds=90):  # fmt: skip
        yield ReviewServer(url=url, data_dir=tmp_path / "data", log=log)
