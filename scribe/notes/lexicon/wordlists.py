"""The word lists in ``scribe/notes/lexicon/*.txt``, read once: medicines and their classes, brands, stop words.

One term per line, ``words = canonical`` for synonyms, ``#`` comments; an entry in CAPITALS matches
only capitals. ``medicines.txt`` lines are ``generic | class, class``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


def read_lines(name: str) -> list[str]:
    text = resources.files("scribe.notes.lexicon").joinpath(name).read_text("utf-8")
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def read_pairs(name: str) -> list[tuple[str, str]]:
    """``words = canonical`` lines (a bare line is its own canonical form)."""
    out = []
    for line in read_lines(name):
        words, _, canonical = line.partition("=")
        words = words.strip()
        out.append((words, (canonical.strip() or words).lower()))
    return out


@cache
def medicine_table() -> dict[str, frozenset[str]]:
    table = {}
    for line in read_lines("medicines.txt"):
        name, _, classes = line.partition("|")
        table[name.strip().lower()] = frozenset(c.strip().lower() for c in classes.split(",") if c.strip())
    return table


def medicines() -> frozenset[str]:
    """Generic names of the medicines scribe recognises."""
    return frozenset(medicine_table())


@cache
def brands() -> dict[str, str]:
    """Brand, US and other names mapped to the generic name."""
    return {words.lower(): canonical for words, canonical in read_pairs("brands.txt")}


@cache
def drug_class_words() -> dict[str, str]:
    """Words naming a group of medicines ("antibiotics", "blue inhaler") mapped to the class."""
    return {words.lower(): canonical for words, canonical in read_pairs("drug_classes.txt")}


@cache
def drug_class_names() -> frozenset[str]:
    """Every class name used in medicines.txt and drug_classes.txt."""
    names = {c for classes in medicine_table().values() for c in classes}
    return frozenset(names | set(drug_class_words().values()))


def is_drug_class(value: str) -> bool:
    """Whether a medication value names a class ("antibiotic") rather than one medicine."""
    return value in drug_class_names() and value not in medicine_table()


def classes_of(generic: str) -> frozenset[str]:
    """The classes a generic medicine belongs to (empty when unknown)."""
    return medicine_table().get(generic, frozenset())


def red_flags() -> frozenset[str]:
    """Canonical names of the red-flag symptoms."""
    return frozenset(canonical for _, canonical in read_pairs("red_flags.txt"))


@cache
def stopwords() -> frozenset[str]:
    """Words with no clinical content."""
    return frozenset(w.lower() for w in read_lines("stopwords.txt"))
