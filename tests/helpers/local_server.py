"""Start a real server process on 127.0.0.1 for a test, wait until it answers, stop it after."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(log: IO[bytes], size: int = 4000) -> str:
    """The last ``size`` characters a server wrote to ``log``."""
    log.seek(0)
    return log.read().decode("utf-8", errors="replace")[-size:]


@contextmanager
def running_server(
    command: Sequence[str],
    ready_url: str,
    name: str,
    *,
    env: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    startup_seconds: float = 60.0,
    cwd: Path | None = None,
    log: IO[bytes] | None = None,
) -> Iterator[subprocess.Popen]:
    """Run ``command``; yield once ``GET ready_url`` answers 200; terminate (then kill) it after.

    Output goes to ``log`` (a temporary file when not given). Raises RuntimeError with the server's
    output if it exits or does not answer within ``startup_seconds``.
    """
    with tempfile.TemporaryFile() if log is None else nullcontext(log) as out:
        server = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup_seconds
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"{name} exited with {server.returncode}:\n{tail(out)}")
                try:
                    if httpx.get(ready_url, headers=headers, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer in {startup_seconds:g} s:\n{tail(out)}")
                time.sleep(0.2)
            yield server
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
