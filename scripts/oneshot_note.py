"""The plain baseline scribe's drafter must beat: one prompt, the model's own free-text note.

One call asks the same model for the whole note under the template's headings, greedily, with no
schema, no evidence and no repair, as anyone would write it first. The answer is split at the
headings into statements (one per line or sentence) and grounded with scribe's own check, which
searches the transcript for each statement's evidence, so both designs are scored by the same
code. Used by ``scripts/bench_notes.py --design one-shot``; never by the product.
"""

from __future__ import annotations

import re
import time

from scribe.notes.answers import NOT_DISCUSSED
from scribe.notes.ask import attempt_timing
from scribe.notes.backends.base import Backend, Message
from scribe.notes.factlog import transcript_line
from scribe.notes.grounding import ground_items
from scribe.notes.templates import Template
from scribe.records import NoteDraft, NoteSection, Statement, Transcript

MAX_TOKENS = 1024
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def prompt(transcript: Transcript, template: Template) -> list[Message]:
    """The one-shot request: the transcript, then the headings to write under."""
    headings = "\n".join(f"{s.title}: {s.instruction}" for s in template.sections)
    lines = "".join(transcript_line(s) + "\n" for s in transcript.segments if s.text.strip())
    return [
        Message("system", "You are a helpful assistant that writes clinical notes from consultation transcripts."),
        Message(
            "user",
            f"Transcript:\n{lines}\nWrite a {template.title} of this consultation with these headings:\n{headings}\n"
            "Use only what was said in the consultation.",
        ),
    ]


def _heading(line: str, titles: dict[str, str]) -> str | None:
    bare = re.sub(r"[#*_:]", " ", line).strip().lower()
    return titles.get(" ".join(bare.split()))


def split_note(text: str, template: Template) -> dict[str, list[str]]:
    """Statements under each heading of ``template`` found in a free-text note."""
    titles = {s.title.lower(): s.key for s in template.sections} | {
        s.key.replace("_", " "): s.key for s in template.sections
    }
    found: dict[str, list[str]] = {s.key: [] for s in template.sections}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        key = _heading(line, titles)
        if key is None and ":" in line:  # "Plan: start naproxen" on the heading's own line
            head, _, rest = line.partition(":")
            key = _heading(head, titles)
            if key is not None:
                current = key
                line = rest.strip()
                if not line:
                    continue
                key = None
        if key is not None:
            current = key
            continue
        if current is None:
            continue
        body = _BULLET.sub("", line).strip()
        found[current].extend(s.strip() for s in _SENTENCE.split(body) if s.strip())
    return found


def one_shot_note(transcript: Transcript, backend: Backend, template: Template) -> NoteDraft:
    """The baseline draft: one free-text call, split at the headings, grounded like scribe's drafts."""
    started = time.perf_counter()
    done = backend.complete(prompt(transcript, template), max_tokens=MAX_TOKENS)
    draft = NoteDraft(template=template.name, title=template.title, model=backend.model, backend=backend.name)
    for spec, (key, texts) in zip(template.sections, split_note(done.text, template).items(), strict=True):
        statements = [Statement(text=t) for t in texts] or [Statement(text=NOT_DISCUSSED)]
        draft.sections.append(NoteSection(key=key, title=spec.title, statements=statements))
    ground_items(draft.grounded_items(), transcript)
    call = attempt_timing("draft:one-shot", started, backend, done)
    draft.timings = {call.stage: call, "draft": call.model_copy(update={"stage": "draft"})}
    return draft
