"""ISO weeks (Monday start, UTC): how monitoring and the report group consultations over time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def monday(moment: datetime) -> date:
    """The Monday (UTC) of the ISO week ``moment`` falls in; a naive time is taken as UTC."""
    day = (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    return day - timedelta(days=day.weekday())


def week_label(start: date) -> str:
    """'2026-W48' for the week starting ``start``."""
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"
