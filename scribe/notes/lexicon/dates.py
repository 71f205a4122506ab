"""Date facts: weekdays, calendar dates ("3rd of March") and relative days ("yesterday", "last week")."""

from __future__ import annotations

import re

from scribe.notes.lexicon.facts import Doc
from scribe.notes.lexicon.tokens import singular

RELATIVE_DATES = frozenset(
    {"today", "yesterday", "tomorrow", "tonight", "last night", "this morning", "last week", "next week"}
    | {"last month", "next month", "last year", "next year", "this week", "this afternoon", "this evening"}
)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)  # fmt: skip
_ORDINAL_RE = re.compile(r"(\d{1,2})(?:st|nd|rd|th)")
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip


def date_facts(doc: Doc) -> None:
    """Weekdays, calendar dates ("3rd of March", "March 3") and relative days ("yesterday")."""
    toks = doc.toks
    for i, t in enumerate(toks):
        n = t.norm
        if singular(n) in _WEEKDAYS:
            doc.add("date", i, i + 1, singular(n))
        elif n in _MONTHS and not (n == "may" and not t.raw[0].isupper()) and not (n == "march" and t.raw == "march"):
            day = _day_near(doc, i)
            doc.add("date", *day[1:], f"{day[0]:02d}-{_MONTHS.index(n) + 1:02d}" if day[0] else n)
        elif n in ("today", "yesterday", "tomorrow", "tonight"):
            doc.add("date", i, i + 1, n)
        elif (n, doc.norm(i + 1)) in {
            ("last", "night"),
            ("this", "morning"),
            ("last", "week"),
            ("next", "week"),
            ("this", "week"),
        } | {("last", "month"), ("next", "month"), ("last", "year"), ("next", "year")}:
            doc.add("date", i, i + 2, f"{n} {doc.norm(i + 1)}")


def _day_near(doc: Doc, i: int) -> tuple[int, int, int]:
    """(day of month or 0, start token, end token) around the month at token i."""

    def day(k: int) -> int:
        n = doc.norm(k)
        m = _ORDINAL_RE.fullmatch(n) or re.fullmatch(r"\d{1,2}", n)
        if m:
            return int(m.group(1) if m.groups() else m.group())
        return _ORDINAL_WORDS.get(n, 0)

    if day(i + 1):
        return day(i + 1), i, i + 2
    if doc.norm(i - 1) == "of" and day(i - 2):
        return day(i - 2), i - 2 - (doc.norm(i - 3) == "the"), i + 1
    if day(i - 1):
        return day(i - 1), i - 1, i + 1
    return 0, i, i + 1
