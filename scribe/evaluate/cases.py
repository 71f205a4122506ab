"""What an evaluation runs on: consultations with audio and/or references, from a folder or a known dataset.

A case has any of: audio (transcribed, then scored against the reference transcript), a reference
transcript (timed with speakers, or plain text), a reference note. Without audio the reference
transcript is what the note is drafted from, so note quality can be measured on text-only
datasets such as ACI-Bench. Every case says whether its audio is synthetic.

Folder layout (one sub-folder per consultation; every file optional but one of audio or
transcript)::

    CASE/audio.{wav,flac,mp3,m4a,ogg,webm}   the recording
    CASE/transcript.json                     scribe's Transcript JSON, or {"segments": [{start, end, speaker, text}]}
    CASE/transcript.TextGrid                 Praat TextGrid, one tier per speaker (tier names clinician/doctor, patient)
    CASE/transcript.txt                      plain reference text (no timing: WER only)
    CASE/note.txt | note.md                  the reference note
    CASE/meta.json                           {"synthetic_audio": bool, "consultation_type": str, "subgroups":
                                              {"gender": ..., "age_band": ..., "voice": ..., "language": ...}}
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from scribe.errors import ConfigError, DraftError
from scribe.evaluate.asr_metrics import RefSegment
from scribe.evaluate.datasets import (
    ACI_TEST1,
    load_aci_bench,
    load_primock57,
    load_utterances,
    parse_textgrid,
    shared_data_dir,
)
from scribe.notes.inputs import transcript_from_data
from scribe.records import SpeakerRole, Transcript

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".webm")
DATASETS = ("folder", "primock57", "aci-bench", "store")
SYNTH_VOICES = {"clinician_voice": "piper en_US-joe-medium", "patient_voice": "espeak-ng en-gb+f3"}
"""The text-to-speech voices ``scripts/synth_consultation.py`` renders PriMock57 with (a subgroup of the audio)."""
_TIER_ROLES = {"clinician": "clinician", "doctor": "clinician", "patient": "patient"}


@dataclass(frozen=True)
class EvalCase:
    """One consultation to evaluate."""

    id: str
    dataset: str
    audio: Path | None = None
    synthetic_audio: bool = False
    reference_segments: tuple[RefSegment, ...] = ()
    """Timed, attributed reference utterances (for WER, attribution and invented segments)."""
    reference_text: str = ""
    """The reference transcript as text (for WER when there is no timing)."""
    reference_transcript: Transcript | None = None
    """What a note is drafted from when there is no audio."""
    reference_note: str = ""
    consultation_type: str = ""
    subgroups: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.audio is None and self.reference_transcript is None:
            raise ValueError(f"case {self.id} has neither audio nor a reference transcript")


def age_band(age: str | float | None) -> str:
    """Age in the bands a fairness breakdown can use: 0-17, 18-39, 40-59, 60-79, 80+ ('' if unknown)."""
    try:
        years = float(age)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    for upper, label in ((18, "0-17"), (40, "18-39"), (60, "40-59"), (80, "60-79")):
        if years < upper:
            return label
    return "80+"


def _segments_text(segments: tuple[RefSegment, ...]) -> str:
    return " ".join(s.text for s in segments)


def segments_of(transcript: Transcript) -> tuple[RefSegment, ...]:
    """A transcript's segments as reference utterances."""
    return tuple(RefSegment(s.start, s.end, SpeakerRole(s.speaker), s.text) for s in transcript.segments)


# -- a folder of consultations ---------------------------------------------------------------------


def _numbered(data: object) -> object:
    """Reference segments numbered in order when they carry no integer ids (e.g. the synth script's "seg0001")."""
    if isinstance(data, dict) and isinstance(data.get("segments"), list) and "speakers" not in data:
        segments = [
            {**s, "id": i} if isinstance(s, dict) and not isinstance(s.get("id"), int) else s
            for i, s in enumerate(data["segments"])
        ]
        keep = ("segments", "duration", "language")
        return {k: v for k, v in data.items() if k in keep} | {"segments": segments}
    return data


def json_transcript(path: Path) -> Transcript:
    """A reference transcript from JSON: scribe's Transcript, or ``{"segments": [...]}`` as the synth script writes."""
    try:
        return transcript_from_data(_numbered(json.loads(path.read_text(encoding="utf-8"))))
    except (ValueError, KeyError, DraftError) as exc:
        raise ConfigError(f"{path} is not a transcript: {exc}") from None


def _folder_transcript(case_dir: Path) -> tuple[Transcript | None, tuple[RefSegment, ...], str]:
    json_file, grid, text_file = (case_dir / f"transcript.{ext}" for ext in ("json", "TextGrid", "txt"))
    if json_file.is_file():
        transcript = json_transcript(json_file)
        segments = segments_of(transcript)
        return transcript, segments, _segments_text(segments)
    if grid.is_file():
        tiers = parse_textgrid(grid).tiers
        unknown = {tier.name.strip().lower() for tier in tiers} - set(_TIER_ROLES)
        if unknown:
            raise ConfigError(f"{grid}: tiers must be named clinician/doctor and patient, not {sorted(unknown)}")
        utterances = []
        for tier in tiers:
            role = _TIER_ROLES[tier.name.strip().lower()]
            utterances += [
                RefSegment(iv.start, iv.end, SpeakerRole(role), iv.text.strip())
                for iv in tier.intervals
                if iv.text.strip()
            ]
        segments = tuple(sorted(utterances, key=lambda s: (s.start, s.end)))
        transcript = transcript_from_data(
            {
                "segments": [
                    {"start": s.start, "end": s.end, "speaker": str(s.speaker), "text": s.text} for s in segments
                ]
            }
        )
        return transcript, segments, _segments_text(segments)
    if text_file.is_file():
        return None, (), text_file.read_text(encoding="utf-8").strip()
    return None, (), ""


def folder_cases(root: Path) -> list[EvalCase]:
    """Every consultation sub-folder of ``root`` (layout in the module docstring), sorted by name."""
    if not root.is_dir():
        raise ConfigError(
            f"{root} is not a folder of consultations (one sub-folder each: see `scribe evaluate --help`)"
        )
    cases = []
    for case_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        audio = next(
            (p for p in sorted(case_dir.iterdir()) if p.stem == "audio" and p.suffix.lower() in AUDIO_SUFFIXES), None
        )
        transcript, segments, text = _folder_transcript(case_dir)
        note_file = next((case_dir / n for n in ("note.txt", "note.md") if (case_dir / n).is_file()), None)
        meta_file = case_dir / "meta.json"
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        except ValueError as exc:
            raise ConfigError(f"{meta_file} is not JSON: {exc}") from None
        if audio is None and transcript is None:
            log.warning("%s has neither audio.* nor a timed transcript: skipped", case_dir)
            continue
        cases.append(
            EvalCase(
                id=case_dir.name,
                dataset="folder",
                audio=audio,
                synthetic_audio=bool(meta.get("synthetic_audio", False)),
                reference_segments=segments,
                reference_text=text,
                reference_transcript=transcript,
                reference_note=note_file.read_text(encoding="utf-8").strip() if note_file else "",
                consultation_type=str(meta.get("consultation_type", "")),
                subgroups={str(k): str(v) for k, v in (meta.get("subgroups") or {}).items() if v not in (None, "")},
            )
        )
    if not cases:
        raise ConfigError(f"{root} holds no consultation folders with audio or a transcript")
    return cases


# -- known datasets -----------------------------------------------------------------------------------


def primock57_cases(root: Path | None = None, audio_dir: Path | None = None) -> list[EvalCase]:
    """PriMock57: the clinicians' notes, timed reference transcripts and, where rendered, SYNTHETIC audio.

    Audio comes from ``audio_dir`` (``{id}_mono.flac`` as ``scripts/synth_consultation.py`` renders it,
    default ``.cache/synth``); a consultation without a render is evaluated on text only. A rendered
    consultation is scored against the render's own ``{id}_reference.json``: text-to-speech places
    the utterances at other times than the recording's TextGrids (and may cut the consultation
    short), so timing, speakers and words are judged against what the audio actually holds.
    """
    root = root or shared_data_dir() / "primock57"
    audio_dir = audio_dir or Path(".cache") / "synth"
    cases = []
    for enc in load_primock57(root):
        audio = audio_dir / f"{enc.id}_mono.flac"
        if audio.is_file():
            placed = audio_dir / f"{enc.id}_reference.json"
            if not placed.is_file():
                raise ConfigError(
                    f"{audio} has no {placed.name} beside it: render it again with scripts/synth_consultation.py"
                )
            segments = segments_of(json_transcript(placed))
        else:
            paths = {
                sp: root / "transcripts" / f"{enc.id}_{role}.TextGrid"
                for sp, role in (("clinician", "doctor"), ("patient", "patient"))
            }
            segments = tuple(RefSegment(u.start, u.end, SpeakerRole(u.speaker), u.text) for u in load_utterances(paths))
        cases.append(
            EvalCase(
                id=enc.id,
                dataset="primock57",
                audio=audio if audio.is_file() else None,
                synthetic_audio=audio.is_file(),
                reference_segments=segments,
                reference_text=_segments_text(segments),
                reference_transcript=enc.transcript,
                reference_note=enc.reference,
                consultation_type="gp",
                subgroups=(SYNTH_VOICES if audio.is_file() else {}) | {"language": "en"},
            )
        )
    return cases


def aci_bench_cases(root: Path | None = None, split: str = ACI_TEST1) -> list[EvalCase]:
    """ACI-Bench: dialogue transcripts (no audio) and reference notes, with patient gender, age band and collection.

    No consultation type: the chief complaints are too varied to group by.
    """
    root = root or shared_data_dir() / "aci-bench"
    cases = []
    for enc in load_aci_bench(root, split):
        subgroups = {
            "gender": enc.metadata.get("patient_gender", "").strip().lower(),
            "age_band": age_band(enc.metadata.get("patient_age")),
            "collection": enc.metadata.get("dataset", ""),
            "language": "en",
        }
        cases.append(
            EvalCase(
                id=enc.id,
                dataset=f"aci-bench/{split}",
                reference_segments=segments_of(enc.transcript),
                reference_text=_segments_text(segments_of(enc.transcript)),
                reference_transcript=enc.transcript,
                reference_note=enc.reference,
                subgroups={k: v for k, v in subgroups.items() if v},
            )
        )
    return cases
