"""The review app's pipeline stages: stored audio to transcript, playback copy, note and letters.

Thin over :mod:`scribe.asr` and :mod:`scribe.notes`, so the web app transcribes and drafts exactly
as the CLI does. Everything happens in memory: patient audio never touches disk outside the
encrypted store.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable

import numpy as np
import soundfile as sf

from scribe.asr.engine import WhisperEngine, decode_options
from scribe.asr.transcribe import SpeakerMethod, speaker_options, transcribe
from scribe.audio.decode import SAMPLE_RATE, DecodedAudio, decode_bytes
from scribe.config import Settings
from scribe.notes.backends import Backend
from scribe.notes.draft import DraftOptions, LiveDrafter, OnSection, draft_note
from scribe.notes.letters import LetterOptions, draft_letter
from scribe.notes.templates import load_template
from scribe.records import Letter, LetterKind, NoteDraft, Transcript
from scribe.store.store import Audio

log = logging.getLogger(__name__)

RECORDING_NAME = "the recording"  # how audio errors name stored audio (never a patient's file name)


def decode_recording(data: bytes, settings: Settings) -> DecodedAudio:
    """Decode a stored recording; errors name it "the recording", not a file."""
    return decode_bytes(data, name=RECORDING_NAME, max_seconds=settings.max_audio_seconds)


def transcribe_audio(
    audio: bytes | DecodedAudio,
    settings: Settings,
    engine: WhisperEngine,
    *,
    speakers: SpeakerMethod = "auto",
    on_progress: Callable[[float], None] | None = None,
) -> Transcript:
    """Transcribe stored audio (bytes, or already decoded) with the settings' decode and speaker options."""
    decoded = decode_recording(audio, settings) if isinstance(audio, bytes) else audio
    return transcribe(
        decoded,
        engine,
        decode_options(settings),
        speaker_options(settings, speakers),
        on_progress=on_progress,
    )


def playback_flac(decoded: DecodedAudio) -> Audio:
    """The 16 kHz FLAC copy the review page plays (mono or stereo as decoded), made in memory."""
    buffer = io.BytesIO()
    samples = np.clip(decoded.samples.T, -1.0, 1.0)
    sf.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return Audio(data=buffer.getvalue(), media_type="audio/flac")


def draft(
    transcript: Transcript,
    settings: Settings,
    backend: Backend,
    template: str | None = None,
    on_section: OnSection | None = None,
) -> NoteDraft:
    """Draft the note with ``template`` (default the settings' note template); ``on_section`` gets each as written."""
    chosen = load_template(template or settings.note_template, settings.templates_dir)
    return draft_note(transcript, backend, chosen, options=DraftOptions.from_settings(settings), on_section=on_section)


def live_drafter(settings: Settings, backend: Backend, template: str, lock: threading.Lock) -> LiveDrafter:
    """A drafter that reads a recording's transcript as it is recognised (``lock`` held while it computes)."""
    chosen = load_template(template or settings.note_template, settings.templates_dir)
    return LiveDrafter(backend, chosen, DraftOptions.from_settings(settings), lock=lock)


def letters(note: NoteDraft, transcript: Transcript, settings: Settings, backend: Backend) -> list[Letter]:
    """The GP letter and the patient letter, drafted from ``note``."""
    options = LetterOptions.from_settings(settings)
    return [
        draft_letter(note, transcript, backend, kind, options=options) for kind in (LetterKind.GP, LetterKind.PATIENT)
    ]
