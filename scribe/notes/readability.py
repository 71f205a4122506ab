"""Reading level of a letter: Flesch reading ease and Flesch-Kincaid grade, measured with textstat.

The target for patient letters follows UK guidance for health information. The NHS digital service
manual's content style guide says "we aim for a reading age of 9 to 11 years old" (and, where medical
words make that hard, that an 11 to 14-year-old should understand); the Patient Information Forum's
plain-language guide gives the same 9-11. A US school grade is roughly the reading age minus 5, so the
upper end, reading age 11, is Flesch-Kincaid grade 6: `PLAIN_LANGUAGE_GRADE`.
"""

from __future__ import annotations

import warnings

from scribe.records import Letter, Readability

with warnings.catch_warnings():
    # textstat releases that count syllables without network data import pkg_resources at import time.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import textstat

PLAIN_LANGUAGE_GRADE = 6.0
"""Highest Flesch-Kincaid grade a patient letter should have: reading age 11, the top of the NHS 9-11."""

READING_AGE_OFFSET = 5.0
"""Years added to a US school grade to give the UK reading age it corresponds to (grade 1 is age 6)."""


def readability(text: str) -> Readability:
    """Measure ``text``: Flesch reading ease (higher is easier), Flesch-Kincaid grade, words and sentences.

    Raises ValueError when the text holds no words, since a reading level of nothing means nothing.
    """
    words = textstat.lexicon_count(text)
    if not text.strip() or words == 0:
        raise ValueError("Cannot measure the reading level of an empty text: give the letter's paragraphs.")
    return Readability(
        flesch_reading_ease=round(float(textstat.flesch_reading_ease(text)), 2),
        flesch_kincaid_grade=round(float(textstat.flesch_kincaid_grade(text)), 2),
        words=words,
        sentences=max(1, textstat.sentence_count(text)),
    )


def as_sentence(text: str) -> str:
    """``text`` stripped and ending in sentence punctuation (a full stop added when it has none)."""
    text = text.strip()
    return text if not text or text[-1] in ".!?:;" else f"{text}."


def letter_prose(letter: Letter) -> str:
    """The body of ``letter`` as the reader sees it: paragraphs of sentences, no salutation, flags or ids."""
    paragraphs = (" ".join(as_sentence(s.text) for s in paragraph if s.text.strip()) for paragraph in letter.paragraphs)
    return "\n\n".join(p for p in paragraphs if p)


def letter_readability(letter: Letter) -> Readability:
    """Measure the body of ``letter`` (see `letter_prose`); ValueError when it has no sentences."""
    return readability(letter_prose(letter))


def reading_age(r: Readability) -> float:
    """The UK reading age, in years, that the Flesch-Kincaid grade of ``r`` corresponds to."""
    return r.flesch_kincaid_grade + READING_AGE_OFFSET


def is_plain(r: Readability, *, max_grade: float = PLAIN_LANGUAGE_GRADE) -> bool:
    """Whether a text measured as ``r`` meets the plain-language target for patients (grade <= ``max_grade``)."""
    return r.flesch_kincaid_grade <= max_grade
