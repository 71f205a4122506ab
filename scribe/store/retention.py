"""Retention: audio goes a set time after approval, whole consultations after the retention period.

Both deletions are real (rows, then the data keys that could open any copy of them, see
docs/privacy.md) and each leaves a tombstone in the audit log: action 'delete-audio' or
'delete', target 'consultation:<id>', no user, detail 'retention'. With
``audio_retention_hours = 0`` (the default) the audio goes at approval: the app calls
:func:`apply_retention` right after each approval, and the job runner hourly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scribe.config import Settings
from scribe.errors import StoreError
from scribe.rows import AuditEvent, Consultation
from scribe.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    """What retention deleted (or, in a dry run, would delete), by consultation id."""

    audio: list[str] = field(default_factory=list)
    consultations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def deleted(self) -> int:
        return len(self.audio) + len(self.consultations)


def consultation_due(consultation: Consultation, settings: Settings, now: datetime) -> bool:
    """Whether the whole consultation is past its retention period (from approval, else creation)."""
    start = consultation.metrics.approved_at or consultation.created_at
    return now >= start + timedelta(days=settings.retention_days)


def audio_due(consultation: Consultation, settings: Settings, now: datetime) -> bool:
    """Whether the consultation's audio is past its retention time after approval (never before approval)."""
    approved = consultation.metrics.approved_at
    return approved is not None and now >= approved + timedelta(hours=settings.audio_retention_hours)


def apply_retention(
    store: Store,
    settings: Settings,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    actor: str = "retention",
) -> RetentionReport:
    """Delete what the retention settings say is due at ``now`` (default: the current time).

    ``actor`` is the username written on the tombstones (e.g. 'cli:alice' when run by hand).
    A failure on one consultation is logged and reported, and the others still go.
    """
    now = now or datetime.now(UTC)
    report = RetentionReport(dry_run=dry_run)
    for consultation in store.consultations.for_retention():
        cid = consultation.id
        try:
            if consultation_due(consultation, settings, now):
                if not dry_run:
                    store.consultations.delete(cid)
                    _tombstone(store, "delete", cid, actor)
                report.consultations.append(cid)
            elif consultation.audio_deleted_at is None and audio_due(consultation, settings, now):
                if not store.audio.held(cid):
                    continue
                if not dry_run:
                    store.audio.delete(cid)
                    _tombstone(store, "delete-audio", cid, actor)
                report.audio.append(cid)
        except StoreError as exc:
            log.error("retention could not delete consultation %s: %s", cid, exc)
            report.errors.append(f"consultation {cid}: {exc}")
    if report.deleted and not dry_run:
        log.info(
            "retention deleted %d audio recordings and %d consultations", len(report.audio), len(report.consultations)
        )
    return report


def _tombstone(store: Store, action: str, consultation_id: str, actor: str) -> None:
    store.audit.record(
        AuditEvent(
            user_id=None, username=actor, action=action, target=f"consultation:{consultation_id}", detail="retention"
        )
    )
