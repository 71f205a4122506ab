"""The first store schema: users, sessions, consultations and everything recorded about them, jobs, audit.

Columns holding patient data are ``LargeBinary`` values sealed with AES-GCM (scribe.store.crypto);
everything else is metadata without patient data (ids, states, times, measurements).

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CONSULTATION_ID = 32


def _now() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _consultation_fk(primary_key: bool = False) -> sa.Column:
    return sa.Column(
        "consultation_id",
        sa.String(CONSULTATION_ID),
        sa.ForeignKey("consultations.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("totp_required", sa.Boolean, nullable=False),
        sa.Column("totp_secret", sa.LargeBinary, nullable=True),  # sealed under the system data key
        _now(),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(100), nullable=False),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("second_factor_done", sa.Boolean, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_at", "login_failures", ["at"])
    op.create_table(
        "consultations",
        sa.Column("id", sa.String(CONSULTATION_ID), primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        _now(),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("patient", sa.LargeBinary, nullable=False),  # sealed: PatientDetails JSON
        sa.Column("consent", sa.Text, nullable=True),  # Consent JSON (no patient data)
        sa.Column("audio_info", sa.LargeBinary, nullable=True),  # sealed: AudioInfo JSON (may name a file)
        sa.Column("audio_deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),  # ReviewMetrics JSON
        sa.Column("timings", sa.Text, nullable=False),  # list of StageTiming JSON
    )
    op.create_index("ix_consultations_owner", "consultations", ["owner_id"])
    op.create_table(
        "data_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "consultation_id",
            sa.String(CONSULTATION_ID),
            sa.ForeignKey("consultations.id", ondelete="CASCADE"),
            nullable=True,  # NULL: the system key
        ),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("kek_id", sa.String(16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        _now(),
        sa.UniqueConstraint("consultation_id", "purpose", name="uq_data_keys_scope"),
    )
    op.create_table(
        "grants",
        _consultation_fk(primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        _now(),
    )
    op.create_table(
        "chunks",
        _consultation_fk(primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),  # sealed under the audio data key
        _now(),
    )
    op.create_table(
        "audio",
        _consultation_fk(primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),  # sealed under the audio data key
        _now(),
    )
    op.create_table(
        "transcripts",
        _consultation_fk(primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),  # sealed: Transcript JSON
        _now(),
    )
    op.create_table(
        "versions",
        _consultation_fk(primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("based_on", sa.Integer, nullable=True),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        _now(),
        sa.Column("note", sa.LargeBinary, nullable=False),  # sealed: NoteDraft JSON
        sa.Column("approval", sa.Text, nullable=True),  # Approval JSON (the clinician's attestation)
        sa.Column("rejected_reason", sa.LargeBinary, nullable=True),  # sealed free text
        sa.Column("rejected_by", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    )
    op.create_table(
        "edits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _consultation_fk(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("section", sa.String(100), nullable=False),
        sa.Column("idx", sa.Integer, nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),  # sealed: {"before", "after"} JSON
    )
    op.create_index("ix_edits_consultation", "edits", ["consultation_id", "version"])
    op.create_table(
        "letters",
        _consultation_fk(primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),  # sealed: Letter JSON
        _now(),
    )
    op.create_table(
        "disputes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _consultation_fk(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.LargeBinary, nullable=False),  # sealed free text
        sa.Column("recorded_by", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_disputes_consultation", "disputes", ["consultation_id"])
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _consultation_fk(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("format", sa.String(50), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destination", sa.String(500), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_exports_consultation", "exports", ["consultation_id"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _consultation_fk(),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        _now(),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_jobs_state", "jobs", ["state", "id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    # One row: the newest event's id and hash. Appends update it, which serialises them on every database.
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(sa.text("INSERT INTO audit_head (id, last_id, hash) VALUES (1, 0, '')"))


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit",
        "jobs",
        "exports",
        "disputes",
        "letters",
        "edits",
        "versions",
        "transcripts",
        "audio",
        "chunks",
        "grants",
        "data_keys",
        "consultations",
        "login_failures",
        "sessions",
        "users",
    ):
        op.drop_table(table)
