#!/usr/bin/env python3
"""Write the FHIR examples in ``docs/fhir/`` from the fictitious sample note (``fhir_mappings.sample``).

- ``example-approved-note.json``: the sample approved note, the input an integrator produces;
- ``example-document-bundle.json``: its FHIR document Bundle;
- ``example-transaction-bundle.json``: its transaction Bundle of conditional writes;
- ``approved-note.schema.json``: the JSON Schema of the input (what ``python -m fhir_mappings schema`` prints).

``tests/unit/test_fhir_docs.py`` fails when a committed file differs from what this builds, and
checks that ``docs/fhir.md``'s mapping table names every field that ``contract_fields()`` lists.

Usage::

    .venv/bin/python scripts/fhir_examples.py            # rewrite docs/fhir/*.json
    .venv/bin/python scripts/fhir_examples.py --check    # exit 1 naming the files that are out of date
    .venv/bin/python scripts/fhir_examples.py --fields   # the approved note's fields, one path a line
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from fhir_mappings import document_bundle, json_schema, transaction_bundle  # noqa: E402
from fhir_mappings.contract import ApprovedNote  # noqa: E402
from fhir_mappings.sample import sample_note, sample_note_data  # noqa: E402

OUT = ROOT / "docs" / "fhir"
REGENERATE = ".venv/bin/python scripts/fhir_examples.py"


def _text(data: Any) -> str:
    """JSON as the command line writes it: two-space indent, UTF-8 text, final newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def build() -> dict[str, str]:
    """File name -> content of every example, built now from the sample note."""
    note = sample_note()
    return {
        "example-approved-note.json": _text(sample_note_data()),
        "example-document-bundle.json": _text(document_bundle(note)),
        "example-transaction-bundle.json": _text(transaction_bundle(note)),
        "approved-note.schema.json": _text(json_schema()),
    }


def _model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The contract model inside a field's type (through Annotated, Optional and list), and whether it is a list."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found = [_model(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        models = [(model, many) for model, many in found if model is not None]
        return models[0] if models else (None, False)
    if origin is list:
        model, _ = _model(typing.get_args(annotation)[0])
        return model, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def contract_fields(model: type[BaseModel] = ApprovedNote, prefix: str = "", containers: bool = False) -> list[str]:
    """Every field of the approved note as a path, e.g. ``sections[].statements[].text``, in contract order.

    Leaves only (the fields that hold values) unless `containers`, which adds the paths of the nested
    objects and lists themselves (``sections[]``, ``approval.clinician``).
    """
    paths = []
    for name, field in model.model_fields.items():
        path = prefix + name
        inner, many = _model(field.annotation)
        if inner is None:
            paths.append(path)
            continue
        path += "[]" if many else ""
        if containers:
            paths.append(path)
        paths += contract_fields(inner, path + ".", containers)
    return paths


def stale() -> list[str]:
    """Names of the files in docs/fhir/ that differ from what `build()` gives (or are missing)."""
    out = []
    for name, text in build().items():
        path = OUT / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    parser.add_argument("--fields", action="store_true", help="print the approved note's field paths")
    args = parser.parse_args(argv)
    if args.fields:
        print("\n".join(contract_fields()))
        return 0
    if args.check:
        names = stale()
        for name in names:
            print(f"docs/fhir/{name} is out of date: run {REGENERATE}", file=sys.stderr)
        return 1 if names else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in build().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote docs/fhir/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
