"""Reading transcripts for `scribe note`: scribe's own JSON, minimal JSON from other systems, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.errors import DraftError
from scribe.notes.inputs import load_document, load_transcript
from scribe.records import Letter, LetterKind, NoteDraft, Segment, SpeakerRole, Statement, Transcript


def _write(tmp_path: Path, data: object, name: str = "t.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_minimal_transcript_from_another_system(tmp_path: Path) -> None:
    data = {
        "segments": [
            {"id": 0, "start": 0, "end": 2.5, "speaker": "Doctor", "text": "What brings you in?"},
            {"id": 1, "start": 2.5, "end": 6, "speaker": "patient", "text": "A cough.", "confidence": 0.9},
            {"id": 5, "start": 6, "end": 7, "speaker": "interpreter", "text": "Yes."},
        ]
    }
    transcript = load_transcript(_write(tmp_path, data))
    assert [s.speaker for s in transcript.segments] == [SpeakerRole.CLINICIAN, SpeakerRole.PATIENT, SpeakerRole.UNKNOWN]
    assert [s.id for s in transcript.segments] == [0, 1, 5]
    assert transcript.duration == 7
    assert load_transcript(_write(tmp_path, data["segments"], "list.json")).segments[1].text == "A cough."


def test_scribe_transcript_round_trips(tmp_path: Path) -> None:
    original = Transcript(
        segments=[Segment(id=3, start=1, end=2, speaker=SpeakerRole.PATIENT, text="Hi")], language="en"
    )
    assert load_transcript(_write(tmp_path, original.model_dump(mode="json"))) == original


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ({"segments": "many"}, "list of segments"),
        ({"segments": [{"id": 0, "start": 0, "end": 1}]}, "segments.0.text|text"),
        ({"segments": [{"id": -1, "text": "x"}]}, "id"),
        ({"segments": [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}]}, "unique"),
        (42, "list of segments"),
    ],
)
def test_malformed_transcripts_are_refused_precisely(tmp_path: Path, content: object, expected: str) -> None:
    with pytest.raises(DraftError, match=expected):
        load_transcript(_write(tmp_path, content))


def test_missing_file_is_a_draft_error(tmp_path: Path) -> None:
    with pytest.raises(DraftError, match="does not exist"):
        load_transcript(tmp_path / "none.json")


def test_note_and_letter_documents_are_told_apart(tmp_path: Path) -> None:
    note = NoteDraft(template="gp")
    letter = Letter(kind=LetterKind.GP, paragraphs=[[Statement(text="Seen today.")]])
    assert load_document(_write(tmp_path, note.model_dump(mode="json"), "n.json")) == note
    assert load_document(_write(tmp_path, letter.model_dump(mode="json"), "l.json")) == letter
    with pytest.raises(DraftError, match="not a valid note or letter"):
        load_document(_write(tmp_path, {"template": "gp", "sections": [{"title": 3}]}, "bad.json"))
    with pytest.raises(DraftError, match="not a valid note or letter"):
        load_document(_write(tmp_path, {"segments": []}, "t.json"))
