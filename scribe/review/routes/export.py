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
from scribe.export.fhir import Actor, fhir_bundle, record_export, send_approved
from scribe.notes.editing import STRUCTURED, STRUCTURED_TITLES
from scribe.notes.render import Alert, Block, Bullets, Heading, Paragraph, Text, pdf_bytes
from scribe.records import Letter, LetterKind
from scribe.review import deps
from scribe.review.routes.consultations import load, redirect, target
from scribe.rows import Consultation, Dispute, ExportRecord, NoteState, NoteVersion, User

router = APIRouter()

_LETTER_TITLES = {LetterKind.GP: "Letter to the GP", LetterKind.PATIENT: "Letter to the patient"}


def _approved(request: Request, c: Consultation) -> NoteVersion:
    """The current version if approved; 409 otherwise."""
    if not c.current_version:
        raise HTTPException(409, "There is no note yet; only approved notes can be exported.")
    v = deps.store(request).notes.get_version(c.id, None)
    if v.state != NoteState.APPROVED or v.approval is None:
        raise HTTPException(409, "Only approved notes can be exported: approve this version first.")
    return v


def _approval_line(v: NoteVersion) -> str:
    assert v.approval is not None
    return f"Approved by {v.approval.name} on {v.approval.at:%d %b %Y at %H:%M} UTC (note version {v.version})."


def _dispute_lines(disputes: list[Dispute]) -> list[str]:
    return [f"Patient dispute recorded {d.recorded_at:%d %b %Y} (version {d.version}): {d.text}" for d in disputes]


def _sections(v: NoteVersion) -> list[tuple[str, list[str]]]:
    """The approved note's headings and lines: sections, then the structured lists in use."""
    out = [(s.title, [st.text for st in s.statements if st.text.strip()]) for s in v.note.sections]
    for key in STRUCTURED:
        items = getattr(v.note, key)
        if items:
            out.append((STRUCTURED_TITLES[key], [i.claim() for i in items]))
    return out


def note_text(c: Consultation, v: NoteVersion, disputes: list[Dispute], patient_line: str) -> str:
    """The approved note as plain text for an EPR without FHIR: header, disputes, sections as bullet lists."""
    lines = [v.note.title or "Consultation note", f"Consultation on {c.created_at:%d %b %Y}"]
    if patient_line:
        lines.append(patient_line)
    lines.append(_approval_line(v))
    if disputes:
        lines += ["", "THE PATIENT DISPUTES THIS NOTE:", *(f"- {line}" for line in _dispute_lines(disputes))]
    for title, items in _sections(v):
        lines += ["", title, *([f"- {i}" for i in items] or ["- Nothing recorded."])]
    return "\n".join(lines) + "\n"


def _note_blocks(c: Consultation, v: NoteVersion, disputes: list[Dispute], patient_line: str) -> list[Block]:
    banner = [(Text(_approval_line(v), "strong"),)]
    if patient_line:
        banner.append((Text(patient_line),))
    banner += [(Text(line, "warn"),) for line in _dispute_lines(disputes)]
    blocks: list[Block] = [Heading(v.note.title or "Consultation note", 1), Alert(tuple(banner))]
    for title, items in _sections(v):
        blocks.append(Heading(title))
        if items:
            blocks.append(Bullets(tuple((Text(i),) for i in items)))
        else:
            blocks.append(Paragraph(((Text("Nothing recorded.", "muted"),),)))
    return blocks


def _letter_blocks(letter: Letter, v: NoteVersion, disputes: list[Dispute]) -> list[Block]:
    banner = [(Text(f"Drafted from the approved note. {_approval_line(v)}", "muted"),)]
    banner += [(Text(line, "warn"),) for line in _dispute_lines(disputes)]
    blocks: list[Block] = [Heading(_LETTER_TITLES.get(letter.kind, "Letter"), 1), Alert(tuple(banner))]
    if letter.salutation.strip():
        blocks.append(Paragraph(((Text(letter.salutation.strip()),),)))
    for paragraph in letter.paragraphs:
        text = " ".join(s.text.strip() for s in paragraph if s.text.strip())
        if text:
            blocks.append(Paragraph(((Text(text),),)))
    closing = tuple((Text(line.strip()),) for line in letter.closing.splitlines() if line.strip())
    if closing:
        blocks.append(Paragraph(closing))
    return blocks


def _patient_line(request: Request, c: Consultation) -> str:
    p = deps.store(request).consultations.patient(c.id)
    parts = [
        p.name,
        f"NHS number {p.nhs_number}" if p.nhs_number else "",
        f"born {p.birth_date}" if p.birth_date else "",
    ]
    return ", ".join(x for x in parts if x)


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _record(request: Request, c: Consultation, v: NoteVersion, fmt: str, user: User) -> None:
    deps.store(request).exports.record(
        ExportRecord(consultation_id=c.id, version=v.version, format=fmt, user_id=user.id)
    )
    deps.audit(request, "export", target(c.id), detail=f"{fmt} version {v.version}")


@router.get("/consultations/{cid}/export/text")
def export_text(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """The approved note as plain text, with any disputes."""
    c = load(request, cid, "export")
    v = _approved(request, c)
    text = note_text(c, v, deps.store(request).notes.disputes(cid), _patient_line(request, c))
    _record(request, c, v, "text", user)
    return _download(text.encode("utf-8"), "text/plain; charset=utf-8", f"note-{cid[:8]}-v{v.version}.txt")


@router.get("/consultations/{cid}/export/pdf")
def export_pdf(
    request: Request, cid: str, kind: Literal["note", "gp", "patient"] = "note", user: User = Depends(deps.current_user)
) -> Response:
    """The approved note, or the GP or patient letter drafted from it, as a PDF."""
    c = load(request, cid, "export")
    v = _approved(request, c)
    store = deps.store(request)
    disputes = store.notes.disputes(cid)
    footer = f"Approved by {v.approval.name if v.approval else ''} · scribe"
    if kind == "note":
        blocks = _note_blocks(c, v, disputes, _patient_line(request, c))
        fmt = "pdf-note"
    else:
        letter = store.notes.get_letter(cid, LetterKind(kind), v.version)
        if letter is None:
            raise HTTPException(404, "No letter of that kind has been drafted for this note.")
        blocks = _letter_blocks(letter, v, disputes)
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
    c = load(request, cid, "export")
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
    c = load(request, cid, "export")
    v = _approved(request, c)
    note, built = fhir_bundle(deps.store(request), cid, bundle, deps.settings(request), version=v.version)
    record_export(deps.store(request), note, f"fhir-{bundle}", Actor(user.id, user.username), destination="download")
    data = json.dumps(built, indent=2, ensure_ascii=False).encode("utf-8")
    return _download(data, "application/fhir+json", f"fhir-{bundle}-{cid[:8]}-v{v.version}.json")


@router.post("/consultations/{cid}/export/epr", dependencies=[Depends(deps.csrf)])
def send_to_epr(request: Request, cid: str, user: User = Depends(deps.current_user)) -> Response:
    """Send the approved note to the site's EPR (a FHIR transaction); every attempt shows in the History tab."""
    c = load(request, cid, "export")
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
    return redirect(f"/consultations/{cid}?tab=history")
