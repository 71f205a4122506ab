"""Tell clinician from patient: by channel, by voice embedding, or by what is said.

Roles are decided per word, then segments are split wherever the role changes, so one Whisper
segment spanning a turn change becomes two. Methods, best first:

- ``channel``: stereo recordings with one speaker per channel (the louder channel wins).
- ``embedding``: mono recordings; voice embeddings from the packaged resemblyzer encoder (the
  optional ``speakers`` extra), clustered into two voices; the clinician's voice is the one
  nearer the enrolment clip (``scribe enrol``), else the one whose words sound like a clinician.
- ``text``: no extra installed: conversational cues (questions, "I'll prescribe", "I've been...")
  with turn-taking as the tie-breaker. Weakest; the transcript records which method was used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scribe.audio.decode import SAMPLE_RATE
from scribe.errors import ConfigError
from scribe.records import Segment, Speaker, SpeakerRole, Word

log = logging.getLogger(__name__)

CLINICIAN, PATIENT = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT

_CLINICIAN_CUES = re.compile(
    r"\b(how can i help|what can i do for you|what brings you|how long ha|have you (?:had|noticed|tried|taken|been)"
    r"|do you (?:have|take|smoke|drink|know)|are you (?:taking|on|allergic)|any (?:other|allergies|medication)"
    r"|i(?:'ll| will) (?:prescribe|refer|examine|check|give)|i(?:'d| would) (?:like|recommend|suggest)"
    r"|let me|i'm going to|we(?:'ll| will| can)|make sure|if (?:it|things|you) get|come back|safety"
    r"|take care|prescri|examin|diagnos|sounds like|it could be|my advice|okay so)\b"
)
_PATIENT_CUES = re.compile(
    r"\b(i've been|i have been|i've had|i have had|i feel|i felt|it hurts|my (?:\w+)|i think it|i'm not sure"
    r"|i don't know|thank you doctor|thanks doctor|i took|i've taken|i've got|it started|since (?:yesterday|last))\b"
)


def text_score(text: str) -> int:
    """Positive when the words sound like a clinician, negative when like a patient."""
    lowered = text.lower()
    return len(_CLINICIAN_CUES.findall(lowered)) + lowered.count("?") - len(_PATIENT_CUES.findall(lowered))


def split_at_role_changes(segments: Sequence[Segment], roles: Sequence[Sequence[SpeakerRole]]) -> list[Segment]:
    """Give each word its role and cut segments where the role changes; ids are renumbered later."""
    out: list[Segment] = []
    for segment, word_roles in zip(segments, roles, strict=True):
        if not segment.words:
            role = word_roles[0] if word_roles else SpeakerRole.UNKNOWN
            out.append(segment.model_copy(update={"speaker": role}))
            continue
        run: list[Word] = []
        for word, role in zip(segment.words, word_roles, strict=True):
            if run and run[-1].speaker != role:
                out.append(_piece(segment, run))
                run = []
            run.append(word.model_copy(update={"speaker": role}))
        out.append(_piece(segment, run))
    return out


def _piece(segment: Segment, words: list[Word]) -> Segment:
    if len(words) == len(segment.words):
        return segment.model_copy(update={"words": words, "speaker": words[0].speaker})
    return segment.model_copy(
        update={
            "start": words[0].start,
            "end": words[-1].end,
            "text": "".join(w.text for w in words).strip(),
            "words": words,
            "speaker": words[0].speaker,
            "confidence": float(np.mean([w.probability for w in words])),
        }
    )


def _span(audio: np.ndarray, start: float, end: float) -> np.ndarray:
    return audio[..., max(0, int(start * SAMPLE_RATE)) : int(end * SAMPLE_RATE)]


def _fill_undecided(roles: list[SpeakerRole | None], default: SpeakerRole) -> list[SpeakerRole]:
    """Words with no clear evidence take the role of the nearest decided word before them."""
    filled: list[SpeakerRole] = []
    previous = next((r for r in roles if r is not None), default)
    for role in roles:
        previous = role or previous
        filled.append(previous)
    return filled


def by_channel(
    segments: Sequence[Segment], stereo: np.ndarray, clinician_channel: int = 0, margin_db: float = 3.0
) -> tuple[list[Segment], list[Speaker]]:
    """Stereo with one speaker per channel: each word goes to the channel that is louder under it."""
    if stereo.ndim != 2 or stereo.shape[0] != 2:
        raise ValueError("by_channel needs audio shaped (2, frames)")
    if clinician_channel not in (0, 1):
        raise ConfigError(f"clinician channel must be 0 or 1, not {clinician_channel}; fix SCRIBE_CLINICIAN_CHANNEL")
    channel_role = {clinician_channel: CLINICIAN, 1 - clinician_channel: PATIENT}
    roles: list[list[SpeakerRole]] = []
    for segment in segments:
        word_roles: list[SpeakerRole | None] = []
        for word in segment.words or [Word(start=segment.start, end=segment.end, text=segment.text)]:
            span = _span(stereo, word.start, word.end)
            energy = np.mean(np.square(span, dtype=np.float64), axis=1) + 1e-12 if span.shape[1] else np.ones(2)
            difference = 10 * np.log10(energy[0] / energy[1])
            word_roles.append(None if abs(difference) < margin_db else channel_role[0 if difference > 0 else 1])
        roles.append(_fill_undecided(word_roles, roles[-1][-1] if roles else CLINICIAN))
    speakers = [Speaker(id=f"ch{c}", role=channel_role[c], channel=c) for c in (0, 1)]
    return split_at_role_changes(segments, roles), speakers


def by_text(segments: Sequence[Segment]) -> tuple[list[Segment], list[Speaker]]:
    """No audio evidence: conversational cues per segment; turns alternate when cues are silent."""
    roles: list[list[SpeakerRole]] = []
    previous = PATIENT  # so the opening segment defaults to the clinician, who usually speaks first
    for segment in segments:
        score = text_score(segment.text)
        role = CLINICIAN if score > 0 else PATIENT if score < 0 else (PATIENT if previous == CLINICIAN else CLINICIAN)
        roles.append([role] * max(1, len(segment.words)))
        previous = role
    return split_at_role_changes(segments, roles), [
        Speaker(id="clinician", role=CLINICIAN),
        Speaker(id="patient", role=PATIENT),
    ]


class VoiceEncoder:
    """The packaged resemblyzer speaker encoder (optional ``speakers`` extra), loaded once.

    Spans are embedded in one batched pass over a single mel spectrogram: each span is cut into
    1.6 s windows (the encoder's training length; shorter spans are tiled to fill one window so no
    neighbouring speech leaks in), the windows' embeddings are averaged and normalised.
    """

    WINDOW = 160  # mel frames of 10 ms
    MAX_WINDOWS = 4  # per span; long runs need no more evidence
    BATCH = 256

    def __init__(self, device: str = "cpu") -> None:
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # webrtcvad's pkg_resources deprecation notice
                import torch
                from resemblyzer import VoiceEncoder as _Encoder
                from resemblyzer.audio import wav_to_mel_spectrogram
        except ImportError:
            raise ConfigError("speaker embeddings need the optional extra: pip install 'scribe[speakers]'") from None
        self._torch = torch
        self._mel = wav_to_mel_spectrogram
        self._encoder = _Encoder(device=device, verbose=False)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """A unit-length 256-d embedding of 16 kHz mono speech."""
        return self.embed_spans(samples, [(0.0, samples.shape[-1] / SAMPLE_RATE)])[0]

    def embed_spans(self, mono: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
        """One unit-length embedding per (start, end) span of ``mono``, shaped (len(spans), 256)."""
        mel = self._mel(np.ascontiguousarray(mono, dtype=np.float32))
        windows: list[np.ndarray] = []
        owner: list[int] = []
        for index, (start, end) in enumerate(spans):
            frames = mel[max(0, int(start * 100)) : max(int(start * 100) + 1, int(end * 100))]
            if len(frames) == 0:
                frames = mel[-1:]
            if len(frames) < self.WINDOW:
                frames = np.resize(frames, (self.WINDOW, mel.shape[1]))
            count = min(self.MAX_WINDOWS, 1 + (len(frames) - self.WINDOW) // (self.WINDOW // 2))
            starts = np.linspace(0, len(frames) - self.WINDOW, count).astype(int)
            windows.extend(frames[i : i + self.WINDOW] for i in starts)
            owner.extend([index] * count)
        vectors = np.zeros((len(spans), 256), dtype=np.float32)
        with self._torch.no_grad():
            for first in range(0, len(windows), self.BATCH):
                batch = self._torch.from_numpy(np.stack(windows[first : first + self.BATCH]))
                out = self._encoder(batch.to(self._encoder.device)).cpu().numpy()
                np.add.at(vectors, owner[first : first + self.BATCH], out)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def available() -> bool:
    """Whether the speakers extra is installed."""
    import importlib.util

    return importlib.util.find_spec("resemblyzer") is not None and importlib.util.find_spec("torch") is not None


def _chunks(segment: Segment, max_gap: float = 0.25, max_len: float = 3.0) -> list[list[int]]:
    """Word indices grouped into runs without a pause, each at most ``max_len`` seconds."""
    groups: list[list[int]] = []
    for index, word in enumerate(segment.words):
        if groups:
            first = segment.words[groups[-1][0]]
            last = segment.words[groups[-1][-1]]
            if word.start - last.end <= max_gap and word.end - first.start <= max_len:
                groups[-1].append(index)
                continue
        groups.append([index])
    return groups


def _two_means(vectors: np.ndarray, weights: np.ndarray, seed: np.ndarray | None, iterations: int = 20) -> np.ndarray:
    """Spherical 2-means over unit vectors; returns labels 0/1. Seeds: the given centre, else the farthest pair."""
    similarity = vectors @ vectors.T
    if seed is None:
        i, j = np.unravel_index(np.argmin(similarity), similarity.shape)
        centres = vectors[[i, j]]
    else:
        j = int(np.argmin(vectors @ seed))
        centres = np.stack([seed, vectors[j]])
    labels = np.zeros(len(vectors), dtype=int)
    for _ in range(iterations):
        new = np.argmax(vectors @ centres.T, axis=1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for k in (0, 1):
            members = labels == k
            if members.any():
                centre = (vectors[members] * weights[members, None]).sum(axis=0)
                centres[k] = centre / (np.linalg.norm(centre) or 1.0)
    return labels


class VoiceRun:
    """A pause-free run of words in one segment and its voice embedding."""

    __slots__ = ("segment", "words", "vector", "seconds")

    def __init__(self, segment: int, words: list[int], vector: np.ndarray, seconds: float) -> None:
        self.segment, self.words, self.vector, self.seconds = segment, words, vector, seconds


def embed_runs(
    segments: Sequence[Segment], mono: np.ndarray, encoder: VoiceEncoder, first_index: int = 0, offset: float = 0.0
) -> list[VoiceRun]:
    """Embed every pause-free word run; live transcription calls this chunk by chunk.

    ``mono`` starts at ``offset`` seconds; run indices count from ``first_index``.
    """
    found = [(index, group) for index, segment in enumerate(segments) for group in _chunks(segment)]
    spans = [(segments[i].words[g[0]].start - offset, segments[i].words[g[-1]].end - offset) for i, g in found]
    if not spans:
        return []
    vectors = encoder.embed_spans(mono, spans)
    return [
        VoiceRun(first_index + i, g, vector, max(0.2, end - start))
        for (i, g), vector, (start, end) in zip(found, vectors, spans, strict=True)
    ]


def by_embedding(
    segments: Sequence[Segment],
    runs: Sequence[VoiceRun],
    enrolment: np.ndarray | None = None,
) -> tuple[list[Segment], list[Speaker]]:
    """Mono: cluster the runs' voice embeddings into two voices, then say which voice is the clinician."""
    if len(runs) < 2:
        return by_text(segments)
    matrix = np.asarray([run.vector for run in runs])
    labels = _two_means(matrix, np.asarray([run.seconds for run in runs]), enrolment)
    if enrolment is not None:
        similarity = [float(np.mean(matrix[labels == k] @ enrolment)) if (labels == k).any() else -1.0 for k in (0, 1)]
        clinician_label = int(np.argmax(similarity))
    else:
        cue, words_in = [0.0, 0.0], [0, 0]
        for run, label in zip(runs, labels, strict=True):
            cue[label] += text_score(" ".join(segments[run.segment].words[i].text for i in run.words))
            words_in[label] += len(run.words)
        clinician_label = int(np.argmax([cue[k] / max(1, words_in[k]) for k in (0, 1)]))
    role_of = {clinician_label: CLINICIAN, 1 - clinician_label: PATIENT}
    roles: list[list[SpeakerRole | None]] = [[None] * max(1, len(seg.words)) for seg in segments]
    for run, label in zip(runs, labels, strict=True):
        for i in run.words:
            roles[run.segment][i] = role_of[int(label)]
    filled: list[list[SpeakerRole]] = []
    for word_roles in roles:
        filled.append(_fill_undecided(word_roles, filled[-1][-1] if filled else CLINICIAN))
    speakers = [Speaker(id=f"S{k}", role=role_of[k]) for k in (0, 1)]
    return split_at_role_changes(segments, filled), speakers


def enrol(samples: np.ndarray, encoder: VoiceEncoder, destination: Path) -> Path:
    """Save the clinician's voice embedding from a clip of their speech (16 kHz mono)."""
    if samples.shape[-1] < 3 * SAMPLE_RATE:
        raise ConfigError("the enrolment clip is shorter than 3 seconds; record at least 10 seconds of the clinician")
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_suffix(".tmp.npy")
    np.save(temporary, encoder.embed(samples).astype(np.float32))
    temporary.replace(destination)
    return destination


def load_enrolment(path: Path | None) -> np.ndarray | None:
    """The saved clinician embedding, or None when there is none."""
    if path is None or not path.is_file():
        return None
    try:
        vector = np.load(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the clinician enrolment {path}: {exc}; run `scribe enrol` again") from None
    if vector.shape != (256,):
        raise ConfigError(f"{path} is not a scribe enrolment (shape {vector.shape}); run `scribe enrol` again")
    return vector / (np.linalg.norm(vector) or 1.0)
