"""`scribe transcribe` and `scribe enrol`: audio files to attributed transcripts."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from scribe import pipeline
from scribe.asr import speakers as spk
from scribe.asr.engine import load_engine
from scribe.asr.formats import format_transcript
from scribe.asr.transcribe import enrolment_path
from scribe.audio.decode import decode_file
from scribe.config import Settings, load_settings
from scribe.fileio import write_text_atomic
from scribe.records import Transcript


def register(app: typer.Typer) -> None:
    """Add ``transcribe`` and ``enrol`` to the root app."""
    app.command("transcribe")(transcribe_command)
    app.command("enrol")(enrol_command)


def transcribe_command(
    audio: Path = typer.Argument(..., help="Audio file: wav, flac, mp3, m4a/aac, ogg/opus, webm; mono or stereo."),
    model: str | None = typer.Option(None, "--model", "-m", help="Catalogue name or CTranslate2 folder."),  # noqa: UP007
    device: str | None = typer.Option(None, help="auto, cpu or cuda."),  # noqa: UP007
    language: str | None = typer.Option(None, "--language", "-l", help="Force a language, e.g. en."),  # noqa: UP007
    output_format: str = typer.Option("text", "--format", "-f", help="text, json, srt or vtt."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),  # noqa: UP007
    speakers: str = typer.Option("auto", help="auto, channel, embedding, text or none."),
    clinician_channel: int | None = typer.Option(None, help="Stereo channel carrying the clinician (0 or 1)."),  # noqa: UP007
    beam_size: int | None = typer.Option(None, min=1, max=10, help="Beam search width."),  # noqa: UP007
    batched: bool | None = typer.Option(None, "--batched/--sequential", help="Batched inference."),  # noqa: UP007
    vocabulary: bool | None = typer.Option(  # noqa: UP007
        None, "--vocabulary/--no-vocabulary", help="Steer recognition with the clinical vocabulary."
    ),
) -> None:
    """Transcribe AUDIO into a transcript with each segment labelled clinician or patient."""
    if output_format not in ("text", "json", "srt", "vtt"):
        raise typer.BadParameter("choose text, json, srt or vtt", param_hint="--format")
    if speakers not in ("auto", "channel", "embedding", "text", "none"):
        raise typer.BadParameter("choose auto, channel, embedding, text or none", param_hint="--speakers")
    settings = load_settings(clinician_channel=clinician_channel, vocabulary=vocabulary)
    result = transcribe_file(
        audio,
        settings,
        model=model,
        device=device,
        language=language,
        speakers=speakers,
        beam_size=beam_size,
        batched=batched,
    )
    text = format_transcript(result, output_format)  # type: ignore[arg-type]
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text_atomic(output, text)
        Console(stderr=True).print(f"wrote {output} ({len(result.segments)} segments)", highlight=False)


def transcribe_file(
    audio: Path,
    settings: Settings,
    *,
    model: str | None = None,
    device: str | None = None,
    language: str | None = None,
    speakers: str = "auto",
    beam_size: int | None = None,
    batched: bool | None = None,
) -> Transcript:
    """Decode and transcribe one file with a progress bar on stderr (shared by `transcribe` and `note`)."""
    decoded = pipeline.decode_audio(audio, settings)
    engine = load_engine(settings, model=model, device=device)
    progress = Progress(
        TextColumn("transcribing {task.fields[name]}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s of audio"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("asr", total=decoded.duration, name=audio.name)
        return pipeline.transcribe_audio(
            decoded,
            settings,
            engine,
            speakers=speakers,  # type: ignore[arg-type]
            language=language,
            beam_size=beam_size,
            batched=batched,
            on_progress=lambda s: progress.update(task, completed=s),
        )


def enrol_command(
    clip: Path = typer.Argument(..., help="A recording of the clinician alone speaking, 10 s or more."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Default: DATA_DIR/enrolment/clinician.npy."),  # noqa: UP007
) -> None:
    """Enrol the clinician's voice so mono recordings name the clinician by voice, not by words."""
    settings = load_settings()
    decoded = decode_file(clip, max_seconds=600)
    destination = spk.enrol(decoded.mono, spk.VoiceEncoder(), output or enrolment_path(settings))
    Console(stderr=True).print(f"enrolled the clinician's voice: {destination}", highlight=False)
