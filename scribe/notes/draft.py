"""Draft a structured note from an attributed transcript, one section at a time.

``draft_note`` asks the backend for each template section in turn (a small model stays on task
when it writes one section), then for the structured lists, each answer held to a JSON schema
and validated; a section that still fails after ``attempts`` is kept, marked incomplete with the
reason, never invented. Every statement is grounded against the transcript as soon as its
section is done, and the finished draft lists what it may have left out.

A transcript too long for the model's context is condensed in stages (facts per chunk, each
with its evidence) and the note is drafted from the facts; the draft says so. ``LiveDrafter``
prefills the model with the transcript while the consultation is still being recorded, so after
the stop only the last lines and the sections remain to compute.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from scribe.config import Settings
from scribe.errors import BackendError, DraftError
from scribe.notes import prompts
from scribe.notes.answers import (
    SectionAnswer,
    lists_model,
    lists_schema,
    parse,
    section_schema,
    to_items,
    to_statements,
)
from scribe.notes.backends.base import Backend, Completion
from scribe.notes.templates import Template
from scribe.records import Grounded, NoteDraft, NoteSection, SpeakerRole, StageTiming, Transcript

log = logging.getLogger(__name__)

OnSection = Callable[[NoteSection], None]
CONDENSE_FACTS = 15  # facts asked of one chunk of a long transcript

_ENGLISH = frozenset(
    [
        "the",
        "and",
        "to",
        "of",
        "a",
        "i",
        "you",
        "it",
        "is",
        "in",
        "that",
        "have",
        "for",
        "was",
        "my",
        "on",
        "with",
        "do",
        "what",
        "be",
        "not",
        "any",
        "your",
        "are",
        "this",
        "so",
        "can",
        "me",
        "about",
        "how",
        "yes",
        "no",
        "okay",
        "we",
        "he",
        "she",
        "they",
        "been",
        "had",
        "just",
        "well",
        "when",
        "there",
        "some",
    ]
)


@dataclass(frozen=True)
class DraftOptions:
    """How hard to try and how much to generate."""

    max_tokens: int = 400
    lists_max_tokens: int = 700
    attempts: int = 3
    condense_chunk_tokens: int = 1500

    @classmethod
    def from_settings(cls, settings: Settings) -> DraftOptions:
        return cls(max_tokens=settings.llm_max_tokens, attempts=settings.llm_attempts)


def check_transcript(transcript: Transcript) -> str:
    """Refuse what cannot be drafted; return a reason the draft is incomplete ("" when none).

    Raises DraftError for a transcript with no speech or one not in English; a transcript in
    which only one party was heard is drafted but marked incomplete.
    """
    spoken = [s for s in transcript.segments if s.text.strip()]
    if not spoken:
        raise DraftError("the transcript holds no speech; nothing to draft (check the recording)")
    if transcript.language and not transcript.language.lower().startswith("en"):
        raise DraftError(
            f"the transcript is in language {transcript.language!r}; notes are drafted in English only "
            "(the default model, the prompts and the grounding checks are English)"
        )
    words = re.findall(r"[a-zA-Z']+", " ".join(s.text for s in spoken).lower())
    if len(words) >= 30 and sum(w in _ENGLISH for w in words) / len(words) < 0.08:
        raise DraftError("the transcript does not look like English; notes are drafted in English only")
    roles = {s.speaker for s in spoken} - {SpeakerRole.UNKNOWN}
    if len(roles) == 1:
        (role,) = roles
        return f"only the {role} was heard: the other side of the consultation is missing; check the recording"
    return ""


@dataclass
class Source:
    """What the model reads: transcript lines, or condensed facts mapped back to segment ids."""

    lines: str
    expand: dict[int, list[int]] | None = None
    problems: list[str] = field(default_factory=list)

    def evidence(self, ids: Sequence[int]) -> list[int]:
        if self.expand is None:
            return sorted(set(ids))
        return sorted({seg for i in ids for seg in self.expand.get(i, [])})


@dataclass
class Call:
    answer: BaseModel | None
    error: str
    timing: StageTiming


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
    started = time.perf_counter()
    retry_note = ""
    error = ""
    done = Completion(text="")
    tokens = max_tokens
    for attempt in range(1, attempts + 1):
        messages = prompts.task(lines, instruction, retry_note, frame)
        try:
            done = backend.complete(messages, schema=schema, max_tokens=tokens)
        except BackendError as exc:
            if attempt == 1:
                raise
            error = str(exc)
            break
        try:
            answer = parse(done.text, answer_type)
        except ValueError as exc:
            error = str(exc)
            if done.finish_reason == "length":
                error = f"answer cut off after {tokens} tokens"
                tokens = min(tokens * 2, max(tokens, backend.context_tokens // 4))
            retry_note = error
            log.info("%s: attempt %d rejected: %s", stage, attempt, error)
            continue
        return Call(answer, "", _timing(stage, started, backend, done))
    return Call(None, f"no valid answer after {attempts} attempts ({error})", _timing(stage, started, backend, done))


def _timing(stage: str, started: float, backend: Backend, done: Completion) -> StageTiming:
    return StageTiming(
        stage=stage,
        wall_seconds=time.perf_counter() - started,
        model=backend.model,
        device=backend.device,
        prompt_tokens=done.prompt_tokens or None,
        cached_tokens=done.cached_tokens or None,
        completion_tokens=done.completion_tokens or None,
    )


def _budget(backend: Backend, options: DraftOptions) -> int:
    """Tokens the transcript lines may take in one prompt."""
    overhead = backend.count_tokens(prompts.SYSTEM + prompts.HEADER + prompts.FOOTER) + 400
    return backend.context_tokens - max(options.max_tokens, options.lists_max_tokens) - overhead


def _quoted(transcript: Transcript) -> frozenset[int]:
    from scribe.notes.injection import find_instructions

    found = frozenset(find_instructions(transcript))
    if found:
        log.warning("segments %s read as instructions to software; marked as recorded speech", sorted(found))
    return found


def _source(transcript: Transcript, backend: Backend, options: DraftOptions, timings: list[StageTiming]) -> Source:
    """The transcript lines, condensed in stages when they do not fit the context."""
    segments = [s for s in transcript.segments if s.text.strip()]
    quoted = _quoted(transcript)
    lines = prompts.transcript_lines(segments, quoted)
    budget = _budget(backend, options)
    if backend.count_tokens(lines) <= budget:
        return Source(lines)
    # Stage by stage: units are (text lines to show, the segment ids behind each unit).
    units: list[tuple[str, list[int]]] = [(prompts.transcript_lines([s], quoted), [s.id]) for s in segments]
    problems: list[str] = []
    for stage in range(1, 4):
        facts, problems_here = _condense(units, backend, options, stage, timings)
        problems += problems_here
        if not facts:
            raise DraftError("condensing the long transcript produced nothing; the model cannot read it")
        lines = prompts.fact_lines([text for text, _ in facts])
        log.info("condensed stage %d: %d units into %d facts", stage, len(units), len(facts))
        if backend.count_tokens(lines) <= budget:
            expand = {i: ids for i, (_, ids) in enumerate(facts)}
            return Source(lines, expand, problems)
        units = [(_renumber(prompts.fact_lines([text]), i), ids) for i, (text, ids) in enumerate(facts)]
    raise DraftError("the transcript is too long to condense into the model's context; raise SCRIBE_LLM_CONTEXT")


def _condense(
    units: list[tuple[str, list[int]]],
    backend: Backend,
    options: DraftOptions,
    stage: int,
    timings: list[StageTiming],
) -> tuple[list[tuple[str, list[int]]], list[str]]:
    """Facts (text, segment ids) from chunks of units that each fit ``condense_chunk_tokens``."""
    chunk_limit = min(options.condense_chunk_tokens, _budget(backend, options))
    chunks: list[list[int]] = [[]]
    used = 0
    for index, (line, _) in enumerate(units):
        cost = backend.count_tokens(line)
        if chunks[-1] and used + cost > chunk_limit:
            chunks.append([])
            used = 0
        chunks[-1].append(index)
        used += cost
    facts: list[tuple[str, list[int]]] = []
    problems: list[str] = []
    for n, chunk in enumerate(chunks):
        # Inside a chunk the model cites the units' own numbers: line i of the chunk is unit chunk[i].
        local = "".join(_renumber(units[i][0], j) for j, i in enumerate(chunk))
        call = ask(
            backend,
            local,
            prompts.condense_task(),
            section_schema(CONDENSE_FACTS),
            SectionAnswer,
            options.lists_max_tokens,
            options.attempts,
            f"condense:{stage}.{n}",
        )
        timings.append(call.timing)
        if call.answer is None:
            first, last = units[chunk[0]][1], units[chunk[-1]][1]
            problems.append(f"part of the transcript (segments {first[0]}-{last[-1]}) could not be condensed")
            continue
        assert isinstance(call.answer, SectionAnswer)
        for statement in to_statements(call.answer):
            ids = sorted({seg for j in statement.evidence if 0 <= j < len(chunk) for seg in units[chunk[j]][1]})
            if statement.text != "Not discussed.":
                facts.append((statement.text, ids))
    return facts, problems


def _renumber(line: str, number: int) -> str:
    return re.sub(r"^\[\d+\]", f"[{number}]", line, count=1)


def _ground(items: Sequence[Grounded], transcript: Transcript) -> None:
    from scribe.notes.grounding import ground_items

    ground_items(items, transcript)


def draft_note(
    transcript: Transcript,
    backend: Backend,
    template: Template,
    *,
    options: DraftOptions | None = None,
    on_section: OnSection | None = None,
) -> NoteDraft:
    """Draft, ground and check a note; ``on_section`` receives each section as soon as it is done."""
    options = options or DraftOptions()
    started = time.perf_counter()
    speaker_problem = check_transcript(transcript)
    timings: list[StageTiming] = []
    source = _source(transcript, backend, options, timings)
    draft = NoteDraft(
        template=template.name,
        title=template.title,
        model=backend.model,
        backend=backend.name,
        condensed=source.expand is not None,
    )
    problems = [p for p in (speaker_problem, *source.problems) if p]
    for spec in template.sections:
        call = ask(
            backend,
            source.lines,
            prompts.section_task(template.title, spec.title, spec.instruction, spec.max_statements),
            section_schema(spec.max_statements),
            SectionAnswer,
            options.max_tokens,
            options.attempts,
            f"draft:{spec.key}",
        )
        timings.append(call.timing)
        section = NoteSection(key=spec.key, title=spec.title)
        if call.answer is None:
            section.complete = False
            section.error = call.error
            problems.append(f"section {spec.title!r}: {call.error}")
        else:
            assert isinstance(call.answer, SectionAnswer)
            section.statements = [_mapped(s, source) for s in to_statements(call.answer)]
            _ground(section.statements, transcript)
        draft.sections.append(section)
        if on_section is not None:
            on_section(section)
    if template.lists:
        _draft_lists(draft, template, transcript, backend, source, options, timings, problems)
    from scribe.notes.omissions import find_omissions

    draft.omissions = find_omissions(draft, transcript)
    if problems:
        draft.complete = False
        draft.incomplete_reason = "; ".join(problems)
    timings.append(
        StageTiming(
            stage="draft",
            wall_seconds=time.perf_counter() - started,
            model=backend.model,
            device=backend.device,
            prompt_tokens=sum(t.prompt_tokens or 0 for t in timings) or None,
            cached_tokens=sum(t.cached_tokens or 0 for t in timings) or None,
            completion_tokens=sum(t.completion_tokens or 0 for t in timings) or None,
        )
    )
    draft.timings = {t.stage: t for t in timings}
    return draft


G = TypeVar("G", bound=Grounded)


def _mapped(item: G, source: Source) -> G:
    """Point evidence at transcript segments (condensed facts cite facts, not segments)."""
    item.evidence = source.evidence(item.evidence)
    return item


def _draft_lists(
    draft: NoteDraft,
    template: Template,
    transcript: Transcript,
    backend: Backend,
    source: Source,
    options: DraftOptions,
    timings: list[StageTiming],
    problems: list[str],
) -> None:
    answer_type = lists_model(template.lists)
    call = ask(
        backend,
        source.lines,
        prompts.lists_task(template.lists),
        lists_schema(template.lists),
        answer_type,
        options.lists_max_tokens,
        options.attempts,
        "draft:lists",
    )
    timings.append(call.timing)
    if call.answer is None:
        problems.append(f"structured lists: {call.error}")
        return
    for name in template.lists:
        items = [_mapped(item, source) for item in to_items(call.answer, name)]
        _ground(items, transcript)
        setattr(draft, name, items)


class LiveDrafter:
    """Keeps the model's cache warm on the transcript while the consultation is recorded.

    Call :meth:`update` with the transcript so far as often as you like (it returns at once; a
    worker thread prefills the latest one), then :meth:`finish` with the final transcript.
    """

    def __init__(self, backend: Backend, template: Template, options: DraftOptions | None = None) -> None:
        self.backend = backend
        self.template = template
        self.options = options or DraftOptions()
        self._latest: Transcript | None = None
        self._busy = False
        self._done_count = 0
        self._wake = threading.Condition()
        self._stop = False
        self.prefills = 0
        self._budget = _budget(backend, self.options)
        self._worker = threading.Thread(target=self._run, name="live-drafter", daemon=True)
        self._worker.start()

    def update(self, transcript: Transcript) -> None:
        """Offer the transcript so far; only the newest offer is prefilled."""
        with self._wake:
            self._latest = transcript
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stop and self._latest is None:
                    self._wake.wait()
                if self._stop:
                    return
                transcript, self._latest = self._latest, None
                self._busy = True
            try:
                self._prefill(transcript)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _prefill(self, transcript: Transcript) -> None:
        segments = [s for s in transcript.segments if s.text.strip()]
        if len(segments) <= self._done_count:
            return
        lines = prompts.transcript_lines(segments, _quoted(transcript))
        if self.backend.count_tokens(lines) > self._budget:
            return  # it will be condensed after the stop; nothing to prefill
        try:
            self.backend.prefill(prompts.prefix(lines))
            self.prefills += 1
            self._done_count = len(segments)
        except BackendError as exc:  # prefill is an optimisation: drafting will redo the work
            log.warning("live prefill failed: %s", exc)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the latest offer is prefilled; False if ``timeout`` passed first."""
        with self._wake:
            return self._wake.wait_for(lambda: self._latest is None and not self._busy, timeout)

    def _join(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        self._worker.join()

    def finish(self, transcript: Transcript, on_section: OnSection | None = None) -> NoteDraft:
        """Stop prefilling and draft the note from the final transcript."""
        self._join()
        return draft_note(transcript, self.backend, self.template, options=self.options, on_section=on_section)

    def close(self) -> None:
        self._join()
