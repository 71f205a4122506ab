"""Evaluation cases from the store: a real encrypted store built here, metrics set by hand, values computed by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers.store_helpers import make_settings
from sqlalchemy import MetaData, Table, create_engine, delete, update

from scribe.evaluate.from_store import OBJECTED, consultation_cases, store_cases
from scribe.notes.editing import apply_edit, blank_note, section_changes, undo_edits
from scribe.notes.templates import load_template
from scribe.records import NoteDraft, NoteSection, Omission, Segment, SpeakerRole, Statement, Transcript
from scribe.rows import Approval, Consent, EditAction, PatientDetails, ReviewMetrics, Role, SectionChange, User
from scribe.store import Store, open_store

T = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
TRANSCRIPT = Transcript(
    segments=[
        Segment(id=0, start=0.0, end=2.0, speaker=SpeakerRole.PATIENT, text="My knee has hurt for two weeks."),
        Segment(
            id=1, start=2.0, end=4.0, speaker=SpeakerRole.CLINICIAN, text="Take ibuprofen 400 mg three times a day."
        ),
        Segment(
            id=2,
            start=4.0,
            end=6.0,
            speaker=SpeakerRole.PATIENT,
            text="I am allergic to penicillin, it gives me a rash.",
        ),
    ],
    duration=6.0,
)
KNEE = "Knee pain for two weeks."  # 24 characters
IBUPROFEN = "Ibuprofen 400 mg three times a day."  # 35
XRAY = "Chest X-ray arranged."  # 21: the transcript does not support it
ALLERGY = "Allergic to penicillin."  # 23


def _draft() -> NoteDraft:
    """The model's draft: 3 statements, one unsupported; it leaves out the penicillin allergy."""
    return NoteDraft(
        template="gp",
        title="GP note",
        sections=[
            NoteSection(
                key="history", title="History", statements=[Statement(text=KNEE, evidence=[0], supported=True)]
            ),
            NoteSection(
                key="plan",
                title="Plan",
                statements=[
                    Statement(text=IBUPROFEN, evidence=[1], supported=True),
                    Statement(text=XRAY, supported=False, reason="cites no evidence"),
                ],
            ),
        ],
        omissions=[Omission(kind="allergy", text="allergic to penicillin", evidence=[2])],
    )


def _set_created(store: Store, settings, cid: str, when: datetime) -> None:
    """Hand-set when a consultation was started (the store stamps the real time)."""
    engine = create_engine(settings.database_url)
    table = Table("consultations", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == cid).values(created_at=when))
    engine.dispose()


class Site:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = make_settings(tmp_path)
        self.store = open_store(self.settings)
        self.alice = self.store.users.create("alice", "Alice Able", Role.CLINICIAN, "hash", totp_required=False)
        self.bob = self.store.users.create("bob", "Bob Baker", Role.CLINICIAN, "hash", totp_required=False)

    def new(self, user: User, when: datetime, arm: str = "scribe") -> str:
        cid = self.store.consultations.create(user.id, "gp", PatientDetails(name="Jo Bloggs", reason="knee")).id
        _set_created(self.store, self.settings, cid, when)
        if arm == "control":

            def control(m: ReviewMetrics) -> None:
                m.arm = "control"

            self.store.consultations.update_metrics(cid, control)
        return cid

    def drafted(self, user: User, when: datetime) -> str:
        cid = self.new(user, when)
        self.store.consultations.set_consent(cid, Consent(informed=True, agreed=True, recorded_by=user.id))
        self.store.notes.put_transcript(cid, TRANSCRIPT)
        self.store.notes.add_version(cid, _draft(), created_by=None)
        return cid

    def edit(self, cid: str, user: User, section: str, index: int | None, text: str, action: EditAction) -> None:
        v = self.store.notes.get_version(cid, 1)
        note, change = apply_edit(v.note, section, index, text, action, transcript=self.store.notes.get_transcript(cid))
        self.store.notes.save_note(cid, 1, note, change.to_edit(cid, 1, user.id))

    def approve(self, cid: str, user: User, **metrics: object) -> None:
        self.store.notes.approve(
            cid, 1, Approval(user_id=user.id, name=user.full_name, attestation="I have reviewed it.")
        )

        def record(m: ReviewMetrics) -> None:
            for name, value in metrics.items():
                setattr(m, name, value)

        self.store.consultations.update_metrics(cid, record)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    yield s
    s.store.close()


# Hand-computed section changes of the scribe case below: plan "IBUPROFEN\nXRAY" (35+1+21 = 57 chars) loses
# "\nXRAY" (22); history KNEE (24) gains "\nALLERGY" (1+23 = 24). 46 of 81 draft characters changed.
SCRIBE_SECTIONS = {
    "history": SectionChange(chars_draft=24, chars_changed=24, statements_draft=1, statements_added=1),
    "plan": SectionChange(chars_draft=57, chars_changed=22, statements_draft=2, statements_deleted=1),
}


def _scribe_case(site: Site) -> str:
    """Alice's approved scribe-arm consultation: she deleted the unsupported statement and added the allergy."""
    cid = site.drafted(site.alice, T)
    site.edit(cid, site.alice, "plan", 1, "", EditAction.DELETE)
    site.edit(cid, site.alice, "history", None, ALLERGY, EditAction.ADD)
    edited = site.store.notes.get_version(cid, 1).note
    # the edits re-ran the checks: version 1 no longer shows the unsupported statement or the omission
    assert edited.omissions == [] and all(s.supported for sec in edited.sections for s in sec.statements)
    assert section_changes(_draft(), edited) == SCRIBE_SECTIONS
    site.approve(
        cid,
        site.alice,
        recording_stopped_at=T + timedelta(minutes=10),
        draft_ready_at=T + timedelta(minutes=10, seconds=90),
        active_review_seconds=120.5,
        sections=SCRIBE_SECTIONS,
    )
    return cid


def _control_case(site: Site, when: datetime) -> str:
    """Bob's approved control-arm consultation: a blank note he wrote one statement into."""
    cid = site.new(site.bob, when, arm="control")
    site.store.notes.add_version(cid, blank_note(load_template("gp", None)), created_by=site.bob.id)
    site.edit(cid, site.bob, "plan", None, "Fluids and rest.", EditAction.ADD)
    sections = {"plan": SectionChange(chars_draft=0, chars_changed=16, statements_added=1)}
    site.approve(cid, site.bob, active_review_seconds=300.0, sections=sections)
    return cid


def test_scribe_arm_case_measures_the_models_draft_and_the_review(site: Site) -> None:
    cid = _scribe_case(site)
    [case] = store_cases(site.store)
    assert (case.case_id, case.dataset, case.synthetic_audio, case.has_audio) == (cid, "store", False, False)
    assert (case.consultation_type, case.clinician, case.subgroups, case.error) == ("gp", "clinician-1", {}, "")
    assert case.consulted_at == T
    time = case.time
    assert time is not None and time.arm == "scribe"
    assert time.time_to_draft_seconds == 90.0
    assert time.review_seconds == time.documentation_seconds == 120.5
    assert (time.characters_changed, time.statements_edited, time.statements_added, time.statements_deleted) == (
        46,
        0,
        1,
        1,
    )
    assert time.share_edited == pytest.approx(46 / 81)
    assert time.rejected is False
    # the draft as the model wrote it: 3 statements, 1 unsupported, the allergy omitted (1 of 3 + 1)
    note = case.note
    assert note is not None
    assert (note.statements, note.unsupported, note.omissions) == (3, 1, 1)
    assert note.unsupported_rate == pytest.approx(1 / 3)
    assert note.omission_rate == pytest.approx(1 / 4)


def test_without_the_transcript_restored_statements_count_as_unchecked(site: Site) -> None:
    cid = _scribe_case(site)
    engine = create_engine(site.settings.database_url)
    table = Table("transcripts", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.consultation_id == cid))
    engine.dispose()
    assert site.store.notes.get_transcript(cid) is None
    [case] = store_cases(site.store)
    assert case.note is not None
    # KNEE and IBUPROFEN keep their verdicts (supported); the restored XRAY statement has none
    assert (case.note.statements, case.note.unsupported, case.note.unsupported_rate) == (3, 0, 0.0)
    assert case.note.omission_rate is None


def test_control_arm_case_has_time_but_no_draft(site: Site) -> None:
    cid = _control_case(site, T)
    [case] = store_cases(site.store)
    assert case.case_id == cid and case.note is None and case.error == ""
    time = case.time
    assert time is not None and time.arm == "control"
    assert time.time_to_draft_seconds is None
    assert time.review_seconds == time.documentation_seconds == 300.0
    assert (time.characters_changed, time.statements_added, time.share_edited) == (16, 1, None)


def test_selection_window_labels_and_no_names(site: Site) -> None:
    scribe_id = _scribe_case(site)  # alice, T
    control_id = _control_case(site, T + timedelta(days=7))  # bob, a week later
    unapproved = site.drafted(site.alice, T + timedelta(days=1))
    rejected = site.drafted(site.bob, T + timedelta(days=2))
    site.store.notes.reject(rejected, 1, "wrong patient", site.bob.id)
    objected = site.new(site.alice, T + timedelta(days=3))
    site.store.consultations.set_consent(objected, Consent(informed=True, agreed=False, recorded_by=site.alice.id))
    site.store.notes.add_version(objected, blank_note(load_template("gp", None)), created_by=site.alice.id)
    site.approve(objected, site.alice, active_review_seconds=200.0)
    site.new(site.alice, T + timedelta(days=4))  # no note yet: nothing to measure

    approved = store_cases(site.store)
    assert [c.case_id for c in approved] == [scribe_id, objected, control_id]  # oldest first
    assert [c.clinician for c in approved] == ["clinician-1", "clinician-1", "clinician-2"]
    assert approved[1].error == OBJECTED and approved[1].time is None and approved[1].note is None

    everything = store_cases(site.store, include_unapproved=True)
    assert [c.case_id for c in everything] == [scribe_id, unapproved, rejected, objected, control_id]
    by_id = {c.case_id: c for c in everything}
    assert by_id[rejected].time.rejected is True and by_id[unapproved].time.rejected is False
    assert by_id[rejected].time.reviewed and by_id[scribe_id].time.reviewed and not by_id[unapproved].time.reviewed
    # not yet approved: no edit counts; its draft was not edited, so the stored omissions are the draft's
    assert by_id[unapproved].time.characters_changed is None and by_id[unapproved].time.share_edited is None
    assert (by_id[unapproved].note.statements, by_id[unapproved].note.unsupported) == (3, 1)
    assert by_id[unapproved].note.omissions == 1

    window = store_cases(site.store, since=T + timedelta(days=1), until=T + timedelta(days=7), include_unapproved=True)
    assert [c.case_id for c in window] == [unapproved, rejected, objected]
    assert [c.clinician for c in window] == ["clinician-1", "clinician-2", "clinician-1"]
    assert store_cases(site.store, since=T + timedelta(days=7))[0].clinician == "clinician-1"  # bob alone: n restarts

    pairs = consultation_cases(site.store, include_unapproved=True)
    assert [c.id for c, _ in pairs] == [case.case_id for case in everything]
    dumped = "".join(c.model_dump_json() for c in everything)
    for name in ("Alice", "Bob", "alice", "bob", "Jo Bloggs"):
        assert name not in dumped


def test_undo_of_the_edits_gives_the_models_text(site: Site) -> None:
    """The reconstruction the draft scores rest on: version 1 with its edits undone is the model's text."""
    cid = _scribe_case(site)
    v1 = site.store.notes.get_version(cid, 1).note
    undone = undo_edits(v1, sorted(site.store.notes.edits(cid, 1), key=lambda e: e.at))
    assert [[s.text for s in sec.statements] for sec in undone.sections] == [[KNEE], [IBUPROFEN, XRAY]]
