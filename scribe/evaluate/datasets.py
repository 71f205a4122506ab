"""The public note-generation datasets scribe is measured on, read into scribe's own records.

- **ACI-Bench** (Yim et al., Scientific Data 2023, wyim/aci-bench, CC BY 4.0): doctor-patient
  dialogues (``[doctor]`` / ``[patient]`` lines) with the full clinical note written for each.
- **PriMock57** (Korfiatis et al., ACL 2022, babylonhealth/primock57, CC BY 4.0): mock UK GP
  consultations as timed Praat TextGrids, one per speaker, and the consulting clinician's own note.

Each encounter becomes an :class:`Encounter`: a :class:`~scribe.records.Transcript` the note
stage can draft from, the reference note, and the dialogue text as the dataset gives it (for the
copy-the-transcript baseline). The Praat TextGrid reader lives here too; the synthetic-audio
renderer (``scripts/synth_consultation.py``) imports it.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scribe.errors import ConfigError
from scribe.records import Segment, Speaker, SpeakerRole, Transcript

ACI_TEST1 = "clinicalnlp_taskB_test1"
WORDS_PER_SECOND = 150 / 60  # ACI-Bench dialogues carry no times: turns are timed at 150 words a minute
REFERENCE_METHOD = "reference"  # Transcript.speaker_method for speakers given by the dataset

# ACI-Bench's evaluation scores four divisions of the note (its SectionTagger, evaluate_fullnote.py).
DIVISIONS = ("subjective", "objective_exam", "objective_results", "assessment_and_plan")

# Whole-line headers of the reference notes (train, valid and test1 read), by division. A line that
# is one of these (any case, optional trailing colon) starts a section; every other line, including
# upper-case lines such as "EKG" or "BP: 120/80", is content of the section it sits in.
_HEADERS: dict[str, tuple[str, ...]] = {
    "subjective": (
        "chief complaint",
        "cc",
        "reason for visit",
        "history of present illness",
        "hpi",
        "interval history",
        "subjective",
        "review of systems",
        "ros",
        "medical history",
        "past history",
        "past medical history",
        "surgical history",
        "past surgical history",
        "family history",
        "social history",
        "birth history",
        "medications",
        "current medications",
        "allergies",
    ),
    "objective_exam": ("physical exam", "physical examination", "exam", "examination", "vitals", "vitals reviewed"),
    "objective_results": ("results", "findings"),
    "assessment_and_plan": (
        "assessment and plan",
        "assessment & plan",
        "assessment",
        "plan",
        "impression",
        "instructions",
    ),
}
HEADER_DIVISION: dict[str, str] = {h: d for d, headers in _HEADERS.items() for h in headers}

# Sections of scribe's packaged templates (clinic, gp, soap) and the ACI-Bench division each belongs to.
SECTION_DIVISION: dict[str, str] = {
    "chief_complaint": "subjective",
    "presenting_complaint": "subjective",
    "history": "subjective",
    "review_of_systems": "subjective",
    "subjective": "subjective",
    "examination": "objective_exam",
    "objective": "objective_exam",
    "results": "objective_results",
    "assessment": "assessment_and_plan",
    "plan": "assessment_and_plan",
    "safety_netting": "assessment_and_plan",
    "follow_up": "assessment_and_plan",
}


@dataclass(frozen=True)
class Encounter:
    """One consultation of a dataset: what scribe drafts from and what it is compared with."""

    id: str
    dataset: str
    transcript: Transcript
    reference: str = field(repr=False)
    source_text: str = field(repr=False, default="")  # the dialogue as the dataset gives it
    metadata: dict[str, str] = field(default_factory=dict)


def shared_data_dir() -> Path:
    """The shared reference data: ``$SCRIBE_SHARED_DATA``, else ``shared/data`` in or beside the checkout."""
    env = os.environ.get("SCRIBE_SHARED_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2]
    rel = Path("shared") / "data"
    for candidate in (repo / rel, repo.parent / rel):
        if candidate.is_dir():
            return candidate
    return repo.parent / rel


# ------------------------------------------------------------------------------------------------
# ACI-Bench
# ------------------------------------------------------------------------------------------------

_TURN_RE = re.compile(r"^\s*\[(?P<tag>[a-z_]+)\]\s*(?P<text>.*)$", re.IGNORECASE)
# [patient_guest] is a relative or carer speaking for or with the patient (in D2N099 a parent answers
# for a small child): the patient's side of the consultation.
_ACI_ROLES = {"doctor": SpeakerRole.CLINICIAN, "patient": SpeakerRole.PATIENT, "patient_guest": SpeakerRole.PATIENT}


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}; point --data at the ACI-Bench folder") from None


def dialogue_turns(dialogue: str) -> list[tuple[SpeakerRole, str]]:
    """``[doctor]`` / ``[patient]`` lines as (role, text); untagged lines continue the turn before.

    ``[patient_guest]`` (a relative or carer) counts as the patient's side; any other tag becomes ``unknown``.
    """
    turns: list[tuple[SpeakerRole, str]] = []
    for line in dialogue.splitlines():
        match = _TURN_RE.match(line)
        if match:
            turns.append((_ACI_ROLES.get(match["tag"].lower(), SpeakerRole.UNKNOWN), match["text"].strip()))
        elif line.strip() and turns:
            role, text = turns[-1]
            turns[-1] = (role, f"{text} {line.strip()}")
    return [(role, text) for role, text in turns if text]


def turns_transcript(turns: list[tuple[SpeakerRole, str]], starts: list[float] | None = None) -> Transcript:
    """A Transcript with one Segment per turn, ids from 0; untimed turns follow each other at 150 wpm."""
    segments = []
    clock = 0.0
    for index, (role, text) in enumerate(turns):
        start = starts[index] if starts is not None else clock
        end = start + max(1, len(text.split())) / WORDS_PER_SECOND
        segments.append(Segment(id=index, start=round(start, 3), end=round(end, 3), speaker=role, text=text))
        clock = end
    roles = sorted({s.speaker for s in segments}, key=list(SpeakerRole).index)
    return Transcript(
        segments=segments,
        speakers=[Speaker(id=str(role), role=role) for role in roles],
        speaker_method=REFERENCE_METHOD,
        language="en",
        duration=max((s.end for s in segments), default=0.0),
    )


def load_aci_bench(root: Path, split: str = ACI_TEST1) -> list[Encounter]:
    """The encounters of one ACI-Bench split (``{split}.csv`` plus ``{split}_metadata.csv``), in file order."""
    rows = _read_csv(Path(root) / f"{split}.csv")
    meta_path = Path(root) / f"{split}_metadata.csv"
    metadata = {m["encounter_id"]: m for m in _read_csv(meta_path)} if meta_path.is_file() else {}
    encounters = []
    for row in rows:
        eid = row["encounter_id"]
        turns = dialogue_turns(row["dialogue"])
        meta = {k: v for k, v in metadata.get(eid, {}).items() if v and k != "encounter_id"}
        meta.setdefault("dataset", row.get("dataset", ""))
        encounters.append(
            Encounter(
                id=eid,
                dataset="aci-bench",
                transcript=turns_transcript(turns),
                reference=row["note"],
                source_text=row["dialogue"],
                metadata=meta,
            )
        )
    return encounters


def split_aci_sections(note: str) -> dict[str, str]:
    """The note's text in ACI-Bench's four divisions (all four keys; '' where the note has none).

    Sections start at whole-line headers (:data:`HEADER_DIVISION`); header lines themselves are
    left out, and all sections of one division are joined in note order. Text before the first
    header counts as subjective, as in ACI-Bench's own evaluation.
    """
    parts: dict[str, list[str]] = {d: [] for d in DIVISIONS}
    current = "subjective"
    for line in note.splitlines():
        header = re.sub(r"\s+", " ", line.strip().rstrip(":").strip()).lower()
        if header in HEADER_DIVISION:
            current = HEADER_DIVISION[header]
            continue
        parts[current].append(line)
    return {d: re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() for d, lines in parts.items()}


def section_division(key: str, title: str = "") -> str | None:
    """The ACI-Bench division a template section belongs to, by key, else by title; None if neither says."""
    if key in SECTION_DIVISION:
        return SECTION_DIVISION[key]
    return HEADER_DIVISION.get(title.strip().lower())


# ------------------------------------------------------------------------------------------------
# Praat TextGrids (PriMock57 transcripts)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    text: str  # raw label, tags included


@dataclass(frozen=True)
class Tier:
    name: str
    kind: str  # "IntervalTier" or "TextTier"
    xmin: float
    xmax: float
    intervals: tuple[Interval, ...]  # for a TextTier: points as zero-length intervals

    def nonempty(self) -> list[Interval]:
        return [iv for iv in self.intervals if iv.text.strip()]


@dataclass(frozen=True)
class TextGrid:
    xmin: float
    xmax: float
    tiers: tuple[Tier, ...]


# A Praat text file is a stream of strings ("" escapes a quote), numbers and <flags>;
# everything else (``xmin =``, ``item [1]:``, ``intervals: size =``) is commentary. Index
# brackets are matched (and ignored) so their digits are not read as numbers. This reads
# both the long and the short ("chronological") text formats.
_TOKEN_RE = re.compile(
    r'"(?P<str>(?:[^"]|"")*)"'
    r"|\[[^\]\"\n]*\]"
    r"|<(?P<flag>[A-Za-z]+)>"
    r"|(?<![\w.])(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])"
)


def _tokens(text: str) -> list[object]:
    out: list[object] = []
    for m in _TOKEN_RE.finditer(text):
        if m.group("str") is not None:
            out.append(m.group("str").replace('""', '"'))
        elif m.group("flag") is not None:
            out.append(("flag", m.group("flag")))
        elif m.group("num") is not None:
            out.append(float(m.group("num")))
    return out


def parse_textgrid(path: str | os.PathLike[str]) -> TextGrid:
    """Parse a Praat TextGrid (long or short text format, UTF-8/UTF-16/ASCII).

    Returns every tier with its intervals (raw labels, empty labels kept). Raises
    ``ValueError`` on a file that is not a TextGrid.
    """
    raw = Path(path).read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        text = raw.decode("utf-8-sig", errors="replace")
    toks = _tokens(text)
    pos = 0

    def take(kind: type) -> object:
        nonlocal pos
        if pos >= len(toks):
            raise ValueError(f"{path}: unexpected end of TextGrid")
        tok = toks[pos]
        pos += 1
        if kind is float and not isinstance(tok, float):
            raise ValueError(f"{path}: expected a number, got {tok!r}")
        if kind is str and not isinstance(tok, str):
            raise ValueError(f"{path}: expected a string, got {tok!r}")
        return tok

    if take(str) != "ooTextFile" or take(str) != "TextGrid":
        raise ValueError(f"{path}: not a Praat TextGrid text file")
    xmin, xmax = float(take(float)), float(take(float))  # type: ignore[arg-type]
    flag = toks[pos] if pos < len(toks) else None
    if flag == ("flag", "absent"):
        return TextGrid(xmin, xmax, ())
    if flag == ("flag", "exists"):
        pos += 1
    n_tiers = int(take(float))  # type: ignore[arg-type]
    tiers = []
    for _ in range(n_tiers):
        kind = str(take(str))
        name = str(take(str))
        txmin, txmax = float(take(float)), float(take(float))  # type: ignore[arg-type]
        n = int(take(float))  # type: ignore[arg-type]
        items = []
        for _ in range(n):
            if kind == "IntervalTier":
                a, b = float(take(float)), float(take(float))  # type: ignore[arg-type]
                items.append(Interval(a, b, str(take(str))))
            elif kind == "TextTier":
                t = float(take(float))  # type: ignore[arg-type]
                items.append(Interval(t, t, str(take(str))))
            else:
                raise ValueError(f"{path}: unknown tier class {kind!r}")
        tiers.append(Tier(name, kind, txmin, txmax, tuple(items)))
    return TextGrid(xmin, xmax, tuple(tiers))


_KEEP_CONTENT_TAG_RE = re.compile(r"</?\s*UNSURE\s*>", re.IGNORECASE)
_DROP_TAG_RE = re.compile(r"<[^<>]*?/\s*>")  # <UNIN/>, <INAUDIBLE_SPEECH/>, other empty tags
_ANY_TAG_RE = re.compile(r"</?[A-Za-z_][^<>]*>")


def clean_text(text: str) -> str:
    """Transcript label → speakable text.

    ``<UNSURE>x</UNSURE>`` keeps ``x``; empty tags (``<UNIN/>``, ``<INAUDIBLE_SPEECH/>``)
    are dropped; any other tag is removed; whitespace is collapsed.
    """
    text = _KEEP_CONTENT_TAG_RE.sub(" ", text)
    text = _DROP_TAG_RE.sub(" ", text)
    text = _ANY_TAG_RE.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    # Tidy spaces left before punctuation by a removed tag ("so <UNIN/>, and" → "so, and").
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    return text


SPEAKERS = (str(SpeakerRole.CLINICIAN), str(SpeakerRole.PATIENT))
PRIMOCK_FILE_ROLE = {str(SpeakerRole.CLINICIAN): "doctor", str(SpeakerRole.PATIENT): "patient"}


@dataclass(frozen=True)
class Utterance:
    speaker: str  # "clinician" | "patient"
    start: float  # source (TextGrid) times
    end: float
    text: str  # cleaned text


def load_utterances(textgrids: Mapping[str, str | os.PathLike[str]]) -> list[Utterance]:
    """Speakable utterances of all speakers, sorted by source start (clinician first on ties).

    ``textgrids`` maps speaker ("clinician"/"patient") to a TextGrid path; every interval of
    every IntervalTier is used. Intervals whose cleaned text is empty are skipped.
    """
    utts = []
    for speaker, path in textgrids.items():
        if speaker not in SPEAKERS:
            raise ValueError(f"unknown speaker {speaker!r}; expected one of {SPEAKERS}")
        tg = parse_textgrid(path)
        for tier in tg.tiers:
            if tier.kind != "IntervalTier":
                continue
            for iv in tier.intervals:
                txt = clean_text(iv.text)
                if txt:
                    utts.append(Utterance(speaker, iv.start, iv.end, txt))
    utts.sort(key=lambda u: (u.start, SPEAKERS.index(u.speaker), u.end))
    return utts


# ------------------------------------------------------------------------------------------------
# PriMock57
# ------------------------------------------------------------------------------------------------


def utterance_turns(utterances: list[Utterance]) -> Transcript:
    """Utterances in time order, consecutive ones of the same speaker merged into one turn (Segment)."""
    merged: list[list] = []  # [speaker, start, end, text]
    for u in utterances:
        if merged and merged[-1][0] == u.speaker:
            merged[-1][2] = max(merged[-1][2], u.end)
            merged[-1][3] = f"{merged[-1][3]} {u.text}"
        else:
            merged.append([u.speaker, u.start, u.end, u.text])
    segments = [
        Segment(id=i, start=round(s, 3), end=round(max(e, s), 3), speaker=SpeakerRole(sp), text=t)
        for i, (sp, s, e, t) in enumerate(merged)
    ]
    return Transcript(
        segments=segments,
        speakers=[Speaker(id=sp, role=SpeakerRole(sp)) for sp in SPEAKERS if any(s.speaker == sp for s in segments)],
        speaker_method=REFERENCE_METHOD,
        language="en",
        duration=max((s.end for s in segments), default=0.0),
    )


def primock_reference(note: Mapping[str, object]) -> str:
    """The clinician's note as one text: the presenting complaint, a blank line, the note."""
    complaint = str(note.get("presenting_complaint") or "").strip()
    body = str(note.get("note") or "").strip()
    return f"{complaint}\n\n{body}".strip()


def load_primock57(root: Path) -> list[Encounter]:
    """The PriMock57 consultations that have both TextGrids and a clinician note, sorted by id.

    ``root`` holds ``transcripts/`` (``{id}_doctor.TextGrid``, ``{id}_patient.TextGrid``) and
    ``notes/`` (``{id}.json``).
    """
    transcripts, notes = Path(root) / "transcripts", Path(root) / "notes"
    if not transcripts.is_dir() or not notes.is_dir():
        raise ConfigError(f"{root} lacks transcripts/ and notes/; point --data at the PriMock57 folder")
    encounters = []
    for note_path in sorted(notes.glob("*.json")):
        cid = note_path.stem
        paths = {sp: transcripts / f"{cid}_{role}.TextGrid" for sp, role in PRIMOCK_FILE_ROLE.items()}
        if not all(p.is_file() for p in paths.values()):
            continue
        note = json.loads(note_path.read_text(encoding="utf-8"))
        transcript = utterance_turns(load_utterances(paths))
        source = "\n".join(f"[{PRIMOCK_FILE_ROLE[str(s.speaker)]}] {s.text}" for s in transcript.segments)
        meta = {"presenting_complaint": str(note.get("presenting_complaint") or "")}
        if note.get("highlights"):
            meta["highlights"] = "; ".join(map(str, note["highlights"]))
        encounters.append(
            Encounter(
                id=cid,
                dataset="primock57",
                transcript=transcript,
                reference=primock_reference(note),
                source_text=source,
                metadata=meta,
            )
        )
    return encounters
