"""The cheap line constraint: what it allows at each point of a fact line, on a toy vocabulary."""

from __future__ import annotations

import numpy as np

from scribe.notes.backends.lines import LineConstraint, LineFormat, apply

PIECES = [
    "PC",
    "P",
    "C",
    " [",
    "[",
    "1",
    "12",
    "3",
    ",",
    "]",
    "] ",
    " Head",
    "ache",
    ".",
    "\n",
    "\n\n",
    " left",
    ". Then",
    "NONE",
    "HX",
    "X",
    "<eos>",
    "a\nPC",
    " side",
]
EOS = PIECES.index("<eos>")


def allowed(constraint: LineConstraint, answer: str) -> set[str]:
    mask = constraint.allowed(answer)
    return set(PIECES) if mask is None else {p for p, ok in zip(PIECES, mask, strict=True) if ok}


def test_a_line_starts_with_a_known_code_and_cites_at_most_max_ids_lines() -> None:
    c = LineConstraint(LineFormat(codes=("PC", "HX"), max_ids=2), PIECES, [EOS])
    start = allowed(c, "")
    assert {"PC", "P", "HX", "NONE", "\n", "<eos>"} <= start and " Head" not in start and "[" not in start
    assert allowed(c, "PC") >= {" [", "["} and " Head" not in allowed(c, "PC")
    assert {"1", "12", "3"} <= allowed(c, "PC [") and "]" not in allowed(c, "PC [")
    assert {",", "]", "] ", "3"} <= allowed(c, "PC [12")
    assert "," not in allowed(c, "PC [12,3") and "]" in allowed(c, "PC [12,3"), "max_ids=2: no third id"
    assert " Head" in allowed(c, "PC [12,3]") and "\n" not in allowed(c, "PC [12,3]")


def test_after_one_sentence_the_line_must_end_and_a_new_one_starts_with_a_code() -> None:
    c = LineConstraint(LineFormat(codes=("PC", "HX"), max_words=5), PIECES, [EOS])
    mid = allowed(c, "PC [1] Headache left")
    assert {"ache", ".", " side", "\n"} <= mid
    assert ". Then" not in mid and "a\nPC" not in mid, "no second sentence or line inside one token"
    assert allowed(c, "PC [1] Headache left side.") == {"\n", "\n\n", "<eos>"}
    assert allowed(c, "PC [1] a b c d e") == {"\n", "\n\n", "<eos>"}, "max_words ends the line"
    assert " Head" not in allowed(c, "PC [1] Headache.\n"), "the next line needs its code first"
    assert allowed(c, "NONE") == {"\n", "\n\n", "<eos>"}


def test_apply_masks_scores_in_place() -> None:
    c = LineConstraint(LineFormat(codes=("PC",)), PIECES, [EOS])
    scores = np.zeros(len(PIECES), dtype=np.float32)
    masked = apply(scores, c.allowed("PC [1] Headache."))
    assert np.isfinite(masked).sum() == 3 and masked[PIECES.index("\n")] == 0


def test_a_run_of_fact_text_written_again_is_found_but_heads_may_repeat() -> None:
    c = LineConstraint(LineFormat(codes=("PC", "HX"), no_repeat=3), PIECES, [EOS])
    ids = [PIECES.index(p) for p in ("PC", " [", "1", "] ", " Head", "ache", " left", ".", "\n")]
    again = [PIECES.index(p) for p in ("HX", " [", "1", "] ", " Head", "ache")]
    tokens = ids + again
    answer = "".join(PIECES[t] for t in tokens)
    assert c.repeats(tokens, answer) == [PIECES.index(" left")], "' Head ache' was followed by ' left' before"
    head = ids + [PIECES.index(p) for p in ("HX", " [", "1")]
    assert c.repeats(head, "".join(PIECES[t] for t in head)) == [], "a head may repeat"
    assert {p for p, ok in zip(PIECES, c.end, strict=True) if ok} == {"<eos>"}, "a loop ends the answer"
