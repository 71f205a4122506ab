"""Real faster-whisper on the packaged models over the bundled SYNTHETIC consultation sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scribe.asr import speakers as spk
from scribe.asr.engine import DecodeOptions, load_engine
from scribe.asr.streaming import LiveTranscriber, live_segments
from scribe.asr.transcribe import SpeakerOptions, transcribe
from scribe.audio.decode import decode_file, from_array
from scribe.errors import EmptyAudioError
from scribe.evaluate.asr_metrics import RefSegment, attribution, word_errors

pytestmark = pytest.mark.slow


def _reference_text(reference: list[RefSegment]) -> str:
    return " ".join(r.text for r in reference)


def test_stereo_is_attributed_by_channel(tiny_engine, sample_stereo: Path, sample_reference: list[RefSegment]) -> None:
    result = transcribe(decode_file(sample_stereo), tiny_engine, DecodeOptions(language="en"))
    assert result.speaker_method == "channel"
    assert word_errors(_reference_text(sample_reference), result.text).value < 0.2
    assert attribution(result, sample_reference).value >= 0.95
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    assert all(s.start <= s.end and s.words for s in result.segments)
    assert {t.stage for t in result.timings} == {"asr", "speakers"}
    assert result.model == "whisper-tiny.en" and result.device == "cpu" and result.compute_type == "int8"


@pytest.mark.speakers
@pytest.mark.skipif(not spk.available(), reason="needs the speakers extra (torch + resemblyzer)")
def test_mono_is_attributed_by_voice(tiny_engine, sample_mono: Path, sample_reference: list[RefSegment]) -> None:
    result = transcribe(decode_file(sample_mono), tiny_engine, DecodeOptions(language="en"))
    assert result.speaker_method == "embedding"
    assert attribution(result, sample_reference).value >= 0.9


def test_mono_falls_back_to_text_cues(tiny_engine, sample_mono: Path, sample_reference: list[RefSegment]) -> None:
    result = transcribe(
        decode_file(sample_mono), tiny_engine, DecodeOptions(language="en"), SpeakerOptions(method="text")
    )
    assert result.speaker_method == "text"
    assert {s.speaker.value for s in result.segments} == {"clinician", "patient"}
    assert attribution(result, sample_reference).value > 0.5


def test_vocabulary_and_batched_paths_run(tiny_engine, sample_stereo: Path, sample_reference: list[RefSegment]) -> None:
    options = DecodeOptions(language="en", batched=True, hotwords="paracetamol, migraine, headache")
    result = transcribe(decode_file(sample_stereo), tiny_engine, options)
    assert result.vocabulary is True
    assert word_errors(_reference_text(sample_reference), result.text).value < 0.25


def test_live_transcription_matches_file_transcription(
    tiny_engine, sample_stereo: Path, sample_reference: list[RefSegment]
) -> None:
    audio = decode_file(sample_stereo).samples
    live = LiveTranscriber(tiny_engine, DecodeOptions(language="en"), channels=2, min_chunk=6.0)
    chunks = (audio[:, i : i + 8000] for i in range(0, audio.shape[1], 8000))  # 0.5 s blocks, as captured
    streamed = []
    for segment in live_segments(chunks, live):
        streamed.append((segment, live.seconds_received))
    assert len(streamed) >= 3
    assert streamed[0][1] < 30.0  # the first words arrived long before the end of the 45 s recording
    assert all(s.speaker.value in ("clinician", "patient") for s, _ in streamed)
    final = live.transcript()
    # what was streamed is what the final transcript says, ids included (live drafting relies on it)
    assert [(s.id, s.speaker, s.text) for s, _ in streamed] == [(s.id, s.speaker, s.text) for s in final.segments]
    assert word_errors(_reference_text(sample_reference), final.text).value < 0.2
    assert attribution(final, sample_reference).value >= 0.95
    assert final.duration == pytest.approx(45.0, abs=0.1)
    with pytest.raises(RuntimeError):
        live.feed(audio[:, :100])


def test_live_tail_after_stop_is_small(tiny_engine, sample_mono: Path) -> None:
    """Stop mid-sentence: only the audio after the last pause is left to transcribe at stop."""
    audio = decode_file(sample_mono).samples[:, : int(29.0 * 16_000)]
    live = LiveTranscriber(tiny_engine, DecodeOptions(language="en"), SpeakerOptions(method="text"), min_chunk=6.0)
    for i in range(0, audio.shape[1], 8000):
        live.feed(audio[:, i : i + 8000])
    pending = (audio.shape[1] - live._committed) / 16_000
    assert pending < 10.0
    assert live.finish() and live.transcript().segments


def test_noise_without_speech_is_an_empty_audio_error(tiny_engine) -> None:
    rng = np.random.default_rng(3)
    hiss = 0.003 * rng.standard_normal(10 * 16_000)
    with pytest.raises(EmptyAudioError, match="no speech"):
        transcribe(from_array(hiss), tiny_engine, DecodeOptions(language="en"))


def test_whisper_base_default_model(settings, sample_stereo: Path, sample_reference: list[RefSegment]) -> None:
    engine = load_engine(settings, model="whisper-base", device="auto")
    result = transcribe(decode_file(sample_stereo), engine, DecodeOptions())
    assert result.language == "en"
    assert word_errors(_reference_text(sample_reference), result.text).value < 0.15
    assert attribution(result, sample_reference).value >= 0.95
