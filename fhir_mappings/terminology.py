"""A site's terminology map: local terms to codes the site chose (SNOMED CT, dm+d, ...).

The mapping never makes up a code: a coding appears in the FHIR output only when the site's CSV
names it. The CSV has a header row with `term,system,code,display` and, optionally, `kind`
(problem, medication, allergy, reaction or finding) to keep the same word apart in different lists.
Terms match case-insensitively with runs of whitespace folded.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("problem", "medication", "allergy", "reaction", "finding")
SNOMED = "http://snomed.info/sct"

_REQUIRED = ("term", "system", "code", "display")
_URI = re.compile(r"^(https?://\S+|urn:[a-z0-9][a-z0-9-]*:\S+)$", re.IGNORECASE)

# Verhoeff tables: SNOMED CT identifiers (and dm+d ids, which are SNOMED ids) end in a Verhoeff check digit.
_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


class TerminologyError(ValueError):
    """The terminology CSV is malformed; the message names the line and what to fix."""


def snomed_id_valid(code: str) -> bool:
    """Whether `code` has the form of a SNOMED CT identifier: 6 to 18 digits with a valid Verhoeff check digit."""
    if not re.fullmatch(r"[1-9]\d{5,17}", code):
        return False
    check = 0
    for position, digit in enumerate(reversed(code)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


def normalise(term: str) -> str:
    """The form terms are matched in: case-folded, whitespace folded to single spaces."""
    return " ".join(term.split()).casefold()


@dataclass(frozen=True)
class Coding:
    """One code from a site's map."""

    system: str
    code: str
    display: str

    def as_fhir(self) -> dict[str, str]:
        """The FHIR Coding JSON."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True)
class Terminology:
    """Local term -> Coding, optionally per kind of item. Build it with `from_csv` or `from_rows`."""

    entries: Mapping[tuple[str, str], Coding] = field(default_factory=dict)

    @classmethod
    def from_csv(cls, path: str | Path) -> Terminology:
        """Read a site's CSV file (UTF-8); raises TerminologyError naming the file, line and problem."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise TerminologyError(f"cannot read terminology file {path}: {error.strerror}") from None
        return cls.from_text(text, source=str(path))

    @classmethod
    def from_text(cls, text: str, source: str = "terminology CSV") -> Terminology:
        """Parse CSV text; `source` names it in error messages."""
        reader = csv.DictReader(io.StringIO(text))
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in _REQUIRED if name not in header]
        if missing:
            raise TerminologyError(
                f"{source}: the header row must name {', '.join(_REQUIRED)} (and optionally kind); "
                f"missing {', '.join(missing)}"
            )
        reader.fieldnames = header
        rows = ((reader.line_num, row) for row in reader)
        return cls.from_rows(rows, source=source)

    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[int, Mapping[str, str | None]]], source: str = "terminology"
    ) -> Terminology:
        """Build from (line number, row dict) pairs; every row is checked."""
        entries: dict[tuple[str, str], Coding] = {}
        for line, row in rows:
            values = {key: (row.get(key) or "").strip() for key in (*_REQUIRED, "kind")}
            where = f"{source} line {line}"
            empty = [key for key in _REQUIRED if not values[key]]
            if empty:
                raise TerminologyError(f"{where}: {', '.join(empty)} must not be empty")
            kind = values["kind"].lower()
            if kind and kind not in KINDS:
                raise TerminologyError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)} (or leave it empty)")
            if not _URI.match(values["system"]):
                raise TerminologyError(f"{where}: system {values['system']!r} must be a URI such as {SNOMED}")
            if values["system"] == SNOMED and not snomed_id_valid(values["code"]):
                raise TerminologyError(
                    f"{where}: {values['code']!r} is not a SNOMED CT identifier "
                    "(6-18 digits with a Verhoeff check digit)"
                )
            key = (kind, normalise(values["term"]))
            coding = Coding(values["system"], values["code"], values["display"])
            if key in entries and entries[key] != coding:
                raise TerminologyError(f"{where}: term {values['term']!r} is mapped twice to different codes")
            entries[key] = coding
        return cls(entries)

    def lookup(self, term: str, kind: str) -> Coding | None:
        """The site's coding for `term` in a list of `kind`, falling back to a row with no kind; None if unmapped."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        key = normalise(term)
        return self.entries.get((kind, key)) or self.entries.get(("", key))

    def __len__(self) -> int:
        return len(self.entries)
