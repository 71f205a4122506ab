"""What leaves scribe: approved notes turned into the `fhir_mappings` contract (FHIR export builds on it)."""

from scribe.export.approved import approved_note

__all__ = ["approved_note"]
