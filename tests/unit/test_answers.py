"""Answer schemas and parsing: what the model must produce and how it becomes note records."""

from __future__ import annotations

import pytest

from scribe.notes.answers import (
    SectionAnswer,
    parse,
    section_schema,
)


def test_section_schema_is_self_contained_and_bounded() -> None:
    schema = section_schema(4)
    assert "$defs" not in str(schema) and "$ref" not in str(schema)
    statements = schema["properties"]["statements"]
    assert statements["maxItems"] == 4 and statements["minItems"] == 1
    assert statements["items"]["required"] == ["text", "evidence"]
    assert statements["items"]["additionalProperties"] is False


def test_parse_finds_the_json_inside_prose_and_rejects_the_wrong_shape() -> None:
    answer = parse('Sure! {"statements": [{"text": "Headache.", "evidence": [3]}]} hope that helps', SectionAnswer)
    assert answer.statements[0].evidence == [3]
    with pytest.raises(ValueError, match="not valid JSON"):
        parse('{"statements": "none"}', SectionAnswer)
    with pytest.raises(ValueError, match="not valid JSON"):
        parse('{"statements": [{"text": "cut off', SectionAnswer)
