"""Consultations: the list, a new consultation, consent, recording in the browser or uploading, status.

A new consultation is in one of two arms (``ReviewMetrics.arm``): "scribe" (consent, then a recording
that scribe drafts the note from) or "control" (nothing is recorded: the clinician writes the note
from a blank template, timed on the review page exactly as a draft's review is, to measure the
documentation time scribe saves against a measured baseline).

Audio never touches the disk outside the encrypted store: recording chunks and uploads are read
into memory (the upload's multipart body is parsed here as it streams, not by Starlette, whose
parser spools large files to temporary files) and go straight into the store.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header

from fhir_mappings import nhs_number_error
from scribe.audio.decode import probe_audio
from scribe.errors import AudioError, StateError
from scribe.notes.editing import blank_note
from scribe.notes.templates import load_template, template_names
from scribe.review import deps, policy, workflow
from scribe.rows import Consent, Consultation, ConsultationStatus, PatientDetails, ReviewMetrics, Role, User
from scribe.store.store import Audio

logger = logging.getLogger(__name__)

router = APIRouter()

MAX_CHUNK_BYTES = 16 * 1024 * 1024
"""Largest single recording chunk accepted (2 s of Opus is a few kB; this only stops abuse)."""

ARMS = {
    "scribe": "Scribe drafts the note",
    "control": "Control: I will write this note myself, without scribe (for measuring time saved)",
}
"""The choice on the new-consultation form, stored as ``ReviewMetrics.arm``."""

_STATUS_TEXT = {
    ConsultationStatus.CONSENT: "Waiting for the patient's consent.",
    ConsultationStatus.RECORDING: "Ready for a recording or an upload.",
    ConsultationStatus.TRANSCRIBING: "The recording is being turned into a transcript. This page updates by itself.",
    ConsultationStatus.DRAFTING: "The note is being drafted from the transcript. This page updates by itself.",
    ConsultationStatus.DRAFTED: "The draft is ready for your review.",
    ConsultationStatus.FAILED: "A stage failed; see the message above.",
}


def valid_nhs_number(number: str) -> bool:
    """Whether ``number`` (spaces allowed) is a valid NHS number: ``fhir_mappings.nhs_number_error`` finds nothing."""
    return nhs_number_error(number.replace(" ", "")) is None


# --- the list ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    c: Consultation
    patient: PatientDetails | None
    owner: str
    href: str
    action: str


def _next_step(c: Consultation) -> tuple[str, str]:
    """Where a consultation's link in the list goes, and what the link says."""
    base = f"/consultations/{c.id}"
    if c.current_version:
        return base, "Open"
    if c.status in (ConsultationStatus.CONSENT, ConsultationStatus.NOT_RECORDED) and (
        c.consent is None or not c.consent.agreed
    ):
        return f"{base}/consent", "Continue"
    return f"{base}/record", "Open"


@router.get("/")
def consultation_list(request: Request, user: User = Depends(deps.current_user)) -> Response:
    """The user's consultations (admins: all, metadata only; integrators: approved and exported ones)."""
    store = deps.store(request)
    if user.role == Role.CLINICIAN:
        consultations = store.consultations.list_all(user_id=user.id)
        scope = ""
    elif user.role == Role.INTEGRATOR:
        consultations = [c for c in store.consultations.list_all() if c.status in policy.EXPORTABLE]
        scope = "Approved notes ready to export."
    else:
        consultations = store.consultations.list_all()
        scope = "Every consultation, without patient details. Open one to give access or delete it."
    names = {u.id: u.full_name for u in store.users.list_all()} if user.role != Role.CLINICIAN else {}
    rows = []
    for c in consultations:
        granted = store.consultations.granted(c.id)
        if not policy.allowed(user, "view", c, granted):
            continue
        patient = store.consultations.patient(c.id) if policy.sees_patient(user, c, granted) else None
        href, action = _next_step(c) if policy.allowed(user, "note", c, granted) else (f"/consultations/{c.id}", "Open")
        rows.append(_Row(c, patient, names.get(c.owner_id, ""), href, action))
    deps.audit(request, "view", "consultations", detail=f"{len(rows)} listed")
    context = {
        "rows": rows,
        "can_create": user.role == Role.CLINICIAN,
        "show_owner": user.role != Role.CLINICIAN,
        "scope_note": scope,
    }
    return deps.render_page(request, "consultations/list.html", context)


# --- a new consultation ----------------------------------------------------------------------------


def _templates(request: Request) -> list[Any]:
    extra = deps.settings(request).templates_dir
    return [load_template(name, extra) for name in template_names(extra)]


def _new_page(request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200) -> Response:
    context = {"templates": _templates(request), "values": values, "errors": errors, "arms": ARMS}
    return deps.render_page(request, "consultations/new.html", context, status_code=status_code)


def _clinician(user: User) -> None:
    if user.role != Role.CLINICIAN:
        raise HTTPException(403, "Only clinicians start consultations.")


@router.get("/consultations/new")
def new_form(request: Request, user: User = Depends(deps.current_user)) -> Response:
    _clinician(user)
    values = {"template": "gp", "name": "", "nhs_number": "", "birth_date": "", "reason": "", "arm": "scribe"}
    return _new_page(request, values, {})


def validate_patient(values: dict[str, str], templates: list[str]) -> dict[str, str]:
    """Problems with the new-consultation form, by field id (empty when it is fine)."""
    errors: dict[str, str] = {}
    if values["template"] not in templates:
        errors["template"] = "Choose one of the note templates."
    if values["nhs_number"] and not valid_nhs_number(values["nhs_number"]):
        errors["nhs_number"] = "The NHS number must be 10 digits with a valid check digit; check it or leave it empty."
    if values["birth_date"]:
        try:
            born = date.fromisoformat(values["birth_date"])
        except ValueError:
            errors["birth_date"] = "Enter the date of birth as a date, for example 1970-03-31."
        else:
            if born > date.today() or born.year < 1880:
                errors["birth_date"] = "The date of birth must be in the past."
    if len(values["name"]) > 200 or len(values["reason"]) > 200:
        errors["name" if len(values["name"]) > 200 else "reason"] = "Keep the name and reason under 200 characters."
    return errors


@router.post("/consultations/new", dependencies=[Depends(deps.csrf)])
async def new_submit(request: Request, user: User = Depends(deps.current_user)) -> Response:
    _clinician(user)
    form = await request.form()
    values = {k: deps.one_line(form, k) for k in ("template", "name", "nhs_number", "birth_date", "reason")}
    values["arm"] = str(form.get("arm", "")).strip() or "scribe"
    errors = validate_patient(values, template_names(deps.settings(request).templates_dir))
    if values["arm"] not in ARMS:
        errors["arm-scribe"] = "Choose whether scribe drafts the note or you write it yourself."
    if errors:
        return _new_page(request, values, errors, status_code=400)
    patient = PatientDetails(
        name=values["name"],
        nhs_number=values["nhs_number"].replace(" ", ""),
        birth_date=values["birth_date"],
        reason=values["reason"],
    )
    store = deps.store(request)
    c = store.consultations.create(user.id, values["template"], patient)
    if values["arm"] != "control":
        deps.audit(request, "create", deps.target(c.id))
        return deps.redirect(f"/consultations/{c.id}/consent")

    def control(m: ReviewMetrics) -> None:
        m.arm = "control"

    c.metrics = store.consultations.update_metrics(c.id, control)
    deps.audit(request, "create", deps.target(c.id), detail="control arm")
    _write_blank(request, c, user)
    return deps.redirect(f"/consultations/{c.id}")


# --- consent -----------------------------------------------------------------------------------------


def _consent_page(request: Request, c: Consultation, error: str = "", status_code: int = 200) -> Response:
    context = {
        "consultation": c,
        "error": error,
        "can_write": c.current_version == 0 and deps.allowed(request, "edit", c),
        "has_note": c.current_version > 0,
        "control": workflow.is_control(c),
    }
    return deps.render_page(request, "consultations/consent.html", context, status_code=status_code)


@router.get("/consultations/{cid}/consent")
def consent_form(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    c = deps.consultation(request, cid, "record")
    if c.consent is not None and c.consent.agreed:
        return deps.redirect(f"/consultations/{cid}/record")
    if workflow.is_control(c) and c.current_version:
        return deps.redirect(f"/consultations/{cid}")
    return _consent_page(request, c)


@router.post("/consultations/{cid}/consent", dependencies=[Depends(deps.csrf)])
async def consent_submit(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    c = deps.consultation(request, cid, "record")
    workflow.check_consent(c)
    decision = (await request.form()).get("decision")
    if decision not in ("agreed", "objected"):
        return _consent_page(request, c, "Choose whether the patient agreed or objected.", status_code=400)
    agreed = decision == "agreed"
    c = deps.store(request).consultations.set_consent(cid, Consent(informed=True, agreed=agreed, recorded_by=user.id))
    deps.audit(request, "consent", deps.target(cid), detail="agreed" if agreed else "objected")
    return deps.redirect(f"/consultations/{cid}/record" if agreed else f"/consultations/{cid}/consent")


def _write_blank(request: Request, c: Consultation, user: User) -> None:
    """Give ``c`` an empty note from its template for the clinician to write without the scribe.

    See :func:`scribe.review.workflow.write_unaided`: in the control arm the review page then times the
    writing exactly as it times a draft's review (first shown, heartbeats of active use, approval).
    """
    note = blank_note(load_template(c.template, deps.settings(request).templates_dir))
    workflow.write_unaided(deps.store(request), c, note, user.id)
    deps.audit(
        request,
        "write-unaided",
        deps.target(c.id),
        detail="control arm" if workflow.is_control(c) else "patient objected",
    )


@router.post("/consultations/{cid}/unaided", dependencies=[Depends(deps.csrf)])
def write_unaided(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """After an objection, or in the control arm: an empty note from the template to write without the scribe."""
    c = deps.consultation(request, cid, "edit")
    _write_blank(request, c, user)
    return deps.redirect(f"/consultations/{cid}")


# --- recording and upload --------------------------------------------------------------------------


def _record_page(request: Request, c: Consultation, error: str = "", status_code: int = 200) -> Response:
    context = {
        "consultation": c,
        "base": f"/consultations/{c.id}",
        "error": error,
        "can_record": workflow.accepts_recording(c) and c.status == ConsultationStatus.RECORDING,
        "can_upload": workflow.accepts_recording(c),
        "interrupted": workflow.recording_started(c) and c.current_version == 0,
        "max_upload_mb": deps.settings(request).max_upload_mb,
        "segments": [],
        "speaker_labels": deps.SPEAKER_LABELS,
        **_status_context(c),
    }
    return deps.render_page(request, "consultations/record.html", context, status_code=status_code)


@router.get("/consultations/{cid}/record")
def record_page(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    c = deps.consultation(request, cid, "record")
    if workflow.is_control(c) and c.current_version:
        return deps.redirect(f"/consultations/{cid}")
    if c.consent is None or not c.consent.agreed:
        return deps.redirect(f"/consultations/{cid}/consent")
    if c.current_version:
        return deps.redirect(f"/consultations/{cid}")
    deps.audit(request, "view", deps.target(cid), detail="record page")
    return _record_page(request, c)


@router.post("/consultations/{cid}/start", dependencies=[Depends(deps.csrf)])
def start_recording(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Mark the consultation RECORDING; the browser then sends chunks from sequence number 0."""
    c = deps.consultation(request, cid, "record")
    workflow.start_recording(deps.store(request), c)
    deps.audit(request, "record-start", deps.target(cid))
    return JSONResponse({"next_seq": 0})


@router.post("/consultations/{cid}/chunks/{seq}", dependencies=[Depends(deps.csrf)])
async def recording_chunk(request: Request, cid: str, seq: int, user: User = Depends(deps.current_user)) -> Response:
    """One piece of the browser's recording (raw WebM/Opus bytes); idempotent per sequence number."""
    c = deps.consultation(request, cid, "record")
    if seq < 0 or seq > 1_000_000:
        raise HTTPException(400, "The chunk number is out of range.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_CHUNK_BYTES:
        raise HTTPException(413, "The recording chunk is too large.")
    data = await request.body()
    if not data:
        raise HTTPException(400, "The recording chunk is empty.")
    if len(data) > MAX_CHUNK_BYTES:
        raise HTTPException(413, "The recording chunk is too large.")
    if not workflow.recording_started(c):
        raise HTTPException(409, "This consultation is not recording; reload the page.")
    stored = deps.store(request).audio.append_chunk(cid, seq, data)
    if stored and (worker := deps.runner(request)) is not None:
        worker.live_chunk(cid, seq, data)
    return JSONResponse({"stored": stored, "seq": seq})


@router.post("/consultations/{cid}/stop", dependencies=[Depends(deps.csrf)])
def stop_recording(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """End the recording: the transcript is finished (or made from the saved chunks) and the note drafted."""
    c = deps.consultation(request, cid, "record")
    if not workflow.recording_started(c):
        raise HTTPException(409, "This consultation is not recording.")
    store = deps.store(request)
    if (worker := deps.runner(request)) is not None:
        worker.stop_recording(cid)
    else:  # no live session to finish: the stored chunks are the recording a later worker transcribes
        data = store.audio.chunks(cid)
        if not data:
            raise HTTPException(409, "Nothing was recorded yet; record for a few seconds before stopping.")
        store.audio.put(cid, "original", Audio(data, "audio/webm"))
        workflow.stop_recording(store, cid, store.jobs.enqueue)
    deps.audit(request, "record-stop", deps.target(cid))
    if deps.wants_json(request):
        return JSONResponse({"next": f"/consultations/{cid}/record"})
    return deps.redirect(f"/consultations/{cid}/record")


@router.get("/consultations/{cid}/live")
def live_transcript(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """The live transcript so far, as an htmx fragment; 286 (htmx: stop polling) once recording has ended."""
    c = deps.consultation(request, cid, "transcript")
    worker = deps.runner(request)
    segments = worker.live_segments(cid) if worker is not None else []
    done = c.status != ConsultationStatus.RECORDING
    context = {"segments": segments, "speaker_labels": deps.SPEAKER_LABELS}
    return deps.render_page(request, "consultations/_live.html", context, status_code=286 if done else 200)


def _status_context(c: Consultation) -> dict[str, Any]:
    ready = c.current_version > 0
    return {
        "consultation": c,
        "base": f"/consultations/{c.id}",
        "ready": ready,
        "status_text": _STATUS_TEXT.get(c.status, ""),
    }


@router.get("/consultations/{cid}/status")
def status_fragment(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Where the pipeline stands, for polling; redirects (htmx) to the review page once the draft is ready."""
    c = deps.consultation(request, cid, "view")
    context = _status_context(c)
    worker = deps.runner(request)
    if c.status == ConsultationStatus.DRAFTING and worker is not None and deps.allowed(request, "edit", c):
        context["written"] = worker.written_sections(cid)  # for the reviewing clinician only: a draft in progress
    headers = {"HX-Redirect": f"/consultations/{cid}"} if context["ready"] and deps.is_htmx(request) else None
    final = context["ready"] or c.status == ConsultationStatus.FAILED
    if deps.wants_json(request):
        return JSONResponse({"status": c.status.value, "ready": context["ready"], "error": c.error})
    code = 286 if final and deps.is_htmx(request) and not headers else 200
    return deps.render_page(request, "consultations/_status.html", context, status_code=code, headers=headers)


class _Refused(Exception):
    """The upload cannot be taken: status code and message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _UploadForm:
    """Reads a multipart upload as it streams: the CSRF field, then the audio file into memory, within a limit."""

    def __init__(self, boundary: bytes, limit: int, expected_csrf: str, header_ok: bool) -> None:
        self.limit = limit
        self.expected = expected_csrf
        self.csrf_ok = header_ok
        self.audio = bytearray()
        self.media_type = ""
        self.seen_file = False
        self._field = bytearray()
        self._name = ""
        self._is_file = False
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
            },
        )

    def _part_begin(self) -> None:
        self._headers, self._field, self._name, self._is_file = {}, bytearray(), "", False

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("latin-1")
        self._is_file = b"filename" in options
        if self._is_file and self._name == "audio":
            if not self.csrf_ok:
                raise _Refused(403, "This form has expired or did not come from this site. Reload the page.")
            self.seen_file = True
            self.media_type = self._headers.get(b"content-type", b"").decode("latin-1")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file and self._name == "audio":
            self.audio.extend(data[start:end])
            if len(self.audio) > self.limit:
                raise _Refused(413, f"The file is larger than the {self.limit // (1024 * 1024)} MB limit.")
        elif not self._is_file and len(self._field) < 4096:
            self._field.extend(data[start:end])

    def _part_end(self) -> None:
        if not self._is_file and self._name == "csrf_token":
            supplied = self._field.decode("utf-8", "replace")
            self.csrf_ok = self.csrf_ok or hmac.compare_digest(supplied, self.expected)

    def write(self, chunk: bytes) -> None:
        self.parser.write(chunk)


@router.post("/consultations/{cid}/upload")
async def upload(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """A recording uploaded as a file (multipart field 'audio'): checked, stored encrypted, queued for transcription.

    Refused: no valid CSRF token (403), too large (413, counted while streaming), empty or not audio (400).
    """
    expected = request.state.signed_in.session.csrf_token
    header = request.headers.get(deps.CSRF_HEADER)
    header_ok = header is not None and hmac.compare_digest(header, expected)
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    limit = int(deps.settings(request).max_upload_mb * 1024 * 1024)
    try:
        if content_type != b"multipart/form-data" or not options.get(b"boundary"):
            if not header_ok:
                raise _Refused(403, "This form has expired or did not come from this site. Reload the page.")
            raise _Refused(400, "Send the recording as a file from the upload form.")
        c = deps.consultation(request, cid, "record")
        try:
            workflow.check_accepts_recording(c)
        except StateError as exc:
            raise _Refused(409, str(exc)) from None
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + 64 * 1024 and header_ok:
            raise _Refused(413, f"The file is larger than the {limit // (1024 * 1024)} MB limit.")
        form = _UploadForm(options[b"boundary"], limit, expected, header_ok)
        async for chunk in request.stream():
            form.write(chunk)
        if not form.csrf_ok:
            raise _Refused(403, "This form has expired or did not come from this site. Reload the page.")
        if not form.seen_file or not form.audio:
            raise _Refused(400, "The file is empty: choose a recording to upload.")
        data = bytes(form.audio)
        try:
            info = probe_audio(data, "The uploaded file", max_seconds=deps.settings(request).max_audio_seconds)
        except AudioError as exc:
            raise _Refused(400, f"{exc}.") from None
    except _Refused as refused:
        if refused.status == 403:
            deps.audit(request, "csrf", request.url.path, outcome="denied")
        else:
            deps.audit(request, "upload", deps.target(cid), outcome="failed", detail=f"{refused.status}")
        if refused.status in (403, 409) or deps.wants_json(request):
            raise HTTPException(refused.status, refused.message) from None
        return _record_page(request, deps.store(request).consultations.get(cid), refused.message, refused.status)
    media_type = form.media_type if form.media_type.startswith(("audio/", "video/")) else f"audio/{info.format}"
    store = deps.store(request)
    store.audio.put(cid, "original", Audio(data, media_type))
    workflow.submit_recording(store, cid, deps.enqueuer(request))
    deps.audit(request, "upload", deps.target(cid), detail=f"{len(data)} bytes")
    return deps.redirect(f"/consultations/{cid}/record")


@router.post("/consultations/{cid}/retry", dependencies=[Depends(deps.csrf)])
def retry(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Run the failed stage again (after a fix or a restart of the model server)."""
    c = deps.consultation(request, cid, "record")
    workflow.retry(deps.store(request), c, deps.enqueuer(request))
    deps.audit(request, "retry", deps.target(cid))
    return deps.redirect(f"/consultations/{cid}/record")


# --- access and deletion ---------------------------------------------------------------------------


@router.post("/consultations/{cid}/access", dependencies=[Depends(deps.csrf)])
async def grant_access(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Let another user open this consultation (owner or admin)."""
    deps.consultation(request, cid, "grant")
    username = str((await request.form()).get("username", "")).strip()
    store = deps.store(request)
    found = store.users.find(username) if username else None
    if found is None or not found[0].active:
        raise HTTPException(400, "There is no active user with that username; check the spelling.")
    store.consultations.grant(cid, found[0].id)
    deps.audit(request, "grant", deps.target(cid), detail=f"user:{found[0].id}")
    return deps.redirect(f"/consultations/{cid}?tab=history")


@router.post("/consultations/{cid}/delete", dependencies=[Depends(deps.csrf)])
async def delete(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Delete the consultation for good (owner or admin), leaving an audit tombstone."""
    deps.consultation(request, cid, "delete")
    if (await request.form()).get("confirm") != "yes":
        raise HTTPException(400, "Tick the box to confirm the deletion.")
    deps.store(request).consultations.delete(cid)
    deps.audit(request, "delete", deps.target(cid), detail="by user")
    return deps.redirect("/")
