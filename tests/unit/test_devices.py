"""Device choice: CUDA float16 when a GPU is visible, else CPU int8; a GPU asked for but absent is refused."""

from __future__ import annotations

import ctranslate2
import pytest

from scribe.devices import choose_device, cuda_available
from scribe.errors import ModelError


def test_auto_uses_cuda_float16_when_a_gpu_is_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: CTranslate2's device count is the one thing mocked."""
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    assert choose_device("auto", None) == ("cuda", "float16")
    assert choose_device("cuda", "int8_float16") == ("cuda", "int8_float16")
    assert choose_device("cpu", None) == ("cpu", "int8")


def test_auto_falls_back_to_cpu_int8(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 0)
    assert choose_device("auto", None) == ("cpu", "int8")
    assert choose_device("auto", "float32") == ("cpu", "float32")
    with pytest.raises(ModelError, match="no CUDA GPU"):
        choose_device("cuda", None)


def test_a_cuda_runtime_error_means_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> int:
        raise RuntimeError("CUDA driver version is insufficient")

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", broken)
    assert cuda_available() is False
