"""A real OpenAI-compatible server for tests: llama-cpp-python's own ``llama_cpp.server`` on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup_seconds
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"llama_cpp.server exited with {server.returncode}:\n{_tail(log)}")
                try:
                    if httpx.get(f"{base_url}/models", headers=headers, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not answer in {startup_seconds} s:\n{_tail(log)}")
                time.sleep(0.25)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _tail(log: IO[bytes], size: int = 4000) -> str:
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")[-size:]
