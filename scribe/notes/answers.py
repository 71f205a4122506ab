"""What the model is asked to answer: small pydantic models whose JSON schemas constrain decoding.

Answers are deliberately flat and short (a small model on a CPU pays for every token). They are
validated with pydantic whatever the backend, then turned into the note records.
"""

from __future__ import annotations

import copy
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

NOT_DISCUSSED = "Not discussed."


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StatementAnswer(_Answer):
    text: str
    evidence: list[int] = Field(default_factory=list)


class SectionAnswer(_Answer):
    statements: list[StatementAnswer]


A = TypeVar("A", bound=BaseModel)


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


def first_json_object(text: str) -> Any:
    """The first JSON object in ``text`` (models that cannot be constrained sometimes wrap it in prose)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the answer")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value


def parse(text: str, model: type[A]) -> A:
    """Validate an answer; raises ValueError with a short reason the retry prompt can quote."""
    try:
        return model.model_validate(first_json_object(text))
    except (ValueError, ValidationError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"answer is not valid JSON for the schema ({detail})") from None
