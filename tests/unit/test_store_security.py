"""The store's promises at rest: nothing readable on disk, tampering detected, keys, real deletion."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers.store_helpers import make_settings, note, transcript

from scribe.errors import KeyMissingError, TamperedError
from scribe.records import Letter, LetterKind, RemovedStatement, Statement
from scribe.rows import Approval, AuditEvent, Consent, Edit, PatientDetails, Role
from scribe.store import Audio, Store, new_key, open_store

MARKERS = {
    "patient": "Zebulon Quartermaine",
    "transcript": "xylophonic arthralgia",
    "note": "quixotic meniscopathy",
    "removed": "snollygoster bursitis",
    "letter": "fandangled kneecap",
    "edit": "wibbling patella",
    "dispute": "flibbertigibbet disagreement",
    "audio": "AUDIOMARKER-7f3a9",
    "chunk": "CHUNKMARKER-2b8c1",
    "reason": "gallimaufry rejection",
    "totp": "JBSWY3DPEHPK3PXPQRSTUVWX",
}


def data_files(data_dir: Path) -> dict[str, bytes]:
    """Every file under the data folder (database, WAL, shared memory), read raw."""
    return {str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}


def assert_absent(data_dir: Path, *needles: bytes) -> None:
    for name, content in data_files(data_dir).items():
        for needle in needles:
            assert needle not in content, f"{needle[:40]!r} found in {name}"


def raw(db: Path, sql: str, *params: object) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute(sql, params).fetchall()
        connection.commit()
        return rows
    finally:
        connection.close()


def flip(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1 :]


def fill(store: Store) -> tuple[str, int]:
    """A consultation holding every kind of patient data, each with a marker word; returns (id, user id)."""
    user = store.users.create("alice", "Dr Alice Smith", Role.CLINICIAN, "hash", totp_required=True)
    store.users.set_totp_secret(user.id, MARKERS["totp"])
    cid = store.consultations.create(user.id, "gp", PatientDetails(name=MARKERS["patient"], reason="knee")).id
    store.consultations.set_consent(cid, Consent(informed=True, agreed=True, recorded_by=user.id))
    store.audio.append_chunk(cid, 0, MARKERS["chunk"].encode() * 20)
    store.audio.put(cid, "playback", Audio(MARKERS["audio"].encode() * 20, "audio/flac"))
    store.notes.put_transcript(cid, transcript(f"My knee has {MARKERS['transcript']}."))
    store.notes.add_version(cid, note(f"History of {MARKERS['note']}."), created_by=None)
    edit = Edit(consultation_id=cid, version=1, user_id=user.id, section="history", index=0, after=MARKERS["edit"])
    removed = RemovedStatement(section="plan", statement=Statement(text=MARKERS["removed"], supported=False))
    edited = note(f"History of {MARKERS['note']} and {MARKERS['edit']}.").model_copy(update={"removed": [removed]})
    store.notes.save_note(cid, 1, edited, edit)
    store.notes.put_letter(cid, 1, Letter(kind=LetterKind.GP, paragraphs=[[Statement(text=MARKERS["letter"])]]))
    store.notes.add_version(cid, note("second"), created_by=user.id, based_on=1)
    store.notes.reject(cid, 2, MARKERS["reason"], user.id)
    store.notes.approve(cid, 1, Approval(user_id=user.id, name="Dr Alice Smith", attestation="reviewed"))
    store.notes.add_dispute(cid, 1, MARKERS["dispute"], user.id)
    return cid, user.id


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path)


def test_no_plaintext_on_disk_while_open_or_after(settings) -> None:
    store = open_store(settings)
    fill(store)
    needles = [m.encode() for m in MARKERS.values()]
    assert_absent(settings.data_dir, *needles)  # while open: database, WAL and shared memory
    # And the values come back intact.
    cid = store.consultations.list_all()[0].id
    assert store.consultations.patient(cid).name == MARKERS["patient"]
    assert MARKERS["dispute"] == store.notes.disputes(cid)[0].text
    assert store.notes.get_version(cid, 1).note.removed[0].statement.text == MARKERS["removed"]
    store.close()
    assert_absent(settings.data_dir, *needles)


def test_tampered_ciphertext_is_detected(settings) -> None:
    store = open_store(settings)
    cid, _ = fill(store)
    store.close()
    db = settings.data_dir / "scribe.db"
    [(blob,)] = raw(db, "SELECT data FROM transcripts WHERE consultation_id = ?", cid)
    raw(db, "UPDATE transcripts SET data = ? WHERE consultation_id = ?", flip(blob, 30), cid)
    store = open_store(settings)
    with pytest.raises(TamperedError, match=f"transcript of consultation {cid}") as caught:
        store.notes.get_transcript(cid)
    assert MARKERS["transcript"] not in str(caught.value)
    # Truncated, and an unknown format version, too.
    raw(db, "UPDATE transcripts SET data = ? WHERE consultation_id = ?", blob[:20], cid)
    with pytest.raises(TamperedError):
        store.notes.get_transcript(cid)
    raw(db, "UPDATE transcripts SET data = ? WHERE consultation_id = ?", b"\x09" + blob[1:], cid)
    with pytest.raises(TamperedError):
        store.notes.get_transcript(cid)
    store.close()


def test_ciphertext_moved_between_rows_is_detected(settings) -> None:
    store = open_store(settings)
    cid, user_id = fill(store)
    other = store.consultations.create(user_id, "gp", PatientDetails(name="Someone Else")).id
    store.close()
    db = settings.data_dir / "scribe.db"
    # Between versions of one consultation (same data key, different row).
    [(v2,)] = raw(db, "SELECT note FROM versions WHERE consultation_id = ? AND version = 2", cid)
    raw(db, "UPDATE versions SET note = ? WHERE consultation_id = ? AND version = 1", v2, cid)
    # Between consultations (different data keys).
    [(p1,)] = raw(db, "SELECT patient FROM consultations WHERE id = ?", cid)
    raw(db, "UPDATE consultations SET patient = ? WHERE id = ?", p1, other)
    # Between kinds in one consultation: the original slot given the playback copy's bytes.
    raw(db, "UPDATE audio SET kind = 'original' WHERE consultation_id = ?", cid)
    store = open_store(settings)
    with pytest.raises(TamperedError, match="note of consultation"):
        store.notes.get_version(cid, 1)
    assert store.notes.get_version(cid, 2).note.sections[0].statements[0].text == "second"
    with pytest.raises(TamperedError, match="patient"):
        store.consultations.patient(other)
    with pytest.raises(TamperedError, match="original"):
        store.audio.get(cid, "original")
    store.close()


def test_tampered_data_key_is_detected(settings) -> None:
    store = open_store(settings)
    cid, _ = fill(store)
    store.close()
    db = settings.data_dir / "scribe.db"
    [(wrapped,)] = raw(db, "SELECT wrapped FROM data_keys WHERE consultation_id = ? AND purpose = 'record'", cid)
    raw(db, "UPDATE data_keys SET wrapped = ? WHERE consultation_id = ? AND purpose = 'record'", flip(wrapped, 40), cid)
    store = open_store(settings)
    with pytest.raises(TamperedError, match="record data key"):
        store.consultations.patient(cid)
    store.close()


def test_wrong_key_is_refused(settings, tmp_path: Path) -> None:
    open_store(settings).close()
    wrong = make_settings(tmp_path)  # same data folder, another key
    with pytest.raises(KeyMissingError, match="this key does not open the store"):
        open_store(wrong)


def test_no_key_names_the_ways_to_give_one(tmp_path: Path) -> None:
    from scribe.config import load_settings

    settings = load_settings(data_dir=tmp_path / "data", store_key_file=tmp_path / "missing.key")
    with pytest.raises(KeyMissingError) as caught:
        open_store(settings)
    message = str(caught.value)
    assert "SCRIBE_STORE_KEY" in message and "SCRIBE_STORE_KEY_FILE" in message and "scribe store init-key" in message


def test_rotate_key(settings, tmp_path: Path) -> None:
    store = open_store(settings)
    cid, user_id = fill(store)
    fresh = new_key()
    assert store.keys.rotate(fresh) == 3  # the system key and the record key (the audio key is still held)
    assert store.consultations.patient(cid).name == MARKERS["patient"]
    store.close()
    with pytest.raises(KeyMissingError, match="does not open"):
        open_store(settings)
    store = open_store(make_settings(tmp_path, fresh))
    assert store.consultations.patient(cid).name == MARKERS["patient"]
    assert store.users.totp_secret(user_id) == MARKERS["totp"]
    assert store.audio.get(cid, "playback") is not None
    store.close()


def test_the_whole_recording_replaces_its_chunks_on_disk(settings) -> None:
    store = open_store(settings)
    cid, _ = fill(store)
    [(chunk_ct,)] = raw(settings.data_dir / "scribe.db", "SELECT data FROM chunks WHERE consultation_id = ?", cid)
    store.audio.put(cid, "original", Audio(b"whole recording " * 20, "audio/webm"))
    assert_absent(settings.data_dir, chunk_ct, MARKERS["chunk"].encode())
    store.close()


def test_deletion_is_real(settings) -> None:
    store = open_store(settings)
    cid, user_id = fill(store)
    keep = store.consultations.create(user_id, "gp", PatientDetails(name="Kept Patient")).id
    db = settings.data_dir / "scribe.db"
    [(audio_ct,)] = raw(db, "SELECT data FROM audio WHERE consultation_id = ?", cid)
    [(chunk_ct,)] = raw(db, "SELECT data FROM chunks WHERE consultation_id = ?", cid)
    [(key_ct,)] = raw(db, "SELECT wrapped FROM data_keys WHERE consultation_id = ? AND purpose = 'audio'", cid)
    store.audio.delete(cid)
    assert_absent(settings.data_dir, audio_ct, chunk_ct, key_ct, MARKERS["audio"].encode(), MARKERS["chunk"].encode())
    assert store.notes.get_transcript(cid) is not None  # the rest of the record stays

    ciphertexts = [
        *(row[0] for row in raw(db, "SELECT data FROM transcripts WHERE consultation_id = ?", cid)),
        *(row[0] for row in raw(db, "SELECT note FROM versions WHERE consultation_id = ?", cid)),
        *(row[0] for row in raw(db, "SELECT patient FROM consultations WHERE id = ?", cid)),
        *(row[0] for row in raw(db, "SELECT wrapped FROM data_keys WHERE consultation_id = ?", cid)),
        *(row[0] for row in raw(db, "SELECT text FROM disputes WHERE consultation_id = ?", cid)),
    ]
    assert len(ciphertexts) == 6
    store.consultations.delete(cid)
    assert_absent(settings.data_dir, *ciphertexts, cid.encode(), *(m.encode() for m in MARKERS.values()))
    assert store.consultations.patient(keep).name == "Kept Patient"
    store.close()
    assert_absent(settings.data_dir, *ciphertexts, cid.encode())


def test_audit_chain_detects_edits_and_removals(settings) -> None:
    store = open_store(settings)
    for action in ("sign-in", "view", "approve", "export"):
        store.audit.record(AuditEvent(user_id=1, username="alice", action=action, target="consultation:abc"))
    assert store.audit.verify() == (True, 4)
    store.close()
    db = settings.data_dir / "scribe.db"
    raw(db, "UPDATE audit SET action = 'view' WHERE id = 3")
    store = open_store(settings)
    assert store.audit.verify() == (False, 2)
    raw(db, "UPDATE audit SET action = 'approve' WHERE id = 3")
    assert store.audit.verify() == (True, 4)
    raw(db, "DELETE FROM audit WHERE id = 4")
    assert store.audit.verify()[0] is False  # the head still names event 4
    raw(db, "DELETE FROM audit WHERE id = 2")
    assert store.audit.verify() == (False, 1)
    store.close()


def test_a_store_left_running_after_rotation_wraps_nothing_with_the_old_key(settings, tmp_path: Path) -> None:
    running = open_store(settings)
    owner = running.users.create("alice", "A", Role.CLINICIAN, "h", totp_required=False)
    rotating = open_store(settings)
    fresh = new_key()
    rotating.keys.rotate(fresh)
    rotating.close()
    with pytest.raises(KeyMissingError, match="restart scribe with the new key"):
        running.consultations.create(owner.id, "gp", PatientDetails(name="P"))
    running.close()
    store = open_store(make_settings(tmp_path, fresh))
    assert store.consultations.list_all() == []
    store.close()
