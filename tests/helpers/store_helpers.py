"""Helpers for tests that need a store: settings with a private folder and key, small records."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from scribe.config import Settings, load_settings
from scribe.records import (
    Allergy,
    Letter,
    LetterKind,
    Medication,
    MedicationChange,
    NoteDraft,
    NoteSection,
    Segment,
    SpeakerRole,
    Statement,
    Transcript,
)
from scribe.rows import Approval, Consent, PatientDetails, Role, User
from scribe.store import Store, new_key
from scribe.store.crypto import encode_key


def make_settings(tmp_path: Path, key: bytes | None = None, **overrides: object) -> Settings:
    """Settings with a private data folder and a fresh (or the given) store key."""
    return load_settings(
        data_dir=tmp_path / "data",
        store_key=encode_key(key or new_key()),
        store_key_file=tmp_path / "no.key",
        **overrides,
    )


def note(text: str = "Knee pain for two weeks.") -> NoteDraft:
    return NoteDraft(
        template="gp",
        title="GP note",
        sections=[
            NoteSection(key="history", title="History", statements=[Statement(text=text, evidence=[0])]),
            NoteSection(key="plan", title="Plan", statements=[Statement(text="Ibuprofen 400 mg.", evidence=[1])]),
        ],
    )


def transcript(text: str = "My knee has hurt for two weeks.") -> Transcript:
    return Transcript(
        segments=[
            Segment(id=0, start=0.0, end=2.0, speaker=SpeakerRole.PATIENT, text=text),
            Segment(id=1, start=2.0, end=4.0, speaker=SpeakerRole.CLINICIAN, text="Take ibuprofen."),
        ],
        duration=4.0,
    )


POSTGRES_URL = os.environ.get("SCRIBE_TEST_POSTGRES_URL", "")
"""An existing PostgreSQL server for the store's tests, e.g. postgresql+psycopg://scribe@/postgres?host=/run/postgresql.

When unset, the tests start a throwaway server of their own (the `postgres_url` fixture)."""


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh, empty database on the server at ``server_url`` (dropped afterwards); yields its SQLAlchemy URL."""
    server = make_url(server_url)
    name = f"scribe_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def drafted_consultation(store: Store, draft: NoteDraft | None = None) -> tuple[str, User]:
    """A consented consultation (Jo Bloggs, a test-range NHS number) with ``draft`` as version 1, unapproved."""
    user = store.users.create(
        f"clin{uuid.uuid4().hex[:6]}", "Dr Alice Smith", Role.CLINICIAN, "hash", totp_required=False
    )
    patient = PatientDetails(name="Jo Bloggs", nhs_number="9434765919", birth_date="1970-02-03")
    cid = store.consultations.create(user.id, "gp", patient).id
    store.consultations.set_consent(cid, Consent(informed=True, agreed=True, recorded_by=user.id))
    store.notes.put_transcript(cid, transcript())
    store.notes.add_version(cid, draft or note(), created_by=None)
    return cid, user


def approved_consultation(store: Store, *, patient_letter: bool = True) -> tuple[str, User]:
    """A consultation whose note (with a medication, an allergy and a patient letter) a clinician approved."""
    draft = note().model_copy(
        update={
            "medications": [Medication(name="ibuprofen", dose="400 mg", change=MedicationChange.STARTED)],
            "allergies": [Allergy(substance="penicillin", reaction="rash")],
        }
    )
    cid, user = drafted_consultation(store, draft)
    if patient_letter:
        letter = Letter(kind=LetterKind.PATIENT, paragraphs=[[Statement(text="You have knee pain.", supported=True)]])
        store.notes.put_letter(cid, 1, letter)
    store.notes.approve(
        cid, 1, Approval(user_id=user.id, name=user.full_name, attestation="I have reviewed this note.")
    )
    return cid, user
