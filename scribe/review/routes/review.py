"""The review page: transcript with playback, the note edited in place, letters, changes, history; approval.

Edits go through :mod:`scribe.notes.editing` and are saved with the Edit record in one store
transaction, and so is restoring a statement the grounding check removed from the draft. Only the
current DRAFT version is editable; approved versions are read-only (409) and "Correct this note"
makes a new version that needs approval again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from scribe.export.fhir import safe_destination
from scribe.notes.editing import (
    STRUCTURED,
    STRUCTURED_TITLES,
    EditError,
    Flags,
    SectionDiff,
    apply_edit,
    diff_note,
    flags,
    restore_removed,
)
from scribe.records import Grounded, Letter, LetterKind, NoteDraft, RemovedStatement, Statement, Transcript, now_utc
from scribe.review import deps, workflow
from scribe.rows import (
    Approval,
    Consultation,
    ConsultationStatus,
    Dispute,
    Edit,
    EditAction,
    ExportRecord,
    NoteState,
    NoteVersion,
    PatientDetails,
    ReviewMetrics,
    User,
)
from scribe.store.retention import apply_retention

logger = logging.getLogger(__name__)

router = APIRouter()

ATTESTATION = "I have reviewed this note against the consultation and I am responsible for its content"
TABS = (("note", "Note"), ("letters", "Letters"), ("changes", "Changes"), ("history", "History"))
HEARTBEAT_CAP_SECONDS = 20.0
"""Most active review time one heartbeat adds (the page beats every 15 s while in use)."""

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_TEXT = 4000


def _digest(statement: Statement) -> str:
    """A short fingerprint of a removed statement, so a restore from a stale page cannot take another one."""
    return hashlib.sha256(statement.text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RemovedItem:
    """One statement the grounding check took out of the draft, as the review page lists it."""

    index: int
    key: str
    title: str
    statement: Statement
    digest: str


def _removed(note: NoteDraft, titles: dict[str, str]) -> list[RemovedItem]:
    return [
        RemovedItem(i, r.section, titles.get(r.section, r.section), r.statement, _digest(r.statement))
        for i, r in enumerate(note.removed)
    ]


@dataclass
class ReviewView:
    """Everything the review page and its fragments show, computed for one user and one version."""

    base: str
    csrf_token: str
    user: User
    consultation: Consultation
    patient: PatientDetails | None
    version: NoteVersion
    note: NoteDraft
    heading: str
    editable: bool
    can_approve: bool
    can_correct: bool
    can_dispute: bool
    can_export: bool
    can_redraft: bool
    can_grant: bool
    can_delete: bool
    flags: Flags
    titles: dict[str, str]
    structured: list[tuple[str, str, list[Grounded]]]
    removed: list[RemovedItem] = field(default_factory=list)
    """Statements the grounding check took out of this version's draft; not part of the note unless restored."""
    attestation: str = ATTESTATION
    tab: str = "note"
    tab_label: str = "Note"
    tabs: tuple[tuple[str, str], ...] = TABS
    transcript: Transcript | None = None
    audio_available: bool = False
    speaker_labels: dict[str, str] = field(default_factory=lambda: deps.SPEAKER_LABELS)
    disputes: list[Dispute] = field(default_factory=list)
    letters: dict[str, Letter | None] = field(default_factory=dict)
    diff_base: NoteVersion | None = None
    diffs: list[SectionDiff] = field(default_factory=list)
    versions: list[NoteVersion] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    exports: list[ExportRecord] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    granted_names: list[str] = field(default_factory=list)
    epr: str = ""
    """Where "Send to EPR" sends (no credentials), or '' when the site has no FHIR server configured."""


def _view(
    request: Request, c: Consultation, version: NoteVersion, tab: str = "note", *, full: bool = False
) -> ReviewView:
    """The review view of ``version``; ``full`` adds what only the whole page shows (transcript, tabs, history)."""
    store = deps.store(request)
    user: User = request.state.user
    current = version.version == c.current_version
    draft = current and version.state == NoteState.DRAFT
    note = version.note
    patient = store.consultations.patient(c.id)
    heading = patient.name or "Consultation"
    titles = {s.key: s.title for s in note.sections} | STRUCTURED_TITLES
    view = ReviewView(
        base=f"/consultations/{c.id}",
        csrf_token=request.state.signed_in.session.csrf_token,
        user=user,
        consultation=c,
        patient=patient,
        version=version,
        note=note,
        heading=f"{heading}, {c.created_at:%d %b %Y}",
        editable=draft and deps.allowed(request, "edit", c),
        can_approve=draft and deps.allowed(request, "approve", c),
        can_correct=current
        and version.state in (NoteState.APPROVED, NoteState.REJECTED)
        and deps.allowed(request, "edit", c),
        can_dispute=deps.allowed(request, "dispute", c),
        can_export=version.state == NoteState.APPROVED and deps.allowed(request, "export", c),
        can_redraft=current and deps.allowed(request, "edit", c) and store.notes.get_transcript(c.id) is not None,
        can_grant=deps.allowed(request, "grant", c),
        can_delete=deps.allowed(request, "delete", c),
        flags=flags(note),
        titles=titles,
        removed=_removed(note, titles),
        structured=[(k, STRUCTURED_TITLES[k], list(getattr(note, k))) for k in STRUCTURED if getattr(note, k)],
        tab=tab,
        tab_label=dict(TABS)[tab],
        epr=safe_destination(settings.fhir_base_url) if (settings := deps.settings(request)).fhir_base_url else "",
    )
    if not full:
        return view
    view.disputes = store.notes.disputes(c.id)
    if deps.allowed(request, "transcript", c):
        view.transcript = store.notes.get_transcript(c.id)
        view.audio_available = c.audio_deleted_at is None and c.consent is not None and c.consent.agreed
    if tab == "note" or tab == "letters":
        view.letters = {k.value: store.notes.get_letter(c.id, k, version.version) for k in LetterKind}
    if tab == "changes":
        if version.based_on is not None:
            view.diff_base = store.notes.get_version(c.id, version.based_on)
        elif version.created_by is None:  # the model's draft, as it was before this version's edits
            view.diff_base = version.model_copy(update={"note": workflow.as_drafted(store, c.id, version)})
        if view.diff_base is not None:
            view.diffs = diff_note(view.diff_base.note, note)
    if tab == "history":
        view.versions = store.notes.list_versions(c.id)
        view.edits = store.notes.edits(c.id)
        view.exports = store.exports.for_consultation(c.id)
        view.names = {u.id: u.full_name for u in store.users.list_all()}
        view.granted_names = [view.names.get(i, f"user {i}") for i in store.consultations.granted(c.id)]
    return view


def _version(request: Request, c: Consultation, number: int | None = None) -> NoteVersion:
    if not c.current_version:
        raise HTTPException(404, "This consultation has no note yet; it is still being recorded or drafted.")
    return deps.store(request).notes.get_version(c.id, number)


@router.get("/consultations/{cid}")
def review_page(
    request: Request, cid: str, tab: str = "note", version: int | None = None, user: User = Depends(deps.current_user)
) -> Response:
    """The review page (or, for users who may only see metadata, the consultation's facts)."""
    store = deps.store(request)
    c = deps.consultation(request, cid, "view")
    if not deps.allowed(request, "note", c):
        return _metadata_page(request, c)
    if not c.current_version:
        step = "consent" if c.consent is None or not c.consent.agreed else "record"
        return deps.redirect(f"/consultations/{cid}/{step}")
    if tab not in dict(TABS):
        tab = "note"
    v = _version(request, c, version)
    if user.id == c.owner_id and c.status == ConsultationStatus.DRAFTED and c.metrics.first_shown_at is None:

        def shown(m: ReviewMetrics) -> None:
            m.first_shown_at = m.first_shown_at or now_utc()

        store.consultations.update_metrics(cid, shown)
    _beats(request)[(cid, user.id)] = now_utc()
    deps.audit(request, "view", deps.target(cid), detail=f"version {v.version} {tab}")
    return deps.render_page(request, "review/page.html", {"r": _view(request, c, v, tab, full=True)})


def _metadata_page(request: Request, c: Consultation) -> Response:
    store = deps.store(request)
    names = {u.id: u.full_name for u in store.users.list_all()}
    context = {
        "consultation": c,
        "owner": names.get(c.owner_id, f"user {c.owner_id}"),
        "granted_names": [names.get(i, f"user {i}") for i in store.consultations.granted(c.id)],
        "can_grant": deps.allowed(request, "grant", c),
        "can_delete": deps.allowed(request, "delete", c),
    }
    deps.audit(request, "view", deps.target(c.id), detail="metadata")
    return deps.render_page(request, "consultations/meta.html", context)


# --- audio ---------------------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@router.get("/consultations/{cid}/audio")
def audio(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """The recording for playback, with HTTP Range support (206) so the browser can seek; 404 once deleted."""
    c = deps.consultation(request, cid, "transcript")
    store = deps.store(request)
    stored = store.audio.get(cid, "playback") or store.audio.get(cid, "original")
    if stored is None or c.audio_deleted_at is not None:
        raise HTTPException(404, "The audio of this consultation has been deleted or was never recorded.")
    data, size = stored.data, len(stored.data)
    headers = {"Accept-Ranges": "bytes", "Content-Disposition": "inline"}
    spec = request.headers.get("range")
    if spec is None:
        deps.audit(request, "listen", deps.target(cid))
        return Response(data, media_type=stored.media_type, headers=headers)
    match = _RANGE.match(spec.strip())
    if not match or not (match.group(1) or match.group(2)):
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    if match.group(1):
        start = int(match.group(1))
        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
    else:
        start, end = max(0, size - int(match.group(2))), size - 1
    if start >= size or end < start:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    if start == 0:
        deps.audit(request, "listen", deps.target(cid))
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=stored.media_type, headers=headers)


# --- editing -------------------------------------------------------------------------------------------


def _form_version(form: FormData, c: Consultation) -> int:
    raw = str(form.get("version", ""))
    if not raw.isdigit():
        raise HTTPException(400, "The form is missing the note version; reload the page.")
    number = int(raw)
    if number != c.current_version:
        raise HTTPException(409, "This note has changed since the page was loaded; reload the page to see it.")
    return number


def _draft(request: Request, c: Consultation, number: int) -> NoteVersion:
    """Version ``number`` if it is an editable DRAFT; StateError (409) otherwise."""
    return workflow.draft_version(deps.store(request), c, number)


def _check_key(v: NoteVersion, key: str) -> None:
    if not _KEY.match(key) or (key not in STRUCTURED and all(s.key != key for s in v.note.sections)):
        raise HTTPException(404, "The note has no such section; reload the page.")


def _section_response(request: Request, c: Consultation, v: NoteVersion, key: str) -> Response:
    """The htmx answer to an edit: the section again with the omissions and approve box out of band."""
    view = _view(request, c, v)
    section = next((s for s in v.note.sections if s.key == key), None)
    context = {
        "r": view,
        "section": section,
        "structured_key": key,
        "structured_items": list(getattr(v.note, key)) if key in STRUCTURED else [],
    }
    return deps.render_page(request, "review/_section.html", context)


async def _change(request: Request, cid: str, key: str, index: int | None, action: EditAction, user: User) -> Response:
    c = deps.consultation(request, cid, "edit")
    form = await request.form()
    number = _form_version(form, c)
    v = _draft(request, c, number)
    _check_key(v, key)
    text = str(form.get("text", ""))
    if len(text) > _MAX_TEXT:
        raise HTTPException(400, f"A statement can be at most {_MAX_TEXT} characters; split it into several.")
    store = deps.store(request)
    try:
        note, change = apply_edit(v.note, key, index, text, action, transcript=store.notes.get_transcript(cid))
    except EditError as exc:
        raise HTTPException(400, str(exc)) from None
    if (change.before, change.after) != ("", "") and change.before != change.after:
        v = store.notes.save_note(cid, number, note, change.to_edit(cid, number, user.id))
        deps.audit(
            request, "edit", deps.target(cid), detail=f"version {number} {key} {change.index} {change.action.value}"
        )
    if deps.is_htmx(request):
        return _section_response(request, c, v, key)
    return deps.redirect(f"/consultations/{cid}#sec-{key}")


@router.get("/consultations/{cid}/sections/{key}")
def section_fragment(request: Request, cid: str, key: str, user: User = Depends(deps.current_user)) -> Response:
    """One section of the current version (htmx: cancel an edit)."""
    c = deps.consultation(request, cid, "note")
    v = _version(request, c)
    _check_key(v, key)
    if not deps.is_htmx(request):
        return deps.redirect(f"/consultations/{cid}#sec-{key}")
    return _section_response(request, c, v, key)


@router.get("/consultations/{cid}/statements/{key}/{index}/edit")
def edit_form(request: Request, cid: str, key: str, index: int, user: User = Depends(deps.current_user)) -> Response:
    """The edit form for one statement: a fragment for htmx, a small page otherwise."""
    c = deps.consultation(request, cid, "edit")
    v = _draft(request, c, c.current_version)
    _check_key(v, key)
    section = next((s for s in v.note.sections if s.key == key), None)
    if section is None or not 0 <= index < len(section.statements):
        raise HTTPException(404, "There is no such statement; reload the page.")
    context = {"r": _view(request, c, v), "key": key, "index": index, "text": section.statements[index].text}
    template = "review/_statement_edit.html" if deps.is_htmx(request) else "review/edit.html"
    return deps.render_page(request, template, context)


@router.post("/consultations/{cid}/statements/{key}/{index}", dependencies=[Depends(deps.csrf)])
async def save_statement(
    request: Request, cid: str, key: str, index: int, user: User = Depends(deps.current_user)
) -> Response:
    """Replace one statement's text (empty text deletes it)."""
    return await _change(request, cid, key, index, EditAction.EDIT, user)


@router.post("/consultations/{cid}/statements/{key}/{index}/delete", dependencies=[Depends(deps.csrf)])
async def delete_statement(
    request: Request, cid: str, key: str, index: int, user: User = Depends(deps.current_user)
) -> Response:
    """Delete one statement or structured item."""
    return await _change(request, cid, key, index, EditAction.DELETE, user)


@router.post("/consultations/{cid}/statements/{key}", dependencies=[Depends(deps.csrf)])
async def add_statement(request: Request, cid: str, key: str, user: User = Depends(deps.current_user)) -> Response:
    """Add a statement at the end of a section."""
    return await _change(request, cid, key, None, EditAction.ADD, user)


@router.post("/consultations/{cid}/removed/{index}/restore", dependencies=[Depends(deps.csrf)])
async def restore_statement(
    request: Request, cid: str, index: int, user: User = Depends(deps.current_user)
) -> Response:
    """Put a statement the grounding check removed back at the end of its section, still flagged unsupported.

    Stored and audited like any other edit (an Edit with action RESTORE; audit action ``restore`` with the
    version, section key and position, never the text). The form names the statement's section and a
    fingerprint of its text, so a page that is out of date gets 409 instead of restoring another statement.
    """
    c = deps.consultation(request, cid, "edit")
    form = await request.form()
    number = _form_version(form, c)
    v = _draft(request, c, number)
    removed: list[RemovedStatement] = v.note.removed
    if (
        not 0 <= index < len(removed)
        or form.get("section") != removed[index].section
        or form.get("digest") != _digest(removed[index].statement)
    ):
        raise HTTPException(409, "That statement is no longer in the removed list; reload the page to see it.")
    store = deps.store(request)
    try:
        note, change = restore_removed(v.note, index, transcript=store.notes.get_transcript(cid))
    except EditError as exc:
        raise HTTPException(400, str(exc)) from None
    v = store.notes.save_note(cid, number, note, change.to_edit(cid, number, user.id))
    deps.audit(request, "restore", deps.target(cid), detail=f"version {number} {change.section} {change.index}")
    if deps.is_htmx(request):
        return _section_response(request, c, v, change.section)
    return deps.redirect(f"/consultations/{cid}#sec-{change.section}")


# --- approval, rejection, correction, disputes ------------------------------------------------------------


@router.post("/consultations/{cid}/approve", dependencies=[Depends(deps.csrf)])
async def approve(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Approve the current version with the clinician's attestation; audio goes under the retention policy."""
    c = deps.consultation(request, cid, "approve")
    form = await request.form()
    number = _form_version(form, c)
    v = _draft(request, c, number)
    counted = flags(v.note)
    if form.get("attest") != "yes":
        raise HTTPException(400, "Tick the attestation to approve: you are responsible for the note's content.")
    if counted.total and form.get("flags_checked") != "yes":
        raise HTTPException(400, f"Tick that you have checked the {counted.total} flagged items before approving.")
    approval = Approval(user_id=user.id, name=user.full_name, attestation=ATTESTATION, flags_acknowledged=counted.total)
    workflow.approve(deps.store(request), c, number, approval)
    deps.audit(request, "approve", deps.target(cid), detail=f"version {number}, {counted.total} flags acknowledged")
    apply_retention(deps.store(request), deps.settings(request))
    return deps.redirect(f"/consultations/{cid}")


@router.post("/consultations/{cid}/reject", dependencies=[Depends(deps.csrf)])
async def reject(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Reject the current draft with a reason (the clinician can then write a new version)."""
    c = deps.consultation(request, cid, "approve")
    form = await request.form()
    number = _form_version(form, c)
    _draft(request, c, number)
    reason = deps.one_line(form, "reason")
    if not reason:
        raise HTTPException(400, "Give a reason for rejecting the draft.")
    workflow.reject(deps.store(request), c, number, reason[:_MAX_TEXT], user.id)
    deps.audit(request, "reject", deps.target(cid), detail=f"version {number}")
    return deps.redirect(f"/consultations/{cid}")


@router.post("/consultations/{cid}/correct", dependencies=[Depends(deps.csrf)])
async def correct(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """A new DRAFT version copying the approved (or rejected) one, to be corrected and approved again."""
    c = deps.consultation(request, cid, "edit")
    number = _form_version(await request.form(), c)
    new = workflow.correct(deps.store(request), c, number, user.id)
    deps.audit(request, "correct", deps.target(cid), detail=f"version {new.version} from {number}")
    return deps.redirect(f"/consultations/{cid}")


@router.post("/consultations/{cid}/disputes", dependencies=[Depends(deps.csrf)])
async def dispute(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Record the patient's dispute of the note (by the clinician, on the patient's behalf)."""
    c = deps.consultation(request, cid, "dispute")
    text = deps.one_line(await request.form(), "text")
    if not text:
        raise HTTPException(400, "Write what the patient disputes.")
    if not c.current_version:
        raise HTTPException(409, "There is no note to dispute yet.")
    store = deps.store(request)
    approved = [v.version for v in store.notes.list_versions(cid) if v.state == NoteState.APPROVED]
    number = approved[-1] if approved else c.current_version
    store.notes.add_dispute(cid, number, text[:_MAX_TEXT], user.id)
    deps.audit(request, "dispute", deps.target(cid), detail=f"version {number}")
    return deps.redirect(f"/consultations/{cid}")


@router.post("/consultations/{cid}/letters", dependencies=[Depends(deps.csrf)])
def redraft_letters(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Queue the GP and patient letters to be drafted again from the current version."""
    c = deps.consultation(request, cid, "edit")
    workflow.redraft_letters(c, deps.enqueuer(request))
    deps.audit(request, "redraft-letters", deps.target(cid))
    return deps.redirect(f"/consultations/{cid}?tab=letters")


# --- active review time -------------------------------------------------------------------------------------


def _beats(request: Request) -> dict[tuple[str, int], datetime]:
    """When each (consultation, user) last showed activity on the review page, kept on the app."""
    state: Any = request.app.state
    if not hasattr(state, "review_heartbeats"):
        state.review_heartbeats = {}
    return state.review_heartbeats


@router.post("/consultations/{cid}/heartbeat", dependencies=[Depends(deps.csrf)])
def heartbeat(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """The review page is visible and in use: add the time since the last beat (at most 20 s) to review time."""
    c = deps.consultation(request, cid, "note")
    now = now_utc()
    beats = _beats(request)
    last = beats.get((cid, user.id))
    beats[(cid, user.id)] = now
    reviewing = c.current_version and c.status in (ConsultationStatus.DRAFTED, ConsultationStatus.NOT_RECORDED)
    if last is not None and reviewing and user.id == c.owner_id:
        added = min(max(0.0, (now - last).total_seconds()), HEARTBEAT_CAP_SECONDS)

        def active(m: ReviewMetrics) -> None:
            m.active_review_seconds += added

        deps.store(request).consultations.update_metrics(cid, active)
    return Response(status_code=204)
