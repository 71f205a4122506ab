"""Doses, frequencies, durations, measurements and bare numbers as facts, normalised ("5 mg", "2/day", "3 day")."""

from __future__ import annotations

import re

from scribe.notes.lexicon.facts import Doc
from scribe.notes.lexicon.numbers import Num, parse_number

_DOSE_UNITS = {
    "mg": ("mg", 1.0), "mgs": ("mg", 1.0), "milligram": ("mg", 1.0), "milligrams": ("mg", 1.0),
    "milligramme": ("mg", 1.0), "milligrammes": ("mg", 1.0), "mcg": ("mg", 0.001), "ug": ("mg", 0.001),
    "µg": ("mg", 0.001), "microgram": ("mg", 0.001), "micrograms": ("mg", 0.001), "g": ("mg", 1000.0),
    "gm": ("mg", 1000.0), "gram": ("mg", 1000.0), "grams": ("mg", 1000.0), "ml": ("ml", 1.0),
    "mls": ("ml", 1.0), "millilitre": ("ml", 1.0), "millilitres": ("ml", 1.0), "milliliter": ("ml", 1.0),
    "milliliters": ("ml", 1.0), "cc": ("ml", 1.0), "l": ("ml", 1000.0), "litre": ("ml", 1000.0),
    "litres": ("ml", 1000.0), "unit": ("unit", 1.0), "units": ("unit", 1.0), "iu": ("unit", 1.0),
    "puff": ("puff", 1.0), "puffs": ("puff", 1.0), "tablet": ("tablet", 1.0), "tablets": ("tablet", 1.0),
    "tab": ("tablet", 1.0), "tabs": ("tablet", 1.0), "pill": ("tablet", 1.0), "pills": ("tablet", 1.0),
    "capsule": ("capsule", 1.0), "capsules": ("capsule", 1.0), "caps": ("capsule", 1.0),
    "drop": ("drop", 1.0), "drops": ("drop", 1.0), "sachet": ("sachet", 1.0), "sachets": ("sachet", 1.0),
    "spray": ("spray", 1.0), "sprays": ("spray", 1.0), "patch": ("patch", 1.0), "patches": ("patch", 1.0),
    "teaspoon": ("ml", 5.0), "teaspoons": ("ml", 5.0), "spoonful": ("ml", 5.0), "spoonfuls": ("ml", 5.0),
    "injection": ("injection", 1.0), "injections": ("injection", 1.0), "mmol": ("mmol", 1.0),
}  # fmt: skip
_MEASURE_UNITS = {
    "%": "%", "percent": "%", "degrees": "degrees", "degree": "degrees", "c": "degrees", "celsius": "degrees",
    "bpm": "bpm", "beats": "bpm", "kg": "kg", "kgs": "kg", "kilos": "kg", "kilograms": "kg", "cm": "cm",
    "mmhg": "mmhg", "lbs": "lb", "pounds": "lb", "stone": "stone", "breaths": "breaths", "mm": "mm",
    "centimetres": "cm", "centimeters": "cm", "inches": "inch", "feet": "ft", "foot": "ft", "mmol/l": "mmol/l",
}  # fmt: skip
_DURATION_UNITS = {
    "second": 1 / 86400, "seconds": 1 / 86400, "minute": 1 / 1440, "minutes": 1 / 1440, "min": 1 / 1440,
    "mins": 1 / 1440, "hour": 1 / 24, "hours": 1 / 24, "hr": 1 / 24, "hrs": 1 / 24, "day": 1, "days": 1,
    "night": 1, "nights": 1, "week": 7, "weeks": 7, "wk": 7, "wks": 7, "fortnight": 14, "fortnights": 14,
    "month": 30, "months": 30, "year": 365, "years": 365, "yr": 365, "yrs": 365, "d": 1,
}  # fmt: skip
_DURATION_NAMES = {1 / 86400: "second", 1 / 1440: "minute", 1 / 24: "hour", 1: "day", 7: "week", 14: "week"}
_DURATION_NAMES |= {30: "month", 365: "year"}
_VAGUE_COUNTS = {"couple": 2.0, "few": 0.0, "several": 0.0, "many": 0.0}
_PERIODS = {"day": 1.0, "daily": 1.0, "week": 1 / 7, "weekly": 1 / 7, "month": 1 / 30, "monthly": 1 / 30}
_PERIODS |= {"night": 1.0, "morning": 1.0, "evening": 1.0, "hour": 24.0, "year": 1 / 365}
_PERIOD_WORDS = {"daily": 1.0, "nightly": 1.0, "weekly": 1 / 7, "monthly": 1 / 30}
_FREQ_WORDS = {"once": 1.0, "twice": 2.0, "thrice": 3.0}
_FREQ_ABBREVIATIONS = {
    "od": 1.0, "qd": 1.0, "daily": 1.0, "nightly": 1.0, "nocte": 1.0, "mane": 1.0, "bd": 2.0, "bid": 2.0,
    "tds": 3.0, "tid": 3.0, "qds": 4.0, "qid": 4.0, "weekly": 1 / 7, "fortnightly": 1 / 14, "monthly": 1 / 30,
}  # fmt: skip
_PRN = (("as", "needed"), ("as", "required"), ("when", "needed"), ("when", "required"), ("if", "needed"))


def _fmt(x: float) -> str:
    return f"{x:g}"


def numeric_facts(doc: Doc) -> None:
    """Doses, frequencies, durations, measurements and bare numbers."""
    toks, i = doc.toks, 0
    while i < len(toks):
        if doc.used[i]:
            i += 1
            continue
        j = _frequency_at(doc, i)
        if j:
            i = j
            continue
        num = parse_number(toks, i)
        if num is None:
            if toks[i].norm in _VAGUE_COUNTS or toks[i].norm in ("fortnight",):
                i = _vague_duration(doc, i) or i + 1
            else:
                i += 1
            continue
        i = _after_number(doc, num)


def _vague_duration(doc: Doc, i: int) -> int:
    """'a couple of days', 'a few weeks', 'a fortnight'."""
    toks = doc.toks
    if doc.norm(i) == "fortnight":
        doc.add("date", i, i + 1, "2 week", numbers=(14.0,))
        return i + 1
    count = _VAGUE_COUNTS[doc.norm(i)]
    j = i + 1 + (doc.norm(i + 1) == "of")
    if doc.norm(j) in _DURATION_UNITS:
        start = i - 1 if doc.norm(i - 1) == "a" else i
        unit = _DURATION_UNITS[doc.norm(j)]
        name = _DURATION_NAMES.get(unit, "day")
        if count:
            doc.add("date", start, j + 1, f"{_fmt(count)} {name}", numbers=(count * unit,))
        else:
            doc.add("date", start, j + 1, f"{toks[i].norm} {name}")
        return j + 1
    return 0


def _frequency_at(doc: Doc, i: int) -> int:
    """A frequency starting at token i ("twice a day", "bd", "every 4 hours", "as needed"); its end or 0."""
    n, toks = doc.norm(i), doc.toks
    per_day: tuple[float, ...] | None = None
    j = i
    if n in _FREQ_WORDS:
        j = i + 1
        per = _period(doc, j)
        if per is None:
            return 0
        rate, j = per
        per_day = (_FREQ_WORDS[n] * rate,)
    elif n in _FREQ_ABBREVIATIONS and (n not in ("od", "qd") or toks[i].raw.isupper() or doc.norm(i - 1) == "mg"):
        j, per_day = i + 1, (_FREQ_ABBREVIATIONS[n],)
    elif n == "every" or n == "each":
        num = parse_number(toks, i + 1)
        k = num.end if num else i + 1
        if doc.norm(k) in ("to", "-", "or") and num is not None:
            num2 = parse_number(toks, k + 1)
            if num2 is not None and doc.norm(num2.end) in ("hours", "hour", "hrs"):
                per_day, j = (24 / num.value, 24 / num2.value), num2.end + 1
        if per_day is None and doc.norm(k) in ("hours", "hour", "hrs", "hr") and num is not None and num.value:
            per_day, j = (24 / num.value,), k + 1
        elif per_day is None and doc.norm(k) in ("morning", "night", "evening", "day", "week", "month"):
            per_day, j = (_PERIODS[doc.norm(k)] if num is None else _PERIODS[doc.norm(k)] / num.value,), k + 1
        if per_day is None:
            return 0
    elif (n, doc.norm(i + 1)) in _PRN:
        doc.add("frequency", i, i + 2, "as needed")
        return i + 2
    elif n == "prn":
        doc.add("frequency", i, i + 1, "as needed")
        return i + 1
    elif re.fullmatch(r"q(\d{1,2})h", n):
        per_day, j = (24 / int(n[1:-1]),), i + 1
    else:
        num = parse_number(toks, i)
        if num is None:
            return 0
        k = num.end
        nums = [num.value]
        # a range: "six or seven times", "four, five times", "four five times"
        num2 = parse_number(toks, k + 1) if doc.norm(k) in ("to", "or", "-", ",") else parse_number(toks, k)
        if num2 is not None and not num2.vague and doc.norm(num2.end) in ("times", "x", "hourly"):
            nums.append(num2.value)
            k = num2.end
        per_time = doc.norm(k) in ("a", "per") and doc.norm(k + 1) == "day"
        if doc.norm(k) in ("hourly",) and num.value:
            per_day, j = tuple(24 / x for x in nums if x), k + 1
        elif doc.norm(k) in ("times", "time", "x") or per_time:
            k += doc.norm(k) in ("times", "time", "x")
            per = _period(doc, k)
            if per is None:
                return 0
            rate, j = per
            per_day = tuple(x * rate for x in nums)
        else:
            return 0
    assert per_day is not None
    weekly = all(x < 1 for x in per_day)
    value = "-".join(_fmt(round(x * 7 if weekly else x, 2)) for x in sorted(per_day)) + ("/week" if weekly else "/day")
    doc.add("frequency", i, j, value, numbers=tuple(round(x, 3) for x in per_day))
    for k in range(i, j):
        doc.used[k] = True
    return j


def _period(doc: Doc, j: int) -> tuple[float, int] | None:
    """'a day', 'per week', 'daily', 'every day', 'in the morning' at token j → (times per day factor, end)."""
    n = doc.norm(j)
    if n in _PERIOD_WORDS:
        return _PERIOD_WORDS[n], j + 1
    if n in ("a", "an", "per", "each", "every", "in", "at") and doc.norm(j + 1) in _PERIODS:
        return _PERIODS[doc.norm(j + 1)], j + 2
    if n in ("a", "per") and doc.norm(j + 1) == "the" and doc.norm(j + 2) in _PERIODS:
        return _PERIODS[doc.norm(j + 2)], j + 3
    return None


def _after_number(doc: Doc, num: Num) -> int:
    """Classify the number at ``num`` by what follows it; return the next token index."""
    toks, i, j = doc.toks, num.start, num.end
    nxt = doc.norm(j)
    # 140/90, 140 over 90; UK durations 3/7 (days), 2/52 (weeks), 6/12 (months); dates 12/03/2024
    if nxt in ("/", "over") and (second := parse_number(toks, j + 1)) is not None and not num.vague:
        k = second.end
        if doc.norm(k) == "/" and (third := parse_number(toks, k + 1)) is not None:
            doc.add("date", i, third.end, f"{_fmt(second.value)}-{_fmt(num.value)}", numbers=())
            return third.end
        if nxt == "/" and second.value in (7, 52, 12) and num.value < second.value:
            factor = {7: 1, 52: 7, 12: 30}[int(second.value)]
            name = {7: "day", 52: "week", 12: "month"}[int(second.value)]
            doc.add("date", i, k, f"{_fmt(num.value)} {name}", numbers=(num.value * factor,))
            return k
        doc.add("number", i, k, f"{_fmt(num.value)}/{_fmt(second.value)}", numbers=(num.value, second.value))
        return k
    # ranges: "5 to 10 mg", "6-7 days", "two or three days"
    values, k = [num.value], j
    second = parse_number(toks, j + 1) if nxt in ("to", "or", "-") else None
    if second is not None and not second.vague and doc.norm(second.end) in {*_DOSE_UNITS, *_DURATION_UNITS}:
        values.append(second.value)
        k = second.end
    unit_word = doc.norm(k)
    if unit_word in _DOSE_UNITS and not (unit_word in ("l", "g") and toks[k].raw not in ("g", "L", "l")):
        unit, factor = _DOSE_UNITS[unit_word]
        amounts = tuple(round(v * factor, 6) for v in values)
        value = "-".join(_fmt(a) for a in amounts) + f" {unit}"
        doc.add("dose", i, k + 1, value, numbers=amounts)
        return k + 1
    if unit_word in _DURATION_UNITS and not (unit_word == "d" and toks[k].raw != "d"):
        if doc.norm(k + 1) == "old" or unit_word in ("year-old", "years-old"):
            doc.add("number", i, k + 2, _fmt(values[0]), numbers=tuple(values))
            return k + 2
        unit = _DURATION_UNITS[unit_word]
        name = _DURATION_NAMES.get(unit, "day")
        days = tuple(round(v * unit, 6) for v in values)
        doc.add("date", i, k + 1, "-".join(_fmt(v) for v in values) + f" {name}", numbers=days)
        return k + 1
    if unit_word in ("year-old", "years-old", "month-old", "week-old", "day-old"):
        doc.add("number", i, k + 1, _fmt(values[0]), numbers=tuple(values))
        return k + 1
    if num.vague:
        return num.end
    if unit_word in _MEASURE_UNITS:
        doc.add("number", i, k + 1, f"{_fmt(values[0])} {_MEASURE_UNITS[unit_word]}", numbers=tuple(values))
        return k + 1
    if nxt in ("per",) and doc.norm(j + 1) == "cent":
        doc.add("number", i, j + 2, f"{_fmt(num.value)} %", numbers=(num.value,))
        return j + 2
    doc.add("number", i, num.end, _fmt(num.value), numbers=(num.value,))
    return num.end
