"""The control arm of the review app: the clinician writes the note unaided, timed as a draft's review is
(TestClient, real encrypted store, no worker, a fake clock for the review page)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.review_app import add_user, csrf_from, fast_password_hashing, review_app, review_settings, signed_in_client

from scribe.review.routes import review as review_routes
from scribe.rows import ConsultationStatus, NoteState, PatientDetails, ReviewMetrics
from scribe.store import Store

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class Clock:
    """The review routes' clock, moved by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Site:
    """A store with one clinician, signed in."""

    def __init__(self, tmp_path: Path) -> None:
        self.app, self.store = review_app(review_settings(tmp_path))
        self.alice = add_user(self.store, "alice")
        self.client: TestClient = signed_in_client(self.app, self.store, "alice")

    def csrf(self) -> str:
        return csrf_from(self.client.get("/account").text)

    def post(self, path: str, data: dict | None = None, **kw):
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})}, follow_redirects=False, **kw)

    def new(self, **fields: str):
        form = {"template": "gp", "name": "Jo Bloggs", "nhs_number": "", "birth_date": "", "reason": "cough"}
        return self.post("/consultations/new", form | fields)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fast_password_hashing(monkeypatch)
    s = Site(tmp_path)
    yield s
    s.store.close()


def _events(store: Store, cid: str) -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in store.audit.events() if e.target == f"consultation:{cid}"]


def test_the_form_offers_both_arms_with_scribe_chosen(site: Site) -> None:
    page = site.client.get("/consultations/new").text
    assert 'id="arm-scribe" name="arm" value="scribe" checked' in page
    assert 'id="arm-control" name="arm" value="control">' in page
    assert "Control: I will write this note myself, without scribe (for measuring time saved)" in page


def test_scribe_arm_is_the_default_and_unchanged(site: Site) -> None:
    response = site.new()
    cid = response.headers["location"].split("/")[2]
    assert response.headers["location"] == f"/consultations/{cid}/consent"
    c = site.store.consultations.get(cid)
    assert c.metrics.arm == "scribe" and c.status == ConsultationStatus.CONSENT and c.current_version == 0
    assert ("create", "") in _events(site.store, cid)
    assert "Control arm" not in site.client.get("/").text


def test_an_unknown_arm_is_refused(site: Site) -> None:
    response = site.new(arm="both")
    assert response.status_code == 400
    assert "Choose whether scribe drafts the note or you write it yourself." in response.text
    assert site.store.consultations.list_all() == []


def test_control_arm_from_creation_to_approval(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(review_routes, "now_utc", clock)
    response = site.new(arm="control")
    cid = response.headers["location"].split("/")[2]
    assert response.status_code == 303 and response.headers["location"] == f"/consultations/{cid}"

    c = site.store.consultations.get(cid)
    assert c.metrics.arm == "control" and c.consent is None and c.status == ConsultationStatus.DRAFTED
    v1 = site.store.notes.get_version(cid, 1)
    assert v1.created_by == site.alice.id and v1.state == NoteState.DRAFT
    assert [s.key for s in v1.note.sections][:2] == ["presenting_complaint", "history"]
    assert all(not s.statements for s in v1.note.sections)
    assert sorted(_events(site.store, cid)) == [("create", "control arm"), ("write-unaided", "control arm")]
    assert c.metrics.first_shown_at is None

    # nothing can be recorded, uploaded or consented to
    base = f"/consultations/{cid}"
    assert site.post(f"{base}/start").status_code == 409
    headers = {"X-CSRF-Token": site.csrf(), "Content-Type": "audio/webm"}
    assert site.client.post(f"{base}/chunks/0", content=b"x", headers=headers).status_code == 409
    assert site.post(f"{base}/stop").status_code == 409
    upload = site.post(f"{base}/upload", files={"audio": ("a.flac", b"x" * 10)})
    assert upload.status_code == 409 and "control-arm" in upload.text
    assert site.post(f"{base}/consent", {"decision": "agreed"}).status_code == 409
    assert site.post(f"{base}/unaided").status_code == 409
    for page in ("record", "consent"):
        redirected = site.client.get(f"{base}/{page}", follow_redirects=False)
        assert redirected.status_code == 303 and redirected.headers["location"] == base
    c = site.store.consultations.get(cid)
    assert c.consent is None and c.status == ConsultationStatus.DRAFTED and not site.store.audio.held(cid)

    # the blank note is shown: first_shown_at is stamped once, and the page and list say "Control arm"
    page = site.client.get(base)
    assert page.status_code == 200 and "Control arm: written without scribe" in page.text
    assert site.store.consultations.get(cid).metrics.first_shown_at == T0
    clock.now = T0 + timedelta(seconds=5)
    site.client.get(base)
    assert site.store.consultations.get(cid).metrics.first_shown_at == T0
    assert "Control arm" in site.client.get("/").text

    # the clinician writes; heartbeats time it as review is timed (at most 20 s a beat)
    written = "Cough for three days, no fever."
    assert site.post(f"{base}/statements/presenting_complaint", {"version": "1", "text": written}).status_code == 303
    assert site.post(f"{base}/statements/plan", {"version": "1", "text": "Fluids and rest."}).status_code == 303
    beat = {"X-CSRF-Token": site.csrf()}
    clock.now = T0 + timedelta(seconds=20)  # 15 s after the last page view
    assert site.client.post(f"{base}/heartbeat", headers=beat).status_code == 204
    clock.now = T0 + timedelta(seconds=50)  # 30 s later: capped at 20
    assert site.client.post(f"{base}/heartbeat", headers=beat).status_code == 204
    assert site.store.consultations.get(cid).metrics.active_review_seconds == pytest.approx(35.0)

    # approval as usual, with the attestation
    assert site.post(f"{base}/approve", {"version": "1", "flags_checked": "yes"}).status_code == 400
    approved = site.post(f"{base}/approve", {"version": "1", "attest": "yes", "flags_checked": "yes"})
    assert approved.status_code == 303
    c = site.store.consultations.get(cid)
    assert c.status == ConsultationStatus.APPROVED and c.metrics.approved_at is not None
    assert c.metrics.arm == "control" and c.metrics.active_review_seconds == pytest.approx(35.0)
    complaint, plan = c.metrics.sections["presenting_complaint"], c.metrics.sections["plan"]
    assert (complaint.chars_draft, complaint.chars_changed, complaint.statements_added) == (0, len(written), 1)
    assert (plan.chars_draft, plan.chars_changed, plan.statements_added) == (0, len("Fluids and rest."), 1)
    assert any(action == "approve" and detail.startswith("version 1,") for action, detail in _events(site.store, cid))


def test_a_control_consultation_without_its_note_yet_offers_to_write_it(site: Site) -> None:
    """If the blank note was not made at creation (a crash between steps), the consent link leads to it."""
    c = site.store.consultations.create(site.alice.id, "gp", PatientDetails(name="Sam Smith"))

    def control(m: ReviewMetrics) -> None:
        m.arm = "control"

    site.store.consultations.update_metrics(c.id, control)
    listed = site.client.get("/").text
    assert f'href="/consultations/{c.id}/consent"' in listed and "Control arm" in listed
    page = site.client.get(f"/consultations/{c.id}/consent")
    assert "Control arm." in page.text and "Write the note without scribe" in page.text
    assert "What did the patient decide?" not in page.text
    assert site.post(f"/consultations/{c.id}/unaided").status_code == 303
    after = site.store.consultations.get(c.id)
    assert after.status == ConsultationStatus.DRAFTED and after.current_version == 1 and after.consent is None
    assert ("write-unaided", "control arm") in _events(site.store, c.id)


def test_objection_still_leaves_an_unaided_note_in_the_scribe_arm(site: Site) -> None:
    cid = site.new().headers["location"].split("/")[2]
    assert site.post(f"/consultations/{cid}/consent", {"decision": "objected"}).status_code == 303
    assert site.post(f"/consultations/{cid}/unaided").status_code == 303
    c = site.store.consultations.get(cid)
    assert c.status == ConsultationStatus.NOT_RECORDED and c.metrics.arm == "scribe" and c.current_version == 1
    assert ("write-unaided", "patient objected") in _events(site.store, cid)
