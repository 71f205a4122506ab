"""Backoff, Retry-After and OperationOutcome wording: the pure parts of talking to other servers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from scribe.export.fhir import safe_destination
from scribe.export.fhir_client import plain_outcome
from scribe.retrying import Backoff, Transient, retry_after


def test_backoff_retries_transient_failures_then_succeeds() -> None:
    waits: list[float] = []
    failures: list[int] = []
    backoff = Backoff(retries=3, base=1.0, seed=1, sleep=waits.append)

    def once(attempt: int) -> str:
        if attempt < 3:
            raise Transient(f"HTTP 503 on try {attempt}")
        return "stored"

    assert backoff.run("sending", once, on_failure=lambda n, _: failures.append(n)) == "stored"
    assert failures == [1, 2] and len(waits) == 2
    assert 0.5 <= waits[0] <= 1.5 and 1.0 <= waits[1] <= 3.0, "about base * 2**(n-1), jittered by +-50%"


def test_backoff_gives_up_with_the_last_failure_and_never_retries_other_errors() -> None:
    backoff = Backoff(retries=2, base=0.0, sleep=lambda _: None)
    calls = []

    def always(attempt: int) -> None:
        calls.append(attempt)
        raise Transient(f"timed out {attempt}", timeout=True)

    with pytest.raises(Transient, match="timed out 3") as caught:
        backoff.run("x", always)
    assert caught.value.timeout and calls == [1, 2, 3]

    def refused(attempt: int) -> None:
        calls.append(attempt)
        raise ValueError("400")

    calls.clear()
    with pytest.raises(ValueError):
        backoff.run("x", refused)
    assert calls == [1]


def test_the_jitter_is_drawn_once_per_pause_so_a_seeded_backoff_repeats_its_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []
    backoff = Backoff(retries=1, base=1.0, seed=0, sleep=waits.append)

    def always(attempt: int) -> None:
        raise Transient(f"HTTP 503 on try {attempt}")

    for _ in range(2):
        with pytest.raises(Transient, match="try 2"):
            backoff.run("sending", always)
    jitter = random.Random(0)
    assert waits == [jitter.uniform(0.5, 1.5), jitter.uniform(0.5, 1.5)], "no draw after the last try"
    assert "sending: try 1 of 2 failed (HTTP 503 on try 1); retrying in" in caplog.text

    def busy_once(attempt: int) -> str:
        if attempt == 1:
            raise Transient("HTTP 429", wait=7.0)
        return "ok"

    assert Backoff(retries=2, sleep=waits.append).run("x", busy_once) == "ok"
    assert waits[-1] == 7.0, "the wait the server asked for, not the backoff"


def test_server_asked_wait_is_honoured_but_capped() -> None:
    backoff = Backoff(retries=1, base=10.0, max_wait=5.0)
    assert backoff.pause(1, asked=2.0) == 2.0
    assert backoff.pause(1, asked=600.0) == 5.0
    assert backoff.pause(1, asked=-3.0) == 0.0
    assert backoff.pause(4) == 5.0
    with pytest.raises(ValueError):
        Backoff(retries=-1)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(httpx.Response(503, headers={"Retry-After": later})) or 0) <= 31
    assert retry_after(httpx.Response(503)) is None
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None


def test_operation_outcome_in_plain_words() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "required",
                "diagnostics": "Missing required property",
                "expression": ["Bundle.entry[2].resource.status"],
            },
            {"severity": "warning", "code": "code-invalid", "details": {"text": "Unknown code 'xyz'"}},
            {"severity": "error", "code": "something-new"},
        ],
    }
    assert plain_outcome(outcome).splitlines() == [
        "error: a required element is missing at Bundle.entry[2].resource.status (Missing required property)",
        "warning: a code is not in the allowed value set (Unknown code 'xyz')",
        "error: something-new",
    ]
    assert plain_outcome({"resourceType": "Patient"}) == "" and plain_outcome("oops") == ""


def test_destinations_in_records_carry_no_credentials() -> None:
    assert safe_destination("https://user:secret@epr.example:8443/fhir?token=abc") == "https://epr.example:8443/fhir"
    assert safe_destination("http://127.0.0.1:8080/fhir") == "http://127.0.0.1:8080/fhir"
