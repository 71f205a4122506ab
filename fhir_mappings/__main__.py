"""Command line: `python -m fhir_mappings schema | document NOTE.json | transaction NOTE.json [--previous OLD.json]`.

For integrators without the rest of scribe: print the approved note JSON Schema, or turn an approved
note JSON file into a FHIR document or transaction Bundle. A corrected note's transaction takes the
version it supersedes with `--previous`, to retire that version's letters and dropped items.
Exit status 2 for a malformed note or terminology file, with what to fix on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from .bundle import document_bundle, transaction_bundle
from .contract import ApprovedNote, json_schema, load_approved_note
from .supersede import check_previous
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
        if name == "transaction":
            command.add_argument(
                "--previous",
                type=Path,
                help="the approved note JSON this corrected note supersedes: its letters are marked superseded "
                "and the items the correction dropped entered-in-error",
            )
    return parser


def _read_note(path: Path) -> ApprovedNote:
    """The note at `path` ('-' for stdin); raises OSError or ValidationError."""
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    return load_approved_note(text)


def _report(path: Path, error: ValidationError) -> None:
    print(f"{path} is not a valid approved note ({error.error_count()} problems):", file=sys.stderr)
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        print(f"  {where}: {problem['msg']}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "schema":
        result = json_schema()
    else:
        previous_path = getattr(args, "previous", None)
        paths = [args.note, *([previous_path] if previous_path else [])]
        notes = []
        for path in paths:
            try:
                notes.append(_read_note(path))
            except OSError as error:
                print(f"cannot read {path}: {error.strerror}", file=sys.stderr)
                return 2
            except ValidationError as error:
                _report(path, error)
                return 2
        try:
            terminology = Terminology.from_csv(args.terminology) if args.terminology else None
        except TerminologyError as error:
            print(str(error), file=sys.stderr)
            return 2
        if args.command == "document":
            result = document_bundle(notes[0], terminology)
        else:
            previous = notes[1] if previous_path else None
            if previous is not None:
                try:
                    check_previous(notes[0], previous)
                except ValueError as error:
                    print(f"{previous_path}: {error}", file=sys.stderr)
                    return 2
            result = transaction_bundle(notes[0], terminology, previous=previous)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if getattr(args, "output", None):
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
