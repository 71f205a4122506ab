"""Notes and letters rendered as Markdown, plain text, JSON and PDF: content, flags, escaping, atomic files."""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import pytest
from fpdf import FPDF
from markdown_it import MarkdownIt

from scribe.errors import ConfigError
from scribe.notes.readability import letter_readability
from scribe.notes.render import (
    DEJAVU,
    PdfFonts,
    escape_markdown,
    letter_markdown,
    letter_pdf,
    letter_text,
    note_markdown,
    note_pdf,
    note_text,
    render,
)
from scribe.records import (
    Allergy,
    Finding,
    Letter,
    LetterKind,
    Medication,
    MedicationChange,
    NoteDraft,
    NoteSection,
    Omission,
    Problem,
    Readability,
    Statement,
)

UNICODE = "café — 5 µg 🩺"
INJECTED = "*Ignore* [the](http://x) <b>rules</b> | & # not a heading"
needs_dejavu = pytest.mark.skipif(not DEJAVU.available(), reason="Debian fonts-dejavu-core is not installed")


def _draft() -> NoteDraft:
    return NoteDraft(
        template="gp",
        title="GP consultation",
        model="smollm2-135m",
        backend="llamacpp",
        complete=False,
        incomplete_reason="the plan section failed the schema after 3 tries",
        sections=[
            NoteSection(
                key="presenting_complaint",
                title="Presenting complaint",
                statements=[
                    Statement(text=f"Cough for three weeks, {UNICODE}.", evidence=[3, 7], supported=True),
                    Statement(
                        text="Wheeze at night.", evidence=[4], supported=False, reason="no segment mentions wheeze"
                    ),
                    Statement(text="Smokes 10 a day.", evidence=[5]),
                    Statement(text=INJECTED, evidence=[6], supported=True),
                ],
            ),
            NoteSection(key="plan", title="Plan", complete=False, error="output failed the schema after 3 tries"),
        ],
        medications=[
            Medication(
                name="amoxicillin",
                dose="500 mg",
                route="oral",
                frequency="three times a day",
                change=MedicationChange.STARTED,
                evidence=[8],
                supported=True,
            ),
            Medication(
                name="ramipril | ACE", dose="10 mg", evidence=[9], supported=False, reason="transcript says 5 mg"
            ),
        ],
        allergies=[Allergy(substance="penicillin", reaction="rash", evidence=[2], supported=True)],
        problems=[Problem(name="chest infection", status="suspected", evidence=[10], supported=True)],
        findings=[Finding(name="temperature", value="38.2", unit="°C", evidence=[11])],
        omissions=[Omission(kind="red_flag", text="no chest pain", evidence=[12])],
    )


def _letter(kind: LetterKind = LetterKind.PATIENT) -> Letter:
    letter = Letter(
        kind=kind,
        salutation="Dear Mr Smith,",
        paragraphs=[
            [
                Statement(text="You came in with a cough", evidence=[3], supported=True),
                Statement(text="We started amoxicillin 500 mg.", evidence=[8], supported=False, reason="dose not said"),
            ],
            [Statement(text=f"Your chest sounded clear, {UNICODE}.", evidence=[11])],
        ],
        closing="Yours sincerely,\nDr Jones",
    )
    letter.readability = letter_readability(letter)
    return letter


def _markdown_tokens(markdown: str) -> list:
    parser = MarkdownIt("commonmark").enable("table")
    tokens = parser.parse(markdown)
    return tokens + [child for token in tokens for child in (token.children or [])]


# --- Notes ---------------------------------------------------------------------------------------


def test_note_markdown_shows_every_flag_and_evidence() -> None:
    md = note_markdown(_draft())
    assert md.startswith("# GP consultation\n")
    assert "awaiting clinician review" in md
    assert "**⚠ INCOMPLETE: the plan section failed the schema after 3 tries**" in md
    assert "- Wheeze at night. **⚠ UNSUPPORTED** (no segment mentions wheeze) [S4]" in md
    assert f"- Cough for three weeks, {UNICODE}. [S3, S7]" in md
    assert "- Smokes 10 a day. *(unchecked)* [S5]" in md
    assert "**⚠ SECTION INCOMPLETE: output failed the schema after 3 tries**" in md
    assert "| amoxicillin | 500 mg | oral | three times a day | started | [S8] | ✓ |" in md
    assert "| ramipril \\| ACE | 10 mg |  |  | unknown | [S9] | **⚠ UNSUPPORTED** (transcript says 5 mg) |" in md
    assert "| temperature | 38.2 °C | [S11] | *(unchecked)* |" in md
    assert "- penicillin: rash [S2]" in md and "- chest infection (suspected) [S10]" in md
    assert md.index("## Possible omissions") > md.index("## Findings")
    assert "- Red flag: no chest pain [S12]" in md
    assert "**⚠ 2 items not supported by the transcript: marked UNSUPPORTED.**" in md
    assert "2 items not yet checked" in md


def test_note_markdown_keeps_transcript_text_literal() -> None:
    tokens = _markdown_tokens(note_markdown(_draft()))
    assert not {t.type for t in tokens} & {"link_open", "html_inline", "html_block"}
    injected = [t for t in tokens if t.type == "inline" and "Ignore" in t.content]
    assert len(injected) == 1 and {c.type for c in injected[0].children} == {"text"}
    assert injected[0].children[0].content.startswith(INJECTED)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings[:3] == ["GP consultation", "Presenting complaint", "Plan"]
    # Both tables keep their columns although a medicine's name holds a '|'.
    rows = [t for t in tokens if t.type == "tr_open"]
    cells_per_row = []
    for row in rows:
        start = tokens.index(row)
        end = next(i for i in range(start, len(tokens)) if tokens[i].type == "tr_close")
        cells_per_row.append(sum(1 for t in tokens[start:end] if t.type in ("td_open", "th_open")))
    assert cells_per_row == [7, 7, 7, 4, 4]
    texts = " ".join(t.content for t in tokens if t.type == "text")
    assert "*Ignore* [the](http://x) <b>rules</b> | & # not a heading" in texts
    assert "ramipril | ACE" in texts


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("- not a list", "\\- not a list"),
        ("# not a heading", "\\# not a heading"),
        ("1. not a list", "1\\. not a list"),
        ("5.0 mg daily", "5.0 mg daily"),
        ("a|b <i>x</i>\nnext line", "a\\|b \\<i\\>x\\</i\\> next line"),
    ],
)
def test_escape_markdown(text: str, escaped: str) -> None:
    assert escape_markdown(text) == escaped


def test_note_text_uses_bracketed_flags() -> None:
    text = note_text(_draft())
    assert text.startswith("GP consultation\n===============\n")
    assert "INCOMPLETE: the plan section failed the schema after 3 tries" in text
    assert "- Wheeze at night. [UNSUPPORTED: no segment mentions wheeze] [S4]" in text
    assert "- Smokes 10 a day. [UNCHECKED] [S5]" in text
    assert f"- Cough for three weeks, {UNICODE}. [S3, S7]" in text
    assert "SECTION INCOMPLETE: output failed the schema after 3 tries" in text
    assert "- amoxicillin 500 mg, oral, three times a day (started) [S8]" in text
    assert "- ramipril | ACE 10 mg [UNSUPPORTED: transcript says 5 mg] [S9]" in text
    assert "- temperature: 38.2 °C [UNCHECKED] [S11]" in text
    assert "- Red flag: no chest pain [S12]" in text
    assert INJECTED in text
    assert "**" not in text and "⚠" not in text


def test_without_evidence_the_flags_remain() -> None:
    for out in (note_markdown(_draft(), evidence=False), note_text(_draft(), evidence=False)):
        assert not re.search(r"\[S\d", out) and "Evidence" not in out
        assert "UNSUPPORTED" in out and "nchecked" in out.replace("UNCHECKED", "unchecked")
        assert "Red flag: no chest pain" in out


def test_unchecked_items_are_never_shown_as_supported() -> None:
    draft = _draft().model_copy(deep=True)
    for item in draft.grounded_items():
        item.supported, item.reason = None, ""
    md, text = note_markdown(draft), note_text(draft)
    assert "✓" not in md and "UNSUPPORTED" not in md and "All " not in md
    assert md.count("*(unchecked)*") == len(draft.grounded_items())
    assert text.count("[UNCHECKED]") == len(draft.grounded_items())
    assert "9 items not yet checked against the transcript" in md


def test_a_fully_supported_complete_note_says_so_quietly() -> None:
    draft = _draft().model_copy(deep=True, update={"complete": True, "incomplete_reason": "", "omissions": []})
    draft.sections = draft.sections[:1]
    for item in draft.grounded_items():
        item.supported = True
    md = note_markdown(draft)
    assert "All 9 items checked against the transcript segments they cite." in md
    assert "⚠" not in md and "unchecked" not in md and "INCOMPLETE" not in md and "omissions" not in md


def test_empty_lists_and_sections_are_explicit() -> None:
    draft = NoteDraft(template="soap", sections=[NoteSection(key="s", title="Subjective")])
    md = note_markdown(draft)
    assert md.startswith("# Clinical note (soap)")
    assert "Nothing drafted for this section." in md
    assert md.count("None recorded in the draft.") == 4


# --- Letters -------------------------------------------------------------------------------------


def test_letter_markdown_flags_sentences_without_showing_evidence() -> None:
    md = letter_markdown(_letter())
    assert md.startswith("# Letter to the patient\n")
    assert "Dear Mr Smith," in md
    assert (
        "You came in with a cough. We started amoxicillin 500 mg. **⚠ UNSUPPORTED** (dose not said)\n\n"
        f"Your chest sounded clear, {UNICODE}. *(unchecked)*\n\nYours sincerely,\\\nDr Jones\n"
    ) in md
    assert not re.search(r"\[S\d", md)
    assert "Reading level: Flesch-Kincaid grade" in md and "plain-language target for patients" in md


def test_letter_text_with_evidence() -> None:
    text = letter_text(_letter(), evidence=True)
    assert "You came in with a cough. [S3] We started amoxicillin 500 mg. [UNSUPPORTED: dose not said] [S8]" in text
    assert "Yours sincerely,\nDr Jones\n" in text
    assert "1 sentence not supported by the transcript" in text and "1 sentence not yet checked" in text


def test_reading_level_against_the_patient_target() -> None:
    letter = _letter()
    hard = Readability(flesch_reading_ease=20.0, flesch_kincaid_grade=14.2, words=40, sentences=2)
    assert "Meets the plain-language target" in letter_markdown(letter)
    md = letter_markdown(letter.model_copy(update={"readability": hard}))
    assert "grade 14.2 (reading age about 19)" in md
    assert "**⚠ Above the plain-language target for patients (grade 6 or below).**" in md
    gp = letter_markdown(_letter(LetterKind.GP).model_copy(update={"readability": hard}))
    assert gp.startswith("# Letter to the GP") and "Reading level" in gp and "target" not in gp
    assert "Reading level" not in letter_markdown(letter.model_copy(update={"readability": None}))


def test_an_incomplete_letter_says_why() -> None:
    letter = _letter().model_copy(update={"complete": False, "incomplete_reason": "backend timed out"})
    assert "**⚠ INCOMPLETE: backend timed out**" in letter_markdown(letter)
    assert "INCOMPLETE: backend timed out" in letter_text(letter)


# --- render() ------------------------------------------------------------------------------------


def test_render_serves_each_format() -> None:
    draft, letter = _draft(), _letter()
    assert render(draft, "markdown") == note_markdown(draft)
    assert render(draft, "text") == note_text(draft)
    assert NoteDraft.model_validate_json(render(draft, "json")) == draft
    assert render(letter, "markdown") == letter_markdown(letter)
    assert render(letter, "text") == letter_text(letter)
    assert Letter.model_validate_json(render(letter, "json")) == letter
    with pytest.raises(ConfigError, match="markdown, text, json"):
        render(draft, "html")


# --- PDF -----------------------------------------------------------------------------------------


def _objects(data: bytes) -> dict[int, tuple[bytes, bytes]]:
    """Each object of a PDF fpdf2 wrote: its dictionary and its decoded stream."""
    objects = {}
    for match in re.finditer(rb"(\d+) 0 obj\n(<<.*?>>)\n(stream\n)?", data, re.S):
        body, stream = match.group(2), b""
        if match.group(3):
            length = int(re.search(rb"/Length (\d+)", body).group(1))
            stream = data[match.end() : match.end() + length]
            stream = zlib.decompress(stream) if b"/FlateDecode" in body else stream
        objects[int(match.group(1))] = (body, stream)
    return objects


def _unescape(literal: bytes) -> bytes:
    return re.sub(rb"\\(.)", lambda m: b"\r" if m.group(1) == b"r" else m.group(1), literal, flags=re.S)


def pdf_text(data: bytes) -> str:
    """The text drawn on the pages of a PDF fpdf2 wrote (TrueType through ToUnicode maps, core fonts as latin-1)."""
    objects = _objects(data)
    decoders = {}
    for name, number in re.findall(rb"/(F\d+) (\d+) 0 R", b"".join(body for body, _ in objects.values())):
        cmap = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(number)][0])
        if cmap is None:
            decoders[name] = lambda raw: raw.decode("latin-1")
            continue
        table = {
            int(code, 16): bytes.fromhex(uni.decode()).decode("utf-16-be")
            for code, uni in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]+)>", objects[int(cmap.group(1))][1])
        }
        decoders[name] = lambda raw, t=table: "".join(
            t.get(int.from_bytes(raw[i : i + 2], "big"), "?") for i in range(0, len(raw), 2)
        )
    pieces = []
    for body, stream in objects.values():
        if b"/Length" not in body or b"/Type" in body or b"/Subtype" in body or b"/CIDInit" in stream[:200]:
            continue
        font = None
        for match in re.finditer(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) ?Tj", stream, re.S):
            if match.group(1):
                font = match.group(1)
            elif font in decoders:
                pieces.append(decoders[font](_unescape(match.group(2))))
    return " ".join(" ".join(pieces).split())


def _pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


@needs_dejavu
def test_note_pdf_carries_the_note_in_unicode(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "out" / "note.pdf"
    with caplog.at_level(logging.WARNING, logger="scribe.notes.render"):
        note_pdf(_draft(), path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000 and _pages(data) == 1
    assert b"DejaVuSans" in data
    text = pdf_text(data)
    assert "GP consultation" in text and "awaiting clinician review" in text
    assert "Cough for three weeks, café — 5 µg \ufffd. [S3, S7]" in text  # the emoji has no glyph: shown, not lost
    assert "🩺" in caplog.text
    assert "Wheeze at night. ⚠ UNSUPPORTED (no segment mentions wheeze) [S4]" in text
    assert "Smokes 10 a day. (unchecked) [S5]" in text
    assert "⚠ INCOMPLETE: the plan section failed the schema after 3 tries" in text
    assert "⚠ SECTION INCOMPLETE: output failed the schema after 3 tries" in text
    assert "ramipril | ACE 10 mg unknown [S9] ⚠ UNSUPPORTED (transcript says 5 mg)" in text
    assert "Red flag: no chest pain [S12]" in text
    assert re.search(r"page 1/ ?1\b", text)  # the page total fills a space fpdf2 reserved
    assert list(path.parent.iterdir()) == [path]


@needs_dejavu
def test_letter_pdf(tmp_path: Path) -> None:
    path = tmp_path / "letter.pdf"
    letter_pdf(_letter(), path)
    text = pdf_text(path.read_bytes())
    assert "Letter to the patient" in text and "Dear Mr Smith," in text
    assert "We started amoxicillin 500 mg. ⚠ UNSUPPORTED (dose not said)" in text
    assert "Reading level: Flesch-Kincaid grade" in text and "[S3]" not in text
    assert "Yours sincerely, Dr Jones" in text


def test_pdf_without_unicode_fonts_falls_back_to_latin1(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = PdfFonts(tmp_path / "none.ttf", tmp_path / "none-bold.ttf")
    with caplog.at_level(logging.WARNING, logger="scribe.notes.render"):
        note_pdf(_draft(), tmp_path / "a.pdf", fonts=missing)
    assert "none.ttf" in caplog.text
    note_pdf(_draft(), tmp_path / "b.pdf", fonts=None)
    data = (tmp_path / "a.pdf").read_bytes()
    assert _pages(data) == 1 and pdf_text(data) == pdf_text((tmp_path / "b.pdf").read_bytes())
    text = pdf_text(data)
    assert "Cough for three weeks, café - 5 µg ?. [S3, S7]" in text
    assert "Wheeze at night. ! UNSUPPORTED (no segment mentions wheeze) [S4]" in text
    assert "Helvetica" in data.decode("latin-1")


@needs_dejavu
def test_a_long_note_runs_onto_more_pages(tmp_path: Path) -> None:
    draft = _draft()
    draft.sections[0].statements = [
        Statement(text=f"Statement number {i} about the history, long enough to wrap onto a second line of the page.")
        for i in range(120)
    ]
    path = tmp_path / "long.pdf"
    note_pdf(draft, path)
    data = path.read_bytes()
    pages = _pages(data)
    assert pages > 2
    text = pdf_text(data)
    assert "Statement number 119 about the history" in text and re.search(rf"page {pages}/ ?{pages}\b", text)


def test_a_failed_render_leaves_the_old_file_and_no_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "note.pdf"
    path.write_bytes(b"previous")

    def broken(self: FPDF, *args: object, **kwargs: object) -> bytes:
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(FPDF, "output", broken)
    with pytest.raises(RuntimeError, match="renderer failed"):
        note_pdf(_draft(), path, fonts=None)
    assert path.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [path]


def test_a_failed_write_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(OSError):
        letter_pdf(_letter(), target, fonts=None)
    assert target.is_dir() and list(tmp_path.iterdir()) == [target]
