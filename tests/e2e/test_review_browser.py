"""End to end in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

A real `scribe serve` with its background worker runs on 127.0.0.1 over a fresh encrypted store;
it transcribes with the packaged Whisper tiny.en and drafts with the packaged SmolLM2-135M (too
weak for good notes, right for exercising the whole path). The audio is the bundled SYNTHETIC
sample (TTS voices reading a PriMock57 mock consultation).

Screenshots of the main pages are written to docs/screenshots/ as test artefacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.review_server import CHROMIUM, PASSWORD, ReviewServer, review_server

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (make test installs it)")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PATIENT = "Alexandra Testpatient"
NHS_NUMBER = "943 476 5919"
EDITED = "Left-sided headache since midday with nausea, edited by the clinician."
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewServer]:
    with review_server(tmp_path_factory.mktemp("review-e2e"), ["alice", "bob"]) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright) -> Iterator[object]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
    yield launched
    launched.close()


def new_page(browser, server: ReviewServer):
    # bypass_csp only lets the test inject axe-core; the app's own pages never need it.
    context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 768}, bypass_csp=True)
    context.set_default_timeout(30_000)
    return context.new_page()


def sign_in(page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()
    page.wait_for_url(re.compile(r"/$"))


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def axe_violations(page) -> list[str]:
    """Serious and critical WCAG 2 A/AA violations axe-core finds on the page as rendered."""
    if not AXE.exists():
        pytest.skip("axe-core not installed (make test runs npm ci)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_clinician_uploads_reviews_edits_approves_and_exports(browser, server: ReviewServer) -> None:
    page = new_page(browser, server)
    sign_in(page, "alice")
    assert axe_violations(page) == []

    page.get_by_role("link", name="New consultation").first.click()
    page.get_by_label("Patient name").fill(PATIENT)
    page.get_by_label("NHS number").fill(NHS_NUMBER)
    page.get_by_label("Reason").fill("headache")
    page.get_by_role("button", name="Continue to consent").click()
    page.get_by_label(re.compile("agreed", re.I)).check()
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_url(re.compile(r"/record$"))
    server.consultation_id = page.url.split("/")[-2]
    assert axe_violations(page) == []
    shot(page, "02-record.png")

    page.set_input_files("#audio-file", str(ROOT / "tests" / "data" / "sample_mono.flac"))
    page.get_by_role("button", name="Upload and draft the note").click()
    page.wait_for_selector(".note-section", timeout=600_000)  # the status page moves on when the draft is ready
    assert page.locator(".segment").count() > 3
    assert axe_violations(page) == []
    shot(page, "03-review.png")

    # Clicking a statement (here by keyboard) highlights its evidence in the transcript. The 135M test model
    # often finds nothing it can support in this sample: then every section must say so, with nothing flagged.
    cited = page.locator(".evidence-link:not([data-evidence=''])")
    if cited.count():
        cited.first.focus()
        page.keyboard.press("Enter")
        assert page.locator(".segment.is-evidence").count() >= 1
    else:
        statements = page.locator(".note-section li.statement")
        assert statements.count() == page.locator(".note-section").count()
        assert all(text.strip().startswith("Not discussed") for text in statements.all_inner_texts())
        assert page.locator(".note-section .is-unsupported").count() == 0

    # Edit the first statement in place.
    first = page.locator(".note-section li.statement").first
    first.get_by_role("link", name=re.compile("^Edit")).click()
    editor = page.locator(".statement-editing textarea")
    editor.fill(EDITED)
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector(f"text={EDITED}")
    edited = page.locator(".note-section li.statement", has_text=EDITED)
    assert edited.locator(".badge-edited").count() == 1

    page.get_by_role("link", name=re.compile("^Changes")).click()
    assert page.locator("ins").count() >= 1
    shot(page, "04-changes.png")

    page.get_by_role("link", name=re.compile("^Note")).click()
    page.check("#attest")
    if page.locator("#flags-checked").count():
        page.check("#flags-checked")
    page.get_by_role("button", name="Approve note").click()
    page.wait_for_selector("text=Download as text")
    shot(page, "05-approved.png")
    assert page.locator("a[href$='/edit']").count() == 0  # read-only once approved

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as text").click()
    exported = Path(download.value.path()).read_text()
    assert EDITED in exported

    page.goto("/")
    assert PATIENT in page.content()
    shot(page, "01-consultations.png")
    page.context.close()


def test_second_clinician_cannot_see_the_first_clinicians_consultation(browser, server: ReviewServer) -> None:
    if not server.consultation_id:
        pytest.skip("needs the first clinician's consultation")
    page = new_page(browser, server)
    sign_in(page, "bob")
    assert PATIENT not in page.content()
    response = page.goto(f"/consultations/{server.consultation_id}")
    assert response.status == 403
    assert PATIENT not in page.content()
    page.context.close()


def test_nothing_readable_at_rest_or_in_logs(server: ReviewServer) -> None:
    if not server.consultation_id:
        pytest.skip("needs the first clinician's consultation")
    markers = [PATIENT, NHS_NUMBER.replace(" ", ""), "terrible headache", EDITED[:30]]
    for path in server.data_dir.rglob("*"):
        if path.is_file() and "models" not in path.relative_to(server.data_dir).parts:
            blob = path.read_bytes()
            for marker in markers:
                assert marker.encode() not in blob, f"{marker!r} readable in {path}"
            assert b"fLaC" not in blob, f"unencrypted FLAC audio in {path}"
    log = server.log_text()
    for marker in markers:
        assert marker not in log, f"{marker!r} in the server log"


def _fake_microphone(tmp_path: Path) -> Path:
    audio, rate = sf.read(ROOT / "tests" / "data" / "sample_mono.flac", dtype="float32")
    wav = tmp_path / "microphone.wav"
    sf.write(wav, np.asarray(audio[: rate * 20]), rate, subtype="PCM_16")
    return wav


def test_recording_in_the_browser_streams_a_live_transcript(playwright, server: ReviewServer, tmp_path: Path) -> None:
    """MediaRecorder on Chromium's fake microphone (fed the synthetic sample): chunks upload, text streams in."""
    args = [
        *LAUNCH_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={_fake_microphone(tmp_path)}",
    ]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
    try:
        context = browser.new_context(base_url=server.url, viewport={"width": 1366, "height": 768})
        context.grant_permissions(["microphone"], origin=server.url)
        page = context.new_page()
        page.set_default_timeout(30_000)
        sign_in(page, "alice")
        page.get_by_role("link", name="New consultation").first.click()
        page.get_by_label("Patient name").fill("Recorded Testpatient")
        page.get_by_role("button", name="Continue to consent").click()
        page.get_by_label(re.compile("agreed", re.I)).check()
        page.get_by_role("button", name="Record the decision").click()
        page.get_by_role("button", name="Start recording").click()
        page.wait_for_selector("#live .segment, #live li", timeout=120_000)
        shot(page, "06-recording.png")
        page.get_by_role("button", name=re.compile("Stop")).click()
        page.wait_for_selector(".note-section", timeout=600_000)
        assert page.locator(".segment").count() >= 1
    finally:
        browser.close()
