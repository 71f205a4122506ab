"""The copy of a recording the review page plays: 16 kHz FLAC made in memory, never on disk."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

from scribe.audio.decode import SAMPLE_RATE, DecodedAudio
from scribe.store.store import Audio


def playback_flac(decoded: DecodedAudio) -> Audio:
    """The 16 kHz FLAC copy the review page plays (mono or stereo as decoded), made in memory."""
    buffer = io.BytesIO()
    samples = np.clip(decoded.samples.T, -1.0, 1.0)
    sf.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return Audio(data=buffer.getvalue(), media_type="audio/flac")
