"""Approved clinical note to HL7 FHIR R4 (UK Core).

A standalone package that depends on pydantic and fhir.resources only, so EPR integrators can
use it without audio or language models:

    note = load_approved_note(json_text)            # precise pydantic.ValidationError if malformed
    bundle = document_bundle(note, Terminology.from_csv("site-codes.csv"))
    writes = transaction_bundle(note)               # conditional writes: a re-send updates
    fixes = transaction_bundle(v2, previous=v1)     # a correction also retires what v1 sent and v2 dropped
"""

from .audit import export_audit_event
from .bundle import build_resources, document_bundle, transaction_bundle
from .contract import CONTRACT_VERSION, ApprovedNote, json_schema, load_approved_note, nhs_number_error
from .ids import stable_id
from .terminology import Coding, Terminology, TerminologyError

FHIR_VERSION = "4.0.1"

__all__ = [
    "CONTRACT_VERSION",
    "FHIR_VERSION",
    "ApprovedNote",
    "Coding",
    "Terminology",
    "TerminologyError",
    "build_resources",
    "document_bundle",
    "export_audit_event",
    "json_schema",
    "load_approved_note",
    "nhs_number_error",
    "stable_id",
    "transaction_bundle",
]
