"""Reading level with textstat: hand-checked values, the plain-language target, and no network."""

from __future__ import annotations

import socket

import pytest

from scribe.notes.readability import (
    PLAIN_LANGUAGE_GRADE,
    as_sentence,
    is_plain,
    letter_prose,
    letter_readability,
    readability,
    reading_age,
)
from scribe.records import Letter, LetterKind, Readability, Statement

SIMPLE = "The cat sat on the mat. It was a sunny day."
JARGON = (
    "The patient exhibits paroxysmal nocturnal dyspnoea secondary to decompensated congestive cardiac failure, "
    "necessitating optimisation of diuretic pharmacotherapy."
)
PATIENT = (
    "You came to see us because of a cough. We listened to your chest and it sounded clear. "
    "Take paracetamol if you have a fever. If you feel short of breath, call 111 or see your GP."
)


def test_simple_text_matches_the_flesch_formulas_by_hand() -> None:
    # 11 words, 2 sentences, 12 syllables (sun-ny is the only word of two):
    # ease = 206.835 - 1.015 * 11/2 - 84.6 * 12/11 = 108.96; grade = 0.39 * 11/2 + 11.8 * 12/11 - 15.59 = -0.57.
    r = readability(SIMPLE)
    assert (r.words, r.sentences) == (11, 2)
    assert r.flesch_reading_ease == pytest.approx(108.96, abs=1.0)
    assert r.flesch_kincaid_grade == pytest.approx(-0.57, abs=0.5)
    assert is_plain(r)


def test_jargon_reads_harder_than_plain_words() -> None:
    # 17 words in one sentence, most of four or more syllables: Flesch-Kincaid puts it past grade 20.
    jargon, plain = readability(JARGON), readability(PATIENT)
    assert (jargon.words, jargon.sentences) == (17, 1)
    assert jargon.flesch_reading_ease < 0 < 60 < plain.flesch_reading_ease
    assert jargon.flesch_kincaid_grade > 20
    assert not is_plain(jargon)
    assert is_plain(plain) and plain.sentences == 4


def test_the_target_is_reading_age_eleven() -> None:
    r = Readability(flesch_reading_ease=70.0, flesch_kincaid_grade=PLAIN_LANGUAGE_GRADE, words=10, sentences=1)
    assert reading_age(r) == 11
    assert is_plain(r)
    assert not is_plain(r.model_copy(update={"flesch_kincaid_grade": PLAIN_LANGUAGE_GRADE + 0.1}))
    assert is_plain(r.model_copy(update={"flesch_kincaid_grade": 8.0}), max_grade=8)


@pytest.mark.parametrize("text", ["", "   \n ", "... !!"])
def test_a_text_without_words_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        readability(text)


def test_a_letter_is_measured_on_its_sentences_alone() -> None:
    letter = Letter(
        kind=LetterKind.PATIENT,
        salutation="Dear Ms Patel,",
        paragraphs=[
            [Statement(text="You came in with a sore knee"), Statement(text="We think it is a sprain.")],
            [Statement(text="  "), Statement(text="Rest it for a week")],
        ],
        closing="Best wishes,\nDr Jones",
    )
    assert as_sentence(" Rest it ") == "Rest it."
    assert as_sentence("Is it sore?") == "Is it sore?"
    assert letter_prose(letter) == "You came in with a sore knee. We think it is a sprain.\n\nRest it for a week."
    r = letter_readability(letter)
    assert (r.words, r.sentences) == (18, 3)
    with pytest.raises(ValueError):
        letter_readability(Letter(kind=LetterKind.PATIENT, salutation="Dear Ms Patel,"))


def test_measuring_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Some textstat releases download NLTK's cmudict on first use; scribe must work offline."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access during readability")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    r = readability("Your blood test was normal. Please book a review in four weeks.")
    assert r.words == 12 and r.sentences == 2
