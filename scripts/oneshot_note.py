"""The plain baseline scribe's drafter must beat: one prompt, the model's own free-text note.

One call asks the same model for the whole note under the template's headings, greedily, with no
schema, no evidence and no repair, as anyone would write it first. The answer is split at the
headings into sentences by scribe's own splitter and grounded with scribe's own check, which
searches the transcript for each statement's evidence, so both designs are scored by the same
code. scribe's prose drafter (scribe/notes/prose.py) asks in the same words; what it adds is
after the model: unsupported sentences cut back or removed (and listed), repeats dropped. Used by
``scripts/bench_notes.py --design one-shot``; never by the product.
"""

from __future__ import annotations

import time

from scribe.notes.answers import NOT_DISCUSSED
from scribe.notes.backends.base import Backend, Message, call_timing
from scribe.notes.factlog import transcript_line
from scribe.notes.grounding import ground_items
from scribe.notes.prose import split_note
from scribe.notes.templates import Template
from scribe.records import NoteDraft, NoteSection, Statement, Transcript

MAX_TOKENS = 1024


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


def one_shot_note(transcript: Transcript, backend: Backend, template: Template) -> NoteDraft:
    """The baseline draft: one free-text call, split at the headings, grounded like scribe's drafts."""
    started = time.perf_counter()
    done = backend.complete(prompt(transcript, template), max_tokens=MAX_TOKENS)
    draft = NoteDraft(template=template.name, title=template.title, model=backend.model, backend=backend.name)
    for spec, (key, texts) in zip(template.sections, split_note(done.text, template).items(), strict=True):
        statements = [Statement(text=t) for t in texts] or [Statement(text=NOT_DISCUSSED)]
        draft.sections.append(NoteSection(key=key, title=spec.title, statements=statements))
    ground_items(draft.grounded_items(), transcript)
    call = call_timing("draft:one-shot", started, backend, done)
    draft.timings = {call.stage: call, "draft": call.model_copy(update={"stage": "draft"})}
    return draft
