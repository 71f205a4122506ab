"""UK Core profile URLs and the identifier systems the mapping uses.

The URLs are the `url` of the UK Core StructureDefinitions (R4, STU3 release line); the tests
read them back from the StructureDefinition XML so a typo cannot slip in.
"""

from __future__ import annotations

BASE = "https://fhir.hl7.org.uk/StructureDefinition/"

PATIENT = BASE + "UKCore-Patient"
PRACTITIONER = BASE + "UKCore-Practitioner"
ORGANIZATION = BASE + "UKCore-Organization"
ENCOUNTER = BASE + "UKCore-Encounter"
COMPOSITION = BASE + "UKCore-Composition"
CONDITION = BASE + "UKCore-Condition"
MEDICATION_STATEMENT = BASE + "UKCore-MedicationStatement"
ALLERGY_INTOLERANCE = BASE + "UKCore-AllergyIntolerance"
OBSERVATION = BASE + "UKCore-Observation"
DOCUMENT_REFERENCE = BASE + "UKCore-DocumentReference"
PROVENANCE = BASE + "UKCore-Provenance"
DEVICE = BASE + "UKCore-Device"
BUNDLE = BASE + "UKCore-Bundle"
AUDIT_EVENT = BASE + "UKCore-AuditEvent"

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANIZATION = "https://fhir.nhs.uk/Id/ods-organization-code"

LOINC = "http://loinc.org"
CONSULT_NOTE = "11488-4"
"""LOINC document type of the Composition: a consult note."""

RECORD_HEADINGS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings"
"""Code system of UK Core's Composition section codes (PRSB headings), for the structured lists."""
HEADINGS = {
    "problems": ("problems", "Problems"),
    "medications": ("medications-and-medical-devices", "Medications and medical devices"),
    "allergies": ("allergies-and-adverse-reaction", "Allergies and adverse reaction"),
    "findings": ("examination-findings", "Examination findings"),
}
"""List -> (code, display) in UKCore-CompositionSectionCode."""

CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PROVENANCE_AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DOCUMENT_RELATIONSHIP = "replaces"
