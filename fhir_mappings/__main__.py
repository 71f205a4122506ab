"""Command line: `python -m fhir_mappings schema | document NOTE.json | transaction NOTE.json`.

For integrators without the rest of scribe: print the approved note JSON Schema, or turn an approved
note JSON file into a FHIR document or transaction Bundle. Exit status 2 for a malformed note or
terminology file, with what to fix on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from .bundle import document_bundle, transaction_bundle
from .contract import json_schema, load_approved_note
from .terminology import Terminology, TerminologyError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fhir_mappings", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("schema", help="print the JSON Schema of the approved note")
    for name in ("document", "transaction"):
        command = commands.add_parser(name, help=f"approved note JSON -> FHIR {name} Bundle")
        command.add_argument("note", type=Path, help="approved note JSON file ('-' for stdin)")
        command.add_argument("--terminology", type=Path, help="site CSV: term,system,code,display[,kind]")
        command.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "schema":
        result = json_schema()
    else:
        try:
            text = sys.stdin.read() if str(args.note) == "-" else args.note.read_text(encoding="utf-8")
        except OSError as error:
            print(f"cannot read {args.note}: {error.strerror}", file=sys.stderr)
            return 2
        try:
            note = load_approved_note(text)
            terminology = Terminology.from_csv(args.terminology) if args.terminology else None
        except ValidationError as error:
            print(f"{args.note} is not a valid approved note ({error.error_count()} problems):", file=sys.stderr)
            for problem in error.errors():
                where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
                print(f"  {where}: {problem['msg']}", file=sys.stderr)
            return 2
        except TerminologyError as error:
            print(str(error), file=sys.stderr)
            return 2
        build = document_bundle if args.command == "document" else transaction_bundle
        result = build(note, terminology)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if getattr(args, "output", None):
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
