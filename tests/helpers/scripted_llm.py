"""A scripted stand-in for the language model, for unit tests of what the drafters ask and do.

It answers from a prepared list and records every prompt, so a test pins down the requests and
what the drafter makes of each kind of answer, in milliseconds. The real model is exercised by the
integration tests (llama.cpp on SmolLM2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scribe.notes.backends.base import Completion, Message, OnText
from scribe.records import Segment, SpeakerRole, Transcript


class Scripted:
    """A Backend that gives prepared answers in order and keeps the prompts it was sent."""

    name = "scripted"
    model = "scripted"
    device = "cpu"

    def __init__(self, answers: Sequence[str | tuple[str, str]], context_tokens: int = 8192) -> None:
        self.answers = list(answers)
        self.prompts: list[list[Message]] = []
        self.prefills: list[list[Message]] = []
        self.pieces = 0  # pieces of answers streamed so far
        self.context_tokens = context_tokens

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int = 512, on_text: OnText | None = None, **_: Any
    ) -> Completion:
        self.prompts.append(list(messages))
        answer = self.answers.pop(0) if self.answers else "NONE"
        text, finish = answer if isinstance(answer, tuple) else (answer, "stop")
        for piece in text.splitlines(keepends=True) if on_text is not None else ():  # streamed a line at a time
            self.pieces += 1
            on_text(piece)
        return Completion(text=text, prompt_tokens=10, completion_tokens=len(text.split()), finish_reason=finish)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prefill(self, messages: Sequence[Message]) -> None:
        self.prefills.append(list(messages))

    def close(self) -> None:
        pass


def headache_transcript(*patient_says: str) -> Transcript:
    """A short made-up consultation (headache, a negative, a medicine with its dose), plus any patient lines."""
    said = [
        (SpeakerRole.CLINICIAN, "What brings you in today?"),
        (SpeakerRole.PATIENT, "I've had a headache on the left side for three days."),
        (SpeakerRole.CLINICIAN, "Any vomiting?"),
        (SpeakerRole.PATIENT, "No vomiting."),
        (SpeakerRole.CLINICIAN, "Take paracetamol 1 g four times a day and come back if it gets worse."),
        *((SpeakerRole.PATIENT, text) for text in patient_says),
    ]
    return Transcript(
        segments=[
            Segment(id=i, start=i * 5.0, end=i * 5.0 + 4.0, speaker=who, text=t) for i, (who, t) in enumerate(said)
        ]
    )
