"""Encode audio in memory for tests (uploads, browser-style WebM/Opus recordings); nothing touches disk."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np


def encode_bytes(samples: np.ndarray, rate: int, *, fmt: str = "webm", codec: str = "libopus") -> bytes:
    """``samples`` (channels, frames) at ``rate`` encoded with ``codec`` into a ``fmt`` container, in memory."""
    samples = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    channels = samples.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=stream.codec_context.codec.audio_formats[0].name, layout=layout, rate=rate)
        block = 960 if codec in ("libopus", "opus") else 1024
        for start in range(0, samples.shape[1], block):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + block]), format="fltp", layout=layout
            )
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for out in resampler.resample(frame):
                for packet in stream.encode(out):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def split(data: bytes, parts: int) -> list[bytes]:
    """``data`` cut into ``parts`` pieces of about equal size, as MediaRecorder's timeslices arrive."""
    size = -(-len(data) // parts)
    return [data[i : i + size] for i in range(0, len(data), size)]
