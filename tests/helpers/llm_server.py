"""A real OpenAI-compatible server for tests: llama-cpp-python's own ``llama_cpp.server`` on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.local_server import free_port, running_server


@contextmanager
def llm_server(
    model: Path,
    *,
    n_ctx: int = 2048,
    api_key: str | None = None,
    threads: int | None = None,
    startup_seconds: float = 120.0,
) -> Iterator[str]:
    """Serve ``model`` (a GGUF file) and yield the base URL (``http://127.0.0.1:PORT/v1``); stop it after.

    Waits until ``GET /v1/models`` answers; raises RuntimeError with the server's log if it exits
    or does not answer within ``startup_seconds``.
    """
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_ctx", str(n_ctx), "--verbose", "False"]
    if api_key:
        command += ["--api_key", api_key]
    if threads:
        command += ["--n_threads", str(threads)]
    base_url = f"http://127.0.0.1:{port}/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with running_server(
        command, f"{base_url}/models", "llama_cpp.server", headers=headers, startup_seconds=startup_seconds
    ):
        yield base_url
