"""What the model is asked to answer: small pydantic models whose JSON schemas constrain decoding.

Answers are deliberately flat and short (a small model on a CPU pays for every token). They are
validated with pydantic whatever the backend, then turned into the note records.
"""

from __future__ import annotations

import copy
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scribe.records import Allergy, Finding, Medication, MedicationChange, Problem, Statement

NOT_DISCUSSED = "Not discussed."


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StatementAnswer(_Answer):
    text: str
    evidence: list[int] = Field(default_factory=list)


class SectionAnswer(_Answer):
    statements: list[StatementAnswer]


class MedicationAnswer(_Answer):
    name: str
    dose: str = ""
    route: str = ""
    frequency: str = ""
    change: MedicationChange = MedicationChange.UNKNOWN
    evidence: list[int] = Field(default_factory=list)


class AllergyAnswer(_Answer):
    substance: str
    reaction: str = ""
    evidence: list[int] = Field(default_factory=list)


class ProblemAnswer(_Answer):
    name: str
    status: str = ""
    evidence: list[int] = Field(default_factory=list)


class FindingAnswer(_Answer):
    name: str
    value: str = ""
    unit: str = ""
    evidence: list[int] = Field(default_factory=list)


LIST_ANSWERS: dict[str, type[_Answer]] = {
    "medications": MedicationAnswer,
    "allergies": AllergyAnswer,
    "problems": ProblemAnswer,
    "findings": FindingAnswer,
}
LIST_RECORDS: dict[str, type[Any]] = {
    "medications": Medication,
    "allergies": Allergy,
    "problems": Problem,
    "findings": Finding,
}

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


def lists_schema(lists: tuple[str, ...], max_items: int = 12) -> dict[str, Any]:
    """JSON schema for the structured lists named (medications, allergies, problems, findings)."""
    properties = {}
    for name in lists:
        item = _bounded(_required_all(_inline(LIST_ANSWERS[name].model_json_schema())))
        properties[name] = {"type": "array", "items": item, "maxItems": max_items}
    return {"type": "object", "properties": properties, "required": list(lists), "additionalProperties": False}


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


def to_statements(answer: SectionAnswer) -> list[Statement]:
    """Statements from an answer: blanks and repeats dropped, "Not discussed." only when alone."""
    seen: set[str] = set()
    statements: list[Statement] = []
    for item in answer.statements:
        text = " ".join(item.text.split())
        key = text.lower().rstrip(".")
        if not text or key in seen:
            continue
        seen.add(key)
        statements.append(Statement(text=text, evidence=sorted(set(item.evidence))))
    real = [s for s in statements if s.text.lower().rstrip(".") != NOT_DISCUSSED.lower().rstrip(".")]
    if real:
        return real
    return [Statement(text=NOT_DISCUSSED)]


def lists_model(lists: tuple[str, ...]) -> type[BaseModel]:
    """A pydantic model validating an answer to :func:`lists_schema`."""
    from pydantic import create_model

    fields: dict[str, Any] = {name: (list[LIST_ANSWERS[name]], Field(default_factory=list)) for name in lists}
    return create_model("ListsAnswer", __base__=_Answer, **fields)


def to_items(answer: BaseModel, name: str) -> list[Any]:
    """Records for one structured list, blanks and repeats dropped."""
    record = LIST_RECORDS[name]
    items: list[Any] = []
    seen: set[str] = set()
    for entry in getattr(answer, name):
        data = entry.model_dump()
        data["evidence"] = sorted(set(data.get("evidence", [])))
        data = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in data.items()}
        first = next(iter(v for k, v in data.items() if k != "evidence"))
        if not first:
            continue
        item = record(**data)
        key = item.claim().lower()
        if key not in seen:
            seen.add(key)
            items.append(item)
    return items
