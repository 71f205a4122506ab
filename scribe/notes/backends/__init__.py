"""LLM backends behind one interface (:class:`Backend`): llama.cpp in process (the default),
any OpenAI-compatible server, or Hugging Face transformers."""

from __future__ import annotations

from pathlib import Path

from scribe.config import Settings
from scribe.errors import ConfigError
from scribe.notes.backends.base import Backend, Completion, Message

BACKENDS = ("llamacpp", "openai", "transformers")


def load_backend(settings: Settings, name: str | None = None, model: str | None = None) -> Backend:
    """The backend ``name`` (default ``settings.llm_backend``) with ``model`` (default from settings)."""
    name = name or settings.llm_backend
    if name == "llamacpp":
        from scribe.notes.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend.from_settings(settings, model)
    if name == "openai":
        from scribe.notes.backends.openai import OpenAIBackend

        if model:
            settings = settings.model_copy(update={"openai_model": model})
        return OpenAIBackend.from_settings(settings)
    if name == "transformers":
        from scribe.notes.backends.transformers import TransformersBackend

        target = model or settings.llm_model
        path = Path(target).expanduser()
        if not path.exists():  # a catalogue name: the GGUF file it resolves to
            from scribe.catalogue import resolve_gguf

            path = resolve_gguf(target, settings)
        return TransformersBackend.from_settings(settings, path)
    raise ConfigError(f"unknown LLM backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "Completion", "Message", "load_backend"]
