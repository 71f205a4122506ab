"""Tests for scribe.evaluate.note_metrics: ROUGE against hand-computed values and the published
ACI-Bench baseline, fact matching on hand-made texts, the unsupported share of a hand-made draft."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from scribe.evaluate.datasets import load_aci_bench, shared_data_dir
from scribe.evaluate.note_metrics import (
    draft_text,
    fact_key,
    fact_scores,
    match_facts,
    mean_rouge,
    normalise_fact,
    pool_facts,
    rouge,
    unsupported,
    unsupported_rate,
)
from scribe.records import Medication, NoteDraft, NoteSection, Statement


def test_identical_texts_score_100():
    text = "Chief complaint\nKnee pain for two weeks.\nTakes ibuprofen 400 mg."
    assert rouge(text, text) == {"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0, "rougeLsum": 100.0}


def test_hand_computed_case():
    # the cat sat on the mat / the cat lay on the mat: 5 of 6 unigrams shared (P = R = 5/6),
    # 3 of 5 bigrams (the cat, on the, the mat), longest common subsequence 5 words.
    scores = rouge("the cat sat on the mat", "the cat lay on the mat")
    assert scores["rouge1"] == pytest.approx(100 * 5 / 6)
    assert scores["rouge2"] == pytest.approx(60.0)
    assert scores["rougeL"] == pytest.approx(100 * 5 / 6)


def test_rouge_lsum_reads_lines_and_no_stemming_by_default():
    # two lines in swapped order: one LCS over the whole text finds 2 of 4 words, per line all 4
    scores = rouge("a b\nc d", "c d\na b")
    assert scores["rougeL"] == pytest.approx(50.0) and scores["rougeLsum"] == pytest.approx(100.0)
    assert rouge("running dogs", "run dog")["rouge1"] == 0.0
    assert rouge("running dogs", "run dog", use_stemmer=True)["rouge1"] == 100.0
    assert rouge("", "something")["rouge1"] == 0.0


def test_mean_rouge():
    out = mean_rouge([("a b", "a b"), ("a b", "c d")])
    assert out["n"] == 2 and out["rouge1"] == pytest.approx(50.0)
    assert mean_rouge([]) == {"n": 0}


ACI = shared_data_dir() / "aci-bench"


@pytest.mark.skipif(not ACI.is_dir(), reason="shared ACI-Bench data not available")
def test_copy_transcript_baseline_reproduces_the_published_figures():
    # ACI-Bench (Yim et al. 2023) reports 32.84 / 12.53 / 30.61 for copying the test1 dialogues;
    # ROUGE-L there is rougeLsum, without stemming. Plain rougeL would give 18.86.
    encounters = load_aci_bench(ACI)
    out = mean_rouge(((e.source_text, e.reference) for e in encounters), types=("rouge1", "rouge2", "rougeLsum"))
    assert out["n"] == 40
    assert round(out["rouge1"], 2) == 32.84
    assert round(out["rouge2"], 2) == 12.53
    assert round(out["rougeLsum"], 2) == 30.61
    stemmed = mean_rouge(((e.source_text, e.reference) for e in encounters[:3]), use_stemmer=True, types=["rouge1"])
    plain = mean_rouge(((e.source_text, e.reference) for e in encounters[:3]), types=["rouge1"])
    assert stemmed["rouge1"] > plain["rouge1"]


@dataclass
class F:
    kind: str
    text: str
    value: str = ""
    polarity: str = "present"


def lexicon(text: str) -> list[F]:
    """A hand-made extractor: the words of a tiny lexicon, by kind, as found."""
    words = {
        "ibuprofen 600 mg": "medication",
        "ibuprofen 400 mg": "medication",
        "metformin": "medication",
        "lisinopril": "medication",
        "penicillin": "allergy",
        "asthma": "problem",
        "knee pain": "problem",
        "swelling": "finding",
    }
    low = text.lower()
    found = [F(kind, w) for w, kind in words.items() if w in low]
    if "no swelling" in low:
        found = [f if f.text != "swelling" else F("finding", "swelling", polarity="absent") for f in found]
    return found


def test_normalise_fact_keeps_numbers():
    assert normalise_fact("BP 120/80. Temp 37.5 C, Mg.") == "bp 120/80 temp 37.5 c mg"
    assert normalise_fact("  Ibuprofen,   600mg ") == "ibuprofen 600mg"


def test_fact_key_uses_value_and_polarity():
    assert fact_key(F("medication", "Ventolin", value="salbutamol")) == "salbutamol"
    assert fact_key(F("finding", "Swelling.", polarity="absent")) == "no swelling"
    assert fact_key(F("problem", "Asthma", polarity="asked")) == "asthma"


def test_match_facts_threshold_numbers_and_one_to_one():
    assert match_facts(["600 mg ibuprofen"], ["ibuprofen 600 mg"]) == 1  # word order
    assert match_facts(["metformine"], ["metformin"]) == 1  # a small spelling difference
    assert match_facts(["pain"], ["chest pain"]) == 0  # 57 < 85
    assert match_facts(["lisinopril 10 mg"], ["lisinopril 20 mg"]) == 0  # numbers differ
    assert match_facts(["metformin", "metformin 500"], ["metformin"]) == 1  # one to one
    assert match_facts([], ["metformin"]) == 0


def test_fact_scores_hand_made():
    reference = "Knee pain. Asthma. Takes ibuprofen 600 mg and metformin. Allergic to penicillin. No swelling."
    prediction = "Knee pain. Takes ibuprofen 400 mg and metformin and lisinopril. Swelling of the knee."
    scores = fact_scores(prediction, reference, extract=lexicon)
    # medications: predicted {ibuprofen 400, metformin, lisinopril}, reference {ibuprofen 600, metformin}
    assert scores["medication"] == {"precision": 1 / 3, "recall": 1 / 2, "tp": 1, "fp": 2, "fn": 1}
    assert scores["allergy"] == {"precision": None, "recall": 0.0, "tp": 0, "fp": 0, "fn": 1}
    assert scores["problem"] == {"precision": 1.0, "recall": 0.5, "tp": 1, "fp": 0, "fn": 1}
    # "swelling" is not "no swelling"
    assert scores["finding"] == {"precision": 0.0, "recall": 0.0, "tp": 0, "fp": 1, "fn": 1}
    pooled = pool_facts([scores, scores])
    assert pooled["medication"]["tp"] == 2 and pooled["medication"]["recall"] == 0.5
    assert pooled["all"] == {"precision": 4 / 10, "recall": 4 / 12, "tp": 4, "fp": 6, "fn": 8}


def _draft() -> NoteDraft:
    return NoteDraft(
        template="clinic",
        sections=[
            NoteSection(
                key="chief_complaint",
                title="Chief complaint",
                statements=[Statement(text="Knee  pain.", evidence=[1], supported=True)],
            ),
            NoteSection(
                key="plan",
                title="Plan",
                statements=[
                    Statement(text="Ibuprofen 600 mg.", evidence=[4], supported=False, reason="dose not said"),
                    Statement(text="Review in 2 weeks.", evidence=[5]),
                ],
            ),
            NoteSection(key="results", title="Results", complete=False, error="no valid answer"),
        ],
        medications=[Medication(name="ibuprofen", supported=False)],
    )


def test_draft_text_one_statement_per_line():
    draft = _draft()
    assert draft_text(draft) == "CHIEF COMPLAINT\nKnee pain.\n\nPLAN\nIbuprofen 600 mg.\nReview in 2 weeks."
    assert draft_text(draft, ["plan"], titles=False) == "Ibuprofen 600 mg.\nReview in 2 weeks."
    assert draft_text(draft, []) == ""


def test_unsupported_share_counts_checked_statements_only():
    draft = _draft()
    assert (unsupported(draft).hits, unsupported(draft).total) == (1, 2)  # the unchecked one is left out
    assert unsupported_rate(draft) == 0.5
    assert (unsupported(draft, structured=True).hits, unsupported(draft, structured=True).total) == (2, 3)
    assert unsupported_rate(NoteDraft(template="gp")) is None
