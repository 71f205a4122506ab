"""Error injection for the grounding benchmark, and the benchmark on hand-written drafts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from scribe.evaluate.perturb import KINDS, injected_error_recall, load_case, perturb
from scribe.notes.grounding import ground_note
from scribe.records import Medication, NoteDraft, NoteSection, Segment, Statement, Transcript

CASES = sorted((Path(__file__).parents[1] / "data" / "grounding").glob("*.json"))

TURNS = [
    ("patient", "My left knee has been swollen for three days."),  # 0
    ("clinician", "Any fever?"),  # 1
    ("patient", "No."),  # 2
    ("patient", "I take amlodipine five milligrams once a day."),  # 3
    ("clinician", "I'll start naproxen 500 mg twice a day."),  # 4
]


def small_case() -> tuple[NoteDraft, Transcript]:
    transcript = Transcript(
        segments=[Segment(id=i, start=i, end=i + 1, speaker=s, text=t) for i, (s, t) in enumerate(TURNS)]
    )
    draft = NoteDraft(
        template="gp",
        sections=[
            NoteSection(
                key="history",
                title="History",
                statements=[
                    Statement(text="Swollen left knee for 3 days.", evidence=[0]),
                    Statement(text="No fever.", evidence=[1, 2]),
                    Statement(text="Not discussed.", evidence=[]),
                ],
            ),
            NoteSection(
                key="plan", title="Plan", statements=[Statement(text="Naproxen 500 mg twice a day.", evidence=[4])]
            ),
        ],
        medications=[Medication(name="Amlodipine", dose="5 mg", frequency="once a day", evidence=[3])],
    )
    return draft, transcript


def test_the_clean_small_draft_is_supported():
    draft, transcript = small_case()
    ground_note(draft, transcript)
    assert all(item.supported for item in draft.grounded_items())


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_one_item_of_a_copy_and_is_caught(kind):
    draft, transcript = small_case()
    before = draft.model_dump()
    made = perturb(draft, kind, random.Random(1), transcript)
    assert made is not None
    perturbed, item = made
    assert draft.model_dump() == before  # the original is untouched
    old = [i.claim() for i in draft.grounded_items()]
    new = [i.claim() for i in perturbed.grounded_items()]
    if len(new) == len(old):  # one item changed in place
        assert [n for n, o in zip(new, old, strict=True) if n != o] == [item.claim()]
    else:  # or one medication added
        assert len(new) == len(old) + 1 and isinstance(item, Medication) and item.claim() in new
    assert any(i is item for i in perturbed.grounded_items())
    ground_note(perturbed, transcript)
    assert item.supported is False, item.reason


def test_the_changes_are_the_intended_ones():
    draft, transcript = small_case()

    def claims(kind: str, seed: int) -> set[str]:
        made = perturb(draft, kind, random.Random(seed), transcript)
        assert made is not None
        return {made[1].claim()}

    doses = set().union(*(claims("wrong_dose", s) for s in range(20)))
    assert doses <= {f"Naproxen {n} mg twice a day." for n in (1000, 250, 5000, 50, 501, 499)} | {
        f"Amlodipine {n} mg, once a day" for n in (10, 2.5, 50, 0.5, 6, 4)
    }
    assert claims("wrong_side", 0) == {"Swollen right knee for 3 days."}
    flipped = set().union(*(claims("negation_flipped", s) for s in range(20)))
    assert flipped == {"Fever.", "No swollen left knee for 3 days."}
    added = perturb(draft, "added_drug", random.Random(3), transcript)
    assert added is not None
    assert not {"amlodipine", "naproxen"} & set(added[1].claim().lower().replace(";", " ").split())


def test_perturbation_is_deterministic_for_a_seed():
    draft, transcript = small_case()
    for kind in KINDS:
        a = perturb(draft, kind, random.Random(f"seed:{kind}"), transcript)
        b = perturb(draft, kind, random.Random(f"seed:{kind}"), transcript)
        assert a is not None and b is not None
        assert a[0].model_dump(exclude={"created_at"}) == b[0].model_dump(exclude={"created_at"})


def test_nothing_to_perturb_returns_none():
    draft = NoteDraft(
        template="gp",
        sections=[NoteSection(key="plan", title="Plan", statements=[Statement(text="Not discussed.")])],
    )
    for kind in ("wrong_dose", "wrong_side", "negation_flipped"):
        assert perturb(draft, kind, random.Random(0)) is None
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb(draft, "typo", random.Random(0))


def test_benchmark_on_the_small_case_counts_every_kind():
    report = injected_error_recall([small_case()], trials=3, seed=0)
    assert set(report.kinds) == set(KINDS)
    assert all(k.injected >= 1 for k in report.kinds.values())
    assert report.items == 4 and report.false_positives == 0
    assert report.as_dict()["false_positive_rate"] == 0.0


def test_injections_into_items_already_flagged_are_not_counted():
    draft, transcript = small_case()
    draft.sections[1].statements.append(Statement(text="Takes warfarin 3 mg.", evidence=[3]))  # unsupported
    report = injected_error_recall([(draft, transcript)], kinds=("wrong_dose",), trials=12, seed=0)
    assert report.already_flagged >= 1
    assert report.false_positives == 1  # the warfarin statement, flagged in the clean draft
    assert report.kinds["wrong_dose"].injected >= 1
    assert report.kinds["wrong_dose"].caught == report.kinds["wrong_dose"].injected


def test_benchmark_on_hand_written_drafts_of_real_consultations():
    """Five PriMock57 / ACI-Bench consultations with hand-written drafts (tests/data/grounding)."""
    assert len(CASES) >= 5
    report = injected_error_recall([load_case(p) for p in CASES], trials=4, seed=0)
    assert report.injected >= 50
    assert report.recall is not None and report.recall >= 0.95, report.as_dict()
    assert report.false_positive_rate is not None and report.false_positive_rate <= 0.05, report.as_dict()
