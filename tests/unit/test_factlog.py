"""The fact log's answer format, repair and removal, with a scripted model (the real one: integration tests).

The scripted backend answers from a list and records every prompt, so these tests pin down what
the drafter asks and what it does with each kind of answer, deterministically and in milliseconds.
"""

from __future__ import annotations

import pytest
from helpers.scripted_llm import Scripted, headache_transcript

from scribe.notes.draft import DraftOptions, IncrementalDrafter, draft_note
from scribe.notes.factlog import LogOptions, parse_answer, section_codes, system_prompt
from scribe.notes.templates import load_template
from scribe.records import Segment, SpeakerRole, Transcript

GP = load_template("gp")
CODES = section_codes(GP)
FACT_LOG = DraftOptions(whole=False)  # what recording uses, and uploads too long for one call


def test_codes_come_from_the_template_and_the_prompt_holds_no_template_example() -> None:
    assert CODES == {
        "PC": "presenting_complaint",
        "HX": "history",
        "EX": "examination",
        "AS": "assessment",
        "PL": "plan",
        "SN": "safety_netting",
        "FU": "follow_up",
    }
    prompt = system_prompt(GP, CODES)
    for example in ("111", "999", "A&E", "blood pressure", "pulse"):
        assert example not in prompt


def test_parse_keeps_complete_lines_of_a_cut_answer_and_counts_what_does_not_parse() -> None:
    answer = parse_answer(
        "PC [1] Headache, left side, 3 days.\n- hx [3]: No vomiting.\nnonsense line\nPL [4, 5-6] Paracetamol 1 g q",
        CODES,
        cut=True,
    )
    assert answer.facts == [
        ("presenting_complaint", "Headache, left side, 3 days.", [1]),
        ("history", "No vomiting.", [3]),
    ]
    assert answer.rejected == ["nonsense line"]
    whole = parse_answer("PL [4, 5-6] Paracetamol 1 g qds.", CODES)
    assert whole.facts == [("plan", "Paracetamol 1 g qds.", [4, 5, 6])]
    assert parse_answer("NONE", CODES).none and not parse_answer("NONE", CODES).facts
    assert parse_answer("XX [1] Not a section.", CODES).rejected == ["XX [1] Not a section."]
    stopped = parse_answer("PC [1] Left-sided headache.\nHX [2] Elbows hurt quite a", CODES)
    assert [f[1] for f in stopped.facts] == ["Left-sided headache."], "a line ended mid-sentence (a loop) is dropped"


def test_a_supported_fact_is_kept_an_invented_one_repaired_once_then_removed_visibly() -> None:
    backend = Scripted(
        [
            "PC [1] Left-sided headache for three days.\nHX [3] No vomiting.\n"
            "PL [4] Ibuprofen 400 mg three times a day.",
            "PL [4] Ibuprofen 400 mg twice a day.",  # the repair invents again
        ]
    )
    draft = draft_note(headache_transcript(), backend, GP, options=FACT_LOG)
    kept = {s.key: [st.text for st in s.statements] for s in draft.sections}
    assert kept["presenting_complaint"] == ["Left-sided headache for three days."]
    assert kept["history"] == ["No vomiting."]
    assert kept["plan"] == ["Not discussed."], "the invented medicine is not in the note"
    assert kept["examination"] == ["Not discussed."], "an undiscussed section says so and holds nothing"
    removed = [(r.section, r.statement.text) for r in draft.removed]
    assert removed == [("plan", "Ibuprofen 400 mg three times a day."), ("plan", "Ibuprofen 400 mg twice a day.")]
    assert all(r.statement.supported is False and "ibuprofen" in r.statement.reason.lower() for r in draft.removed)
    # the repair was a new task after the same transcript, naming the reason: never the same request again
    first, repair = backend.prompts
    assert repair[0] == first[0] and repair[1].content.split("\n\nTask:")[0] == first[1].content.split("\n\nTask:")[0]
    assert "do not support" in repair[1].content and "ibuprofen" in repair[1].content.lower()
    assert set(draft.timings) == {"draft:part1", "draft:repair1", "draft"}
    assert all(draft.timings[k].finish_reason == "stop" for k in ("draft:part1", "draft:repair1"))
    assert [m.name for m in draft.medications] == [], "lists hold only what kept statements say"


def test_a_good_repair_replaces_the_fact_and_the_original_stays_visible() -> None:
    backend = Scripted(["PL [4] Paracetamol 500 mg four times a day.", "PL [4] Paracetamol 1 g four times a day."])
    draft = draft_note(headache_transcript(), backend, GP, options=FACT_LOG)
    plan = next(s for s in draft.sections if s.key == "plan")
    assert [s.text for s in plan.statements] == ["Paracetamol 1 g four times a day."]
    assert plan.statements[0].supported
    assert [r.statement.text for r in draft.removed] == ["Paracetamol 500 mg four times a day."]
    assert [m.name.lower() for m in draft.medications] == ["paracetamol"]
    assert draft.medications[0].supported


def test_parts_are_read_once_each_and_the_conversation_only_grows() -> None:
    transcript = headache_transcript()
    backend = Scripted(["PC [1] Left-sided headache for three days.", "HX [3] No vomiting."])
    drafter = IncrementalDrafter(backend, GP)
    drafter.read(transcript.segments[:2])
    drafter.read(transcript.segments[:4])  # the first two again, and two new ones
    first, second = (p[1].content for p in backend.prompts)
    lines_of_first = first.split("\n\nTask:")[0]
    assert second.startswith(lines_of_first), "the second prompt extends the transcript of the first (cache prefix)"
    assert "lines 0 to 1" in first and "lines 2 to 3" in second, "each task asks only for the new lines"
    assert "Left-sided headache" not in second, "the model never sees its earlier answers"
    drafter.note(transcript)
    assert len(backend.prompts) == 3  # the last line at the end
    assert "line 4," in backend.prompts[2][-1].content


def test_an_unparseable_answer_is_asked_again_differently_and_a_cut_one_is_not_repeated() -> None:
    backend = Scripted(["I think the patient has a headache.", "PC [1] Left-sided headache for three days."])
    draft = draft_note(headache_transcript(), backend, GP, options=FACT_LOG)
    assert set(draft.timings) == {"draft:part1", "draft:part1.retry", "draft"}
    assert backend.prompts[1][-1].content != backend.prompts[0][-1].content
    assert next(s for s in draft.sections if s.key == "presenting_complaint").statements[0].supported

    cut = Scripted([("PC [1] Left-sided headache for three days.\nHX [3] No vom", "length")])
    draft = draft_note(headache_transcript(), cut, GP, options=FACT_LOG)
    assert len(cut.prompts) == 1, "a cut answer keeps its complete lines and is not asked again"
    assert draft.timings["draft:part1"].finish_reason == "length"
    assert [s.text for s in draft.sections[0].statements] == ["Left-sided headache for three days."]


def test_past_the_context_the_earliest_lines_give_way_to_their_facts() -> None:
    transcript = headache_transcript()
    room = len(system_prompt(GP, CODES).split()) + 110  # the rules and about two parts
    answers = ["PC [1] Left-sided headache for three days.", "HX [3] No vomiting.", "NONE"]
    backend = Scripted(answers, context_tokens=room)
    drafter = IncrementalDrafter(backend, GP, DraftOptions(LogOptions(part_tokens=22)))
    draft = drafter.note(transcript)
    assert draft.condensed and drafter.log.contexts > 1 and drafter.log.first_line > 0
    last = backend.prompts[-1][1].content
    assert "Facts noted from earlier lines" in last and "Left-sided headache" in last and "[0]" not in last
    texts = [s.text for section in draft.sections for s in section.statements]
    assert "Left-sided headache for three days." in texts and "No vomiting." in texts


def test_a_renumbered_final_transcript_keeps_evidence_by_time() -> None:
    """Mono recordings are re-attributed at the stop, which may split and renumber segments."""
    live = headache_transcript()
    backend = Scripted(["PC [1] Left-sided headache for three days.", "NONE"])
    drafter = IncrementalDrafter(backend, GP)
    drafter.read(live.segments[:4])
    final = Transcript(
        segments=[s.model_copy(update={"id": s.id + 10, "speaker": SpeakerRole.UNKNOWN}) for s in live.segments]
    )
    draft = drafter.note(final)
    pc = draft.sections[0].statements[0]
    assert pc.evidence == [11] and pc.supported
    tail = backend.prompts[1][-1].content
    assert "[4]" in tail and "[14]" not in tail, "the tail is numbered on from the ids the model saw"


@pytest.mark.parametrize("answer", ["", "NONE"])
def test_nothing_said_gives_an_empty_note_not_filler(answer: str) -> None:
    draft = draft_note(headache_transcript(), Scripted([answer]), GP, options=FACT_LOG)
    assert all([s.text for s in section.statements] == ["Not discussed."] for section in draft.sections)


def test_a_fact_copied_from_the_worked_example_is_removed_even_where_the_check_finds_support() -> None:
    example = GP.example
    assert example is not None
    turns = [t for t in example.transcript.strip().splitlines() if t.strip()]
    transcript = Transcript(
        segments=[
            Segment(
                id=i,
                start=i * 5.0,
                end=i * 5.0 + 4.0,
                speaker=SpeakerRole.CLINICIAN if turn.startswith("Clinician") else SpeakerRole.PATIENT,
                text=turn.split(": ", 1)[1],
            )
            for i, turn in enumerate(turns)
        ]
    )
    draft = draft_note(transcript, Scripted(["AS [6] Ankle sprain.", "NONE"]), GP, options=FACT_LOG)
    assert [s.text for s in draft.sections[3].statements] == ["Not discussed."]
    assert draft.removed[0].statement.reason == "repeats the template's worked example, not this consultation"


def test_after_the_stop_the_fact_logs_last_stretch_gets_no_repair_turn_so_the_note_is_not_held_up() -> None:
    from scribe.notes.draft import LiveDrafter

    transcript = headache_transcript()
    backend = Scripted(["PC [1] Left-sided headache for three days.", "PL [4] Ibuprofen 400 mg."])
    drafter = LiveDrafter(backend, GP, FACT_LOG)
    drafter.update(Transcript(segments=transcript.segments[:4]))
    assert drafter.wait_idle(timeout=10)
    draft = drafter.finish(transcript)
    assert len(backend.prompts) == 2, "no repair turn after the stop"
    assert [r.statement.text for r in draft.removed] == ["Ibuprofen 400 mg."]
