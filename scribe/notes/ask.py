"""One JSON-shaped task put to the model, validated, with a bounded and visible retry (used by letters).

Every attempt is recorded (stop reason, tokens generated and cached, seconds). A rejected answer
is retried with the reason added to the prompt, so no retry repeats an identical greedy request;
an answer cut off at its token limit is asked again for something shorter, with the same budget
(a runaway answer given more room runs away further).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from scribe.errors import BackendError
from scribe.notes import prompts
from scribe.notes.answers import parse
from scribe.notes.backends.base import Backend, Completion
from scribe.records import StageTiming

log = logging.getLogger(__name__)


@dataclass
class Source:
    """What the model reads: numbered lines, and (for facts) the transcript segments behind each number."""

    lines: str
    expand: dict[int, list[int]] | None = None

    def evidence(self, ids: Sequence[int]) -> list[int]:
        if self.expand is None:
            return sorted(set(ids))
        return sorted({seg for i in ids for seg in self.expand.get(i, [])})


@dataclass
class Call:
    """The validated answer (None when every attempt failed), why it failed, and every attempt's cost."""

    answer: BaseModel | None
    error: str
    timings: list[StageTiming] = field(default_factory=list)


def ask(
    backend: Backend,
    lines: str,
    instruction: str,
    schema: dict,
    answer_type: type[BaseModel],
    max_tokens: int,
    attempts: int,
    stage: str,
    frame: tuple[str, str] = (prompts.HEADER, prompts.FOOTER),
) -> Call:
    """One task with validation and retries; BackendError from the first attempt propagates."""
    retry_note = ""
    error = ""
    timings: list[StageTiming] = []
    for attempt in range(1, attempts + 1):
        messages = prompts.task(lines, instruction, retry_note, frame)
        started = time.perf_counter()
        try:
            done = backend.complete(messages, schema=schema, max_tokens=max_tokens)
        except BackendError as exc:
            if attempt == 1:
                raise
            error = str(exc)
            break
        timings.append(attempt_timing(f"{stage}#{attempt}" if attempt > 1 else stage, started, backend, done))
        try:
            answer = parse(done.text, answer_type)
        except ValueError as exc:
            error = str(exc)
            if done.finish_reason == "length":
                error = f"answer cut off after {max_tokens} tokens; write fewer, shorter statements"
            retry_note = error
            log.info("%s: attempt %d rejected: %s", stage, attempt, error)
            continue
        return Call(answer, "", timings)
    return Call(None, f"no valid answer after {attempts} attempts ({error})", timings)


def attempt_timing(stage: str, started: float, backend: Backend, done: Completion) -> StageTiming:
    """The record of one model call."""
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
