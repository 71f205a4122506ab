"""Post-market monitoring over a real encrypted store: `monitor()` with a fake clock, and `scribe monitor`
as a user runs it (a subprocess), with consultations whose start times and metrics are set by hand."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from helpers.cli_runner import scribe
from helpers.store_helpers import make_settings
from sqlalchemy import MetaData, Table, create_engine, update

from scribe.config import Settings
from scribe.evaluate.monitor import MonitorReport, monitor
from scribe.evaluate.weeks import monday
from scribe.records import NoteDraft, NoteSection, Statement
from scribe.rows import Approval, PatientDetails, ReviewMetrics, Role, SectionChange, User
from scribe.store import Store, new_key, open_store
from scribe.store.crypto import encode_key

NOW = datetime(2025, 3, 26, 15, 0, tzinfo=UTC)  # a Wednesday in ISO week 2025-W13


def _note() -> NoteDraft:
    statements = [Statement(text=f"Statement {i}.", evidence=[i], supported=i != 0) for i in range(4)]
    return NoteDraft(
        template="gp", title="GP note", sections=[NoteSection(key="plan", title="Plan", statements=statements)]
    )


def _add(store: Store, settings: Settings, user: User, when: datetime, changed: int) -> str:
    """An approved scribe-arm consultation started at ``when``: 100 draft characters, ``changed`` of them edited."""
    cid = store.consultations.create(user.id, "gp", PatientDetails(name="Jo Bloggs")).id
    engine = create_engine(settings.database_url)
    table = Table("consultations", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == cid).values(created_at=when))
    engine.dispose()
    store.notes.add_version(cid, _note(), created_by=None)
    store.notes.approve(cid, 1, Approval(user_id=user.id, name=user.full_name, attestation="I have reviewed it."))

    def measured(m: ReviewMetrics) -> None:
        m.recording_stopped_at = when + timedelta(minutes=10)
        m.draft_ready_at = when + timedelta(minutes=11)
        m.active_review_seconds = 180.0
        m.sections = {"plan": SectionChange(chars_draft=100, chars_changed=changed, statements_draft=4)}

    store.consultations.update_metrics(cid, measured)
    return cid


def _site(store: Store, settings: Settings, now: datetime, latest: int) -> None:
    """Three weeks of 5 consultations with 20% of the draft edited, then this week ``latest`` with 40%."""
    user = store.users.create("alice", "Alice Able", Role.CLINICIAN, "hash", totp_required=False)
    this_monday = datetime.combine(monday(now), time(9), tzinfo=UTC)
    for weeks_ago in (3, 2, 1):
        for i in range(5):
            _add(store, settings, user, this_monday - timedelta(weeks=weeks_ago, hours=-i), 20)
    for i in range(latest):
        _add(store, settings, user, this_monday + timedelta(hours=i), 40)


def _monitored(tmp_path: Path, latest: int, weeks: int) -> MonitorReport:
    """The monitor's report of ``_site`` (threshold 50%, at least 5 consultations a week to judge)."""
    settings = make_settings(tmp_path)
    store = open_store(settings)
    try:
        _site(store, settings, NOW, latest=latest)
        return monitor(store, weeks=weeks, threshold=0.5, min_cases=5, now=NOW)
    finally:
        store.close()


def test_monitor_flags_a_week_with_double_the_edit_rate(tmp_path: Path) -> None:
    report = _monitored(tmp_path, latest=5, weeks=6)
    assert [w.week for w in report.weeks] == ["2025-W08", "2025-W09", "2025-W10", "2025-W11", "2025-W12", "2025-W13"]
    assert [w.consultations for w in report.weeks] == [0, 0, 5, 5, 5, 5]
    assert [w.edit_rate for w in report.weeks][2:] == pytest.approx([0.2, 0.2, 0.2, 0.4])
    assert report.weeks[-1].unsupported_rate == 0.25  # one of 4 statements flagged in every draft
    assert report.weeks[-1].time_to_draft_seconds == 60.0 and report.weeks[-1].documentation_minutes == 3.0
    assert report.latest_week == "2025-W13"
    edit = next(c for c in report.checks if c.metric == "edit_rate")
    assert edit.verdict == "drift" and edit.baseline == pytest.approx(0.2) and edit.baseline_weeks == 3
    assert report.flagged == [edit.message]


def test_monitor_does_not_judge_a_small_week(tmp_path: Path) -> None:
    report = _monitored(tmp_path, latest=2, weeks=4)
    assert report.weeks[-1].consultations == 2 and report.weeks[-1].edit_rate == 0.4
    assert {c.verdict for c in report.checks} == {"too few to judge"} and report.flagged == []


def _cli_site(tmp_path: Path, latest: int) -> dict[str, str]:
    key = new_key()
    settings = make_settings(tmp_path, key)
    store = open_store(settings)
    try:
        _site(store, settings, datetime.now(UTC), latest=latest)
    finally:
        store.close()
    return {"SCRIBE_STORE_KEY": encode_key(key)}


def test_cli_table_json_and_fail_on_drift(tmp_path: Path) -> None:
    env = _cli_site(tmp_path, latest=5)
    table = scribe("monitor", "--weeks", "4", tmp_path=tmp_path, env=env)
    assert table.returncode == 0, table.stderr
    assert "DRIFT edit rate (share of draft changed) rose by 100%" in table.stdout and "1 flagged" in table.stdout
    assert "Jo Bloggs" not in table.stdout and "Alice" not in table.stdout

    failing = scribe("monitor", "--weeks", "4", "--fail-on-drift", "--format", "json", tmp_path=tmp_path, env=env)
    assert failing.returncode == 1, failing.stderr
    report = json.loads(failing.stdout)
    assert len(report["weeks"]) == 4 and [w["consultations"] for w in report["weeks"]] == [5, 5, 5, 5]
    assert len(report["flagged"]) == 1 and report["flagged"][0].startswith("DRIFT edit rate")

    # a higher bar from the settings: nothing flagged, so --fail-on-drift exits 0
    calm = scribe("monitor", "--fail-on-drift", tmp_path=tmp_path, env=env | {"SCRIBE_MONITOR_DRIFT_THRESHOLD": "1.5"})
    assert calm.returncode == 0, calm.stderr
    assert "Nothing flagged." in calm.stdout

    store = open_store(make_settings(tmp_path, base64.b64decode(env["SCRIBE_STORE_KEY"])))
    try:
        events = [e for e in store.audit.events() if e.action == "monitor"]
    finally:
        store.close()
    assert len(events) == 3 and events[0].target == "consultations" and events[0].username.startswith("cli:")
    assert "20 consultations" in events[0].detail


def test_cli_small_week_is_not_judged(tmp_path: Path) -> None:
    env = _cli_site(tmp_path, latest=2)
    done = scribe("monitor", "--weeks", "4", "--fail-on-drift", tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "too few to judge" in done.stdout and "Nothing flagged." in done.stdout
    judged = scribe("monitor", "--weeks", "4", "--min-cases", "2", "--fail-on-drift", tmp_path=tmp_path, env=env)
    assert judged.returncode == 1 and "DRIFT edit rate" in judged.stdout
