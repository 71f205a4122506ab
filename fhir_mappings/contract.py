"""The approved note contract: what a clinician approved, with the context FHIR needs.

Self-contained on purpose: an integrator can produce this JSON without the rest of scribe
(`json_schema()` exports its JSON Schema), and every field is checked with a message that names
the field and says what to fix.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

CONTRACT_VERSION = "1"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Non-empty text; surrounding whitespace is removed."""

_URI = re.compile(r"^(https?://[^\s]+|urn:[a-z0-9][a-z0-9-]*:[^\s]+)$", re.IGNORECASE)


class Contract(BaseModel):
    """Base of every contract model: unknown fields are refused so typos surface early."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    # Errors never echo the input: it may be patient data, and integrators log errors.


def nhs_number_error(value: str) -> str | None:
    """Why `value` is not a valid NHS number (10 digits, Modulus 11 check digit), or None when it is."""
    if not re.fullmatch(r"[0-9]{10}", value):
        digits = sum(char.isdigit() for char in value)
        others = len(value) - digits
        extra = f" and {others} other characters" if others else ""
        return f"NHS number must be exactly 10 digits (spaces allowed), got {digits} digits{extra}"
    total = sum(int(digit) * weight for digit, weight in zip(value[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return "NHS number is not valid: its first nine digits give check digit 10, which no NHS number has"
    if check != int(value[9]):
        return (
            f"NHS number fails the Modulus 11 check (last digit should be {check}, is {value[9]}): "
            "check it for a typing error"
        )
    return None


class Identifier(Contract):
    """A business identifier: a namespace URI and the value within it."""

    system: str = Field(description="Namespace URI, e.g. https://fhir.hl7.org.uk/Id/gmc-number.")
    value: Text

    @field_validator("system")
    @classmethod
    def _uri(cls, value: str) -> str:
        if not _URI.match(value):
            raise ValueError(f"identifier system must be an http(s) URL or a urn, got {value!r}")
        return value


class Statement(Contract):
    """One approved sentence of a section."""

    text: Text
    supported: bool | None = Field(default=None, description="Whether the transcript supported it when drafted.")
    edited: bool = Field(default=False, description="Written or changed by the clinician, not the model.")


class Section(Contract):
    """One section of the note, in the order the template gives."""

    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")] = Field(description="e.g. 'plan'.")
    title: Text
    loinc: Annotated[str, StringConstraints(pattern=r"^\d{1,7}-\d$")] | None = Field(
        default=None, description="LOINC section code from the template, e.g. '18776-5'; none when it has none."
    )
    statements: list[Statement] = Field(default_factory=list)


class Medication(Contract):
    """A medicine as approved: name and how it is taken, and what the consultation did to it."""

    name: Text
    dose: str = ""
    route: str = ""
    frequency: str = ""
    change: Literal["started", "stopped", "changed", "continued", "unknown"] = "unknown"


class Allergy(Contract):
    """An allergy or intolerance: the substance and, when said, the reaction."""

    substance: Text
    reaction: str = ""


class Problem(Contract):
    """A problem or diagnosis; status is free text such as new, ongoing, resolved, suspected."""

    name: Text
    status: str = ""


class Finding(Contract):
    """An examination finding or measurement, e.g. name 'heart rate', value '72', unit 'bpm'."""

    name: Text
    value: str = ""
    unit: str = ""


class Clinician(Contract):
    """A clinician: full name, scribe's user id, and a professional identifier when known."""

    name: Text
    user_id: str = Field(default="", description="The clinician's id in the system that approved the note.")
    identifier: Identifier | None = Field(default=None, description="e.g. GMC, NMC or SDS user id.")


class Approval(Contract):
    """Who approved the note version, when, and what they attested."""

    clinician: Clinician
    at: AwareDatetime = Field(description="When the note was approved, with its time zone.")
    attestation: Text


class Dispute(Contract):
    """A patient's recorded disagreement with what the note says."""

    text: Text
    recorded_at: AwareDatetime


class Patient(Contract):
    """Who the consultation was with."""

    name: str = ""
    nhs_number: str | None = Field(default=None, description="10 digits with a valid Modulus 11 check digit.")
    birth_date: date | None = None

    @field_validator("nhs_number", mode="before")
    @classmethod
    def _nhs_number(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        digits = value.replace(" ", "")
        if not digits:
            return None
        error = nhs_number_error(digits)
        if error:
            raise ValueError(error)
        return digits


class Organisation(Contract):
    """The organisation responsible for the record."""

    name: Text
    ods_code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,10}$")] | None = Field(
        default=None, description="ODS organisation code, upper case, e.g. 'A81001'."
    )


class Encounter(Contract):
    """The consultation as an encounter."""

    start: AwareDatetime
    end: AwareDatetime | None = None
    type_text: str = Field(default="", description="Free text, e.g. 'GP consultation'.")
    setting: Literal["ambulatory", "virtual", "home"] = "ambulatory"

    @model_validator(mode="after")
    def _order(self) -> Encounter:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"encounter end {self.end.isoformat()} is before its start {self.start.isoformat()}")
        return self


class Letter(Contract):
    """A rendered letter: its kind (e.g. 'gp', 'patient'), title and the PDF, base64-encoded."""

    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$")]
    title: Text
    pdf_base64: str = Field(description="The PDF file, standard base64.")

    @field_validator("pdf_base64")
    @classmethod
    def _pdf(cls, value: str) -> str:
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("pdf_base64 is not valid standard base64") from None
        if not data.startswith(b"%PDF-"):
            raise ValueError("pdf_base64 does not hold a PDF (the decoded bytes do not start with %PDF-)")
        return value


class Model(Contract):
    """A model the software used, e.g. role 'speech recognition', name 'whisper-base'."""

    role: Text
    name: Text
    version: str = ""


class Software(Contract):
    """The software that drafted the note, with the models it used."""

    name: Text
    version: Text
    models: list[Model] = Field(default_factory=list)


class ApprovedNote(Contract):
    """One approved version of a consultation's note, with everything FHIR needs about it."""

    contract_version: Literal["1"] = CONTRACT_VERSION
    consultation_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    version: int = Field(ge=1, description="The approved note version; corrections get higher numbers.")
    supersedes_version: int | None = Field(
        default=None, ge=1, description="The earlier approved version this one corrects, if any."
    )
    template: Text
    title: Text
    sections: list[Section] = Field(min_length=1)
    medications: list[Medication] = Field(default_factory=list)
    allergies: list[Allergy] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    approval: Approval
    disputes: list[Dispute] = Field(default_factory=list)
    patient: Patient
    practitioner: Clinician | None = Field(
        default=None, description="The clinician who held the consultation; the approving clinician when absent."
    )
    organisation: Organisation | None = None
    encounter: Encounter
    letters: list[Letter] = Field(default_factory=list)
    software: Software

    @model_validator(mode="after")
    def _consistent(self) -> ApprovedNote:
        if self.supersedes_version is not None and self.supersedes_version >= self.version:
            raise ValueError(f"supersedes_version {self.supersedes_version} must be lower than version {self.version}")
        keys = [section.key for section in self.sections]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise ValueError(f"section keys must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def author(self) -> Clinician:
        """The clinician who wrote the note: the practitioner, or the approver when none is given."""
        return self.practitioner or self.approval.clinician


def json_schema() -> dict[str, Any]:
    """The JSON Schema of `ApprovedNote`, for integrators who produce the JSON themselves."""
    schema = ApprovedNote.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def load_approved_note(data: str | bytes | dict[str, Any]) -> ApprovedNote:
    """Parse and check an approved note from JSON text or a dict; raises pydantic.ValidationError."""
    if isinstance(data, dict):
        return ApprovedNote.model_validate(data)
    return ApprovedNote.model_validate_json(data)


def dump_schema(indent: int = 2) -> str:
    """The JSON Schema as text, for writing to a file."""
    return json.dumps(json_schema(), indent=indent, sort_keys=True)
