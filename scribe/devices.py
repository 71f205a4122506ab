"""Which device a model runs on: is a CUDA GPU visible, and which precision suits the device.

Shared by the speech engine (CTranslate2) and the llama.cpp backend, so neither imports the other
to ask whether there is a GPU.
"""

from __future__ import annotations

from scribe.errors import ModelError


def cuda_available() -> bool:
    """Whether CTranslate2 can see a CUDA device."""
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count() > 0
    except RuntimeError:
        return False


def choose_device(device: str, compute_type: str | None) -> tuple[str, str]:
    """Resolve "auto" and the default compute type: CUDA float16 when present, else CPU int8."""
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if device == "cuda" and not cuda_available():
        raise ModelError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    return device, compute_type or ("float16" if device == "cuda" else "int8")
