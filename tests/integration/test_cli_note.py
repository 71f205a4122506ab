"""`scribe note`, `scribe letter` and `scribe render` end to end, on the small packaged LLM, and bad input."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from helpers.cli_runner import scribe

pytestmark = pytest.mark.slow

KNEE = Path(__file__).parents[1] / "data" / "knee_consultation.json"
SMALL = {"SCRIBE_LLM_MODEL": "smollm2-135m-instruct", "SCRIBE_LLM_CONTEXT": "4096", "SCRIBE_LLM_MAX_TOKENS": "160"}


@pytest.fixture(scope="module")
def note_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("note")
    out = tmp_path / "note.json"
    done = scribe(
        "note", str(KNEE), "--template", "soap", "--format", "json", "-o", str(out), tmp_path=tmp_path, env=SMALL
    )
    assert done.returncode == 0, done.stderr
    assert "a clinician must review it" in done.stderr
    return out


def test_note_json_has_the_documented_shape(note_json: Path) -> None:
    note = json.loads(note_json.read_text())
    assert note["template"] == "soap" and note["model"] and note["backend"] == "llamacpp"
    assert [s["title"] for s in note["sections"]] == ["Subjective", "Objective", "Assessment", "Plan"]
    for section in note["sections"]:
        for statement in section["statements"]:
            assert set(statement) >= {"text", "evidence", "supported", "reason"}
            assert isinstance(statement["supported"], bool)
            assert set(statement["evidence"]) <= set(range(20))
    assert isinstance(note["omissions"], list)
    assert "draft" in note["timings"] and note["timings"]["draft"]["wall_seconds"] > 0


def test_saved_note_renders_as_markdown_text_and_pdf(note_json: Path, tmp_path: Path) -> None:
    markdown = scribe("render", str(note_json), "--format", "markdown", tmp_path=tmp_path)
    assert markdown.returncode == 0, markdown.stderr
    assert "## Subjective" in markdown.stdout and "clinician review" in markdown.stdout
    text = scribe("render", str(note_json), "-f", "text", tmp_path=tmp_path)
    assert text.returncode == 0 and "SUBJECTIVE" in text.stdout.upper()
    pdf = tmp_path / "note.pdf"
    done = scribe("render", str(note_json), "-f", "pdf", "-o", str(pdf), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


def test_letter_from_a_reviewed_note(tmp_path: Path) -> None:
    from scribe.notes.grounding import ground_note
    from scribe.notes.inputs import load_transcript
    from scribe.records import NoteDraft, NoteSection, Statement

    reviewed = NoteDraft(  # as a clinician approved it (the 135M test model's own drafts rarely keep a statement)
        template="soap",
        sections=[
            NoteSection(key="subjective", title="Subjective", statements=[
                Statement(text="Right knee pain for two weeks.", evidence=[1]),
                Statement(text="Ramipril 5 mg once a day.", evidence=[9]),
            ]),
        ],
    )  # fmt: skip
    ground_note(reviewed, load_transcript(KNEE))
    note_json = tmp_path / "reviewed.json"
    note_json.write_text(reviewed.model_dump_json())
    out = tmp_path / "letter.json"
    done = scribe(
        "letter", str(KNEE), "--kind", "gp", "--note", str(note_json), "-f", "json", "-o", str(out),
        tmp_path=tmp_path, env=SMALL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    letter = json.loads(out.read_text())
    assert letter["kind"] == "gp" and letter["salutation"]
    assert letter["paragraphs"] or not letter["complete"]


def _gguf_with_bad_header(path: Path) -> Path:
    path.write_bytes(b"GGML" + struct.pack("<IQQ", 3, 1, 1) + b"\0" * 64)
    return path


@pytest.mark.parametrize(
    ("setup", "args", "code", "message"),
    [
        (lambda d: d / "absent.json", [], 8, "does not exist"),
        (lambda d: _write(d / "bad.json", "{oops"), [], 8, "not valid JSON"),
        (lambda d: _write(d / "empty.json", '{"segments": []}'), [], 8, "no speech"),
        (
            lambda d: _write(d / "fr.json", json.dumps({"language": "fr", "segments": [{"id": 0, "text": "Bonjour"}]})),
            [],
            8,
            "English only",
        ),
        (lambda d: KNEE, ["--model", "/nonexistent/model.gguf"], 5, "not in the catalogue"),
        (lambda d: KNEE, ["--model", "{bad}"], 5, "not a GGUF model file"),
        (lambda d: KNEE, ["--template", "cardiology"], 2, "unknown note template"),
        (lambda d: KNEE, ["--format", "docx"], 2, "--format"),
        (lambda d: KNEE, ["--backend", "carrier-pigeon"], 2, "--backend"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_no_output(
    tmp_path: Path, setup, args: list[str], code: int, message: str
) -> None:
    source = setup(tmp_path)
    args = [a.replace("{bad}", str(_gguf_with_bad_header(tmp_path / "bad.gguf"))) for a in args]
    out = tmp_path / "out.json"
    done = scribe("note", str(source), *args, "-o", str(out), tmp_path=tmp_path, env=SMALL)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_unreachable_server_is_a_clear_backend_error(tmp_path: Path) -> None:
    env = {
        "SCRIBE_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "SCRIBE_OPENAI_MODEL": "any",
        "SCRIBE_OPENAI_RETRIES": "0",
        "SCRIBE_OPENAI_TIMEOUT": "5",
    }
    out = tmp_path / "out.json"
    done = scribe("note", str(KNEE), "--backend", "openai", "-o", str(out), tmp_path=tmp_path, env=env)
    assert done.returncode == 7, done.stderr
    assert "127.0.0.1:9" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
