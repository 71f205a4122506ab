"""Tests for scribe.evaluate.datasets on the real shared ACI-Bench and PriMock57 files.

The loaders are checked against counts and contents read by hand from the files; the ACI-Bench
section splitter against real reference notes of two header styles.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from scribe.evaluate.datasets import (
    DIVISIONS,
    HEADER_DIVISION,
    dialogue_turns,
    load_aci_bench,
    load_primock57,
    section_division,
    shared_data_dir,
    split_aci_sections,
    turns_transcript,
)
from scribe.records import SpeakerRole

DATA = shared_data_dir()
needs_aci = pytest.mark.skipif(not (DATA / "aci-bench").is_dir(), reason="shared ACI-Bench data not available")
needs_primock = pytest.mark.skipif(not (DATA / "primock57" / "notes").is_dir(), reason="shared PriMock57 missing")


@pytest.fixture(scope="module")
def aci():
    return {e.id: e for e in load_aci_bench(DATA / "aci-bench")}


@pytest.fixture(scope="module")
def primock():
    return {e.id: e for e in load_primock57(DATA / "primock57")}


def test_dialogue_turns_tags_and_continuations():
    text = (
        "[doctor] hi , andrew .\n[patient] hey .\nstill me .\n\n[patient_guest] i'm his wife .\n[doctor]   \n[nurse] hi"
    )
    assert dialogue_turns(text) == [
        (SpeakerRole.CLINICIAN, "hi , andrew ."),
        (SpeakerRole.PATIENT, "hey . still me ."),
        (SpeakerRole.PATIENT, "i'm his wife ."),  # a relative speaks for the patient's side
        (SpeakerRole.UNKNOWN, "hi"),
    ]


def test_turns_transcript_times_turns_at_150_words_a_minute():
    t = turns_transcript([(SpeakerRole.CLINICIAN, "one two three four five"), (SpeakerRole.PATIENT, "six")])
    assert [s.id for s in t.segments] == [0, 1]
    assert (t.segments[0].start, t.segments[0].end) == (0.0, 2.0)  # 5 words at 2.5 words/s
    assert (t.segments[1].start, t.segments[1].end) == (2.0, 2.4)
    assert t.duration == 2.4 and t.language == "en"
    assert [s.role for s in t.speakers] == [SpeakerRole.CLINICIAN, SpeakerRole.PATIENT]


@needs_aci
def test_aci_bench_test1_encounters(aci):
    assert len(aci) == 40
    first = aci["D2N088"]
    assert first.dataset == "aci-bench"
    assert first.metadata["patient_age"] == "59" and first.metadata["cc"] == "upper respiratory infection"
    assert first.metadata["dataset"] == "virtassist"
    assert first.reference.startswith("CHIEF COMPLAINT\n\nUpper respiratory infection.")
    assert first.source_text.startswith("[doctor] hi , andrew . how are you ?\n[patient] hey , good to see you .")
    segs = first.transcript.segments
    assert segs[0].speaker == SpeakerRole.CLINICIAN and segs[0].text == "hi , andrew . how are you ?"
    assert segs[1].speaker == SpeakerRole.PATIENT
    assert [s.id for s in segs] == list(range(len(segs)))
    assert all(a.end == b.start for a, b in pairwise(segs))
    words = sum(len(s.text.split()) for s in segs)
    assert first.transcript.duration == pytest.approx(words / 2.5, abs=0.01)
    # every encounter has both sides; in D2N099 only a parent ([patient_guest]) answers for the child
    for e in aci.values():
        assert {s.speaker for s in e.transcript.segments} == {SpeakerRole.CLINICIAN, SpeakerRole.PATIENT}, e.id
    assert "[patient]" not in aci["D2N099"].source_text and "[patient_guest]" in aci["D2N099"].source_text


@needs_aci
def test_split_aci_sections_on_a_real_note(aci):
    parts = split_aci_sections(aci["D2N088"].reference)
    assert set(parts) == set(DIVISIONS)
    assert parts["subjective"].startswith("Upper respiratory infection.\n\nAndrew Campbell is a 59-year-old male")
    assert "• Constitutional: Denies fever." in parts["subjective"]  # review of systems belongs to subjective
    assert parts["objective_exam"].startswith("• Respiratory: Scattered rhonchi bilaterally")
    assert parts["objective_results"] == (
        "X-ray of the chest is unremarkable. No airspace disease. No signs of pneumonia.\n\n"
        "Hemoglobin A1c is elevated at 8."
    )
    assert parts["assessment_and_plan"].endswith("agrees with the recommended medical treatment plan.")
    for header in ("CHIEF COMPLAINT", "REVIEW OF SYSTEMS", "PHYSICAL EXAMINATION", "RESULTS", "ASSESSMENT AND PLAN"):
        assert all(header not in text for text in parts.values())


@needs_aci
def test_split_aci_sections_colon_headers_and_impression(aci):
    # D2N092 uses "CC:", "HPI:", "EXAM", "IMPRESSION" and "PLAN"
    parts = split_aci_sections(aci["D2N092"].reference)
    assert parts["subjective"].startswith("Right arm pain.")
    assert "Ms. Martinez is a 43-year-old female" in parts["subjective"]
    assert parts["objective_exam"].startswith("Examination of the left wrist shows tenderness")
    assert parts["objective_results"].startswith("X-rays of the left wrist show no obvious signs")
    assert parts["assessment_and_plan"].startswith("Right wrist sprain.\n\nAt this point")
    assert "Motrin, 800 mg" in parts["assessment_and_plan"]


@needs_aci
def test_split_keeps_every_content_line_of_every_test1_note(aci):
    missing = {d: 0 for d in DIVISIONS}
    for e in aci.values():
        parts = split_aci_sections(e.reference)
        content = [
            line.strip()
            for line in e.reference.splitlines()
            if line.strip() and line.strip().rstrip(":").strip().lower() not in HEADER_DIVISION
        ]
        split = [line.strip() for text in parts.values() for line in text.splitlines() if line.strip()]
        assert sorted(split) == sorted(content), e.id
        for d in DIVISIONS:
            missing[d] += not parts[d]
    # every test1 note has subjective, exam and assessment/plan text; 8 have no results section
    assert missing == {"subjective": 0, "objective_exam": 0, "objective_results": 8, "assessment_and_plan": 0}


def test_section_division_by_key_then_title():
    assert section_division("chief_complaint") == "subjective"
    assert section_division("examination") == "objective_exam"
    assert section_division("results") == "objective_results"
    assert section_division("plan") == "assessment_and_plan"
    assert section_division("safety_netting") == "assessment_and_plan"
    assert section_division("vitals_today", "Vitals") == "objective_exam"
    assert section_division("misc", "Miscellaneous") is None


@needs_primock
def test_primock57_encounters(primock):
    assert len(primock) == 25
    first = primock["day1_consultation01"]
    assert first.dataset == "primock57"
    assert first.reference.startswith("I've been having really bad diarrhea for the last 3 days\n\n3/7 hx of diarrhea")
    assert first.reference.rstrip().endswith("To see earlier if feeling more unwell.")
    segs = first.transcript.segments
    assert [s.id for s in segs] == list(range(len(segs)))
    assert segs[0].speaker == SpeakerRole.CLINICIAN
    assert segs[0].text.startswith("Hello? Hi. Um, should we start?")
    assert segs[1].speaker == SpeakerRole.PATIENT
    # turns alternate (consecutive utterances of one speaker merged) and go forward in time
    assert all(a.speaker != b.speaker for a, b in pairwise(segs))
    assert all(a.start <= b.start for a, b in pairwise(segs))
    assert "<UNSURE>" not in first.source_text and first.source_text.startswith("[doctor] Hello? Hi.")
    assert first.transcript.duration == pytest.approx(max(s.end for s in segs))
    assert 400 < first.transcript.duration < 470  # the doctor's TextGrid runs to 457.9 s
