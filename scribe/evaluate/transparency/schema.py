"""The ATRS record (template version 3.0) as pydantic models, and what the record says about models and evaluation.

Field titles carry the template's numbering, so the Markdown rendering follows the template. What
software cannot know is written as :func:`todo` (:data:`TO_COMPLETE` and a hint);
:func:`placeholders` lists every field that still holds one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from scribe.evaluate.report import Summary

TO_COMPLETE = "TO BE COMPLETED BY THE DEPLOYING ORGANISATION"
STANDARD = "Algorithmic Transparency Recording Standard (ATRS)"
STANDARD_VERSION = "3.0"
STANDARD_URL = "https://www.gov.uk/government/collections/algorithmic-transparency-recording-standard-hub"
TOOL_NAME = "scribe: ambient voice documentation for clinicians"


def todo(hint: str) -> str:
    """A placeholder for a field only the deploying organisation can fill, saying what belongs there."""
    return f"{TO_COMPLETE}: {hint}"


def or_todo(value: str, hint: str) -> str:
    """``value`` stripped, or a :func:`todo` placeholder with ``hint`` when it is empty."""
    return value.strip() or todo(hint)


class FileDigest(BaseModel):
    """One file of a model as the catalogue pins it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    size: int
    sha256: str


class ModelInfo(BaseModel):
    """A model of the pipeline: what it is, where its bytes come from, where it runs."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(description="speech recognition, note drafting ...")
    name: str
    in_catalogue: bool
    description: str
    version: str = Field(description="Pinned packages, or what identifies a model outside the catalogue.")
    files: list[FileDigest] = Field(default_factory=list)
    licence: str
    upstream: str
    runs_on: str
    task: str
    input: str
    output: str
    architecture: str
    training_data: str


class EvaluationEvidence(BaseModel):
    """The evaluation behind the record's numbers: the one :class:`Summary` of the run, and what the record adds.

    Every number the record and the model card state comes from ``summary`` (the same summary
    ``scribe evaluate`` writes as summary.json); the rest describes the run, not its results.
    """

    model_config = ConfigDict(extra="forbid")

    summary: Summary
    models: dict[str, str] = Field(default_factory=dict, description="The models the evaluation ran with.")
    subgroups: dict[str, list[str]] = Field(default_factory=dict, description="Subgroup kinds and values seen.")
    deployment_caveats: list[str] = Field(
        default_factory=list, description="What the record adds to the summary's caveats (e.g. other models)."
    )

    @property
    def caveats(self) -> list[str]:
        """The summary's caveats, then the record's own."""
        return [*self.summary.caveats, *self.deployment_caveats]


class _Atrs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tier1(_Atrs):
    """Tier 1: a summary for the general public."""

    name: str = Field(title="1 - Name")
    description: str = Field(title="2 - Description")
    website_url: str = Field(title="3 - Website URL")
    contact_email: str = Field(title="4 - Contact email")


class ThirdParty(_Atrs):
    """A supplier or developer involved in the tool."""

    third_party: str = Field(title="1.4.1 - Third party")
    companies_house_number: str = Field(title="1.4.2 - Companies House Number")
    third_party_role: str = Field(title="1.4.3 - Third party role")
    procurement_procedure_type: str = Field(title="1.4.4 - Procurement procedure type")
    third_party_data_access_terms: str = Field(title="1.4.5 - Third party data access terms")


class OwnerAndResponsibility(_Atrs):
    organisation: str = Field(title="1.1 - Organisation or department")
    team: str = Field(title="1.2 - Team")
    senior_responsible_owner: str = Field(title="1.3 - Senior responsible owner")
    third_party_involvement: str = Field(title="1.4 - Third party involvement")
    third_parties: list[ThirdParty] = Field(title="1.4 - Third parties")


class DescriptionAndRationale(_Atrs):
    detailed_description: str = Field(title="2.1 - Detailed description")
    scope: str = Field(title="2.2 - Scope")
    benefit: str = Field(title="2.3 - Benefit")
    previous_process: str = Field(title="2.4 - Previous process")
    alternatives_considered: str = Field(title="2.5 - Alternatives considered")


class DecisionMakingProcess(_Atrs):
    process_integration: str = Field(title="3.1 - Process integration")
    provided_information: str = Field(title="3.2 - Provided information")
    frequency_and_scale_of_usage: str = Field(title="3.3 - Frequency and scale of usage")
    human_decisions_and_review: str = Field(title="3.4 - Human decisions and review")
    required_training: str = Field(title="3.5 - Required training")
    appeals_and_review: str = Field(title="3.6 - Appeals and review")


class ModelSpecification(_Atrs):
    model_name: str = Field(title="4.2.1 - Model name")
    model_version: str = Field(title="4.2.2 - Model version")
    model_task: str = Field(title="4.2.3 - Model task")
    model_input: str = Field(title="4.2.4 - Model input")
    model_output: str = Field(title="4.2.5 - Model output")
    model_architecture: str = Field(title="4.2.6 - Model architecture")
    model_performance: str = Field(title="4.2.7 - Model performance")
    datasets: str = Field(title="4.2.8 - Datasets")
    dataset_purposes: str = Field(title="4.2.9 - Dataset purposes")


class DataSpecification(_Atrs):
    source_data_name: str = Field(title="4.3.1 - Source data name")
    data_modality: str = Field(title="4.3.2 - Data modality")
    data_description: str = Field(title="4.3.3 - Data description")
    data_quantities: str = Field(title="4.3.4 - Data quantities")
    sensitive_attributes: str = Field(title="4.3.5 - Sensitive attributes")
    data_completeness_and_representativeness: str = Field(title="4.3.6 - Data completeness and representativeness")
    source_data_url: str = Field(title="4.3.7 - Source data URL")
    data_collection: str = Field(title="4.3.8 - Data collection")
    data_cleaning: str = Field(title="4.3.9 - Data cleaning")
    data_sharing_agreements: str = Field(title="4.3.10 - Data sharing agreements")
    data_access_and_storage: str = Field(title="4.3.11 - Data access and storage")


class ToolSpecification(_Atrs):
    system_architecture: str = Field(title="4.1.1 - System architecture")
    phase: str = Field(title="4.1.2 - Phase")
    maintenance: str = Field(title="4.1.3 - Maintenance")
    models: str = Field(title="4.1.4 - Models")
    model_specifications: list[ModelSpecification] = Field(title="4.2 - Model specification")
    data_specifications: list[DataSpecification] = Field(title="4.3 - Data specification")


class ImpactAssessment(_Atrs):
    assessment_title: str = Field(title="Assessment title")
    assessment_description: str = Field(title="Assessment description")
    assessment_date: str = Field(title="Assessment date")
    assessment_link: str = Field(title="Link to the assessment")


class RiskAndMitigation(_Atrs):
    risk: str = Field(title="Risk")
    mitigation: str = Field(title="Mitigation")


class RisksMitigationsAndImpactAssessments(_Atrs):
    impact_assessments: list[ImpactAssessment] = Field(title="5.1 - Impact assessments")
    risks_and_mitigations: list[RiskAndMitigation] = Field(title="5.2 - Risks and mitigations")


class Tier2(_Atrs):
    """Tier 2: detail for those who want to scrutinise the tool."""

    owner_and_responsibility: OwnerAndResponsibility = Field(title="Tier 2 - Owner and Responsibility")
    description_and_rationale: DescriptionAndRationale = Field(title="Tier 2 - Description and Rationale")
    decision_making_process: DecisionMakingProcess = Field(title="Tier 2 - Decision-making Process")
    tool_specification: ToolSpecification = Field(title="Tier 2 - Tool Specification")
    risks_mitigations_and_impact_assessments: RisksMitigationsAndImpactAssessments = Field(
        title="Tier 2 - Risks, Mitigations and Impact Assessments"
    )


class RecordMetadata(_Atrs):
    standard: str = STANDARD
    standard_version: str = STANDARD_VERSION
    standard_url: str = STANDARD_URL
    generated_at: datetime
    generated_by: str = Field(description="scribe and its version.")
    fields_to_complete: list[str] = Field(default_factory=list, description="Dotted paths still holding placeholders.")
    data_leaving: list[str] = Field(default_factory=list, description="Where data can leave the machine, by settings.")
    models: list[ModelInfo] = Field(default_factory=list)
    evaluation: EvaluationEvidence | None = None


class TransparencyRecord(_Atrs):
    """The whole record: metadata, tier 1 and tier 2 (the JSON written as atrs.json)."""

    metadata: RecordMetadata
    tier1: Tier1
    tier2: Tier2


def placeholders(record: BaseModel, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every field that still holds a :data:`TO_COMPLETE` placeholder (whole or in part)."""
    for key in type(record).model_fields:
        value = getattr(record, key)
        path = f"{prefix}{key}"
        if isinstance(value, str) and TO_COMPLETE in value:
            yield path
        elif isinstance(value, BaseModel):
            yield from placeholders(value, f"{path}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from placeholders(item, f"{path}[{i}].")
