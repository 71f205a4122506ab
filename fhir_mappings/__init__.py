"""Approved clinical note to HL7 FHIR R4 (UK Core).

A standalone package that depends on pydantic and fhir.resources only, so EPR integrators can
use it without audio or language models. The mapping itself arrives with the FHIR issue; until
then this package only declares the FHIR version it targets.
"""

FHIR_VERSION = "4.0.1"

__all__ = ["FHIR_VERSION"]
