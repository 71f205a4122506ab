"""The pipeline's steps with stand-in models: what each passes on, names and records (no real model)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile as sf
from helpers.scripted_llm import Scripted, headache_transcript

from scribe import pipeline
from scribe.asr.engine import Decoded, DecodeOptions
from scribe.audio.decode import SAMPLE_RATE, DecodedAudio, from_array
from scribe.config import Settings
from scribe.errors import AudioNotFoundError, EmptyAudioError
from scribe.notes.templates import load_template
from scribe.records import LetterKind, NoteSection, Segment, Word

NOTE = """## Presenting complaint
Headache on the left side for three days.
## Plan
Paracetamol 1 g four times a day.
"""
LETTER = "Dear Sam,\n\nYou came in with a headache on the left side for three days.\n\nBest wishes,\nDr Jones"


class FakeEngine:
    """A WhisperEngine stand-in: hears the given lines, one every 3 s, and keeps the options it was asked with."""

    name = "fake-whisper"
    device = "cpu"
    compute_type = "int8"

    def __init__(self, *lines: str) -> None:
        self.lines = lines
        self.options: list[DecodeOptions] = []

    def decode(self, audio: np.ndarray, options: DecodeOptions, *, offset: float = 0.0, first_id: int = 0) -> Decoded:
        self.options.append(options)

        def segments() -> Iterator[Segment]:
            for i, text in enumerate(self.lines):
                start = offset + 3.0 * i
                words = [Word(start=start, end=start + 2.0, text=text, probability=0.9)]
                yield Segment(id=first_id + i, start=start, end=start + 2.5, text=text, words=words, avg_logprob=-0.2)

        return Decoded(segments=segments(), language="en", language_probability=0.99, duration=len(audio) / SAMPLE_RATE)


def _tone(seconds: float = 9.0) -> DecodedAudio:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return from_array((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))


def _wav_bytes(seconds: float = 9.0) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, _tone(seconds).mono, SAMPLE_RATE, format="WAV")
    return buffer.getvalue()


def test_transcribe_passes_overrides_reports_progress_and_records_timings(settings: Settings) -> None:
    engine = FakeEngine("What brings you in today?", "A headache for three days.", "Any vomiting?")
    reached: list[float] = []
    transcript = pipeline.transcribe_audio(
        _tone(), settings, engine, speakers="none", language="en", beam_size=2, on_progress=reached.append
    )
    (options,) = engine.options
    assert (options.language, options.beam_size, options.batched) == ("en", 2, settings.batched)
    assert reached == [2.5, 5.5, 8.5, 9.0], "each segment's end, then the whole recording"
    assert [s.text for s in transcript.segments] == list(engine.lines) and transcript.speaker_method == "none"
    assert [t.stage for t in transcript.timings] == ["asr", "speakers"]
    assert transcript.model == "fake-whisper" and transcript.duration == pytest.approx(9.0)


def test_audio_in_memory_is_decoded_and_named_the_recording_in_errors(settings: Settings, tmp_path) -> None:
    transcript = pipeline.transcribe_audio(_wav_bytes(), settings, FakeEngine("Hello there."), speakers="text")
    assert [s.text for s in transcript.segments] == ["Hello there."] and transcript.speaker_method == "text"
    with pytest.raises(EmptyAudioError, match="^the recording: no speech was recognised"):
        pipeline.transcribe_audio(_wav_bytes(), settings, FakeEngine(), speakers="none")
    with pytest.raises(EmptyAudioError, match="^the recording: the file is empty"):
        pipeline.decode_audio(b"", settings)
    with pytest.raises(AudioNotFoundError, match="no such file"):
        pipeline.decode_audio(tmp_path / "missing.wav", settings)


def test_live_transcriber_decodes_with_the_settings_options(settings: Settings) -> None:
    transcriber = pipeline.live_transcriber(settings.model_copy(update={"beam_size": 3}), FakeEngine())
    assert transcriber.options.beam_size == 3


def test_draft_uses_the_settings_template_unless_told_and_passes_each_section_on(settings: Settings) -> None:
    written: list[NoteSection] = []
    note = pipeline.draft(headache_transcript(), settings, Scripted([NOTE]), on_section=written.append)
    assert note.template == settings.note_template and note.timings["draft"].wall_seconds >= 0
    assert written and {s.key for s in written} <= {s.key for s in note.sections}
    soap = pipeline.draft(headache_transcript(), settings, Scripted([NOTE]), "soap")
    assert soap.template == "soap"
    loaded = load_template("clinic")
    assert pipeline.note_template(settings, loaded) is loaded
    assert pipeline.note_template(settings).name == settings.note_template


def test_letters_are_the_gp_then_the_patient_letter(settings: Settings) -> None:
    transcript = headache_transcript()
    note = pipeline.draft(transcript, settings, Scripted([NOTE]))
    gp, patient = pipeline.letters(note, transcript, settings, Scripted([LETTER, LETTER]))
    assert (gp.kind, patient.kind) == (LetterKind.GP, LetterKind.PATIENT)
    only = pipeline.letter(note, transcript, settings, Scripted([LETTER]), LetterKind.PATIENT)
    assert only.kind == LetterKind.PATIENT and only.readability is not None


def test_live_drafter_reads_as_the_recording_grows_and_holds_the_given_lock(settings: Settings) -> None:
    lock = threading.Lock()
    backend = Scripted([NOTE])
    drafter = pipeline.live_drafter(settings, backend, None, lock)
    assert drafter._lock is lock
    transcript = headache_transcript()
    drafter.update(transcript.model_copy(update={"segments": transcript.segments[:3]}))
    assert drafter.wait_idle(timeout=10)
    note = drafter.finish(transcript)
    assert backend.prefills and note.template == settings.note_template
