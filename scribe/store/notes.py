"""Transcripts, note versions, edits, approvals, rejections, letters and disputes (``store.notes``).

Drafts are versions: edits change a DRAFT version in place, each edit kept (sealed) with its
before/after text; an approved version is never changed again, and a correction is a new version.
Every text is sealed under the consultation's record key.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from scribe.errors import NotFoundError, StateError
from scribe.records import Letter, LetterKind, NoteDraft, Transcript
from scribe.rows import (
    Approval,
    ConsultationStatus,
    Dispute,
    Edit,
    EditAction,
    NoteState,
    NoteVersion,
    ReviewMetrics,
)
from scribe.store.core import RECORD, Database, aware, now, utc
from scribe.store.keys import KeyRing


def version_row(database: Database, c: Connection, consultation_id: str, version: int | None) -> Row:
    """The row of note ``version`` (None: the current one); NotFoundError when there is none."""
    if version is None:
        version = database.consultation_row(c, consultation_id).current_version
        if version == 0:
            raise NotFoundError(f"consultation {consultation_id} has no note yet")
    versions = database.t["versions"]
    row = c.execute(
        select(versions).where(versions.c.consultation_id == consultation_id, versions.c.version == version)
    ).one_or_none()
    if row is None:
        database.consultation_row(c, consultation_id)
        raise NotFoundError(f"consultation {consultation_id} has no note version {version}")
    return row


class Notes:
    """What is written from a consultation and how it was reviewed."""

    def __init__(self, database: Database, keys: KeyRing) -> None:
        """Work in ``database``; seal with the consultations' record keys in ``keys``."""
        self._db = database
        self._keys = keys

    def put_transcript(self, consultation_id: str, transcript: Transcript) -> None:
        """Keep (or replace) the consultation's transcript."""
        table = self._db.t["transcripts"]
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            data = transcript.model_dump_json().encode()
            sealed = self._keys.seal(c, consultation_id, RECORD, data, "transcripts", consultation_id, "transcript")
            c.execute(delete(table).where(table.c.consultation_id == consultation_id))
            c.execute(insert(table).values(consultation_id=consultation_id, data=sealed, created_at=now()))

    def get_transcript(self, consultation_id: str) -> Transcript | None:
        """The transcript, or None when there is none yet."""
        table = self._db.t["transcripts"]
        with self._db.read() as c:
            blob = c.execute(
                select(table.c.data).where(table.c.consultation_id == consultation_id)
            ).scalar_one_or_none()
            if blob is None:
                return None
            plain = self._keys.unseal(c, consultation_id, RECORD, blob, "transcripts", consultation_id, "transcript")
        return Transcript.model_validate_json(plain)

    def _seal_note(self, c: Connection, cid: str, version: int, note: NoteDraft) -> bytes:
        return self._keys.seal(c, cid, RECORD, note.model_dump_json().encode(), "versions", f"{cid}/{version}", "note")

    def _version(self, c: Connection, row: Row) -> NoteVersion:
        cid, number = row.consultation_id, row.version
        note = NoteDraft.model_validate_json(
            self._keys.unseal(c, cid, RECORD, row.note, "versions", f"{cid}/{number}", "note")
        )
        reason = ""
        if row.rejected_reason is not None:
            blob = row.rejected_reason
            reason = self._keys.unseal(c, cid, RECORD, blob, "versions", f"{cid}/{number}", "rejected_reason").decode()
        return NoteVersion(
            consultation_id=cid,
            version=number,
            note=note,
            state=NoteState(row.state),
            based_on=row.based_on,
            created_by=row.created_by,
            created_at=utc(row.created_at),
            approval=Approval.model_validate_json(row.approval) if row.approval else None,
            rejected_reason=reason,
        )

    def add_version(
        self, consultation_id: str, note: NoteDraft, *, created_by: int | None, based_on: int | None = None
    ) -> NoteVersion:
        """A new DRAFT version (number = last + 1), which becomes the consultation's current version.

        The consultation's status is the caller's to set (DRAFTED for a draft, as it fits for a correction).
        """
        versions = self._db.t["versions"]
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            last = c.execute(
                select(func.max(versions.c.version)).where(versions.c.consultation_id == consultation_id)
            ).scalar_one()
            number = (last or 0) + 1
            if based_on is not None:
                version_row(self._db, c, consultation_id, based_on)
            c.execute(
                insert(versions).values(
                    consultation_id=consultation_id,
                    version=number,
                    state=NoteState.DRAFT.value,
                    based_on=based_on,
                    created_by=created_by,
                    created_at=now(),
                    note=self._seal_note(c, consultation_id, number, note),
                    approval=None,
                    rejected_reason=None,
                    rejected_by=None,
                )
            )
            self._db.set_consultation(c, consultation_id, current_version=number)
            return self._version(c, version_row(self._db, c, consultation_id, number))

    def get_version(self, consultation_id: str, version: int | None = None) -> NoteVersion:
        """``version`` None means the current one. Raises NotFoundError."""
        with self._db.read() as c:
            return self._version(c, version_row(self._db, c, consultation_id, version))

    def list_versions(self, consultation_id: str) -> list[NoteVersion]:
        """Every version, oldest first."""
        versions = self._db.t["versions"]
        with self._db.read() as c:
            rows = c.execute(
                select(versions).where(versions.c.consultation_id == consultation_id).order_by(versions.c.version)
            ).all()
            return [self._version(c, row) for row in rows]

    def save_note(self, consultation_id: str, version: int, note: NoteDraft, edit: Edit) -> NoteVersion:
        """Replace a DRAFT version's note and record the edit, in one transaction; StateError otherwise."""
        if edit.consultation_id != consultation_id or edit.version != version:
            raise ValueError("the edit belongs to another consultation or version")
        versions, edits = self._db.t["versions"], self._db.t["edits"]
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            row = version_row(self._db, c, consultation_id, version)
            if row.state != NoteState.DRAFT:
                raise StateError(
                    f"note version {version} of consultation {consultation_id} is {row.state} and cannot be edited; "
                    "make a correction instead"
                )
            c.execute(
                update(versions)
                .where(versions.c.consultation_id == consultation_id, versions.c.version == version)
                .values(note=self._seal_note(c, consultation_id, version, note))
            )
            edit_id = c.execute(
                insert(edits).values(
                    consultation_id=consultation_id,
                    version=version,
                    user_id=edit.user_id,
                    at=aware(edit.at),
                    section=edit.section,
                    idx=edit.index,
                    action=EditAction(edit.action).value,
                    body=b"",
                )
            ).inserted_primary_key[0]
            body = json.dumps({"before": edit.before, "after": edit.after}).encode()
            sealed = self._keys.seal(c, consultation_id, RECORD, body, "edits", str(edit_id), "edit")
            c.execute(update(edits).where(edits.c.id == edit_id).values(body=sealed))
            return self._version(c, version_row(self._db, c, consultation_id, version))

    def edits(self, consultation_id: str, version: int | None = None) -> list[Edit]:
        """The recorded edits, oldest first; of one version when ``version`` is given."""
        edits = self._db.t["edits"]
        query = select(edits).where(edits.c.consultation_id == consultation_id)
        if version is not None:
            query = query.where(edits.c.version == version)
        with self._db.read() as c:
            result = []
            for row in c.execute(query.order_by(edits.c.id)).all():
                body = json.loads(self._keys.unseal(c, consultation_id, RECORD, row.body, "edits", str(row.id), "edit"))
                result.append(
                    Edit(
                        consultation_id=consultation_id,
                        version=row.version,
                        user_id=row.user_id,
                        at=utc(row.at),
                        section=row.section,
                        index=row.idx,
                        action=EditAction(row.action),
                        before=body["before"],
                        after=body["after"],
                    )
                )
            return result

    def approve(self, consultation_id: str, version: int, approval: Approval) -> NoteVersion:
        """DRAFT -> APPROVED (earlier approved versions -> SUPERSEDED); status APPROVED. StateError otherwise.

        Also sets the consultation's current version to ``version`` and ``metrics.approved_at`` to the
        approval time, which retention counts from.
        """
        versions = self._db.t["versions"]
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            row = version_row(self._db, c, consultation_id, version)
            if row.state != NoteState.DRAFT:
                raise StateError(
                    f"note version {version} of consultation {consultation_id} is {row.state}, not a draft"
                )
            of_consultation = versions.c.consultation_id == consultation_id
            c.execute(
                update(versions)
                .where(of_consultation, versions.c.state == NoteState.APPROVED.value)
                .values(state=NoteState.SUPERSEDED.value)
            )
            c.execute(
                update(versions)
                .where(of_consultation, versions.c.version == version)
                .values(state=NoteState.APPROVED.value, approval=approval.model_dump_json())
            )
            consultation = self._db.consultation_row(c, consultation_id)
            metrics = ReviewMetrics.model_validate_json(consultation.metrics)
            metrics.approved_at = approval.at
            self._db.set_consultation(
                c,
                consultation_id,
                status=ConsultationStatus.APPROVED.value,
                current_version=version,
                metrics=metrics.model_dump_json(),
                error="",
            )
            return self._version(c, version_row(self._db, c, consultation_id, version))

    def reject(self, consultation_id: str, version: int, reason: str, user_id: int) -> NoteVersion:
        """DRAFT -> REJECTED with the reason (sealed). StateError otherwise.

        The consultation becomes REJECTED, unless an earlier version is approved: then that version
        becomes current again and the status stays as it was (APPROVED or EXPORTED).
        """
        versions = self._db.t["versions"]
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            row = version_row(self._db, c, consultation_id, version)
            if row.state != NoteState.DRAFT:
                raise StateError(
                    f"note version {version} of consultation {consultation_id} is {row.state}, not a draft"
                )
            sealed = self._keys.seal(
                c,
                consultation_id,
                RECORD,
                reason.encode(),
                "versions",
                f"{consultation_id}/{version}",
                "rejected_reason",
            )
            of_consultation = versions.c.consultation_id == consultation_id
            c.execute(
                update(versions)
                .where(of_consultation, versions.c.version == version)
                .values(state=NoteState.REJECTED.value, rejected_reason=sealed, rejected_by=user_id)
            )
            approved = c.execute(
                select(versions.c.version).where(of_consultation, versions.c.state == NoteState.APPROVED.value)
            ).scalar_one_or_none()
            if approved is not None:
                self._db.set_consultation(c, consultation_id, current_version=approved)
            else:
                self._db.set_consultation(c, consultation_id, status=ConsultationStatus.REJECTED.value)
            return self._version(c, version_row(self._db, c, consultation_id, version))

    def put_letter(self, consultation_id: str, version: int, letter: Letter) -> None:
        """Keep the letter of ``letter.kind`` drafted from note ``version`` (replaces the same kind/version)."""
        letters = self._db.t["letters"]
        kind = LetterKind(letter.kind).value
        with self._db.write() as c:
            version_row(self._db, c, consultation_id, version)
            row_id = f"{consultation_id}/{version}/{kind}"
            sealed = self._keys.seal(
                c, consultation_id, RECORD, letter.model_dump_json().encode(), "letters", row_id, "letter"
            )
            c.execute(
                delete(letters).where(
                    letters.c.consultation_id == consultation_id, letters.c.version == version, letters.c.kind == kind
                )
            )
            c.execute(
                insert(letters).values(
                    consultation_id=consultation_id, version=version, kind=kind, data=sealed, created_at=now()
                )
            )

    def get_letter(self, consultation_id: str, kind: LetterKind, version: int | None = None) -> Letter | None:
        """The letter for ``version`` (default current), falling back to the newest earlier one."""
        letters = self._db.t["letters"]
        kind = LetterKind(kind).value
        with self._db.read() as c:
            if version is None:
                version = self._db.consultation_row(c, consultation_id).current_version
            row = c.execute(
                select(letters)
                .where(
                    letters.c.consultation_id == consultation_id,
                    letters.c.kind == kind,
                    letters.c.version <= version,
                )
                .order_by(letters.c.version.desc())
                .limit(1)
            ).one_or_none()
            if row is None:
                return None
            row_id = f"{consultation_id}/{row.version}/{kind}"
            plain = self._keys.unseal(c, consultation_id, RECORD, row.data, "letters", row_id, "letter")
        return Letter.model_validate_json(plain)

    def add_dispute(self, consultation_id: str, version: int, text: str, recorded_by: int) -> Dispute:
        """Record a patient's dispute of note ``version`` (sealed), as told to ``recorded_by``."""
        disputes = self._db.t["disputes"]
        recorded_at = now()
        with self._db.write() as c:
            version_row(self._db, c, consultation_id, version)
            dispute_id = c.execute(
                insert(disputes).values(
                    consultation_id=consultation_id,
                    version=version,
                    text=b"",
                    recorded_by=recorded_by,
                    recorded_at=recorded_at,
                )
            ).inserted_primary_key[0]
            sealed = self._keys.seal(c, consultation_id, RECORD, text.encode(), "disputes", str(dispute_id), "dispute")
            c.execute(update(disputes).where(disputes.c.id == dispute_id).values(text=sealed))
        return Dispute(
            id=dispute_id,
            consultation_id=consultation_id,
            version=version,
            text=text,
            recorded_by=recorded_by,
            recorded_at=recorded_at,
        )

    def disputes(self, consultation_id: str) -> list[Dispute]:
        """Every dispute, oldest first."""
        disputes = self._db.t["disputes"]
        with self._db.read() as c:
            rows = c.execute(
                select(disputes).where(disputes.c.consultation_id == consultation_id).order_by(disputes.c.id)
            ).all()
            return [
                Dispute(
                    id=row.id,
                    consultation_id=consultation_id,
                    version=row.version,
                    text=self._keys.unseal(
                        c, consultation_id, RECORD, row.text, "disputes", str(row.id), "dispute"
                    ).decode(),
                    recorded_by=row.recorded_by,
                    recorded_at=utc(row.recorded_at),
                )
                for row in rows
            ]
