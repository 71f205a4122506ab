"""The review pages and the job runner move a consultation through the same transitions (scribe.review.workflow),
so they refuse the same steps with the same words."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi import FastAPI
from helpers.review_app import add_user, csrf_from, fast_password_hashing, review_app, review_settings, signed_in_client

from scribe.errors import StateError
from scribe.review.jobs import JobRunner
from scribe.rows import Consent, ConsultationStatus, JobKind, PatientDetails
from scribe.store import Store


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FastAPI, Store]]:
    fast_password_hashing(monkeypatch)
    app, store = review_app(review_settings(tmp_path))
    try:
        yield app, store
    finally:
        store.close()


def _flac() -> bytes:
    buffer = io.BytesIO()
    t = np.arange(16000) / 16000
    sf.write(buffer, (0.2 * np.sin(2 * np.pi * 440 * t)).astype("float32"), 16000, format="FLAC")
    return buffer.getvalue()


def test_a_second_upload_is_refused_as_the_runner_refuses_it(site: tuple[FastAPI, Store]) -> None:
    app, store = site
    owner = add_user(store, "alice")
    cid = store.consultations.create(owner.id, "gp", PatientDetails(name="Jo Bloggs")).id
    store.consultations.set_consent(cid, Consent(informed=True, agreed=True, recorded_by=owner.id))
    path = f"/consultations/{cid}/upload"
    alice = signed_in_client(app, store, "alice")

    def upload() -> object:
        csrf = csrf_from(alice.get("/account").text)
        files = {"audio": ("a.flac", _flac(), "audio/flac")}
        return alice.post(path, data={"csrf_token": csrf}, files=files, follow_redirects=False)

    assert upload().status_code == 303
    assert store.consultations.get(cid).status == ConsultationStatus.TRANSCRIBING
    with pytest.raises(StateError) as runner_refusal:
        JobRunner(store, app.state.settings).submit_upload(cid)  # not started: no models are loaded

    again = upload()
    assert again.status_code == 409
    assert str(runner_refusal.value) in again.text
    assert [j.kind for j in store.jobs.for_consultation(cid)] == [JobKind.TRANSCRIBE]
    assert store.consultations.get(cid).status == ConsultationStatus.TRANSCRIBING
