"""Export of approved notes: plain text (to paste into a record system), PDF (note or letters), JSON,
FHIR R4 Bundles (download), and sending to the site's EPR over FHIR when one is configured.

Only an approved version leaves (409 otherwise), only for roles allowed to export; every export is
recorded with the consultation and audited, and carries the patient's disputes. Downloads are built
in memory: nothing is written to disk on the server.
"""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from scribe.errors import ConfigError, ExportError
from scribe.export.approved import letter_pdf_blocks, note_pdf_blocks, note_text, patient_line
from scribe.export.fhir import Actor, fhir_bundle, record_export, send_approved
from scribe.notes.render import pdf_bytes
from scribe.records import LetterKind
from scribe.review import deps, workflow
from scribe.rows import Consultation, ExportRecord, NoteVersion, User

router = APIRouter()


def _approved(request: Request, c: Consultation) -> NoteVersion:
    """The current version if approved; StateError (409) otherwise."""
    return workflow.approved_version(deps.store(request), c)


def _patient_line(request: Request, c: Consultation) -> str:
    return patient_line(deps.store(request).consultations.patient(c.id))


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _record(request: Request, c: Consultation, v: NoteVersion, fmt: str, user: User) -> None:
    deps.store(request).exports.record(
        ExportRecord(consultation_id=c.id, version=v.version, format=fmt, user_id=user.id)
    )
    deps.audit(request, "export", deps.target(c.id), detail=f"{fmt} version {v.version}")


@router.get("/consultations/{cid}/export/text")
def export_text(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """The approved note as plain text, with any disputes."""
    c = deps.consultation(request, cid, "export")
    v = _approved(request, c)
    text = note_text(c, v, deps.store(request).notes.disputes(cid), _patient_line(request, c))
    _record(request, c, v, "text", user)
    return _download(text.encode("utf-8"), "text/plain; charset=utf-8", f"note-{cid[:8]}-v{v.version}.txt")


@router.get("/consultations/{cid}/export/pdf")
def export_pdf(
    request: Request, cid: str, kind: Literal["note", "gp", "patient"] = "note", user: User = Depends(deps.current_user)
) -> Response:
    """The approved note, or the GP or patient letter drafted from it, as a PDF."""
    c = deps.consultation(request, cid, "export")
    v = _approved(request, c)
    store = deps.store(request)
    disputes = store.notes.disputes(cid)
    footer = f"Approved by {v.approval.name if v.approval else ''} · scribe"
    if kind == "note":
        blocks = note_pdf_blocks(v, disputes, _patient_line(request, c))
        fmt = "pdf-note"
    else:
        letter = store.notes.get_letter(cid, LetterKind(kind), v.version)
        if letter is None:
            raise HTTPException(404, "No letter of that kind has been drafted for this note.")
        blocks = letter_pdf_blocks(letter, v, disputes)
        fmt = f"pdf-letter-{kind}"
    data = pdf_bytes(blocks, footer=footer)
    _record(request, c, v, fmt, user)
    return _download(data, "application/pdf", f"{kind}-{cid[:8]}-v{v.version}.pdf")


@router.get("/consultations/{cid}/export/json")
def export_json(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """The approved note version and the disputes as JSON.

    Statements the grounding check removed and the clinician did not restore (``note.removed``) are not part
    of the approved note, so they are left out, as from every other export.
    """
    c = deps.consultation(request, cid, "export")
    v = _approved(request, c)
    body = {
        "consultation_id": cid,
        "note_version": v.model_dump(mode="json", exclude={"note": {"removed"}}),
        "disputes": [d.model_dump(mode="json") for d in deps.store(request).notes.disputes(cid)],
    }
    _record(request, c, v, "json", user)
    data = json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8")
    return _download(data, "application/json", f"note-{cid[:8]}-v{v.version}.json")


@router.get("/consultations/{cid}/export/fhir")
def export_fhir(
    request: Request,
    cid: str,
    bundle: Literal["document", "transaction"] = "document",
    user: User = Depends(deps.current_user),
) -> Response:
    """The approved note as a FHIR R4 document or transaction Bundle (UK Core), to download."""
    c = deps.consultation(request, cid, "export")
    v = _approved(request, c)
    note, built = fhir_bundle(deps.store(request), cid, bundle, deps.settings(request), version=v.version)
    record_export(deps.store(request), note, f"fhir-{bundle}", Actor(user.id, user.username), destination="download")
    data = json.dumps(built, indent=2, ensure_ascii=False).encode("utf-8")
    return _download(data, "application/fhir+json", f"fhir-{bundle}-{cid[:8]}-v{v.version}.json")


@router.post("/consultations/{cid}/export/epr", dependencies=[Depends(deps.csrf)])
def send_to_epr(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Send the approved note to the site's EPR (a FHIR transaction); every attempt shows in the History tab."""
    c = deps.consultation(request, cid, "export")
    v = _approved(request, c)
    settings = deps.settings(request)
    if not settings.fhir_base_url:
        raise HTTPException(409, "No EPR is configured for this site; download the FHIR bundle or the PDF instead.")
    try:
        send_approved(deps.store(request), cid, settings, Actor(user.id, user.username), version=v.version)
    except (ExportError, ConfigError) as exc:
        raise HTTPException(
            502, f"The note was not sent to the EPR: {exc} It stays approved here; try again later."
        ) from None
    return deps.redirect(f"/consultations/{cid}?tab=history")
