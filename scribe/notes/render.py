"""Render notes and letters as Markdown, plain text or PDF, with every grounding verdict in plain sight.

A builder turns a `NoteDraft` or `Letter` into blocks (headings, alerts, paragraphs, bullets, tables)
whose runs carry meaning, not markup: a sentence, a verdict, a citation of transcript segments. Three
writers lay the same blocks out, so the formats cannot disagree about what a clinician is shown:

- unsupported items are marked ``⚠ UNSUPPORTED (reason)`` (Markdown, PDF) or ``[UNSUPPORTED: reason]``
  (text), in letters too, whether or not evidence is shown;
- items the grounding check has not seen are marked unchecked, never passed off as supported;
- evidence is the segment ids, compactly: ``[S3, S7]``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from fpdf import FPDF
from fpdf.fonts import FontFace

from scribe.errors import ConfigError
from scribe.fileio import write_bytes_atomic
from scribe.notes.readability import PLAIN_LANGUAGE_GRADE, as_sentence, is_plain, reading_age
from scribe.records import Grounded, Letter, LetterKind, NoteDraft, Readability

log = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("markdown", "text", "json")

# --- The document model --------------------------------------------------------------------------

Style = Literal["plain", "strong", "muted", "warn"]


@dataclass(frozen=True)
class Text:
    """Words to show; ``warn`` is for what the reader must not miss (an incomplete draft)."""

    text: str
    style: Style = "plain"


@dataclass(frozen=True)
class Verdict:
    """The grounding check's verdict on one item: True supported, False unsupported, None not checked."""

    supported: bool | None
    reason: str = ""


@dataclass(frozen=True)
class Cite:
    """The transcript segments an item rests on."""

    ids: tuple[int, ...]


Run = Text | Verdict | Cite
Line = tuple[Run, ...]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Alert:
    """A banner for the reviewer: what this document is and what in it needs attention."""

    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Paragraph:
    """Prose; each line after the first starts on a new line (a letter's closing and signature)."""

    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[Line, ...]


@dataclass(frozen=True)
class Table:
    """Rows of cells; ``lines`` is the same content one item a line, for writers without tables."""

    header: tuple[str, ...]
    rows: tuple[tuple[Line, ...], ...]
    lines: tuple[Line, ...]


Block = Heading | Alert | Paragraph | Bullets | Table

# --- From records to blocks ----------------------------------------------------------------------

G = TypeVar("G", bound=Grounded)

_OMISSION_KINDS = {
    "medication": "Medication",
    "allergy": "Allergy",
    "red_flag": "Red flag",
    "safety_netting": "Safety-netting",
}
LETTER_TITLES: dict[LetterKind, str] = {LetterKind.GP: "Letter to the GP", LetterKind.PATIENT: "Letter to the patient"}
"""Every letter's title, wherever it is shown: drafts, approved PDFs, the review page, FHIR DocumentReferences."""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y %H:%M %Z").strip()


def _meta(parts: Iterable[tuple[str, str]]) -> Line:
    text = " · ".join(f"{label}: {value}" for label, value in parts if value)
    return (Text(text, "muted"),) if text else ()


def _grounding_summary(items: Sequence[Grounded], noun: str) -> list[Line]:
    unsupported = sum(1 for i in items if i.supported is False)
    unchecked = sum(1 for i in items if i.supported is None)
    lines: list[Line] = []
    if unsupported:
        lines.append(
            (Text(f"{_plural(unsupported, noun)} not supported by the transcript: marked UNSUPPORTED.", "warn"),)
        )
    if unchecked:
        lines.append((Text(f"{_plural(unchecked, noun)} not yet checked against the transcript: marked unchecked."),))
    if items and not unsupported and not unchecked:
        lines.append((Text(f"All {_plural(len(items), noun)} checked against the transcript segments they cite."),))
    return lines


def _item(text: str, item: Grounded, evidence: bool) -> Line:
    runs: list[Run] = [Text(text), Verdict(item.supported, item.reason)]
    if evidence:
        runs.append(Cite(tuple(item.evidence)))
    return tuple(runs)


def _check_cells(item: Grounded, evidence: bool) -> tuple[Line, ...]:
    cells: list[Line] = [(Cite(tuple(item.evidence)),)] if evidence else []
    cells.append((Verdict(item.supported, item.reason),))
    return tuple(cells)


def _table(header: Sequence[str], items: Sequence[G], cells: Callable[[G], Sequence[str]], evidence: bool) -> Table:
    columns = (*header, *(("Evidence",) if evidence else ()), "Check")
    rows = tuple(tuple((Text(c),) for c in cells(i)) + _check_cells(i, evidence) for i in items)
    return Table(columns, rows, tuple(_item(i.claim(), i, evidence) for i in items))


def _structured(draft: NoteDraft, evidence: bool) -> list[Block]:
    none: Line = (Text("None recorded in the draft.", "muted"),)
    medications = _table(
        ("Medication", "Dose", "Route", "Frequency", "Change"),
        draft.medications,
        lambda m: (m.name, m.dose, m.route, m.frequency, m.change.value),
        evidence,
    )
    findings = _table(
        ("Finding", "Value"),
        draft.findings,
        lambda f: (f.name, " ".join(p for p in (f.value, f.unit) if p)),
        evidence,
    )
    allergies = Bullets(tuple(_item(a.claim(), a, evidence) for a in draft.allergies))
    problems = Bullets(tuple(_item(p.claim(), p, evidence) for p in draft.problems))
    blocks: list[Block] = []
    for title, block, present in (
        ("Medications", medications, draft.medications),
        ("Allergies", allergies, draft.allergies),
        ("Problems", problems, draft.problems),
        ("Findings", findings, draft.findings),
    ):
        blocks += [Heading(title), block if present else Paragraph((none,))]
    return blocks


def note_blocks(draft: NoteDraft, *, evidence: bool = True) -> list[Block]:
    """The layout of a note, independent of format: banner, sections, structured lists, possible omissions."""
    banner: list[Line] = [
        (Text("AI-drafted note awaiting clinician review: check every statement against the consultation.", "strong"),),
        _meta((("Template", draft.template), ("Model", draft.model), ("Backend", draft.backend))),
        _meta((("Drafted", _when(draft.created_at)),)),
    ]
    if not draft.complete:
        banner.append((Text(f"INCOMPLETE: {draft.incomplete_reason or 'drafting did not finish'}", "warn"),))
    if draft.condensed:
        banner.append((Text("The transcript was condensed to fit the model's context: details may be missing."),))
    banner += _grounding_summary(draft.grounded_items(), "item")
    blocks: list[Block] = [Heading(draft.title or f"Clinical note ({draft.template})", 1), Alert(tuple(banner))]
    for section in draft.sections:
        blocks.append(Heading(section.title))
        if not section.complete:
            blocks.append(Alert(((Text(f"SECTION INCOMPLETE: {section.error or 'drafting failed'}", "warn"),),)))
        if section.statements:
            blocks.append(Bullets(tuple(_item(s.text, s, evidence) for s in section.statements)))
        elif section.complete:
            blocks.append(Paragraph(((Text("Nothing drafted for this section.", "muted"),),)))
    blocks += _structured(draft, evidence)
    if draft.omissions:
        blocks.append(Heading("Possible omissions"))
        blocks.append(
            Paragraph(((Text("Said in the consultation but not in the note: check whether to add.", "muted"),),))
        )
        items = []
        for omission in draft.omissions:
            kind = _OMISSION_KINDS.get(omission.kind, omission.kind.replace("_", " ").capitalize())
            items.append((Text(f"{kind}: {omission.text}"), *((Cite(tuple(omission.evidence)),) if evidence else ())))
        blocks.append(Bullets(tuple(items)))
    return blocks


def _reading_level(kind: LetterKind, r: Readability) -> list[Line]:
    measured = (
        f"Reading level: Flesch-Kincaid grade {r.flesch_kincaid_grade:.1f} (reading age about "
        f"{reading_age(r):.0f}), Flesch reading ease {r.flesch_reading_ease:.0f}; "
        f"{_plural(r.words, 'word')} in {_plural(r.sentences, 'sentence')}."
    )
    lines: list[Line] = [(Text(measured),)]
    if kind == LetterKind.PATIENT:
        target = f"plain-language target for patients (grade {PLAIN_LANGUAGE_GRADE:g} or below)"
        lines.append((Text(f"Meets the {target}."),) if is_plain(r) else (Text(f"Above the {target}.", "warn"),))
    return lines


def _prose_lines(text: str) -> tuple[Line, ...]:
    return tuple((Text(line.strip()),) for line in text.splitlines() if line.strip())


def letter_blocks(letter: Letter, *, evidence: bool = False) -> list[Block]:
    """The layout of a letter: banner, salutation, paragraphs (verdicts always shown), closing."""
    banner: list[Line] = [
        (Text("AI-drafted letter awaiting clinician review: check every sentence before it is sent.", "strong"),),
        _meta((("Model", letter.model), ("Backend", letter.backend), ("Drafted", _when(letter.created_at)))),
    ]
    if not letter.complete:
        banner.append((Text(f"INCOMPLETE: {letter.incomplete_reason or 'drafting did not finish'}", "warn"),))
    banner += _grounding_summary(letter.statements(), "sentence")
    if letter.readability is not None:
        banner += _reading_level(letter.kind, letter.readability)
    blocks: list[Block] = [Heading(LETTER_TITLES.get(letter.kind, "Letter"), 1), Alert(tuple(banner))]
    if letter.salutation.strip():
        blocks.append(Paragraph(_prose_lines(letter.salutation)))
    for paragraph in letter.paragraphs:
        runs: list[Run] = []
        for statement in paragraph:
            if statement.text.strip():
                runs += _item(as_sentence(statement.text), statement, evidence)
        if runs:
            blocks.append(Paragraph((tuple(runs),)))
    if letter.closing.strip():
        blocks.append(Paragraph(_prose_lines(letter.closing)))
    return blocks


# --- Markdown and plain text ---------------------------------------------------------------------

_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_ORDERED = re.compile(r"^(\d+)([.)])(?=\s|$)")
_SPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown on one line: no emphasis, links, HTML, table breaks or list markers."""
    escaped = _MD_INLINE.sub(r"\\\1", _one_line(text))
    if escaped[:1] in ("-", "+", "#", "="):  # a list marker, heading or rule at the start of a line
        return f"\\{escaped}"
    return _MD_ORDERED.sub(r"\1\\\2", escaped)


def _cite(ids: Sequence[int]) -> str:
    return f"[{', '.join(f'S{i}' for i in ids)}]" if ids else "[no evidence]"


def _md_run(run: Run, in_table: bool) -> str:
    match run:
        case Text(text, "strong"):
            return f"**{escape_markdown(text)}**"
        case Text(text, "muted"):
            return f"*{escape_markdown(text)}*"
        case Text(text, "warn"):
            return f"**⚠ {escape_markdown(text)}**"
        case Text(text, _):
            return escape_markdown(text)
        case Verdict(False, reason):
            return "**⚠ UNSUPPORTED**" + (f" ({escape_markdown(reason)})" if reason.strip() else "")
        case Verdict(None, _):
            return "*(unchecked)*"
        case Verdict(True, _):
            return "✓" if in_table else ""
        case Cite(ids):  # brackets kept literal: text is escaped and a space always follows, so no link can form
            return _cite(ids)
    raise TypeError(f"not a run: {run!r}")


def _md_line(line: Line, in_table: bool = False) -> str:
    return " ".join(part for run in line if (part := _md_run(run, in_table)))


def _md_block(block: Block) -> str:
    match block:
        case Heading(text, level):
            return f"{'#' * level} {escape_markdown(text)}"
        case Alert(lines):
            return "\n>\n".join(f"> {_md_line(line)}" for line in lines if line)
        case Paragraph(lines):
            return "\\\n".join(_md_line(line) for line in lines)
        case Bullets(items):
            return "\n".join(f"- {_md_line(item)}" for item in items)
        case Table(header, rows, _):
            head = f"| {' | '.join(escape_markdown(h) for h in header)} |"
            rule = f"|{'|'.join('---' for _ in header)}|"
            body = [f"| {' | '.join(_md_line(cell, True) for cell in row)} |" for row in rows]
            return "\n".join([head, rule, *body])
    raise TypeError(f"not a block: {block!r}")


def _text_run(run: Run) -> str:
    match run:
        case Text(text, _):
            return _one_line(text)
        case Verdict(False, reason):
            return f"[UNSUPPORTED: {_one_line(reason)}]" if reason.strip() else "[UNSUPPORTED]"
        case Verdict(None, _):
            return "[UNCHECKED]"
        case Verdict(True, _):
            return ""
        case Cite(ids):
            return _cite(ids)
    raise TypeError(f"not a run: {run!r}")


def _text_line(line: Line) -> str:
    return " ".join(part for run in line if (part := _text_run(run)))


def _text_block(block: Block) -> str:
    match block:
        case Heading(text, level):
            title = _one_line(text)
            return f"{title}\n{('=' if level == 1 else '-') * len(title)}"
        case Alert(lines):
            return "\n".join(f"| {_text_line(line)}" for line in lines if line)
        case Paragraph(lines):
            return "\n".join(_text_line(line) for line in lines)
        case Bullets(items) | Table(_, _, items):
            return "\n".join(f"- {_text_line(item)}" for item in items)
    raise TypeError(f"not a block: {block!r}")


def _join(blocks: Iterable[Block], write: Callable[[Block], str]) -> str:
    return "\n\n".join(write(block) for block in blocks) + "\n"


def note_markdown(draft: NoteDraft, *, evidence: bool = True) -> str:
    """The note as Markdown, the same the review app shows; ``evidence`` adds segment ids like ``[S3, S7]``."""
    return _join(note_blocks(draft, evidence=evidence), _md_block)


def note_text(draft: NoteDraft, *, evidence: bool = True) -> str:
    """The note as plain text, for pasting into a record system; flags read ``[UNSUPPORTED: reason]``."""
    return _join(note_blocks(draft, evidence=evidence), _text_block)


def letter_markdown(letter: Letter, *, evidence: bool = False) -> str:
    """The letter as Markdown; unsupported and unchecked sentences are flagged even without evidence."""
    return _join(letter_blocks(letter, evidence=evidence), _md_block)


def letter_text(letter: Letter, *, evidence: bool = False) -> str:
    """The letter as plain text; unsupported and unchecked sentences are flagged even without evidence."""
    return _join(letter_blocks(letter, evidence=evidence), _text_block)


def render(obj: NoteDraft | Letter, fmt: str) -> str:
    """``obj`` as ``fmt``: "markdown", "text" or "json" (the record itself); notes show evidence, letters not."""
    if fmt == "json":
        return obj.model_dump_json(indent=2) + "\n"
    writers: dict[str, Callable[[Block], str]] = {"markdown": _md_block, "text": _text_block}
    if fmt not in writers:
        raise ConfigError(f"Unknown output format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    blocks = note_blocks(obj) if isinstance(obj, NoteDraft) else letter_blocks(obj)
    return _join(blocks, writers[fmt])


# --- PDF -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfFonts:
    """The TrueType files a PDF is set in; any missing file means the core Helvetica font instead."""

    regular: Path
    bold: Path

    def available(self) -> bool:
        return self.regular.is_file() and self.bold.is_file()


DEJAVU = PdfFonts(
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)
"""Debian's fonts-dejavu-core: wide Unicode coverage (accents, µ, dashes, ⚠, ✓) under a free licence."""

_RED = (170, 0, 0)
_GREY = (95, 95, 95)
_AMBER = (215, 140, 0)
_BLACK = (0, 0, 0)
_LATIN1_SUBSTITUTES = str.maketrans(
    {"—": "-", "–": "-", "−": "-", "•": "-", "⚠": "!", "✓": "ok", "‘": "'", "’": "'", "“": '"', "”": '"'}
    | {"…": "...", "→": "->", "≤": "<=", "≥": ">=", "\ufffd": "?"}
)


def _to_latin1(text: str) -> str:
    """``text`` reduced to latin-1 for the core fonts: dashes and quotes simplified, accents kept where latin-1
    has them, anything else shown as '?' so no character disappears silently."""
    out = []
    for char in text.translate(_LATIN1_SUBSTITUTES):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)


class _Pdf(FPDF):
    """An A4 page with the review status and page number in the footer of every page."""

    def __init__(self, fonts: PdfFonts | None, footer: str) -> None:
        super().__init__(format="A4")
        self._footer = footer
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)
        if fonts is not None and fonts.available():
            self.add_font("body", "", str(fonts.regular))
            self.add_font("body", "B", str(fonts.bold))
            regular, bold = self.fonts["body"], self.fonts["bodyB"]
            self._glyphs = set(regular.cmap) & set(bold.cmap)  # type: ignore[union-attr]
            self._replacement = "\ufffd" if 0xFFFD in self._glyphs else "?"
            self._family = "body"
        else:
            if fonts is not None:
                log.warning("PDF fonts %s not found: using Helvetica, latin-1 only", fonts.regular)
            self._glyphs = None
            self._family = "helvetica"

    def fit(self, text: str) -> str:
        """``text`` with every character the font cannot draw replaced by a visible mark."""
        if self._glyphs is None:
            return _to_latin1(text)
        missing = {c for c in text if ord(c) not in self._glyphs and not c.isspace()}
        if missing:
            log.warning("PDF font has no glyph for %s: shown as %s", "".join(sorted(missing)), self._replacement)
        return "".join(self._replacement if c in missing else c for c in text)

    def use(self, bold: bool = False, color: tuple[int, int, int] = _BLACK, size: float = 10.5) -> None:
        self.set_font(self._family, "B" if bold else "", size)
        self.set_text_color(*color)

    def footer(self) -> None:
        self.set_y(-12)
        self.use(color=_GREY, size=8)
        self.cell(0, 5, self.fit(f"{self._footer} · page {self.page_no()}/{{nb}}"), align="C")


_LINE_HEIGHT = 5.4


def _pdf_parts(run: Run, in_table: bool) -> list[tuple[str, bool, tuple[int, int, int]]]:
    """A run as (text, bold, colour) pieces."""
    match run:
        case Text(text, "strong"):
            return [(_one_line(text), True, _BLACK)]
        case Text(text, "muted"):
            return [(_one_line(text), False, _GREY)]
        case Text(text, "warn"):
            return [(f"⚠ {_one_line(text)}", True, _RED)]
        case Text(text, _):
            return [(_one_line(text), False, _BLACK)]
        case Verdict(False, reason):
            return [("⚠ UNSUPPORTED", True, _RED)] + (
                [(f"({_one_line(reason)})", False, _RED)] if reason.strip() else []
            )
        case Verdict(None, _):
            return [("(unchecked)", False, _GREY)]
        case Verdict(True, _):
            return [("✓", False, _BLACK)] if in_table else []
        case Cite(ids):
            return [(_cite(ids), False, _GREY)]
    raise TypeError(f"not a run: {run!r}")


def _pdf_line(pdf: _Pdf, line: Line) -> None:
    first = True
    for run in line:
        for text, bold, color in _pdf_parts(run, in_table=False):
            if not text:
                continue
            pdf.use(bold, color)
            pdf.write(_LINE_HEIGHT, pdf.fit(text if first else f" {text}"))
            first = False
    pdf.ln(_LINE_HEIGHT)


def _pdf_lines(pdf: _Pdf, lines: Iterable[Line]) -> None:
    for line in lines:
        if line:
            _pdf_line(pdf, line)


def _pdf_indented(pdf: _Pdf, indent: float, draw: Callable[[], None]) -> None:
    margin = pdf.l_margin
    pdf.set_left_margin(margin + indent)
    pdf.set_x(margin + indent)
    try:
        draw()
    finally:
        pdf.set_left_margin(margin)
        pdf.set_x(margin)


def _pdf_cell(pdf: _Pdf, cell: Line) -> tuple[str, FontFace]:
    parts = [p for run in cell for p in _pdf_parts(run, in_table=True) if p[0]]
    text = pdf.fit(" ".join(p[0] for p in parts))
    if any(color == _RED for _, _, color in parts):
        return text, FontFace(emphasis="BOLD", color=_RED)
    if parts and all(color == _GREY for _, _, color in parts):
        return text, FontFace(emphasis="", color=_GREY)
    return text, FontFace(emphasis="", color=_BLACK)


def _column_widths(pdf: _Pdf, cells: Sequence[Sequence[str]]) -> tuple[float, ...]:
    """Relative widths: each column as wide as its heading and, up to a limit, its longest cell."""
    widest = 55.0  # mm: longer text wraps
    return tuple(
        max(pdf.get_string_width(cells[0][i]) * 1.15, min(widest, max(pdf.get_string_width(r[i]) for r in cells))) + 4
        for i in range(len(cells[0]))
    )


def _pdf_block(pdf: _Pdf, block: Block) -> None:
    match block:
        case Heading(text, level):
            pdf.ln(2 if level > 1 else 0)
            if pdf.will_page_break(20):  # keep a heading with what follows it
                pdf.add_page()
            pdf.use(bold=True, size=16 if level == 1 else 12.5)
            pdf.multi_cell(0, 8 if level == 1 else 7, pdf.fit(_one_line(text)), new_x="LMARGIN", new_y="NEXT")
        case Alert(lines):
            top, page = pdf.get_y(), pdf.page_no()
            _pdf_indented(pdf, 4, lambda: _pdf_lines(pdf, lines))
            if pdf.page_no() == page:  # an amber bar beside the banner
                pdf.set_draw_color(*_AMBER)
                pdf.set_line_width(1.2)
                pdf.line(pdf.l_margin + 0.8, top, pdf.l_margin + 0.8, pdf.get_y())
                pdf.set_draw_color(*_BLACK)
                pdf.set_line_width(0.2)
            pdf.ln(2)
        case Paragraph(lines):
            _pdf_lines(pdf, lines)
            pdf.ln(2)
        case Bullets(items):
            for item in items:
                pdf.use()
                pdf.write(_LINE_HEIGHT, pdf.fit("•"))
                _pdf_indented(pdf, 5, lambda item=item: _pdf_line(pdf, item))
            pdf.ln(1.5)
        case Table(header, rows, _):
            pdf.use(size=9.5)
            titles = [pdf.fit(title) for title in header]
            body = [[_pdf_cell(pdf, cell) for cell in row] for row in rows]
            with pdf.table(
                col_widths=_column_widths(pdf, [titles, *([text for text, _ in row] for row in body)]),
                text_align="LEFT",
                line_height=4.8,
                headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            ) as table:
                heading = table.row()
                for title in titles:
                    heading.cell(title)
                for row in body:
                    out = table.row()
                    for text, face in row:
                        out.cell(text, style=face)
            pdf.ln(3)
        case _:
            raise TypeError(f"not a block: {block!r}")


def pdf_bytes(blocks: Sequence[Block], *, footer: str, fonts: PdfFonts | None = DEJAVU) -> bytes:
    """Lay ``blocks`` out on A4 pages; ``fonts`` None (or missing files) sets them in Helvetica, latin-1 only."""
    pdf = _Pdf(fonts, footer)
    pdf.set_title(next((b.text for b in blocks if isinstance(b, Heading)), "scribe"))
    pdf.set_creator("scribe")
    pdf.add_page()
    for block in blocks:
        _pdf_block(pdf, block)
    return bytes(pdf.output())


def note_pdf(draft: NoteDraft, path: Path, *, evidence: bool = True, fonts: PdfFonts | None = DEJAVU) -> None:
    """Write the note as a PDF at ``path``, whole or not at all."""
    footer = "AI-drafted note awaiting clinician review"
    write_bytes_atomic(path, pdf_bytes(note_blocks(draft, evidence=evidence), footer=footer, fonts=fonts))


def letter_pdf(letter: Letter, path: Path, *, evidence: bool = False, fonts: PdfFonts | None = DEJAVU) -> None:
    """Write the letter as a PDF at ``path``, whole or not at all."""
    footer = "AI-drafted letter awaiting clinician review"
    write_bytes_atomic(path, pdf_bytes(letter_blocks(letter, evidence=evidence), footer=footer, fonts=fonts))
