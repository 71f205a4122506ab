"""Speaker attribution: by channel, by text cues, by voice embeddings (speakers extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scribe.asr import speakers as spk
from scribe.errors import ConfigError
from scribe.records import Segment, SpeakerRole, Word

RATE = 16_000
C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT


def _words(spec: list[tuple[str, float, float]]) -> list[Word]:
    return [Word(start=s, end=e, text=f" {t}") for t, s, e in spec]


def _stereo_with_turns(turns: list[tuple[int, float, float]], seconds: float = 6.0) -> np.ndarray:
    """Noise bursts on channel c between start and end; faint crosstalk on the other channel."""
    rng = np.random.default_rng(1)
    audio = np.zeros((2, int(seconds * RATE)), dtype=np.float32)
    for channel, start, end in turns:
        burst = 0.2 * rng.standard_normal(int((end - start) * RATE)).astype(np.float32)
        audio[channel, int(start * RATE) : int(start * RATE) + len(burst)] += burst
        audio[1 - channel, int(start * RATE) : int(start * RATE) + len(burst)] += 0.02 * burst
    return audio


def test_channel_attribution_splits_a_segment_at_the_turn() -> None:
    words = _words([("How", 0.0, 0.4), ("are", 0.4, 0.7), ("you?", 0.7, 1.0), ("Fine", 1.3, 1.8), ("thanks", 1.8, 2.3)])
    segment = Segment(id=0, start=0.0, end=2.3, text="How are you? Fine thanks", words=words)
    stereo = _stereo_with_turns([(0, 0.0, 1.05), (1, 1.25, 2.4)])
    out, speakers = spk.by_channel([segment], stereo, clinician_channel=0)
    assert [(s.speaker, s.text) for s in out] == [(C, "How are you?"), (P, "Fine thanks")]
    assert out[1].start == 1.3 and out[1].end == 2.3
    assert all(w.speaker is s.speaker for s in out for w in s.words)
    assert {(sp.channel, sp.role) for sp in speakers} == {(0, C), (1, P)}


def test_clinician_channel_can_be_the_right_one() -> None:
    words = _words([("Hello", 0.0, 0.5)])
    stereo = _stereo_with_turns([(1, 0.0, 0.6)])
    out, _ = spk.by_channel([Segment(id=0, start=0, end=0.5, text="Hello", words=words)], stereo, clinician_channel=1)
    assert out[0].speaker is C
    with pytest.raises(ConfigError):
        spk.by_channel([], stereo, clinician_channel=2)


def test_words_without_clear_channel_take_the_previous_role() -> None:
    words = _words([("Yes", 0.0, 0.5), ("um", 3.0, 3.2)])  # "um" lies in silence on both channels
    stereo = _stereo_with_turns([(1, 0.0, 0.6)])
    out, _ = spk.by_channel([Segment(id=0, start=0, end=3.2, text="Yes um", words=words)], stereo)
    assert [s.speaker for s in out] == [P]


def test_text_cues() -> None:
    assert spk.text_score("How can I help you today?") > 0
    assert spk.text_score("I've been feeling sick and my stomach hurts") < 0
    segments = [
        Segment(id=0, start=0, end=1, text="Hello, how can I help you?"),
        Segment(id=1, start=1, end=2, text="I've had a cough for a week."),
        Segment(id=2, start=2, end=3, text="Right."),  # no cue: alternates
    ]
    out, _ = spk.by_text(segments)
    assert [s.speaker for s in out] == [C, P, C]


def test_two_means_separates_two_voices() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(256), rng.standard_normal(256)
    vectors = np.stack(
        [a + 0.1 * rng.standard_normal(256) for _ in range(5)] + [b + 0.1 * rng.standard_normal(256) for _ in range(4)]
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = spk._two_means(vectors, np.ones(9), None)
    assert len(set(labels[:5])) == 1 and len(set(labels[5:])) == 1 and labels[0] != labels[5]
    seeded = spk._two_means(vectors, np.ones(9), b / np.linalg.norm(b))
    assert list(seeded[5:]) == [0] * 4  # the seed's cluster is 0


def test_load_enrolment_rejects_other_files(tmp_path: Path) -> None:
    assert spk.load_enrolment(None) is None
    assert spk.load_enrolment(tmp_path / "none.npy") is None
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(3))
    with pytest.raises(ConfigError, match="scribe enrol"):
        spk.load_enrolment(bad)
    good = tmp_path / "good.npy"
    np.save(good, 2 * np.ones(256, dtype=np.float32))
    assert np.linalg.norm(spk.load_enrolment(good)) == pytest.approx(1.0)


@pytest.mark.speakers
@pytest.mark.skipif(not spk.available(), reason="needs the speakers extra (torch + resemblyzer)")
def test_voice_encoder_tells_the_two_sample_voices_apart(sample_stereo: Path, tmp_path: Path) -> None:
    from scribe.audio.decode import decode_file

    stereo = decode_file(sample_stereo).samples
    encoder = spk.VoiceEncoder()
    clinician = encoder.embed_spans(stereo[0], [(3.4, 6.8), (16.9, 20.2)])
    patient = encoder.embed_spans(stereo[1], [(7.1, 10.1), (11.0, 16.6)])
    same = float(clinician[0] @ clinician[1])
    different = float(clinician[0] @ patient[0])
    assert same > different + 0.1
    saved = spk.enrol(stereo[0][3 * RATE : 21 * RATE], encoder, tmp_path / "enrolment" / "clinician.npy")
    assert float(spk.load_enrolment(saved) @ clinician[0]) > float(spk.load_enrolment(saved) @ patient[0])
    with pytest.raises(ConfigError, match="3 seconds"):
        spk.enrol(stereo[0][:RATE], encoder, tmp_path / "short.npy")
