"""What the model is asked to answer: small pydantic models whose JSON schemas constrain decoding.

No drafting step asks for JSON any more (notes and letters are prose or fact lines); the section
schema stays for ``scripts/bench_llm_decode.py``, which measures what a JSON grammar costs.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NOT_DISCUSSED = "Not discussed."


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StatementAnswer(_Answer):
    text: str
    evidence: list[int] = Field(default_factory=list)


class SectionAnswer(_Answer):
    statements: list[StatementAnswer]


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace ``$ref``s to ``$defs`` by their definitions: every backend's converter accepts the result."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]))
            # annotations (string values) go; a property that happens to be called "title" is a dict and stays
            return {k: walk(v) for k, v in node.items() if not (k in ("title", "description") and isinstance(v, str))}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


def _required_all(node: Any) -> Any:
    """Make every property required, so constrained decoding writes each key (short, predictable JSON)."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
        for value in node.values():
            _required_all(value)
    elif isinstance(node, list):
        for value in node:
            _required_all(value)
    return node


MAX_EVIDENCE = 4


def _bounded(schema: dict[str, Any]) -> dict[str, Any]:
    """Cap evidence lists: a small model otherwise lists every line, and every token costs time.

    Strings get no ``maxLength``: llama.cpp expands it into one grammar rule per character,
    which made sampling many times slower; ``max_tokens`` bounds them instead.
    """
    for prop in schema.get("properties", {}).values():
        if prop.get("type") == "array" and prop.get("items", {}).get("type") == "integer":
            prop["maxItems"] = MAX_EVIDENCE
    return schema


def section_schema(max_statements: int) -> dict[str, Any]:
    """JSON schema for one section's statements, at most ``max_statements`` of them."""
    schema = _required_all(_inline(SectionAnswer.model_json_schema()))
    statements = schema["properties"]["statements"]
    statements.update(maxItems=max_statements, minItems=1)
    _bounded(statements["items"])
    return schema
