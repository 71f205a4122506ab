"""The JSON schema of a note section (kept for the decoding benchmark's grammar measurement)."""

from __future__ import annotations

from scribe.notes.answers import section_schema


def test_section_schema_is_self_contained_and_bounded() -> None:
    schema = section_schema(4)
    assert "$defs" not in str(schema) and "$ref" not in str(schema)
    statements = schema["properties"]["statements"]
    assert statements["maxItems"] == 4 and statements["minItems"] == 1
    assert statements["items"]["required"] == ["text", "evidence"]
    assert statements["items"]["additionalProperties"] is False
