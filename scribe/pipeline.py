"""The pipeline as a library: audio -> attributed transcript -> draft note -> letters.

One function per step, each taking its input, the :class:`~scribe.config.Settings` and the loaded
model, so the command line, the review app's worker and evaluation run the same sequence with the
same options. Loading models is the caller's (each keeps them loaded for its life); progress comes
back through optional callbacks; nothing here prints. Timings are recorded on the records
themselves (``Transcript.timings``, ``NoteDraft.timings``) by the stages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from scribe.asr.engine import WhisperEngine, decode_options
from scribe.asr.streaming import LiveTranscriber
from scribe.asr.transcribe import SpeakerMethod, speaker_options, transcribe
from scribe.audio.decode import DecodedAudio, decode_bytes, decode_file
from scribe.config import Settings
from scribe.notes.backends import Backend
from scribe.notes.draft import DraftOptions, LiveDrafter, OnSection, draft_note
from scribe.notes.letters import LetterOptions, draft_letter
from scribe.notes.templates import Template, load_template
from scribe.records import Letter, LetterKind, NoteDraft, Transcript

RECORDING_NAME = "the recording"  # how audio errors name audio held in memory (never a patient's file name)
LETTERS = (LetterKind.GP, LetterKind.PATIENT)


def decode_audio(source: Path | bytes, settings: Settings) -> DecodedAudio:
    """Decode a file, or audio held in memory (whose errors name it "the recording"), up to the settings' length."""
    if isinstance(source, bytes):
        return decode_bytes(source, name=RECORDING_NAME, max_seconds=settings.max_audio_seconds)
    return decode_file(source, max_seconds=settings.max_audio_seconds)


def transcribe_audio(
    audio: Path | bytes | DecodedAudio,
    settings: Settings,
    engine: WhisperEngine,
    *,
    speakers: SpeakerMethod = "auto",
    language: str | None = None,
    beam_size: int | None = None,
    batched: bool | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe ``audio`` (decoded first if need be) with the settings' decoding and speaker options.

    ``language``, ``beam_size`` and ``batched`` override the settings when given; ``on_progress``
    receives the audio seconds reached so far.
    """
    decoded = audio if isinstance(audio, DecodedAudio) else decode_audio(audio, settings)
    options = decode_options(settings, language=language, beam_size=beam_size, batched=batched)
    return transcribe(decoded, engine, options, speaker_options(settings, speakers), on_progress=on_progress)


def live_transcriber(settings: Settings, engine: WhisperEngine) -> LiveTranscriber:
    """A transcriber for a recording still in progress, with the same options as :func:`transcribe_audio`."""
    return LiveTranscriber(engine, decode_options(settings), speaker_options(settings))


def note_template(settings: Settings, template: str | Template | None = None) -> Template:
    """The note template ``template`` (a name, or one already loaded), by default the settings' own."""
    if isinstance(template, Template):
        return template
    return load_template(template or settings.note_template, settings.templates_dir)


def draft(
    transcript: Transcript,
    settings: Settings,
    backend: Backend,
    template: str | Template | None = None,
    on_section: OnSection | None = None,
) -> NoteDraft:
    """Draft the note with ``template`` (default the settings' note template); ``on_section`` gets each as written."""
    chosen = note_template(settings, template)
    return draft_note(transcript, backend, chosen, options=DraftOptions.from_settings(settings), on_section=on_section)


def live_drafter(
    settings: Settings,
    backend: Backend,
    template: str | Template | None = None,
    lock: threading.Lock | None = None,
) -> LiveDrafter:
    """A drafter that reads a recording's transcript as it is recognised (``lock`` held while it computes)."""
    return LiveDrafter(backend, note_template(settings, template), DraftOptions.from_settings(settings), lock=lock)


def letter(note: NoteDraft, transcript: Transcript, settings: Settings, backend: Backend, kind: LetterKind) -> Letter:
    """The letter of ``kind`` (GP or patient), drafted from ``note`` and grounded in ``transcript``."""
    return draft_letter(note, transcript, backend, kind, options=LetterOptions.from_settings(settings))


def letters(
    note: NoteDraft,
    transcript: Transcript,
    settings: Settings,
    backend: Backend,
    kinds: Sequence[LetterKind] = LETTERS,
) -> list[Letter]:
    """The letters of ``kinds`` (default the GP letter and the patient letter), drafted from ``note``."""
    return [letter(note, transcript, settings, backend, kind) for kind in kinds]
