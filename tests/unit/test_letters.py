"""Letters: one prose call over the note's supported statements, split, de-duplicated, grounded."""

from __future__ import annotations

import pytest
from helpers.scripted_llm import Scripted, headache_transcript

from scribe.errors import DraftError
from scribe.notes.letters import draft_letter, split_letter
from scribe.records import LetterKind, NoteDraft, NoteSection, Statement


def _note() -> NoteDraft:
    return NoteDraft(
        template="gp",
        sections=[
            NoteSection(
                key="history",
                title="History",
                statements=[
                    Statement(text="Headache on the left side for three days.", evidence=[1], supported=True),
                    Statement(text="Codeine 30 mg.", supported=False, reason="medicine 'codeine' is not said"),
                ],
            ),
            NoteSection(
                key="plan",
                title="Plan",
                statements=[Statement(text="Paracetamol 1 g four times a day.", evidence=[4], supported=True)],
            ),
        ],
    )


LOOPING = """Dear Sam,

You came in with a headache on the left side for three days.
I think the headache is caused by a brain tumour.
I think the headache is caused by a brain tumour.
I think the headache is caused by a brain tumour.

Take paracetamol 1 g four times a day.

Best wishes,
Dr Jones
You came in with a headache."""


def test_the_letter_is_read_from_supported_statements_only_and_its_sentences_are_grounded() -> None:
    backend = Scripted([LOOPING])
    letter = draft_letter(_note(), headache_transcript(), backend, LetterKind.PATIENT)
    prompt = backend.prompts[0][1].content
    assert "- History: Headache on the left side for three days." in prompt
    assert "Codeine" not in prompt, "a flagged statement never reaches a letter"
    texts = [[s.text for s in p] for p in letter.paragraphs]
    assert texts == [
        [
            "You came in with a headache on the left side for three days.",
            "I think the headache is caused by a brain tumour.",
        ],
        ["Take paracetamol 1 g four times a day."],
    ], "the greeting and everything from the sign-off on are left out; a repeated sentence is kept once"
    first, invented, dose = letter.statements()
    assert first.supported and first.evidence == [1]
    assert invented.supported is False and invented.reason, "an invented diagnosis is flagged for the clinician"
    assert dose.supported and 4 in dose.evidence
    assert letter.salutation == "Dear [patient's name]," and letter.readability is not None
    assert letter.complete and letter.timings["letter:patient"].prompt_tokens


def test_a_cut_letter_keeps_its_complete_sentences_and_says_so_and_is_not_asked_again() -> None:
    backend = Scripted([("I saw your patient with a left-sided headache for three days. She was given para", "length")])
    letter = draft_letter(_note(), headache_transcript(), backend, LetterKind.GP)
    assert len(backend.prompts) == 1
    assert [s.text for s in letter.statements()] == ["I saw your patient with a left-sided headache for three days."]
    assert not letter.complete and "cut" in letter.incomplete_reason


def test_an_empty_answer_is_an_incomplete_letter_and_a_note_with_nothing_supported_is_refused() -> None:
    letter = draft_letter(
        _note(), headache_transcript(), Scripted(["Dear Dr Smith,\n\nYours sincerely,"]), LetterKind.GP
    )
    assert not letter.paragraphs and not letter.complete and "no letter" in letter.incomplete_reason
    nothing = NoteDraft(template="gp", sections=[NoteSection(key="plan", title="Plan", statements=[])])
    with pytest.raises(DraftError, match="no supported statements"):
        draft_letter(nothing, headache_transcript(), Scripted([]), LetterKind.GP)


def test_split_letter_reads_markdown_bullets_and_headings_as_prose() -> None:
    text = "**Summary**\n- You have a headache.\n- Take paracetamol.\n\n# Next steps\nCome back if worse. Ok"
    assert split_letter(text) == [["You have a headache.", "Take paracetamol."], ["Come back if worse."]]


def test_courtesy_needs_no_evidence_and_a_take_care_sign_off_ends_the_letter() -> None:
    answer = "I hope this letter finds you well.\nTake care,\nDr Jones"
    letter = draft_letter(_note(), headache_transcript(), Scripted([answer]), LetterKind.PATIENT)
    (courtesy,) = letter.statements()
    assert courtesy.supported and "courtesy" in courtesy.reason
