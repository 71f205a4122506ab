"""Consultation and review pages of the review app: list, consent, recording, upload, review, edits, approval,
corrections, disputes, exports and who may see what (TestClient, real encrypted store, no worker)."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.fhir_server import fhir_server
from helpers.local_server import free_port
from helpers.review_app import PASSWORD, csrf_from, review_app, review_settings, signed_in_client, totp_secret

from scribe.export.fhir_client import FhirClient
from scribe.notes.editing import flags
from scribe.notes.inputs import transcript_from_data
from scribe.records import Letter, LetterKind, Medication, NoteDraft, NoteSection, Omission, RemovedStatement, Statement
from scribe.review.routes.consultations import valid_nhs_number
from scribe.rows import Consent, ConsultationStatus, JobKind, NoteState, PatientDetails, Role
from scribe.store import Audio, Store
from scribe.store.accounts import hash_password

DATA = Path(__file__).parent.parent / "data"
HX = {"HX-Request": "true"}
_HASHES: list[str] = []


def add_user(store: Store, username: str, role: Role = Role.CLINICIAN, *, totp: bool = False):
    """As review_app.add_user, hashing the shared password once per test run (Argon2id is slow on purpose)."""
    if not _HASHES:
        _HASHES.append(hash_password(PASSWORD))
    user = store.users.create(username, username.title(), role, _HASHES[0], totp_required=totp)
    if totp:
        store.users.set_totp_secret(user.id, totp_secret(username))
    return store.users.get(user.id)


def _note() -> NoteDraft:
    return NoteDraft(
        template="gp",
        title="GP consultation note",
        sections=[
            NoteSection(
                key="presenting_complaint",
                title="Presenting complaint",
                statements=[Statement(text="Right knee pain for two weeks.", evidence=[1], supported=True)],
            ),
            NoteSection(
                key="plan",
                title="Plan",
                statements=[
                    Statement(text="Paracetamol continued.", evidence=[7], supported=True),
                    Statement(text="Chest X-ray arranged.", supported=False, reason="cites no evidence"),
                ],
            ),
        ],
        medications=[Medication(name="paracetamol", dose="1 g", evidence=[7], supported=True)],
        omissions=[Omission(kind="red_flag", text="no fever", evidence=[5])],
    )


class World:
    """A store with users and one drafted consultation owned by alice."""

    def __init__(self, tmp_path: Path, **settings: object) -> None:
        self.store_settings = review_settings(tmp_path, **settings)
        self.app, self.store = review_app(self.store_settings)
        self.alice = add_user(self.store, "alice")
        self.bob = add_user(self.store, "bob")
        self.ivy = add_user(self.store, "ivy", Role.INTEGRATOR)
        self.root = add_user(self.store, "root", Role.ADMIN, totp=True)
        self.cid = self.drafted()
        self._clients: dict[str, TestClient] = {}

    def drafted(self, note: NoteDraft | None = None) -> str:
        c = self.store.consultations.create(
            self.alice.id, "gp", PatientDetails(name="Jo Bloggs", nhs_number="9434765919", reason="knee pain")
        )
        self.store.consultations.set_consent(c.id, Consent(informed=True, agreed=True, recorded_by=self.alice.id))
        transcript = transcript_from_data(json.loads((DATA / "knee_consultation.json").read_text()))
        self.store.notes.put_transcript(c.id, transcript)
        self.store.audio.put(c.id, "playback", Audio((DATA / "sample_mono.flac").read_bytes(), "audio/flac"))
        self.store.notes.add_version(c.id, note or _note(), created_by=None)
        self.store.consultations.set_status(c.id, ConsultationStatus.DRAFTED)
        return c.id

    def client(self, username: str) -> TestClient:
        if username not in self._clients:
            self._clients[username] = signed_in_client(self.app, self.store, username)
        return self._clients[username]

    def csrf(self, username: str) -> str:
        return csrf_from(self.client(username).get("/account").text)

    def post(self, username: str, path: str, data: dict | None = None, headers: dict | None = None, **kw):
        form = {"csrf_token": self.csrf(username), **(data or {})}
        return self.client(username).post(path, data=form, headers=headers, follow_redirects=False, **kw)

    def version(self, number: int | None = None):
        return self.store.notes.get_version(self.cid, number)

    def store_path(self) -> Path:
        return Path(self.store_settings.database_url.removeprefix("sqlite:///"))


@pytest.fixture
def world(tmp_path: Path):
    w = World(tmp_path)
    yield w
    w.store.close()


def _approve(w: World, **extra: str):
    data = {"version": str(w.store.consultations.get(w.cid).current_version), "attest": "yes", "flags_checked": "yes"}
    return w.post("alice", f"/consultations/{w.cid}/approve", data | extra)


# --- list and review page ------------------------------------------------------------------------------------


def test_list_shows_own_consultations_with_status(world: World) -> None:
    page = world.client("alice").get("/")
    assert page.status_code == 200
    assert "Jo Bloggs" in page.text and "knee pain" in page.text
    assert "status-drafted" in page.text and f'href="/consultations/{world.cid}"' in page.text
    other = world.client("bob").get("/")
    assert "Jo Bloggs" not in other.text and world.cid not in other.text


def test_admin_sees_metadata_only_and_integrator_sees_only_approved(world: World) -> None:
    page = world.client("root").get("/")
    assert world.cid in page.text and "Jo Bloggs" not in page.text
    meta = world.client("root").get(f"/consultations/{world.cid}")
    assert meta.status_code == 200 and "Jo Bloggs" not in meta.text and "Alice" in meta.text
    assert "Paracetamol" not in meta.text
    assert world.cid not in world.client("ivy").get("/").text
    assert world.client("ivy").get(f"/consultations/{world.cid}").status_code == 403


def test_review_page_shows_flags_evidence_transcript_and_sets_first_shown(world: World) -> None:
    page = world.client("alice").get(f"/consultations/{world.cid}")
    assert page.status_code == 200
    text = page.text
    assert "Unsupported" in text and "cites no evidence" in text
    assert 'data-evidence="7"' in text and 'id="seg-7"' in text
    assert "Possibly omitted" in text and "no fever" in text
    assert "Clinician" in text and "Patient" in text and 'class="play-seg' in text
    assert "I have checked the 2 flagged items" in text
    assert world.store.consultations.get(world.cid).metrics.first_shown_at is not None
    assert any(e.action == "view" and e.target == f"consultation:{world.cid}" for e in world.store.audit.events())
    for tab in ("letters", "changes", "history"):
        assert world.client("alice").get(f"/consultations/{world.cid}?tab={tab}").status_code == 200


def test_other_clinician_is_refused_everywhere(world: World) -> None:
    bob = world.client("bob")
    for path in ("", "/audio", "/record", "/export/text", "/statements/plan/0/edit", "/live"):
        assert bob.get(f"/consultations/{world.cid}{path}").status_code == 403, path
    response = world.post("bob", f"/consultations/{world.cid}/statements/plan/0", {"version": "1", "text": "x"})
    assert response.status_code == 403
    assert world.version().note.sections[1].statements[0].text == "Paracetamol continued."
    assert any(e.outcome == "denied" and e.username == "bob" for e in world.store.audit.events())


def test_granted_clinician_may_review(world: World) -> None:
    response = world.post("alice", f"/consultations/{world.cid}/access", {"username": "bob"})
    assert response.status_code == 303
    assert world.client("bob").get(f"/consultations/{world.cid}").status_code == 200
    assert world.post("alice", f"/consultations/{world.cid}/access", {"username": "nobody"}).status_code == 400


# --- editing ------------------------------------------------------------------------------------------------------


def test_edit_statement_in_place(world: World) -> None:
    form = world.client("alice").get(f"/consultations/{world.cid}/statements/plan/1/edit", headers=HX)
    assert form.status_code == 200 and "<textarea" in form.text and "Chest X-ray arranged." in form.text
    response = world.post(
        "alice",
        f"/consultations/{world.cid}/statements/plan/1",
        {"version": "1", "text": "Right knee X-ray arranged."},
        headers=HX,
    )
    assert response.status_code == 200
    assert 'id="sec-plan"' in response.text and "Right knee X-ray arranged." in response.text
    assert "Edited" in response.text and 'hx-swap-oob="true"' in response.text
    statement = world.version().note.sections[1].statements[1]
    assert statement.text == "Right knee X-ray arranged." and statement.edited
    assert statement.supported is not None  # grounded again against the transcript
    (edit,) = world.store.notes.edits(world.cid)
    assert (edit.section, edit.index, edit.action.value, edit.before, edit.user_id) == (
        "plan",
        1,
        "edit",
        "Chest X-ray arranged.",
        world.alice.id,
    )
    assert any(e.action == "edit" for e in world.store.audit.events())


def test_add_and_delete_statements_without_htmx(world: World) -> None:
    base = f"/consultations/{world.cid}"
    response = world.post("alice", f"{base}/statements/plan", {"version": "1", "text": "Review in two weeks."})
    assert response.status_code == 303 and response.headers["location"].endswith("#sec-plan")
    assert [s.text for s in world.version().note.sections[1].statements][-1] == "Review in two weeks."
    assert world.post("alice", f"{base}/statements/plan/0/delete", {"version": "1"}).status_code == 303
    assert world.post("alice", f"{base}/statements/medications/0/delete", {"version": "1"}).status_code == 303
    note = world.version().note
    assert [s.text for s in note.sections[1].statements] == ["Chest X-ray arranged.", "Review in two weeks."]
    assert note.medications == []
    assert [e.action.value for e in world.store.notes.edits(world.cid)] == ["add", "delete", "delete"]
    assert world.post("alice", f"{base}/statements/plan", {"version": "1", "text": "  "}).status_code == 400
    assert world.post("alice", f"{base}/statements/nope/0", {"version": "1", "text": "x"}).status_code == 404
    assert world.post("alice", f"{base}/statements/plan/9", {"version": "1", "text": "x"}).status_code == 400


def test_stale_version_is_refused(world: World) -> None:
    response = world.post("alice", f"/consultations/{world.cid}/statements/plan/0", {"version": "2", "text": "x"})
    assert response.status_code == 409


# --- statements the grounding check removed ---------------------------------------------------------------------------

MRI = "MRI of the right knee booked."
XRAY = "Knee X-ray showed a fracture."


def _with_removed() -> NoteDraft:
    """_note() with an examination section holding only the placeholder, and two statements the check removed."""
    note = _note()
    note.sections.append(
        NoteSection(
            key="examination",
            title="Examination",
            statements=[Statement(text="Not discussed.", supported=True, reason="not discussed")],
        )
    )
    note.removed = [
        RemovedStatement(
            section="plan",
            statement=Statement(text=MRI, evidence=[16], supported=False, reason="the transcript does not say this"),
        ),
        RemovedStatement(
            section="examination",
            statement=Statement(text=XRAY, evidence=[12], supported=False, reason="no segment mentions an X-ray"),
        ),
    ]
    return note


def _restore_form(w: World, index: int) -> dict[str, str]:
    """The hidden fields of removed statement ``index``'s Restore form, read from the review page."""
    page = w.client("alice").get(f"/consultations/{w.cid}").text
    action = f"/consultations/{w.cid}/removed/{index}/restore"
    form = re.search(rf'<form method="post" action="{action}".*?</form>', page, re.S)
    assert form, "no Restore form"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form.group(0)))
    return {k: v for k, v in fields.items() if k != "csrf_token"}


@pytest.fixture
def removed(tmp_path: Path):
    w = World(tmp_path)
    w.cid = w.drafted(_with_removed())
    yield w
    w.store.close()


def test_review_page_lists_what_the_check_removed(removed: World) -> None:
    page = removed.client("alice").get(f"/consultations/{removed.cid}").text
    assert "Removed by the check" in page
    box = page[page.index('id="removed"') : page.index('id="approve-box"')]
    assert MRI in box and "the transcript does not say this" in box and 'data-evidence="16"' in box
    assert XRAY in box and "no segment mentions an X-ray" in box and "Examination:" in box and "Plan:" in box
    assert box.count(">Restore</button>") == 2 and f"/consultations/{removed.cid}/removed/1/restore" in box
    assert 'name="csrf_token"' in box and 'hx-target="#sec-plan"' in box
    assert "2 statements removed by the check will not be part of the" in page
    plan = page[page.index('id="sec-plan"') : page.index('id="sec-examination"')]
    assert MRI not in plan
    # Nothing removed: no list at all (the empty container stays for htmx to swap into).
    plain = removed.client("alice").get(f"/consultations/{removed.drafted()}").text
    assert "Removed by the check" not in plain and 'id="removed"' in plain


def test_restore_moves_the_statement_into_its_section_flagged_and_audited(removed: World) -> None:
    base = f"/consultations/{removed.cid}"
    response = removed.post("alice", f"{base}/removed/0/restore", _restore_form(removed, 0), headers=HX)
    assert response.status_code == 200
    assert 'id="sec-plan"' in response.text and MRI in response.text
    assert 'id="removed" class="removed" hx-swap-oob="true"' in response.text
    assert "the transcript does not say this" in response.text  # the section shows the flag with the reason
    note = removed.version().note
    restored = note.sections[1].statements[-1]
    assert (restored.text, restored.supported, restored.reason, restored.evidence) == (
        MRI,
        False,
        "the transcript does not say this",
        [16],
    )
    assert [r.statement.text for r in note.removed] == [XRAY]
    (edit,) = removed.store.notes.edits(removed.cid)
    assert (edit.section, edit.index, edit.action.value, edit.after, edit.user_id) == (
        "plan",
        2,
        "restore",
        MRI,
        removed.alice.id,
    )
    (event,) = removed.store.audit.events(action="restore")
    assert (event.username, event.target, event.outcome) == ("alice", f"consultation:{removed.cid}", "ok")
    assert event.detail == "version 1 plan 2" and MRI not in event.detail
    # Without htmx: the examination placeholder is replaced, and the page goes back to the section.
    response = removed.post("alice", f"{base}/removed/0/restore", _restore_form(removed, 0))
    assert response.status_code == 303 and response.headers["location"].endswith("#sec-examination")
    note = removed.version().note
    assert [s.text for s in note.sections[2].statements] == [XRAY] and note.removed == []
    assert "Removed by the check" not in removed.client("alice").get(base).text
    assert "restore: <del>Not discussed.</del> <ins>" + XRAY in removed.client("alice").get(f"{base}?tab=history").text
    assert MRI in removed.client("alice").get(f"{base}?tab=changes").text
    # Approval counts the restored statements among the flags and their sections as changed.
    assert flags(note).unsupported == 3  # the draft's own unsupported statement and the two restored
    assert _approve(removed).status_code == 303
    assert removed.version().approval.flags_acknowledged == flags(note).total
    sections = removed.store.consultations.get(removed.cid).metrics.sections
    assert sections["plan"].statements_added == 1
    assert sections["examination"].statements_added + sections["examination"].statements_edited == 1


def test_restore_is_refused_for_another_clinician_an_approved_note_or_a_stale_page(removed: World) -> None:
    base = f"/consultations/{removed.cid}"
    form = _restore_form(removed, 0)
    assert removed.post("bob", f"{base}/removed/0/restore", form).status_code == 403
    assert removed.post("ivy", f"{base}/removed/0/restore", form).status_code == 403
    assert removed.client("alice").post(f"{base}/removed/0/restore", data=form).status_code == 403  # no CSRF token
    assert removed.post("alice", f"{base}/removed/1/restore", form).status_code == 409  # another statement's form
    assert removed.post("alice", f"{base}/removed/5/restore", form).status_code == 409
    assert removed.post("alice", f"{base}/removed/0/restore", form | {"version": "2"}).status_code == 409
    note = removed.version().note
    assert len(note.removed) == 2 and [s.text for s in note.sections[2].statements] == ["Not discussed."]
    assert removed.store.notes.edits(removed.cid) == [] and removed.store.audit.events(action="restore") == []
    assert any(e.outcome == "denied" and e.username == "bob" for e in removed.store.audit.events())
    assert _approve(removed).status_code == 303
    assert removed.post("alice", f"{base}/removed/0/restore", form).status_code == 409
    assert len(removed.version().note.removed) == 2
    page = removed.client("alice").get(base).text
    assert "Removed by the check" in page and "not part of this version of the note" in page
    assert ">Restore</button>" not in page


def test_removed_statements_never_reach_the_exports_of_an_approved_note(removed: World) -> None:
    base = f"/consultations/{removed.cid}"
    assert removed.post("alice", f"{base}/removed/0/restore", _restore_form(removed, 0)).status_code == 303
    assert _approve(removed).status_code == 303
    alice = removed.client("alice")
    text = alice.get(f"{base}/export/text").text
    assert MRI in text and XRAY not in text
    body = alice.get(f"{base}/export/json")
    assert MRI in body.text and XRAY not in body.text and "removed" not in body.json()["note_version"]["note"]
    for kind in ("document", "transaction"):
        bundle = alice.get(f"{base}/export/fhir?bundle={kind}")
        assert bundle.status_code == 200 and MRI in bundle.text and XRAY not in bundle.text, kind
    assert XRAY in alice.get(base).text  # still listed on the page, as not part of the note


# --- approval, read-only, correction, rejection ---------------------------------------------------------------------


def test_approve_needs_attestation_and_flag_check(world: World) -> None:
    assert _approve(world, attest="").status_code == 400
    assert _approve(world, flags_checked="").status_code == 400
    assert world.version().state == NoteState.DRAFT


def test_approve_then_read_only_and_metrics(world: World) -> None:
    base = f"/consultations/{world.cid}"
    world.post("alice", f"{base}/statements/plan/1", {"version": "1", "text": "Knee X-ray arranged."})
    flagged = flags(world.version().note).total
    response = _approve(world)
    assert response.status_code == 303
    v = world.version()
    assert v.state == NoteState.APPROVED
    assert v.approval.name == "Alice" and v.approval.flags_acknowledged == flagged
    assert "responsible for its content" in v.approval.attestation
    c = world.store.consultations.get(world.cid)
    assert c.status == ConsultationStatus.APPROVED and c.metrics.approved_at is not None
    assert c.metrics.sections["plan"].statements_edited == 1
    assert c.metrics.sections["presenting_complaint"].chars_changed == 0
    assert c.audio_deleted_at is not None  # retention: audio goes at approval by default
    assert world.client("alice").get(f"{base}/audio").status_code == 404
    page = world.client("alice").get(base)
    assert "Approved" in page.text and "/statements/plan/0/edit" not in page.text
    assert world.post("alice", f"{base}/statements/plan/0", {"version": "1", "text": "x"}).status_code == 409
    assert world.post("alice", f"{base}/statements/plan", {"version": "1", "text": "x"}).status_code == 409
    assert _approve(world).status_code == 409
    assert any(e.action == "approve" for e in world.store.audit.events())


def test_correction_creates_a_new_version_needing_approval(world: World) -> None:
    base = f"/consultations/{world.cid}"
    _approve(world)
    assert world.post("alice", f"{base}/correct", {"version": "1"}).status_code == 303
    v2 = world.version()
    assert (v2.version, v2.state, v2.based_on, v2.created_by) == (2, NoteState.DRAFT, 1, world.alice.id)
    assert world.store.consultations.get(world.cid).status == ConsultationStatus.DRAFTED
    assert world.client("alice").get(f"{base}/export/text").status_code == 409
    world.post("alice", f"{base}/statements/plan/0", {"version": "2", "text": "Paracetamol stopped."})
    changes = world.client("alice").get(f"{base}?tab=changes")
    assert "<del>continued.</del>" in changes.text and "<ins>stopped.</ins>" in changes.text
    assert _approve(world).status_code == 303
    assert world.version(1).state == NoteState.SUPERSEDED
    assert world.version(2).state == NoteState.APPROVED


def test_reject_needs_a_reason(world: World) -> None:
    base = f"/consultations/{world.cid}"
    assert world.post("alice", f"{base}/reject", {"version": "1", "reason": " "}).status_code == 400
    assert world.post("alice", f"{base}/reject", {"version": "1", "reason": "Wrong patient"}).status_code == 303
    v = world.version()
    assert v.state == NoteState.REJECTED and v.rejected_reason == "Wrong patient"
    assert "Wrong patient" in world.client("alice").get(base).text
    assert world.post("alice", f"{base}/correct", {"version": "1"}).status_code == 303
    assert world.version().version == 2


# --- disputes and exports --------------------------------------------------------------------------------------------


def test_export_refused_before_approval(world: World) -> None:
    for fmt in ("text", "pdf", "json"):
        assert world.client("alice").get(f"/consultations/{world.cid}/export/{fmt}").status_code == 409


def test_dispute_shown_and_carried_into_exports(world: World) -> None:
    base = f"/consultations/{world.cid}"
    _approve(world)
    dispute = "The patient says the pain is in the left knee."
    assert world.post("alice", f"{base}/disputes", {"text": dispute}).status_code == 303
    page = world.client("alice").get(base)
    assert "The patient disputes this note" in page.text and dispute in page.text
    text = world.client("alice").get(f"{base}/export/text")
    assert text.status_code == 200 and "attachment" in text.headers["content-disposition"]
    assert dispute in text.text and "Paracetamol continued." in text.text and "Approved by Alice" in text.text
    assert "UNSUPPORTED" not in text.text
    body = world.client("alice").get(f"{base}/export/json").json()
    assert body["disputes"][0]["text"] == dispute and body["note_version"]["state"] == "approved"
    pdf = world.client("alice").get(f"{base}/export/pdf?kind=note")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert world.client("alice").get(f"{base}/export/pdf?kind=gp").status_code == 404
    formats = [x.format for x in world.store.exports.for_consultation(world.cid)]
    assert formats == ["text", "json", "pdf-note"]
    assert world.store.consultations.get(world.cid).status == ConsultationStatus.EXPORTED
    assert world.client("alice").get(f"{base}?tab=history").text.count("of version 1") == 3


def test_letter_pdf_export(world: World) -> None:
    letter = Letter(kind=LetterKind.GP, salutation="Dear Dr Smith,", paragraphs=[[Statement(text="Knee pain.")]])
    world.store.notes.put_letter(world.cid, 1, letter)
    _approve(world)
    assert "Dear Dr Smith," in world.client("alice").get(f"/consultations/{world.cid}?tab=letters").text
    pdf = world.client("alice").get(f"/consultations/{world.cid}/export/pdf?kind=gp")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_integrator_exports_approved_note_but_never_reads_transcript(world: World) -> None:
    _approve(world)
    ivy = world.client("ivy")
    page = ivy.get(f"/consultations/{world.cid}")
    assert page.status_code == 200 and "Paracetamol continued." in page.text
    assert 'id="seg-' not in page.text and "Knee pain for about" not in page.text
    assert ivy.get(f"/consultations/{world.cid}/audio").status_code == 403
    assert ivy.get(f"/consultations/{world.cid}/live").status_code == 403
    assert ivy.get(f"/consultations/{world.cid}/export/text").status_code == 200
    response = world.post("ivy", f"/consultations/{world.cid}/statements/plan/0", {"version": "1", "text": "x"})
    assert response.status_code == 403


def test_fhir_download_and_send_to_the_epr(tmp_path: Path) -> None:
    with fhir_server() as url:
        w = World(tmp_path, fhir_base_url=url)
        base = f"/consultations/{w.cid}"
        assert w.post("alice", f"{base}/export/epr").status_code == 409, "nothing unapproved is sent"
        assert w.client("alice").get(f"{base}/export/fhir").status_code == 409
        _approve(w)
        page = w.client("alice").get(base).text
        assert "Send to the EPR" in page and url in page
        download = w.client("alice").get(f"{base}/export/fhir?bundle=document")
        assert download.status_code == 200 and download.headers["content-type"].startswith("application/fhir+json")
        assert download.json()["type"] == "document" and "attachment" in download.headers["content-disposition"]
        assert w.client("ivy").get(f"{base}/export/fhir?bundle=transaction").json()["type"] == "transaction"
        sent = w.post("alice", f"{base}/export/epr")
        assert sent.status_code == 303 and sent.headers["location"].endswith("?tab=history")
        assert w.post("alice", f"{base}/export/epr").status_code == 303, "a re-send is allowed and harmless"
        with FhirClient(url) as client:
            assert client.search("Composition", _summary="count")["total"] == 1
        formats = [(x.format, x.destination, x.ok) for x in w.store.exports.for_consultation(w.cid)]
        assert formats == [
            ("fhir-document", "download", True),
            ("fhir-transaction", "download", True),
            ("fhir-transaction", url, True),
            ("fhir-transaction", url, True),
        ]
        history = w.client("alice").get(f"{base}?tab=history").text
        assert history.count(f"fhir-transaction of version 1 to {url}") == 2
        w.store.close()


def test_send_to_the_epr_when_it_is_down_or_not_configured(tmp_path: Path) -> None:
    w = World(tmp_path / "none")
    _approve(w)
    assert "Send to the EPR" not in w.client("alice").get(f"/consultations/{w.cid}").text
    assert w.post("alice", f"/consultations/{w.cid}/export/epr").status_code == 409
    w.store.close()
    down = f"http://127.0.0.1:{free_port()}/fhir"
    w = World(tmp_path / "down", fhir_base_url=down, fhir_retries=0)
    _approve(w)
    response = w.post("alice", f"/consultations/{w.cid}/export/epr")
    assert response.status_code == 502 and "was not sent to the EPR" in response.text
    assert "stays approved" in response.text
    assert w.store.consultations.get(w.cid).status == ConsultationStatus.APPROVED
    assert [x.ok for x in w.store.exports.for_consultation(w.cid)] == [False]
    assert (
        "(failed: attempt 1: cannot reach the server"
        in w.client("alice").get(f"/consultations/{w.cid}?tab=history").text
    )
    w.store.close()


# --- audio ------------------------------------------------------------------------------------------------------------


def test_audio_range_requests(world: World) -> None:
    alice = world.client("alice")
    size = len((DATA / "sample_mono.flac").read_bytes())
    whole = alice.get(f"/consultations/{world.cid}/audio")
    assert whole.status_code == 200 and len(whole.content) == size and whole.headers["accept-ranges"] == "bytes"
    part = alice.get(f"/consultations/{world.cid}/audio", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == whole.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{size}"
    tail = alice.get(f"/consultations/{world.cid}/audio", headers={"Range": "bytes=-4"})
    assert tail.status_code == 206 and tail.content == whole.content[-4:]
    assert alice.get(f"/consultations/{world.cid}/audio", headers={"Range": f"bytes={size}-"}).status_code == 416
    assert any(e.action == "listen" for e in world.store.audit.events())


# --- new consultation, consent, recording, upload -------------------------------------------------------------------


def test_nhs_number_check_digit() -> None:
    assert valid_nhs_number("9434765919") and valid_nhs_number("943 476 5919")
    assert not valid_nhs_number("9434765918")  # wrong check digit
    assert not valid_nhs_number("943476591") and not valid_nhs_number("94347659190") and not valid_nhs_number("abc")


def _new(w: World, **fields: str):
    data = {"template": "gp", "name": "Sam Patient", "nhs_number": "", "birth_date": "1970-03-31", "reason": "cough"}
    return w.post("alice", "/consultations/new", data | fields)


def test_new_consultation_validates_and_goes_to_consent(world: World) -> None:
    bad = _new(world, nhs_number="1234567890", birth_date="not a date")
    assert bad.status_code == 400 and "check digit" in bad.text and "date of birth" in bad.text
    response = _new(world, nhs_number="943 476 5919")
    assert response.status_code == 303
    cid = response.headers["location"].split("/")[2]
    assert world.store.consultations.patient(cid).nhs_number == "9434765919"
    assert world.store.consultations.get(cid).status == ConsultationStatus.CONSENT
    assert "told and agreed" in world.client("alice").get(response.headers["location"]).text
    assert world.post("ivy", "/consultations/new", {"template": "gp"}).status_code == 403


def test_objection_means_no_recording_and_an_unaided_note(world: World) -> None:
    cid = _new(world).headers["location"].split("/")[2]
    assert world.post("alice", f"/consultations/{cid}/consent", {"decision": "objected"}).status_code == 303
    c = world.store.consultations.get(cid)
    assert c.status == ConsultationStatus.NOT_RECORDED and not c.consent.agreed
    page = world.client("alice").get(f"/consultations/{cid}/consent")
    assert "No recording will be made" in page.text and "Write the note without scribe" in page.text
    assert world.post("alice", f"/consultations/{cid}/start").status_code == 409
    upload = world.post("alice", f"/consultations/{cid}/upload", files={"audio": ("a.flac", b"x" * 10)})
    assert upload.status_code == 409
    assert world.post("alice", f"/consultations/{cid}/unaided").status_code == 303
    v = world.store.notes.get_version(cid, 1)
    assert v.created_by == world.alice.id and all(not s.statements for s in v.note.sections)
    assert world.client("alice").get(f"/consultations/{cid}").status_code == 200


def _consented(w: World) -> str:
    cid = _new(w).headers["location"].split("/")[2]
    assert (
        w.post("alice", f"/consultations/{cid}/consent", {"decision": "agreed"}).headers["location"].endswith("/record")
    )
    return cid


def test_recording_in_chunks(world: World) -> None:
    cid = _consented(world)
    page = world.client("alice").get(f"/consultations/{cid}/record")
    assert "Start recording" in page.text and "/static/recorder.js" in page.text
    headers = {"X-CSRF-Token": world.csrf("alice"), "Content-Type": "audio/webm"}
    alice = world.client("alice")
    assert alice.post(f"/consultations/{cid}/chunks/0", content=b"early", headers=headers).status_code == 409
    assert alice.post(f"/consultations/{cid}/start", headers=headers).json() == {"next_seq": 0}
    assert world.store.consultations.get(cid).status == ConsultationStatus.RECORDING
    assert alice.post(f"/consultations/{cid}/chunks/1", content=b"-two", headers=headers).json()["stored"]
    assert alice.post(f"/consultations/{cid}/chunks/0", content=b"one", headers=headers).json()["stored"]
    assert not alice.post(f"/consultations/{cid}/chunks/0", content=b"one", headers=headers).json()["stored"]
    assert alice.post(f"/consultations/{cid}/chunks/2", content=b"", headers=headers).status_code == 400
    no_csrf = alice.post(f"/consultations/{cid}/chunks/2", content=b"x", headers={"Content-Type": "audio/webm"})
    assert no_csrf.status_code == 403
    assert alice.get(f"/consultations/{cid}/live", headers=HX).status_code == 200
    interrupted = alice.get(f"/consultations/{cid}/record")
    assert "Draft the note from what was saved" in interrupted.text
    stop = alice.post(f"/consultations/{cid}/stop", headers=headers | {"Accept": "application/json"})
    assert stop.status_code == 200
    assert world.store.audio.get(cid, "original").data == b"one-two"
    c = world.store.consultations.get(cid)
    assert c.status == ConsultationStatus.TRANSCRIBING and c.metrics.recording_stopped_at is not None
    assert [j.kind for j in world.store.jobs.for_consultation(cid)] == [JobKind.TRANSCRIBE]
    assert alice.get(f"/consultations/{cid}/live", headers=HX).status_code == 286
    status = alice.get(f"/consultations/{cid}/status", headers=HX)
    assert "being turned into a transcript" in status.text


def test_upload_checks(tmp_path: Path) -> None:
    w = World(tmp_path, max_upload_mb=0.05)  # about 52 kB
    try:
        cid = _consented(w)
        path = f"/consultations/{cid}/upload"
        empty = w.post("alice", path, files={"audio": ("empty.wav", b"", "audio/wav")})
        assert empty.status_code == 400 and "empty" in empty.text
        text = w.post("alice", path, files={"audio": ("notes.txt", b"this is not audio " * 50, "text/plain")})
        assert text.status_code == 400
        big = w.post("alice", path, files={"audio": ("big.wav", b"\0" * 200_000, "audio/wav")})
        assert big.status_code == 413
        no_csrf = w.client("alice").post(path, files={"audio": ("a.flac", b"x" * 10)}, follow_redirects=False)
        assert no_csrf.status_code == 403
        assert w.store.audio.get(cid, "original") is None
        flac = (DATA / "sample_mono.flac").read_bytes()
        if len(flac) > 50_000:
            flac = _short_flac()
        ok = w.post("alice", path, files={"audio": ("sample.flac", flac, "audio/flac")})
        assert ok.status_code == 303, ok.text
        assert w.store.audio.get(cid, "original").data == flac
        assert w.store.consultations.get(cid).status == ConsultationStatus.TRANSCRIBING
        assert [j.kind for j in w.store.jobs.for_consultation(cid)] == [JobKind.TRANSCRIBE]
        outcomes = [(e.action, e.outcome, e.detail) for e in w.store.audit.events(action="upload")]
        assert ("upload", "failed", "413") in outcomes and ("upload", "failed", "400") in outcomes
    finally:
        w.store.close()


def _short_flac() -> bytes:
    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    t = np.arange(16000) / 16000
    sf.write(buf, (0.2 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 16000, format="FLAC")
    return buf.getvalue()


def test_status_redirects_to_review_when_drafted(world: World) -> None:
    response = world.client("alice").get(f"/consultations/{world.cid}/status", headers=HX)
    assert response.headers.get("hx-redirect") == f"/consultations/{world.cid}"


def test_while_drafting_the_status_shows_each_section_once_written_to_its_clinician_only(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scribe import pipeline
    from scribe.review.jobs import JobRunner

    cid = _consented(world)
    world.store.notes.put_transcript(cid, world.store.notes.get_transcript(world.cid))
    world.store.consultations.set_status(cid, ConsultationStatus.DRAFTING)
    world.store.jobs.enqueue(cid, JobKind.DRAFT)
    written, release = threading.Event(), threading.Event()

    def slow_draft(transcript, settings, backend, template=None, on_section=None) -> NoteDraft:
        on_section(_note().sections[0])  # the first section is written and checked; the model writes on
        written.set()
        assert release.wait(60)
        return _note()

    monkeypatch.setattr(pipeline, "draft", slow_draft)
    monkeypatch.setattr(pipeline, "letters", lambda *args: [])
    worker = JobRunner(world.store, world.store_settings, backend=object())  # the model is not called here
    world.app.state.runner = worker
    worker.start()
    try:
        assert written.wait(60)
        page = world.client("alice").get(f"/consultations/{cid}/status", headers=HX)
        assert page.status_code == 200 and "Written so far" in page.text
        assert "Right knee pain for two weeks." in page.text and "Paracetamol continued." not in page.text
        integrator = world.client("ivy").get(f"/consultations/{cid}/status", headers=HX)
        assert "Right knee pain" not in integrator.text, "a draft in progress is for its clinician"
        release.set()
        assert worker.wait_idle(timeout=60)
        done = world.client("alice").get(f"/consultations/{cid}/status", headers=HX)
        assert done.headers.get("hx-redirect") == f"/consultations/{cid}" and not worker.written_sections(cid)
    finally:
        release.set()
        worker.stop()
        world.app.state.runner = None


def test_heartbeat_adds_active_review_time(world: World) -> None:
    alice = world.client("alice")
    alice.get(f"/consultations/{world.cid}")
    headers = {"X-CSRF-Token": world.csrf("alice")}
    assert alice.post(f"/consultations/{world.cid}/heartbeat", headers=headers).status_code == 204
    seconds = world.store.consultations.get(world.cid).metrics.active_review_seconds
    assert 0 < seconds <= 20


def test_delete_by_owner(world: World) -> None:
    assert world.post("alice", f"/consultations/{world.cid}/delete", {}).status_code == 400
    assert world.post("alice", f"/consultations/{world.cid}/delete", {"confirm": "yes"}).status_code == 303
    assert world.client("alice").get(f"/consultations/{world.cid}").status_code == 404
    assert any(e.action == "delete" and e.target == f"consultation:{world.cid}" for e in world.store.audit.events())


def test_no_inline_script_or_style_in_pages(world: World) -> None:
    _approve(world)
    for path in ("/", f"/consultations/{world.cid}", "/consultations/new"):
        html = world.client("alice").get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html and "<style" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_changes_tab_diffs_the_models_draft_against_the_edited_first_version(world: World) -> None:
    base = f"/consultations/{world.cid}"
    world.post("alice", f"{base}/statements/plan/0", {"version": "1", "text": "Paracetamol stopped."})
    changes = world.client("alice").get(f"{base}?tab=changes")
    assert "From the model's draft to the current text of version 1" in changes.text
    assert "<del>continued.</del>" in changes.text and "<ins>stopped.</ins>" in changes.text


def test_a_tampered_transcript_is_refused_with_a_clear_error_and_audited(world: World) -> None:
    import sqlite3

    db = sqlite3.connect(world.store_path())
    try:
        (blob,) = db.execute("SELECT data FROM transcripts WHERE consultation_id = ?", (world.cid,)).fetchone()
        flipped = blob[:30] + bytes([blob[30] ^ 0x01]) + blob[31:]
        db.execute("UPDATE transcripts SET data = ? WHERE consultation_id = ?", (flipped, world.cid))
        db.commit()
    finally:
        db.close()
    page = world.client("alice").get(f"/consultations/{world.cid}")
    assert page.status_code == 500
    assert "integrity" in page.text.lower() and "Jo Bloggs" not in page.text
    events = world.store.audit.events(action="integrity")
    assert events and events[0].outcome == "failed"
