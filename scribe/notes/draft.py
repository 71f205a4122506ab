"""Draft a structured note from an attributed transcript, as it is spoken or after it ends.

A transcript that fits one call is drafted as prose (:mod:`scribe.notes.prose`): one request for
the note under the template's headings, every sentence grounded, cut back or removed (visibly)
where the transcript does not support it. Longer ones go to :class:`IncrementalDrafter`, which
shows the model the transcript part by part in one cached conversation
(:mod:`scribe.notes.factlog`): each part's facts are logged with their evidence, grounded at once,
repaired once where the check fails, and kept aside as *removed* where the repair fails too.
Either way the note is assembled the same way: sections in template order (an empty one says
"Not discussed."), structured lists derived from the kept statements (:mod:`scribe.notes.lists`),
then the omission check.

``draft_note`` drafts a whole transcript (an upload, ``scribe note``); ``LiveDrafter`` has the
model read a recording as it is recognised, on a worker thread, so that at the stop only the
last stretch is left to read before the note is written.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from scribe.config import Settings
from scribe.errors import DraftError
from scribe.notes.answers import NOT_DISCUSSED
from scribe.notes.backends.base import Backend
from scribe.notes.factlog import FactLog, LoggedFact, LogOptions
from scribe.notes.prose import Drafted, ProseOptions, draft_prose, fits, transcript_prefix
from scribe.notes.templates import Template, TemplateSection
from scribe.records import NoteDraft, NoteSection, Segment, SpeakerRole, StageTiming, Statement, Transcript

log = logging.getLogger(__name__)

OnSection = Callable[[NoteSection], None]
EXAMPLE_LIKENESS = 85  # rapidfuzz ratio at which a fact counts as copied from the template's worked example

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


@dataclass(frozen=True)
class DraftOptions:
    """How the model reads and writes, and whether unsupported statements are repaired.

    ``whole``: a transcript (an upload, or a recording) that fits the context is drafted in one
    call as prose (:mod:`scribe.notes.prose`); otherwise, or with ``whole`` off, it is read in
    parts into the fact log (:mod:`scribe.notes.factlog`).
    """

    log: LogOptions = LogOptions()
    prose: ProseOptions = ProseOptions()
    whole: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> DraftOptions:
        return cls(
            LogOptions(part_tokens=settings.llm_part_tokens, repair=settings.llm_repair),
            ProseOptions(max_tokens=settings.llm_note_tokens, repair=settings.llm_repair),
            whole=settings.llm_whole_note,
        )


def _quoted(segments: Sequence[Segment]) -> frozenset[int]:
    from scribe.notes.injection import find_instructions

    found = frozenset(find_instructions(Transcript(segments=list(segments))))
    if found:
        log.warning("segments %s read as instructions to software; marked as recorded speech", sorted(found))
    return found


def _ground(facts: Sequence[LoggedFact], segments: Sequence[Segment]) -> None:
    """Ground logged facts against ``segments`` in place (the check may also correct their evidence)."""
    from scribe.notes.grounding import ground_items

    statements = [Statement(text=f.text, evidence=list(f.evidence)) for f in facts]
    ground_items(statements, Transcript(segments=list(segments)))
    for fact, statement in zip(facts, statements, strict=True):
        if fact.supported is False and fact.reason:  # decided before the check (too long to be one fact)
            continue
        fact.supported, fact.reason, fact.evidence = statement.supported, statement.reason, statement.evidence


def same_ids(seen: dict[int, Segment], final: Transcript) -> bool:
    """Whether ``final`` kept the ids (and times) of the segments the model was shown."""
    by_id = {s.id: s for s in final.segments}
    return all(
        s.id in by_id and abs(by_id[s.id].start - s.start) < 0.05 and abs(by_id[s.id].end - s.end) < 0.05
        for s in seen.values()
    )


def later_segments(seen: dict[int, Segment], final: Transcript) -> list[Segment]:
    """Segments of ``final`` after what the model has been shown (``seen``), with ids that cannot clash.

    When the final transcript kept the ids the model saw (stereo, uploads), they are used as they
    are; when it renumbered them (a mono recording re-attributed at the stop), the new lines are
    numbered on from the model's last id (the fact log maps them back by time).
    """
    spoken = [s for s in final.segments if s.text.strip()]
    if not seen:
        return spoken
    last_end = max(s.end for s in seen.values())
    later = [s for s in spoken if (s.start + s.end) / 2 > last_end]
    if same_ids(seen, final):
        return later
    first = max(seen) + 1
    return [s.model_copy(update={"id": first + i}) for i, s in enumerate(later)]


class IncrementalDrafter:
    """Grows one consultation's note from its transcript, part by part; :meth:`note` assembles it."""

    def __init__(self, backend: Backend, template: Template, options: DraftOptions | None = None) -> None:
        self.backend = backend
        self.template = template
        self.options = options or DraftOptions()
        self.log = FactLog(backend, template, self.options.log)
        self.seen: dict[int, Segment] = {}  # the model's view: segments as first shown, by the id shown
        self.removed: list[LoggedFact] = []

    def read(self, segments: Sequence[Segment], *, repair: bool = True) -> int:
        """Read the segments not yet shown, in parts of about ``part_tokens``; returns the parts read.

        Segments already shown are never shown again, even if their speaker or text changed since
        (the model's view stays append-only, so its cache stays valid).
        """
        new = self.log.new_segments(segments)
        if not new:
            return 0
        quoted = _quoted(new)
        parts = self.log.parts_of(new, quoted)
        for part in parts:
            for segment in part:
                self.seen[segment.id] = segment
            facts = self.log.read(part, quoted)
            self._check(facts, repair=repair)
        return len(parts)

    def _check(self, facts: list[LoggedFact], *, repair: bool = True) -> None:
        """Ground new facts; unsupported ones get one repair turn, and what still fails is kept aside.

        The removed list holds each original the check failed (the model's own claim, with the
        reason) and any rewrite that failed again; supported rewrites take their place in the log.
        """
        if not facts:
            return
        segments = list(self.seen.values())
        _ground(facts, segments)
        self._unmask_copies(facts)
        failed = [f for f in facts if f.supported is False]
        if not failed:
            return
        for fact in failed:
            self.log.facts.remove(fact)
        self.removed.extend(failed)
        rewritten = self.log.repair(failed) if repair else []
        _ground(rewritten, segments)
        self._unmask_copies(rewritten)
        for fact in rewritten:
            if fact.supported is False:
                self.log.facts.remove(fact)
                self.removed.append(fact)
        log.info(
            "%d facts unsupported; %d rewritten and supported",
            len(failed),
            sum(f.supported is not False for f in rewritten),
        )

    def _unmask_copies(self, facts: Sequence[LoggedFact]) -> None:
        """Facts that repeat the template's worked example are not this consultation's, whatever the check found."""
        from rapidfuzz import fuzz

        examples = [e.lower() for e in self.log.example_facts()]
        for fact in facts:
            if fact.supported and any(fuzz.ratio(fact.text.lower(), e) >= EXAMPLE_LIKENESS for e in examples):
                fact.supported, fact.reason = False, "repeats the template's worked example, not this consultation"

    def tail(self, final: Transcript) -> list[Segment]:
        """Segments of the final transcript after what the model has seen (:func:`later_segments`)."""
        return later_segments(self.seen, final)

    def _mapping(self, final: Transcript) -> Callable[[list[int]], list[int]]:
        """Map the ids the model cited onto the final transcript's segments (by time where they differ)."""
        if same_ids(self.seen, final):
            return lambda ids: sorted(set(ids))
        spans = {i: (s.start, s.end) for i, s in self.seen.items()}

        def overlapping(ids: list[int]) -> list[int]:
            found: set[int] = set()
            for i in ids:
                if i not in spans:
                    continue
                start, end = spans[i]
                for seg in final.segments:
                    if min(end, seg.end) - max(start, seg.start) > 0.5 * min(end - start, seg.end - seg.start):
                        found.add(seg.id)
            return sorted(found)

        return overlapping

    def note(
        self,
        final: Transcript,
        on_section: OnSection | None = None,
        started: float | None = None,
        *,
        repair_tail: bool = True,
    ) -> NoteDraft:
        """Read what is left of ``final`` and assemble the note from the facts logged.

        With ``repair_tail`` False (live, after the stop) the last stretch's unsupported facts go
        to the removed list without a repair turn, so the clinician's note is not held up by it.
        """
        from scribe.notes.grounding import ground_items

        started = time.perf_counter() if started is None else started
        speaker_problem = check_transcript(final)
        tail = self.tail(final)
        if tail:
            self.read(tail, repair=repair_tail)
        mapped = self._mapping(final)
        sections: dict[str, list[Statement]] = {}
        for spec in self.template.sections:
            statements = self.log.statements(spec.key)
            for statement in statements:
                statement.evidence = mapped(statement.evidence)
            ground_items(statements, final)
            for statement in statements:
                if statement.supported is False:  # the mapped evidence no longer holds: kept aside, never lost
                    self.removed.append(
                        LoggedFact(spec.key, statement.text, statement.evidence, 0, False, statement.reason)
                    )
            sections[spec.key] = [s for s in statements if s.supported is not False]
        removed = self.log.removed(self.removed)
        for item in removed:
            item.statement.evidence = mapped(item.statement.evidence)
        return assemble(
            self.template,
            self.backend,
            final,
            Drafted(sections, removed, self.log.timings, [speaker_problem, *self.log.problems], self.log.contexts > 1),
            started,
            on_section,
        )


def _section(spec: TemplateSection, kept: list[Statement]) -> NoteSection:
    """A note section from its kept statements; "Not discussed." when there are none."""
    if not kept:
        kept = [Statement(text=NOT_DISCUSSED, supported=True, reason="not discussed")]
    return NoteSection(key=spec.key, title=spec.title, statements=kept)


def assemble(
    template: Template,
    backend: Backend,
    final: Transcript,
    drafted: Drafted,
    started: float,
    on_section: OnSection | None = None,
) -> NoteDraft:
    """The note: sections in template order ("Not discussed." where empty), lists, omissions, timings."""
    from scribe.notes.lists import derive_lists
    from scribe.notes.omissions import find_omissions

    draft = NoteDraft(
        template=template.name,
        title=template.title,
        model=backend.model,
        backend=backend.name,
        condensed=drafted.condensed,
        removed=drafted.removed,
    )
    for spec in template.sections:
        section = _section(spec, drafted.sections.get(spec.key, []))
        draft.sections.append(section)
        if on_section is not None and spec.key not in drafted.announced:
            on_section(section)
    derive_lists(draft, template.lists, final)
    draft.omissions = find_omissions(draft, final)
    problems = [p for p in drafted.problems if p]
    if problems:
        draft.complete = False
        draft.incomplete_reason = "; ".join(problems)
    timings = {t.stage: t for t in drafted.calls}
    timings["draft"] = StageTiming(
        stage="draft",
        wall_seconds=time.perf_counter() - started,
        model=backend.model,
        device=backend.device,
        prompt_tokens=sum(t.prompt_tokens or 0 for t in drafted.calls) or None,
        cached_tokens=sum(t.cached_tokens or 0 for t in drafted.calls) or None,
        completion_tokens=sum(t.completion_tokens or 0 for t in drafted.calls) or None,
    )
    draft.timings = timings
    return draft


def draft_note(
    transcript: Transcript,
    backend: Backend,
    template: Template,
    *,
    options: DraftOptions | None = None,
    on_section: OnSection | None = None,
    view: Sequence[Segment] | None = None,
    started: float | None = None,
) -> NoteDraft:
    """Draft, ground and check a note from a whole transcript; ``on_section`` receives each section.

    ``view``: the transcript as the model has already read it, when that differs from
    ``transcript`` (a recording, whose earlier lines stay as first shown so the model's cache
    holds); the note is grounded against ``transcript`` either way.
    """
    started = time.perf_counter() if started is None else started
    speaker_problem = check_transcript(transcript)
    options = options or DraftOptions()
    segments = [s for s in transcript.segments if s.text.strip()]
    shown = segments if view is None else [s for s in view if s.text.strip()]
    if options.whole and fits(shown, backend, template, options.prose):
        spoken = transcript.model_copy(update={"segments": segments})
        specs = {spec.key: spec for spec in template.sections}
        written = None if on_section is None else lambda key, kept: on_section(_section(specs[key], kept))
        drafted = draft_prose(spoken, backend, template, options.prose, _quoted(shown), view=shown, on_written=written)
        drafted.problems.insert(0, speaker_problem)
        return assemble(template, backend, transcript, drafted, started, on_section)
    log.info("the transcript does not fit one call; it is read in parts, one fact per line")
    drafter = IncrementalDrafter(backend, template, options)
    return drafter.note(transcript, on_section, started)


class LiveDrafter:
    """Drafts while the consultation is recorded: new segments are read on a worker thread.

    Call :meth:`update` with the transcript so far as often as you like (it returns at once;
    the worker reads whatever arrived since it last read), then :meth:`finish` with the final
    transcript: it waits for the read in progress, reads the last stretch and writes the note.

    With ``DraftOptions.whole`` (the default) the model reads the prose request's transcript as it
    grows (:func:`~scribe.notes.prose.transcript_prefix`), so at the stop it reads only the last
    stretch and the request's closing lines, then writes the note, each section passed on as soon
    as it is written and checked. A recording that outgrows one call (about 40 minutes of talk at
    8192 tokens) switches to the fact log, which writes as it reads. Lines keep the speaker and
    text they were first shown with, so a re-attribution at the stop does not void the cache.
    """

    def __init__(
        self,
        backend: Backend,
        template: Template,
        options: DraftOptions | None = None,
        *,
        lock: threading.Lock | None = None,
    ) -> None:
        self.backend = backend
        self.drafter = IncrementalDrafter(backend, template, options)
        self.prose = self.drafter.options.whole  # until the recording outgrows one call; then the fact log
        self.shown: dict[int, Segment] = {}  # prose: the lines the model has read, as first shown
        self._quoted: set[int] = set()
        self._lock = lock or threading.Lock()  # a caller's lock keeps the model off cores its ASR is using
        self._latest: list[Segment] | None = None
        self._busy = False
        self._wake = threading.Condition()
        self._stop = False
        self.parts_read = 0
        self._worker = threading.Thread(target=self._run, name="live-drafter", daemon=True)
        self._worker.start()

    def update(self, transcript: Transcript) -> None:
        """Offer the transcript so far; the worker reads what it has not seen when it is free."""
        with self._wake:
            self._latest = list(transcript.segments)
            self._wake.notify_all()

    def _run(self) -> None:
        try:  # the request's opening (or the fact log's rules) is read before the first words arrive
            with self._lock:
                self.backend.prefill(transcript_prefix([]) if self.prose else self.drafter.log.messages)
        except Exception:  # noqa: BLE001  # an optimisation only: the first read does it otherwise
            log.warning("could not prefill the drafting conversation", exc_info=True)
        while True:
            with self._wake:
                while not self._stop and self._latest is None:
                    self._wake.wait()
                if self._stop:
                    return
                segments, self._latest = self._latest, None
                self._busy = True
            try:
                with self._lock:
                    self._read(segments)
            except Exception:  # noqa: BLE001  # drafting during recording is an optimisation; finish() redoes it
                log.warning("live drafting failed; the note will be drafted after the stop", exc_info=True)
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _read(self, segments: Sequence[Segment]) -> None:
        """Have the model read what is new: the prose request's transcript, or the fact log's next parts."""
        if self.prose:
            new = [s for s in segments if s.text.strip() and s.id not in self.shown]
            self.shown.update((s.id, s) for s in new)
            self._quoted |= _quoted(new)
            view = list(self.shown.values())
            if fits(view, self.backend, self.drafter.template, self.drafter.options.prose):
                self.backend.prefill(transcript_prefix(view, frozenset(self._quoted)))
                return
            log.info("the recording has outgrown one call; from here its note is read in parts as facts")
            self.prose = False
        self.parts_read += self.drafter.read(segments)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every offer so far is read; False if ``timeout`` passed first."""
        with self._wake:
            return self._wake.wait_for(lambda: self._latest is None and not self._busy, timeout)

    def _join(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        self._worker.join()

    def finish(self, transcript: Transcript, on_section: OnSection | None = None) -> NoteDraft:
        """Stop reading in the background, read the last stretch of ``transcript`` and write the note."""
        started = time.perf_counter()
        self._join()
        with self._lock:
            if self.prose:
                view = list(self.shown.values()) + later_segments(self.shown, transcript)
                return draft_note(
                    transcript,
                    self.backend,
                    self.drafter.template,
                    options=self.drafter.options,
                    on_section=on_section,
                    view=view,
                    started=started,
                )
            return self.drafter.note(transcript, on_section, started, repair_tail=False)

    def close(self) -> None:
        self._join()
