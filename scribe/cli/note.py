"""`scribe note` and `scribe letter`: draft a note, or a letter, from audio or a transcript."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from scribe import pipeline
from scribe.config import Settings, load_settings
from scribe.errors import DraftError
from scribe.fileio import write_text_atomic
from scribe.notes.backends import BACKENDS, Backend, load_backend
from scribe.notes.inputs import load_document, load_transcript
from scribe.records import Letter, LetterKind, NoteDraft, NoteSection, Transcript

FORMATS = ("json", "markdown", "text", "pdf")
AUDIO_HINT = (
    "Audio (transcribed first) or a transcript JSON: scribe's own or minimal (segments: id, start, end, speaker, text)."
)


def register(app: typer.Typer) -> None:
    app.command("note")(note_command)
    app.command("letter")(letter_command)
    app.command("render")(render_command)


def _transcript(source: Path, settings: Settings, console: Console) -> Transcript:
    if source.suffix.lower() == ".json":
        return load_transcript(source)
    from scribe.cli.transcribe import transcribe_file

    transcript = transcribe_file(source, settings)
    console.print(f"transcribed {source.name}: {len(transcript.segments)} segments", highlight=False)
    return transcript


def _check_format(output_format: str, output: Path | None) -> None:
    if output_format not in FORMATS:
        raise typer.BadParameter(f"choose {', '.join(FORMATS)}", param_hint="--format")
    if output_format == "pdf" and output is None:
        raise typer.BadParameter("a PDF needs --output FILE", param_hint="--format")


def _backend(settings: Settings, backend: str | None, model: str | None, console: Console) -> Backend:
    if backend is not None and backend not in BACKENDS:
        raise typer.BadParameter(f"choose {', '.join(BACKENDS)}", param_hint="--backend")
    with console.status("loading the language model"):
        return load_backend(settings, backend, model)


def _emit(obj: NoteDraft | Letter, output_format: str, output: Path | None, console: Console) -> None:
    from scribe.notes import render

    if output_format == "pdf":
        assert output is not None
        (render.note_pdf if isinstance(obj, NoteDraft) else render.letter_pdf)(obj, output)  # type: ignore[arg-type]
        console.print(f"wrote {output}", highlight=False)
        return
    text = render.render(obj, output_format)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        write_text_atomic(output, text)
        console.print(f"wrote {output}", highlight=False)


def _report(draft: NoteDraft | Letter, console: Console) -> None:
    items = draft.grounded_items() if isinstance(draft, NoteDraft) else draft.statements()
    flagged = sum(1 for item in items if item.supported is False)
    omissions = len(draft.omissions) if isinstance(draft, NoteDraft) else 0
    total = next((t.wall_seconds for k, t in draft.timings.items() if k in ("draft", "letter")), 0.0)
    line = f"drafted in {total:.1f} s: {len(items)} statements, {flagged} flagged unsupported"
    if isinstance(draft, NoteDraft):
        line += f", {omissions} possible omissions"
    console.print(line + "; a clinician must review it before use", highlight=False, soft_wrap=True)
    if not draft.complete:
        console.print(f"[bold yellow]INCOMPLETE:[/] {draft.incomplete_reason}", highlight=False, soft_wrap=True)


def note_command(
    source: Path = typer.Argument(..., metavar="INPUT", help=AUDIO_HINT),
    template: str | None = typer.Option(None, "--template", "-t", help="gp, soap, clinic or a site's own."),  # noqa: UP007
    backend: str | None = typer.Option(None, "--backend", "-b", help="llamacpp, openai or transformers."),  # noqa: UP007
    model: str | None = typer.Option(None, "--model", "-m", help="LLM: catalogue name, GGUF file or server model."),  # noqa: UP007
    output_format: str = typer.Option("markdown", "--format", "-f", help="json, markdown, text or pdf."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),  # noqa: UP007
) -> None:
    """Draft a structured clinical note from INPUT; every statement cites its transcript evidence."""
    _check_format(output_format, output)
    console = Console(stderr=True)
    settings = load_settings()
    chosen = pipeline.note_template(settings, template)
    transcript = _transcript(source, settings, console)
    llm = _backend(settings, backend, model, console)

    def done(section: NoteSection) -> None:
        count = len(section.statements)
        state = f"{count} statement{'' if count == 1 else 's'}" if section.complete else f"INCOMPLETE ({section.error})"
        console.print(f"  {section.title}: {state}", highlight=False, soft_wrap=True)

    try:
        draft = pipeline.draft(transcript, settings, llm, chosen, on_section=done)
    finally:
        llm.close()
    _report(draft, console)
    _emit(draft, output_format, output, console)


def letter_command(
    source: Path = typer.Argument(..., metavar="INPUT", help=AUDIO_HINT),
    kind: str = typer.Option(..., "--kind", "-k", help="gp (GP or referral letter) or patient (plain language)."),
    note: Path | None = typer.Option(None, "--note", help="A reviewed note JSON to write from (else one is drafted)."),  # noqa: UP007
    template: str | None = typer.Option(None, "--template", "-t", help="Template when a note is drafted."),  # noqa: UP007
    backend: str | None = typer.Option(None, "--backend", "-b", help="llamacpp, openai or transformers."),  # noqa: UP007
    model: str | None = typer.Option(None, "--model", "-m", help="LLM: catalogue name, GGUF file or server model."),  # noqa: UP007
    output_format: str = typer.Option("markdown", "--format", "-f", help="json, markdown, text or pdf."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),  # noqa: UP007
) -> None:
    """Draft a letter from INPUT: to the GP, or to the patient in plain language (reading level measured)."""
    if kind not in ("gp", "patient"):
        raise typer.BadParameter("choose gp or patient", param_hint="--kind")
    _check_format(output_format, output)
    console = Console(stderr=True)
    settings = load_settings()
    reviewed = load_document(note) if note is not None else None
    if reviewed is not None and not isinstance(reviewed, NoteDraft):
        raise DraftError(f"{note} is a letter, not a note; give the note the letter should be written from")
    transcript = _transcript(source, settings, console)
    llm = _backend(settings, backend, model, console)
    try:
        if reviewed is None:
            reviewed = pipeline.draft(transcript, settings, llm, template)
        letter = pipeline.letter(reviewed, transcript, settings, llm, LetterKind(kind))
    finally:
        llm.close()
    _report(letter, console)
    if letter.readability is not None:
        r = letter.readability
        console.print(
            f"reading level: Flesch reading ease {r.flesch_reading_ease:.0f}, grade {r.flesch_kincaid_grade:.1f}",
            highlight=False,
        )
    _emit(letter, output_format, output, console)


def render_command(
    source: Path = typer.Argument(..., metavar="FILE", help="A note or letter JSON written by `scribe note`/`letter`."),
    output_format: str = typer.Option("markdown", "--format", "-f", help="json, markdown, text or pdf."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),  # noqa: UP007
) -> None:
    """Render a saved note or letter as Markdown, plain text or PDF, flags and evidence included."""
    _check_format(output_format, output)
    _emit(load_document(source), output_format, output, Console(stderr=True))
