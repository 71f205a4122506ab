"""Fact extraction: medicines, doses, numbers, sides, dates, negation, allergies, advice."""

from __future__ import annotations

import pytest

from scribe.notes.lexicon.dialogue import answer_polarity, segment_facts
from scribe.notes.lexicon.extraction import extract_facts
from scribe.notes.lexicon.facts import ABSENT, ASKED, NO_ALLERGIES, PRESENT
from scribe.notes.lexicon.numbers import number_spans
from scribe.notes.lexicon.phrases import fuzzy_medicine
from scribe.notes.lexicon.wordlists import classes_of, is_drug_class, medicines, red_flags
from scribe.records import Segment


def facts(text: str, kind: str) -> list[tuple[str, str]]:
    return [(f.value, f.polarity) for f in extract_facts(text) if f.kind == kind]


def values(text: str, kind: str) -> list[str]:
    return [v for v, _ in facts(text, kind)]


def test_word_lists_load_and_are_substantial():
    assert len(medicines()) > 400
    assert {"amoxicillin", "ramipril", "paracetamol", "salbutamol"} <= medicines()
    assert {"chest pain", "coughing up blood", "weight loss"} <= red_flags()
    assert "antibiotic" in classes_of("amoxicillin")
    assert is_drug_class("antibiotic") and not is_drug_class("amoxicillin")


@pytest.mark.parametrize(
    ("text", "dose"),
    [
        ("amlodipine 5 mg", "5 mg"),
        ("amlodipine five milligrams", "5 mg"),
        ("amlodipine 5mg", "5 mg"),
        ("paracetamol 1 g", "1000 mg"),
        ("levothyroxine 50 micrograms", "0.05 mg"),
        ("two puffs of salbutamol", "2 puff"),
        ("one and a half tablets", "1.5 tablet"),
        ("metformin one thousand milligrams", "1000 mg"),
    ],
)
def test_doses_normalise_units_and_number_words(text, dose):
    assert values(text, "dose") == [dose]


def test_number_words_digits_and_decimals():
    assert [v for *_, v in number_spans("thirty-eight point five, twenty five and 140")] == [38.5, 25, 140]
    assert [v for *_, v in number_spans("a hundred and eighty over eighty")] == [180, 80]
    # "four five times a week" is two numbers, not nine
    assert values("I check it four five times a week", "frequency") == ["4-5/week"]
    assert values("BP 140/90", "number") == ["140/90"]
    assert values("a 59-year-old man", "number") == ["59"]


@pytest.mark.parametrize(
    ("text", "frequency"),
    [
        ("twice a day", "2/day"),
        ("bd", "2/day"),
        ("three times daily", "3/day"),
        ("every 4 hours", "6/day"),
        ("once a week", "1/week"),
        ("when needed", "as needed"),
        ("six or seven times a day", "6-7/day"),
    ],
)
def test_frequencies(text, frequency):
    assert values(text, "frequency") == [frequency]


def test_durations_compare_in_days():
    def days(text: str) -> list[tuple[float, ...]]:
        return [f.numbers for f in extract_facts(text) if f.kind == "date"]

    assert days("for three days") == days("for 3 days") == days("3/7 history") == [(3.0,)]
    assert days("a fortnight") == days("2 weeks") == [(14.0,)]
    assert days("a couple of days") == [(2.0,)]
    assert values("since Monday, on the 3rd of March", "date") == ["monday", "03-03"]


def test_brands_us_names_and_asr_misspellings_map_to_the_generic():
    assert values("Ventolin inhaler", "medication") == ["salbutamol", "inhaler"]
    assert values("Tylenol", "medication") == ["paracetamol"]
    assert values("I take the amoxycillin and the ramapril", "medication") == ["amoxicillin", "ramipril"]
    assert fuzzy_medicine("metforman") == "metformin"
    # ordinary words near a medicine's name are not medicines
    assert fuzzy_medicine("hearing") is None
    assert fuzzy_medicine("stellar") is None


def test_drug_classes_are_medications():
    assert values("she uses her blue inhaler and takes antibiotics", "medication") == ["reliever", "antibiotic"]


def test_laterality_only_where_it_names_a_side():
    assert values("pain in the right knee", "laterality") == ["right"]
    assert values("it is on the left", "laterality") == ["left"]
    assert values("left-sided chest pain", "laterality") == ["left"]
    assert values("scattered rhonchi bilaterally, swelling of both ankles", "laterality") == ["bilateral", "bilateral"]
    assert values("LLQ pain", "laterality") == ["left"]
    assert values("All right, I left work early, right now it is fine, right?", "laterality") == []


def test_negation_scope_lists_and_stops():
    assert facts("No chest pain, shortness of breath or fever. Has a cough.", "red_flag") == [
        ("chest pain", ABSENT),
        ("shortness of breath", ABSENT),
    ]
    assert facts("No chest pain, shortness of breath or fever. Has a cough.", "symptom") == [
        ("fever", ABSENT),
        ("cough", PRESENT),
    ]
    assert facts("no fever but a bad cough", "symptom") == [("fever", ABSENT), ("cough", PRESENT)]
    assert facts("Patient denies nausea, vomiting, diarrhea.", "symptom") == [
        ("nausea", ABSENT),
        ("vomiting", ABSENT),
        ("diarrhoea", ABSENT),
    ]
    assert facts("she hasn't had any vomiting", "symptom") == [("vomiting", ABSENT)]
    assert facts("you do n't have a fever", "symptom") == [("fever", ABSENT)]  # ACI-Bench splits contractions
    assert facts("antibiotics are not needed", "medication") == [("antibiotic", ABSENT)]
    # a bare "no" answers the question; it does not negate what follows
    assert facts("No, I've had chest pain all week", "red_flag") == [("chest pain", PRESENT)]
    # "not sure" is not a negation
    assert facts("I'm not sure what it is, chest pain mostly", "red_flag") == [("chest pain", PRESENT)]
    negation = [f for f in extract_facts("No blood in the stool.") if f.kind == "negation"]
    assert [(f.text, f.value) for f in negation] == [("No blood in the stool", "blood in stool")]


def test_uncertain_conditional_and_asked_terms_are_not_present():
    assert facts("chest X-ray to rule out pneumonia", "problem") == [("pneumonia", ASKED)]
    assert facts("possible UTI", "problem") == [("urinary tract infection", ASKED)]
    assert facts("Come back if you develop a high fever", "red_flag") == [("high fever", ASKED)]
    assert facts("Any chest pain?", "red_flag") == [("chest pain", ASKED)]


def test_measurements_are_never_negated():
    assert facts("he has not measured his blood pressure", "finding") == [("blood pressure", PRESENT)]
    assert facts("no murmur", "finding") == [("murmur", ABSENT)]


def test_pain_in_a_body_part_said_in_other_words():
    assert values("pain in my right knee", "symptom") == ["knee pain"]
    assert values("my tummy is sore", "symptom") == ["abdominal pain"]
    assert values("no pain in the chest", "red_flag") == ["chest pain"]


def test_allergies():
    assert facts("He is allergic to penicillin. No other allergies.", "allergy") == [
        ("penicillin", PRESENT),
        (NO_ALLERGIES, ABSENT),
    ]
    assert facts("NKDA", "allergy") == [(NO_ALLERGIES, ABSENT)]
    assert facts("not allergic to anything", "allergy") == [(NO_ALLERGIES, ABSENT)]
    assert facts("nut allergy", "allergy") == [("nut", PRESENT)]
    # an allergy substance is not a medicine taken
    assert values("allergic to penicillin", "medication") == []


def test_safety_netting_needs_a_condition_or_an_urgent_action():
    advice = [f for f in extract_facts("If it gets worse or you get a fever, call 111.") if f.kind == "safety_netting"]
    assert [(f.value, f.text) for f in advice] == [("call 111", "If it gets worse or you get a fever, call 111")]
    assert values("Go straight to A&E.", "safety_netting") == ["go to a&e"]
    assert values("I'll come back to that later.", "safety_netting") == []
    assert values("He is here for an emergency room follow-up.", "safety_netting") == []


def test_dose_and_frequency_belong_to_their_medicine():
    found = [
        (f.kind, f.value, f.subject)
        for f in extract_facts("amlodipine 5 mg once a day and ramipril ten milligrams")
        if f.kind in ("dose", "frequency")
    ]
    assert found == [
        ("dose", "5 mg", "amlodipine"),
        ("frequency", "1/day", "amlodipine"),
        ("dose", "10 mg", "ramipril"),
    ]


def test_works_on_us_style_notes():
    note = (
        "HISTORY OF PRESENT ILLNESS\n\nThe patient denies fever. He takes lisinopril 20 mg daily.\n\n"
        "PHYSICAL EXAMINATION\n\n• Respiratory: Scattered rhonchi bilaterally. No murmurs.\n\n"
        "ASSESSMENT AND PLAN\n\nType 2 diabetes. Hypertension."
    )
    kinds = {(f.kind, f.value, f.polarity) for f in extract_facts(note)}
    assert {
        ("symptom", "fever", ABSENT),
        ("medication", "lisinopril", PRESENT),
        ("dose", "20 mg", PRESENT),
        ("finding", "rhonchi", PRESENT),
        ("finding", "murmur", ABSENT),
        ("problem", "type 2 diabetes", PRESENT),
        ("problem", "hypertension", PRESENT),
    } <= kinds


@pytest.mark.parametrize(
    ("reply", "polarity"),
    [
        ("No.", ABSENT),
        ("Uh, no, none of that.", ABSENT),
        ("not yet, but i feel like that's next", ABSENT),
        ("Yeah, a bit.", PRESENT),
        ("Sometimes when I walk.", PRESENT),
        ("I felt a little warm.", ASKED),
    ],
)
def test_answer_polarity(reply, polarity):
    assert answer_polarity(reply) == polarity


def test_segment_facts_settle_questions_with_the_answer():
    segments = [
        Segment(id=0, start=0, end=1, speaker="clinician", text="Any chest pain or shortness of breath?"),
        Segment(id=1, start=1, end=2, speaker="patient", text="No."),
        Segment(id=2, start=2, end=3, speaker="clinician", text="Any headaches?"),
        Segment(id=3, start=3, end=4, speaker="patient", text="Yes, most mornings."),
        Segment(id=4, start=4, end=5, speaker="clinician", text="Any allergies?"),
        Segment(id=5, start=5, end=6, speaker="patient", text="Penicillin, I come out in a rash."),
        Segment(id=6, start=6, end=7, speaker="clinician", text="Which inhaler do you use?"),
        Segment(id=7, start=7, end=8, speaker="patient", text="Ventolin."),
        Segment(id=8, start=8, end=9, speaker="patient", text="Two puffs when I need it."),
    ]
    found = segment_facts(segments)
    assert [(f.value, f.polarity) for f in found[0] if f.kind == "red_flag"] == [
        ("chest pain", ABSENT),
        ("shortness of breath", ABSENT),
    ]
    assert [(f.value, f.polarity) for f in found[2] if f.kind == "symptom"] == [("headache", PRESENT)]
    assert [(f.kind, f.value) for f in found[5] if f.kind in ("allergy", "medication")] == [("allergy", "penicillin")]
    assert [(f.value, f.subject) for f in found[8] if f.kind == "dose"] == [("2 puff", "salbutamol")]
