"""Evaluation cases from the site's own store: consultations clinicians recorded and reviewed in the app.

Each consultation gives one :class:`CaseResult` built from what the app measured as it was used
(``ReviewMetrics``: timestamps, active review time from the page's heartbeats, per-section edit
counts at approval) and from the model's draft as it was before any edit. Nothing here identifies a
patient or a clinician: clinicians get labels ("clinician-1", ...) that hold within one call only,
and no subgroups are derived (the store holds no demographics beyond what the clinician typed).
"""

from __future__ import annotations

import logging
from datetime import datetime

from scribe.evaluate.results import CaseResult, NoteScores, TimeScores
from scribe.notes.editing import undo_edits
from scribe.notes.grounding import ground_items
from scribe.notes.omissions import find_omissions
from scribe.records import NoteDraft
from scribe.rows import Consultation, NoteState
from scribe.store.store import Store

log = logging.getLogger(__name__)

DATASET = "store"
OBJECTED = "written unaided after the patient objected to recording: in neither arm, left out"


def store_cases(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    include_unapproved: bool = False,
) -> list[CaseResult]:
    """One CaseResult per consultation started in [since, until), oldest first.

    Only approved consultations (approved at least once) unless ``include_unapproved``; consultations
    with no note yet (consent, recording, drafting, failed) have nothing to measure and are not returned.
    A note written unaided after a patient objected is returned with ``error`` set (it is in neither arm).

    Time: ``time_to_draft_seconds`` = draft ready - recording stopped (None for uploads, which record no
    stop); ``review_seconds`` and ``documentation_seconds`` are both the page's active time, in both arms:
    a control-arm clinician writing the note unaided is timed by the same heartbeats as a scribe-arm
    clinician reviewing a draft. Edit counts are summed over sections at approval; ``share_edited`` =
    characters changed / characters of the model's draft (None in the control arm, which has no draft).

    Note: unsupported statements and omissions of the model's draft, version 1 before any edit (None in
    the control arm). The edit records keep a changed statement's text but not its grounding verdict,
    so restored statements are grounded again against the transcript, and the omission check is run
    again, when the transcript is still stored; otherwise they count as unchecked and the omission rate
    is None.
    """
    return [
        case for _, case in consultation_cases(store, since=since, until=until, include_unapproved=include_unapproved)
    ]


def consultation_cases(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    include_unapproved: bool = False,
) -> list[tuple[Consultation, CaseResult]]:
    """As :func:`store_cases`, each case with the consultation it came from (for status and approval)."""
    chosen = [
        c
        for c in store.consultations.list_all()
        if c.current_version
        and (since is None or c.created_at >= since)
        and (until is None or c.created_at < until)
        and (include_unapproved or c.metrics.approved_at is not None)
    ]
    chosen.sort(key=lambda c: (c.created_at, c.id))
    labels = {owner: f"clinician-{n}" for n, owner in enumerate(sorted({c.owner_id for c in chosen}), start=1)}
    return [(c, _case(store, c, labels[c.owner_id])) for c in chosen]


def _case(store: Store, c: Consultation, clinician: str) -> CaseResult:
    case = CaseResult(
        case_id=c.id,
        dataset=DATASET,
        synthetic_audio=False,
        has_audio=c.audio is not None,
        consultation_type=c.template,
        clinician=clinician,
        consulted_at=c.created_at,
    )
    first = store.notes.get_version(c.id, 1)
    if c.metrics.arm == "scribe" and first.created_by is not None:
        case.error = OBJECTED
        return case
    rejected = store.notes.get_version(c.id).state == NoteState.REJECTED
    case.time = _time(c, rejected)
    if c.metrics.arm == "scribe":
        case.note = _draft_scores(store, c.id, first.note)
    return case


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _time(c: Consultation, rejected: bool) -> TimeScores:
    m = c.metrics
    scores = TimeScores(
        arm=m.arm,
        time_to_draft_seconds=_seconds(m.recording_stopped_at, m.draft_ready_at),
        review_seconds=m.active_review_seconds,
        documentation_seconds=m.active_review_seconds,
        reviewed=rejected or m.approved_at is not None,
        rejected=rejected,
    )
    if m.sections:
        sections = m.sections.values()
        scores.characters_changed = sum(s.chars_changed for s in sections)
        scores.statements_edited = sum(s.statements_edited for s in sections)
        scores.statements_added = sum(s.statements_added for s in sections)
        scores.statements_deleted = sum(s.statements_deleted for s in sections)
        drafted = sum(s.chars_draft for s in sections)
        if m.arm == "scribe" and drafted:
            scores.share_edited = scores.characters_changed / drafted
    return scores


def _draft_scores(store: Store, cid: str, first: NoteDraft) -> NoteScores:
    """Statements, unsupported statements and omissions of the model's draft (version 1 before its edits)."""
    edits = sorted(store.notes.edits(cid, 1), key=lambda e: e.at)
    draft = undo_edits(first, edits)
    omissions: int | None = len(draft.omissions)
    if edits:
        transcript = store.notes.get_transcript(cid)
        if transcript is not None:
            restored = [s for sec in draft.sections for s in sec.statements if s.supported is None]
            ground_items(restored, transcript)
            omissions = len(find_omissions(draft, transcript))
        else:
            log.info("consultation %s: transcript gone, its draft's omissions are unknown", cid)
            omissions = None
    every = [s for sec in draft.sections for s in sec.statements]
    checked = [s for s in every if s.supported is not None]  # as note_metrics.unsupported (without ROUGE's import)
    flagged = sum(1 for s in checked if s.supported is False)
    due = len(every) + (omissions or 0)
    return NoteScores(
        statements=len(every),
        unsupported=flagged,
        unsupported_rate=flagged / len(checked) if checked else None,
        omissions=omissions or 0,
        omission_rate=omissions / due if omissions is not None and due else None,
    )
