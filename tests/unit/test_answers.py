"""Answer schemas and parsing: what the model must produce and how it becomes note records."""

from __future__ import annotations

import pytest

from scribe.notes.answers import (
    NOT_DISCUSSED,
    SectionAnswer,
    lists_model,
    lists_schema,
    parse,
    section_schema,
    to_items,
    to_statements,
)
from scribe.records import Finding


def test_section_schema_is_self_contained_and_bounded() -> None:
    schema = section_schema(4)
    assert "$defs" not in str(schema) and "$ref" not in str(schema)
    statements = schema["properties"]["statements"]
    assert statements["maxItems"] == 4 and statements["minItems"] == 1
    assert statements["items"]["required"] == ["text", "evidence"]
    assert statements["items"]["additionalProperties"] is False


def test_lists_schema_only_has_the_lists_asked_for() -> None:
    schema = lists_schema(("medications", "allergies"))
    assert schema["required"] == ["medications", "allergies"]
    medication = schema["properties"]["medications"]["items"]
    assert set(medication["required"]) == {"name", "dose", "route", "frequency", "change", "evidence"}
    assert "unknown" in medication["properties"]["change"]["enum"]


def test_parse_finds_the_json_inside_prose_and_rejects_the_wrong_shape() -> None:
    answer = parse('Sure! {"statements": [{"text": "Headache.", "evidence": [3]}]} hope that helps', SectionAnswer)
    assert answer.statements[0].evidence == [3]
    with pytest.raises(ValueError, match="not valid JSON"):
        parse('{"statements": "none"}', SectionAnswer)
    with pytest.raises(ValueError, match="not valid JSON"):
        parse('{"statements": [{"text": "cut off', SectionAnswer)


def test_to_statements_drops_blanks_and_repeats_and_keeps_not_discussed_only_alone() -> None:
    answer = SectionAnswer.model_validate(
        {
            "statements": [
                {"text": "  Headache   since midday. ", "evidence": [3, 3, 2]},
                {"text": "Headache since midday", "evidence": [3]},
                {"text": "", "evidence": []},
                {"text": NOT_DISCUSSED, "evidence": []},
            ]
        }
    )
    statements = to_statements(answer)
    assert [(s.text, s.evidence) for s in statements] == [("Headache since midday.", [2, 3])]
    only = to_statements(SectionAnswer.model_validate({"statements": [{"text": "Not discussed", "evidence": []}]}))
    assert [s.text for s in only] == [NOT_DISCUSSED]


def test_lists_answer_becomes_records_without_empty_names() -> None:
    model = lists_model(("medications", "findings"))
    answer = model.model_validate(
        {
            "medications": [
                {
                    "name": "ramipril",
                    "dose": "5 mg",
                    "route": "",
                    "frequency": "daily",
                    "change": "started",
                    "evidence": [4],
                },
                {"name": "", "dose": "", "route": "", "frequency": "", "change": "unknown", "evidence": []},
            ],
            "findings": [{"name": "blood pressure", "value": "150/90", "unit": "mmHg", "evidence": [7]}],
        }
    )
    medications = to_items(answer, "medications")
    assert [m.claim() for m in medications] == ["ramipril 5 mg, daily (started)"]
    assert to_items(answer, "findings")[0].claim() == "blood pressure: 150/90 mmHg"
    repeated = Finding(name="temperature", value="37.2 °C", unit="°C")  # a model repeating the unit
    assert repeated.claim() == "temperature: 37.2 °C"
