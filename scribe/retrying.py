"""Retrying HTTP calls that fail for a moment: exponential backoff with jitter, ``Retry-After`` honoured.

Shared by every client scribe has for another server (an OpenAI-compatible LLM server, a FHIR
server). A call marks what is worth another try by raising :class:`Transient`; anything else
propagates at once. tenacity runs the loop; the pause is ours (:meth:`Backoff.pause`): what the
server asked for, capped, else exponential backoff with seeded jitter.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import tenacity

log = logging.getLogger(__name__)

MAX_WAIT = 60.0
"""Longest pause between tries, whatever ``Retry-After`` asks."""
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
"""HTTP statuses a retry may change."""
T = TypeVar("T")


class Transient(Exception):
    """One try failed in a way worth another; ``wait`` is what the server asked for, if anything."""

    def __init__(self, problem: str, *, timeout: bool = False, wait: float | None = None) -> None:
        super().__init__(problem)
        self.timeout = timeout
        self.wait = wait


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (``Retry-After`` as seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
    except (TypeError, ValueError):
        return None


def transport_failure(exc: httpx.TransportError) -> Transient:
    """A timeout or a connection failure as a :class:`Transient`."""
    if isinstance(exc, httpx.TimeoutException):
        return Transient(f"timed out: {type(exc).__name__}", timeout=True)
    return Transient(f"cannot reach the server: {exc or type(exc).__name__}")


class Backoff:
    """How often and how long to retry: ``retries`` tries after the first, the n-th after ~``base * 2**(n-1)`` s."""

    def __init__(
        self,
        retries: int = 3,
        base: float = 0.5,
        *,
        seed: int | None = 0,
        max_wait: float = MAX_WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        self.retries = retries
        self.base = base
        self.max_wait = max_wait
        self._jitter = random.Random(seed)
        self._sleep = sleep

    @property
    def tries(self) -> int:
        """Tries in all, the first included."""
        return self.retries + 1

    def pause(self, attempt: int, asked: float | None = None) -> float:
        """Seconds to wait after try ``attempt``: what the server asked for (capped), else backoff with jitter."""
        if asked is not None:
            return min(max(asked, 0.0), self.max_wait)
        return min(self.base * 2 ** (attempt - 1) * self._jitter.uniform(0.5, 1.5), self.max_wait)

    def run(
        self,
        what: str,
        attempt_once: Callable[[int], T],
        on_failure: Callable[[int, Transient], None] | None = None,
    ) -> T:
        """``attempt_once(attempt)`` until it succeeds; the last :class:`Transient` is raised when tries run out.

        ``on_failure(attempt, exc)`` hears of every transient failure (the last included), e.g. to
        audit each attempt. Anything but a :class:`Transient` propagates at once.
        """

        def failed(state: tenacity.RetryCallState) -> None:
            if on_failure is not None:
                on_failure(state.attempt_number, _failure(state))

        def wait(state: tenacity.RetryCallState) -> float:
            if state.attempt_number >= self.tries:
                return 0.0  # no pause after the last try, and no jitter drawn for it
            return self.pause(state.attempt_number, _failure(state).wait)

        def announce(state: tenacity.RetryCallState) -> None:
            number, problem, pause = state.attempt_number, _failure(state), state.upcoming_sleep
            log.warning("%s: try %d of %d failed (%s); retrying in %.1f s", what, number, self.tries, problem, pause)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Transient),
            stop=tenacity.stop_after_attempt(self.tries),
            wait=wait,
            after=failed,
            before_sleep=announce,
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return attempt_once(attempt.retry_state.attempt_number)
        raise AssertionError("unreachable")


def _failure(state: tenacity.RetryCallState) -> Transient:
    """The :class:`Transient` the try behind ``state`` raised."""
    assert state.outcome is not None
    exc = state.outcome.exception()
    assert isinstance(exc, Transient)
    return exc
