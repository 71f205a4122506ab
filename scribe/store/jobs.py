"""The job queue: background work on consultations, kept in the database so a restart resumes it
(``store.jobs``)."""

from __future__ import annotations

from sqlalchemy import Row, insert, select, update

from scribe.errors import NotFoundError
from scribe.rows import Job, JobKind, JobState
from scribe.store.core import Database, now, utc


class Jobs:
    """Queued, running and finished jobs."""

    def __init__(self, database: Database) -> None:
        """Work in ``database``."""
        self._db = database

    @staticmethod
    def _job(row: Row) -> Job:
        return Job(
            id=row.id,
            consultation_id=row.consultation_id,
            kind=JobKind(row.kind),
            state=JobState(row.state),
            attempts=row.attempts,
            error=row.error,
            created_at=utc(row.created_at),
            started_at=utc(row.started_at),
            finished_at=utc(row.finished_at),
        )

    def enqueue(self, consultation_id: str, kind: JobKind) -> Job:
        """Queue background work on the consultation."""
        jobs = self._db.t["jobs"]
        with self._db.write() as c:
            self._db.consultation_row(c, consultation_id)
            job_id = c.execute(
                insert(jobs).values(
                    consultation_id=consultation_id,
                    kind=JobKind(kind).value,
                    state=JobState.QUEUED.value,
                    attempts=0,
                    error="",
                    created_at=now(),
                )
            ).inserted_primary_key[0]
            return self._job(c.execute(select(jobs).where(jobs.c.id == job_id)).one())

    def claim(self) -> Job | None:
        """The oldest QUEUED job, now RUNNING with attempts + 1; None when idle."""
        jobs = self._db.t["jobs"]
        with self._db.write() as c:
            while True:
                row = c.execute(
                    select(jobs).where(jobs.c.state == JobState.QUEUED.value).order_by(jobs.c.id).limit(1)
                ).one_or_none()
                if row is None:
                    return None
                claimed = c.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id, jobs.c.state == JobState.QUEUED.value)
                    .values(state=JobState.RUNNING.value, attempts=row.attempts + 1, started_at=now(), error="")
                ).rowcount
                if claimed:
                    return self._job(c.execute(select(jobs).where(jobs.c.id == row.id)).one())

    def finish(self, job_id: int, *, error: str = "") -> None:
        """DONE, or FAILED with ``error`` (no patient data)."""
        jobs = self._db.t["jobs"]
        state = JobState.FAILED if error else JobState.DONE
        with self._db.write() as c:
            done = c.execute(
                update(jobs).where(jobs.c.id == job_id).values(state=state.value, error=error, finished_at=now())
            ).rowcount
        if not done:
            raise NotFoundError(f"job {job_id} does not exist")

    def requeue_running(self) -> int:
        """After a restart: RUNNING jobs back to QUEUED; returns how many."""
        jobs = self._db.t["jobs"]
        with self._db.write() as c:
            return c.execute(
                update(jobs).where(jobs.c.state == JobState.RUNNING.value).values(state=JobState.QUEUED.value)
            ).rowcount

    def for_consultation(self, consultation_id: str) -> list[Job]:
        """The consultation's jobs, oldest first."""
        jobs = self._db.t["jobs"]
        with self._db.read() as c:
            rows = c.execute(select(jobs).where(jobs.c.consultation_id == consultation_id).order_by(jobs.c.id))
            return [self._job(row) for row in rows]
