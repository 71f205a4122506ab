"""Reading what the note and letter commands are given: transcripts and note drafts as JSON.

A transcript may be scribe's own (``scribe transcribe --format json``) or a minimal one from
another system: ``{"segments": [{"id", "start", "end", "speaker", "text"}]}`` or just the list.
Speaker labels such as "doctor", "GP", "nurse" or "clinician" mean the clinician; "patient"
(or "carer") the patient; anything else is unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scribe.errors import DraftError
from scribe.records import Letter, NoteDraft, Segment, SpeakerRole, Transcript

_CLINICIAN = {"clinician", "doctor", "dr", "gp", "nurse", "physician", "consultant", "provider", "practitioner"}
_PATIENT = {"patient", "carer", "parent", "pt"}


class _MinimalSegment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int = Field(ge=0)
    start: float = Field(default=0.0, ge=0)
    end: float = Field(default=0.0, ge=0)
    speaker: str = "unknown"
    text: str


def _role(label: str) -> SpeakerRole:
    word = label.strip().lower()
    if word in _CLINICIAN:
        return SpeakerRole.CLINICIAN
    if word in _PATIENT:
        return SpeakerRole.PATIENT
    return SpeakerRole.UNKNOWN


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in exc.errors()[:5])


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DraftError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DraftError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DraftError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def transcript_from_data(data: Any, where: str = "transcript") -> Transcript:
    """A Transcript from scribe's own JSON or a minimal segment list; DraftError says what is wrong."""
    if isinstance(data, dict) and ("speakers" in data or "rejected" in data):
        try:
            return Transcript.model_validate(data)
        except ValidationError as exc:
            raise DraftError(f"{where} is not a valid scribe transcript: {_problems(exc)}") from None
    segments = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(segments, list):
        raise DraftError(f'{where} must hold a list of segments, or an object with "segments"')
    try:
        parsed = [_MinimalSegment.model_validate(item) for item in segments]
    except ValidationError as exc:
        raise DraftError(f"{where}: a segment is malformed: {_problems(exc)}") from None
    ids = [s.id for s in parsed]
    if len(set(ids)) != len(ids):
        raise DraftError(f"{where}: segment ids must be unique (evidence cites them)")
    language = data.get("language") if isinstance(data, dict) else None
    return Transcript(
        segments=[
            Segment(id=s.id, start=s.start, end=max(s.end, s.start), speaker=_role(s.speaker), text=s.text)
            for s in parsed
        ],
        language=language if isinstance(language, str) else None,
        duration=max((s.end for s in parsed), default=0.0),
        speaker_method="input",
    )


def load_transcript(path: Path) -> Transcript:
    """Read a transcript JSON file (scribe's own or minimal)."""
    return transcript_from_data(_read_json(path), str(path))


def load_document(path: Path) -> NoteDraft | Letter:
    """A saved note draft or letter (JSON), whichever the file holds."""
    data = _read_json(path)
    model: type[NoteDraft] | type[Letter] = Letter if isinstance(data, dict) and "paragraphs" in data else NoteDraft
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DraftError(f"{path} is not a valid note or letter: {_problems(exc)}") from None
