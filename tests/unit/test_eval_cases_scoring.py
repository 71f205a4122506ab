"""Evaluation cases from folders and datasets, and per-case scores against hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scribe.errors import ConfigError
from scribe.evaluate.asr_metrics import RefSegment, invented_segments
from scribe.evaluate.cases import aci_bench_cases, age_band, folder_cases, primock57_cases
from scribe.evaluate.datasets import shared_data_dir
from scribe.evaluate.scoring import note_scores, speech_scores
from scribe.records import (
    Letter,
    LetterKind,
    NoteDraft,
    NoteSection,
    Omission,
    Readability,
    Segment,
    SpeakerRole,
    Statement,
    Transcript,
)

DATA = Path(__file__).parent.parent / "data"
C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT


def _transcript(*segments: tuple[float, float, SpeakerRole, str]) -> Transcript:
    return Transcript(
        segments=[Segment(id=i, start=s, end=e, speaker=sp, text=t) for i, (s, e, sp, t) in enumerate(segments)],
        duration=max(e for _, e, _, _ in segments),
    )


def _case_dir(root: Path, name: str, files: dict[str, str | bytes]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for filename, content in files.items():
        path = folder / filename
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return folder


def test_folder_cases_read_every_kind_of_reference(tmp_path: Path) -> None:
    segments = {"segments": [{"start": 0, "end": 2, "speaker": "clinician", "text": "How is the knee?"}]}
    _case_dir(
        tmp_path,
        "a-audio",
        {
            "audio.flac": (DATA / "sample_mono.flac").read_bytes(),
            "transcript.json": json.dumps(segments),
            "note.md": "Knee pain.\n",
            "meta.json": json.dumps({"synthetic_audio": True, "subgroups": {"voice": "joe", "language": "en"}}),
        },
    )
    _case_dir(tmp_path, "b-text", {"transcript.json": json.dumps(segments), "note.txt": "Knee pain."})
    _case_dir(tmp_path, "c-plain", {"audio.wav": b"RIFF", "transcript.txt": "how is the knee"})
    _case_dir(tmp_path, "d-empty", {"note.txt": "nothing to run"})
    cases = folder_cases(tmp_path)
    assert [c.id for c in cases] == ["a-audio", "b-text", "c-plain"], (
        "a folder with neither audio nor transcript is skipped"
    )
    a, b, c = cases
    assert a.audio and a.synthetic_audio and a.subgroups == {"voice": "joe", "language": "en"}
    assert a.reference_segments[0] == RefSegment(0.0, 2.0, C, "How is the knee?") and a.reference_note == "Knee pain."
    assert b.audio is None and b.reference_transcript is not None and not b.synthetic_audio
    assert c.reference_segments == () and c.reference_text == "how is the knee" and c.reference_transcript is None


def test_folder_cases_refuse_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        folder_cases(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no consultation folders"):
        folder_cases(tmp_path)
    _case_dir(tmp_path, "x", {"transcript.json": "{not json", "audio.flac": b"fLaC"})
    with pytest.raises(ConfigError, match="not a transcript"):
        folder_cases(tmp_path)


def test_age_bands() -> None:
    assert [age_band(a) for a in (4, "17", 18, 39.9, 40, 59, 60, 79, 80, 101)] == [
        "0-17",
        "0-17",
        "18-39",
        "18-39",
        "40-59",
        "40-59",
        "60-79",
        "60-79",
        "80+",
        "80+",
    ]
    assert age_band(None) == "" and age_band("unknown") == ""


def test_exact_wer_and_term_errors() -> None:
    """6 reference words, one substitution and one deletion: WER exactly 2/6; one of two terms missed."""
    case = folder_case_from_segments(
        [(0.0, 3.0, C, "take ibuprofen and paracetamol every day")],
    )
    hypothesis = _transcript((0.0, 3.0, C, "take ibuprofen and paracetamol everyday"))
    scores = speech_scores(hypothesis, case, asr_seconds=1.5)
    assert (scores.word_errors, scores.reference_words) == (2, 6)  # "every day" -> "everyday": 1 sub + 1 del
    assert scores.wer == pytest.approx(2 / 6)
    assert scores.real_time_factor == pytest.approx(0.5)
    missed = speech_scores(
        _transcript((0.0, 3.0, C, "take ibuprofen and para ceta mol every day")), case, asr_seconds=1
    )
    assert (missed.medical_terms, missed.medical_term_errors) == (2, 1) and missed.medical_term_wer == 0.5


def test_attribution_and_invented_segments() -> None:
    reference = [(0.0, 2.0, C, "how are you"), (2.0, 4.0, P, "fine thanks")]
    case = folder_case_from_segments(reference)
    hypothesis = _transcript(
        (0.0, 2.0, C, "how are you"),
        (2.0, 4.0, C, "fine thanks"),  # wrong speaker
        (10.0, 12.0, P, "thank you for watching"),  # nobody spoke here
    )
    scores = speech_scores(hypothesis, case, asr_seconds=1.0)
    assert (scores.segments, scores.hallucinated_segments) == (3, 1)
    assert scores.hallucinated_segment_rate == pytest.approx(1 / 3)
    assert invented_segments(hypothesis, case.reference_segments, min_overlap=0.2).hits == 1
    assert scores.attribution_accuracy is None or scores.attribution_accuracy < 1.0


def folder_case_from_segments(segments: list[tuple[float, float, SpeakerRole, str]]):
    from scribe.evaluate.cases import EvalCase

    refs = tuple(RefSegment(*s) for s in segments)
    return EvalCase(
        id="x",
        dataset="test",
        reference_segments=refs,
        reference_text=" ".join(r.text for r in refs),
        reference_transcript=_transcript(*segments),
    )


def _draft() -> NoteDraft:
    return NoteDraft(
        template="gp",
        title="GP note",
        sections=[
            NoteSection(
                key="plan",
                title="Plan",
                statements=[
                    Statement(text="Ibuprofen 400 mg three times a day.", supported=True),
                    Statement(text="Knee X-ray arranged.", supported=False, reason="cites no evidence"),
                    Statement(text="Review in two weeks.", supported=True),
                ],
            )
        ],
        omissions=[Omission(kind="red_flag", text="night pain")],
    )


def test_note_scores_by_hand() -> None:
    letter = Letter(
        kind=LetterKind.PATIENT,
        readability=Readability(flesch_reading_ease=71.2, flesch_kincaid_grade=5.9, words=80, sentences=8),
    )
    scores = note_scores(_draft(), "", letter=letter, draft_seconds=12.5)
    assert (scores.statements, scores.unsupported, scores.omissions) == (3, 1, 1)
    assert scores.unsupported_rate == pytest.approx(1 / 3) and scores.omission_rate == pytest.approx(1 / 4)
    assert scores.rouge1 is None and scores.facts == {}, "no reference note: no ROUGE, no facts"
    assert (scores.letter_grade, scores.letter_reading_ease, scores.draft_seconds) == (5.9, 71.2, 12.5)
    same = note_scores(_draft(), "Ibuprofen 400 mg three times a day.\nKnee X-ray arranged.\nReview in two weeks.")
    # The draft's text carries its heading "Plan": 16 tokens against the reference's 15, all 15 matched,
    # so F1 = 2 * (15/16 * 1) / (15/16 + 1) = 30/31.
    assert same.rouge1 == pytest.approx(100 * 30 / 31) and same.rougeL == pytest.approx(100 * 30 / 31)
    assert same.facts["medication"].tp >= 1 and same.fact_precision == pytest.approx(1.0)


@pytest.mark.skipif(not (shared_data_dir() / "aci-bench").is_dir(), reason="shared ACI-Bench data is not here")
def test_aci_bench_cases_carry_gender_and_age_band() -> None:
    cases = aci_bench_cases()
    assert len(cases) == 40 and all(c.audio is None and c.reference_note for c in cases)
    assert {c.subgroups.get("gender") for c in cases} == {"female", "male"}
    bands = [c.subgroups.get("age_band") for c in cases]
    assert sum(b is not None for b in bands) == 34, "6 of the 40 carry no age: no band rather than a guessed one"
    assert set(bands) - {None} <= {"0-17", "18-39", "40-59", "60-79", "80+"}


@pytest.mark.skipif(not (shared_data_dir() / "primock57").is_dir(), reason="shared PriMock57 data is not here")
def test_primock57_cases_use_synthetic_audio_only_where_rendered(tmp_path: Path) -> None:
    cases = primock57_cases(audio_dir=tmp_path)
    assert len(cases) == 25 and not any(c.audio or c.synthetic_audio for c in cases)
    (tmp_path / f"{cases[0].id}_mono.flac").write_bytes(b"fLaC")
    with pytest.raises(ConfigError, match="render it again"):
        primock57_cases(audio_dir=tmp_path)
    placed = [
        {"id": "seg0001", "start": 2.5, "end": 9.5, "speaker": "clinician", "text": "Good morning, how can I help?"},
        {"id": "seg0002", "start": 9.0, "end": 10.25, "speaker": "patient", "text": "Hello."},
    ]
    (tmp_path / f"{cases[0].id}_reference.json").write_text(json.dumps({"synthetic": True, "segments": placed}))
    first = primock57_cases(audio_dir=tmp_path)[0]
    assert (
        first.audio is not None and first.synthetic_audio and first.subgroups["patient_voice"] == "espeak-ng en-gb+f3"
    )
    assert first.reference_segments == (
        RefSegment(2.5, 9.5, C, "Good morning, how can I help?"),
        RefSegment(9.0, 10.25, P, "Hello."),
    ), "the render's own placed times and words, not the recording's TextGrid times"
    assert first.reference_text == "Good morning, how can I help? Hello."
    assert cases[0].reference_segments != first.reference_segments
