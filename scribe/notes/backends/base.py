"""The one interface every LLM backend implements, and the records it speaks in."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from scribe.notes.backends.lines import LineFormat
from scribe.records import StageTiming

ChatRole = Literal["system", "user", "assistant"]
OnText = Callable[[str], None]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: ChatRole
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class Completion:
    """What one generation produced, and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float | None:
        return self.completion_tokens / self.seconds if self.seconds > 0 and self.completion_tokens else None


class Backend(Protocol):
    """A chat model that can be held to a JSON schema.

    ``complete`` returns text that matches ``schema`` (or ``lines``) when one is given: backends that can
    constrain decoding (llama.cpp grammars, servers' ``response_format``) do so; the drafting
    code validates every answer with pydantic whatever the backend, and retries.
    """

    name: str
    model: str
    context_tokens: int
    device: str

    def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        on_text: OnText | None = None,
        lines: LineFormat | None = None,
        stop_loops: bool = False,
    ) -> Completion:
        """Generate one answer; ``on_text`` receives text pieces as they stream.

        ``lines`` asks for fact lines (:class:`~scribe.notes.backends.lines.LineFormat`); a backend
        that can hold decoding to it cheaply does, the others rely on the prompt (the caller parses
        every answer and drops lines that do not fit). ``stop_loops`` ends a free-text answer where
        a sentence is written for the fourth time (:class:`SentenceLoop`; finish reason ``loop``),
        in backends that decode locally; the caller drops repeated sentences either way.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model (an estimate where the backend cannot say)."""
        ...

    def prefill(self, messages: Sequence[Message]) -> None:
        """Process a prompt prefix ahead of time so a later ``complete`` on it starts sooner."""
        ...

    def close(self) -> None:
        """Release the model or connection."""
        ...


def schema_text(schema: dict[str, Any]) -> str:
    """A compact JSON rendering of a schema for prompts of backends that cannot enforce it."""
    return json.dumps(schema, separators=(",", ":"))


class SentenceLoop:
    """Watches a streamed answer and says when a sentence has been written ``times`` times.

    A greedy small model can loop ("She will continue her medicines. She will continue her
    medicines. ..."); the rest of its budget then buys nothing. Sentences of fewer than
    ``min_words`` words ("Not discussed.") may repeat freely.
    """

    def __init__(self, times: int = 4, min_words: int = 5) -> None:
        self.times = times
        self.min_words = min_words
        self._text = ""
        self._counts: dict[str, int] = {}

    def feed(self, piece: str) -> bool:
        """Add a piece of the answer; True once some sentence has been completed ``times`` times."""
        self._text += piece
        *done, self._text = re.split(r"(?<=[.!?\n])\s+", self._text)
        for sentence in done:
            words = re.findall(r"[a-z0-9]+", sentence.lower())
            if len(words) < self.min_words:
                continue
            key = " ".join(words)
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._counts[key] >= self.times:
                return True
        return False


def call_timing(stage: str, started: float, backend: Backend, done: Completion) -> StageTiming:
    """The record of one model call (``started``: its ``time.perf_counter()`` at the start)."""
    return StageTiming(
        stage=stage,
        wall_seconds=time.perf_counter() - started,
        model=backend.model,
        device=backend.device,
        prompt_tokens=done.prompt_tokens or None,
        cached_tokens=done.cached_tokens or None,
        completion_tokens=done.completion_tokens or None,
        finish_reason=done.finish_reason or None,
    )
