"""The deployment's public record: the UK Algorithmic Transparency Recording Standard, and a model card.

:func:`build_record` fills the ATRS template (version 3.0: tier 1 summary; tier 2 owner and
responsibility, description and rationale, decision-making process, tool specification with model
and data specifications, risks, mitigations and impact assessments) from what this deployment
really is: the settings in force, the model catalogue (names, pinned packages, sha256, licences),
the data flows those settings allow, the human oversight the review app enforces, and, when given,
the headline numbers of an evaluation run with their counts. What software cannot know (the senior
responsible owner, the contact address, procurement, the organisation's own assessments) is left as
:data:`TO_COMPLETE` with a hint of what belongs there; ``metadata.fields_to_complete`` lists them.

:func:`write_transparency` writes ``atrs.json``, ``atrs.md`` and ``model-card.md`` (Mitchell et al.,
"Model Cards for Model Reporting", 2019) atomically.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scribe import catalogue
from scribe.config import Settings
from scribe.errors import ConfigError
from scribe.evaluate.cost import Prices, estimate
from scribe.evaluate.results import CaseResult, EvaluationRun
from scribe.evaluate.stats import Estimate, bootstrap, bootstrap_difference
from scribe.fileio import write_text_atomic

log = logging.getLogger(__name__)

TO_COMPLETE = "TO BE COMPLETED BY THE DEPLOYING ORGANISATION"
STANDARD = "Algorithmic Transparency Recording Standard (ATRS)"
STANDARD_VERSION = "3.0"
STANDARD_URL = "https://www.gov.uk/government/collections/algorithmic-transparency-recording-standard-hub"
TOOL_NAME = "scribe: ambient voice documentation for clinicians"
SMALL_N = 30
"""Below this many consultations a headline carries a warning that its interval is wide."""


def todo(hint: str) -> str:
    """A placeholder for a field only the deploying organisation can fill, saying what belongs there."""
    return f"{TO_COMPLETE}: {hint}"


def _or_todo(value: str, hint: str) -> str:
    return value.strip() or todo(hint)


# --------------------------------------------------------------------------------------------
# Evaluation headlines
# --------------------------------------------------------------------------------------------


class Headline(BaseModel):
    """One headline number of an evaluation, with its interval and the consultations behind it."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = Field(ge=0, description="Consultations behind the number.")
    unit: str = ""
    method: str = Field(description="How the number was obtained.")

    def text(self) -> str:
        """e.g. ``13.1 % (95% CI 10.2 to 16.0; n=40)``."""
        if self.value is None:
            return f"no value (n={self.n})"
        unit = f" {self.unit}" if self.unit else ""
        ci = f"95% CI {_fmt(self.low)} to {_fmt(self.high)}; " if self.low is not None and self.high is not None else ""
        return f"{_fmt(self.value)}{unit} ({ci}n={self.n})"


def _fmt(x: float) -> str:
    """One decimal place, or three significant figures below 1 (costs per consultation are small)."""
    return f"{x:.1f}" if x == 0 or abs(x) >= 1 else f"{x:.3g}"


class EvaluationSummary(BaseModel):
    """What an evaluation run shows, in a few numbers, with what it cannot show."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    started_at: datetime
    cases: int = Field(ge=0, description="Consultations in the run.")
    evaluated: int = Field(ge=0, description="Consultations with results (the rest failed and are left out).")
    synthetic_audio: int = Field(ge=0, description="Evaluated consultations whose audio is text-to-speech.")
    models: dict[str, str] = Field(default_factory=dict)
    subgroups: dict[str, list[str]] = Field(default_factory=dict, description="Subgroup kinds and values seen.")
    headlines: list[Headline] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)


def load_evaluation(path: Path) -> EvaluationRun:
    """Read an EvaluationRun JSON (as ``scribe evaluate`` writes it); ConfigError (exit 2) says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"evaluation file {path} not found; give the run JSON that `scribe evaluate` wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read evaluation file {path}: {exc}") from None
    try:
        return EvaluationRun.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "file"
        raise ConfigError(
            f"evaluation file {path} is not an evaluation run ({exc.error_count()} problem(s), first at {where}: "
            f"{first['msg']}); give the run JSON that `scribe evaluate` wrote"
        ) from None


def _headline(metric: str, est: Estimate, unit: str, method: str, scale: float = 1.0) -> Headline:
    def scaled(x: float | None) -> float | None:
        return None if x is None else x * scale

    return Headline(
        metric=metric,
        value=scaled(est.value),
        low=scaled(est.low),
        high=scaled(est.high),
        n=est.n,
        unit=unit,
        method=method,
    )


_MEANS: tuple[tuple[str, Callable[[CaseResult], float | None], str, float, str], ...] = (
    (
        "Word error rate",
        lambda c: c.speech.wer,  # type: ignore[union-attr]
        "%",
        100,
        "mean of per-consultation WER after Whisper's English normalisation; bootstrap 95% interval",
    ),
    (
        "Medical-term error rate",
        lambda c: c.speech.medical_term_wer,  # type: ignore[union-attr]
        "%",
        100,
        "mean per consultation of clinical terms in the reference that the transcript lacks",
    ),
    (
        "ROUGE-1 F1 against the reference note",
        lambda c: c.note.rouge1,  # type: ignore[union-attr]
        "",
        1,
        "mean per consultation (0 to 100; word overlap with a reference note, not clinical correctness)",
    ),
    (
        "Unsupported statements",
        lambda c: c.note.unsupported_rate,  # type: ignore[union-attr]
        "%",
        100,
        "mean per consultation of draft statements the grounding check found the transcript does not support",
    ),
    (
        "Omissions",
        lambda c: c.note.omission_rate,  # type: ignore[union-attr]
        "%",
        100,
        "mean per consultation of salient facts the omission check found missing, of those due",
    ),
)
"""Headline means: name, how to read it from a case, unit, scale (fractions to %), how it was obtained."""


def _values(cases: Sequence[CaseResult], get: Callable[[CaseResult], float | None]) -> list[float]:
    out = []
    for case in cases:
        try:
            value = get(case)
        except AttributeError:  # the case lacks that part (no audio, no reference note ...)
            continue
        if value is not None:
            out.append(float(value))
    return out


def _minutes_saved(run: EvaluationRun, cases: Sequence[CaseResult]) -> tuple[Headline | None, list[str]]:
    def minutes(arm: str) -> list[float]:
        return [
            c.time.documentation_seconds / 60
            for c in cases
            if c.time and c.time.arm == arm and c.time.documentation_seconds is not None
        ]

    scribe_arm, control_arm = minutes("scribe"), minutes("control")
    if scribe_arm and control_arm:
        est = bootstrap_difference(control_arm, scribe_arm, "mean")
        method = (
            f"mean documentation time of the control arm (clinicians writing unaided, n={len(control_arm)}) "
            f"minus that of the scribe arm (reviewing scribe's draft, n={len(scribe_arm)}), "
            "both timed in the review app; bootstrap 95% interval"
        )
        return _headline("Minutes saved per consultation (measured baseline)", est, "min", method), []
    if scribe_arm and run.assumed_baseline_minutes is not None:
        base = run.assumed_baseline_minutes
        est = bootstrap(scribe_arm, "mean")
        saved = Headline(
            metric="Minutes saved per consultation (ASSUMED baseline)",
            value=None if est.value is None else base - est.value,
            low=None if est.high is None else base - est.high,
            high=None if est.low is None else base - est.low,
            n=est.n,
            unit="min",
            method=(
                f"an ASSUMED baseline of {base:g} minutes per note, entered by the site and not measured, "
                "minus the measured mean documentation time with scribe; the interval covers only the scribe arm"
            ),
        )
        return saved, [
            f"Minutes saved rest on an assumed baseline of {base:g} minutes, not a measured control arm; "
            "treat it as an estimate until the site times clinicians writing notes unaided."
        ]
    return None, []


def _kinds(cases: Sequence[CaseResult]) -> list[str]:
    return sorted({k for c in cases for k, v in c.subgroups.items() if v})


def summarise_evaluation(run: EvaluationRun, prices: Prices | None = None) -> EvaluationSummary:
    """Headline means with bootstrap intervals and counts, and the caveats a reader must see with them."""
    prices = prices or Prices()
    cases = [c for c in run.cases if not c.error]
    failed = len(run.cases) - len(cases)
    synthetic = sum(c.synthetic_audio for c in cases)
    heads: list[Headline] = []
    caveats: list[str] = []

    for metric, get, unit, scale, method in _MEANS:
        values = _values(cases, get)
        if values:
            heads.append(_headline(metric, bootstrap(values, "mean"), unit, method, scale))
        if metric == "Word error rate" and values:
            scored = [c.speech for c in cases if c.speech and c.speech.wer is not None]
            words, errors = sum(s.reference_words for s in scored), sum(s.word_errors for s in scored)
            if words:
                heads.append(
                    Headline(
                        metric="Word error rate, pooled over all words",
                        value=100 * errors / words,
                        n=len(scored),
                        unit="%",
                        method=f"{errors} word errors in {words} reference words",
                    )
                )
    saved, saved_caveats = _minutes_saved(run, cases)
    if saved is not None:
        heads.append(saved)
    caveats += saved_caveats
    priced = [estimate(c.costs, prices) for c in cases if c.costs]
    if priced:
        heads.append(
            _headline(
                "Energy per consultation",
                bootstrap([p.energy_wh for p in priced], "mean"),
                "Wh",
                "measured CPU and GPU-held seconds of every stage, at the assumed power draws in SCRIBE_COST_*",
            )
        )
        heads.append(
            _headline(
                "Cost per consultation",
                bootstrap([p.total_cost for p in priced], "mean"),
                prices.currency,
                "energy and compute priced with SCRIBE_COST_* (assumptions until the site sets its own)",
            )
        )

    if synthetic:
        caveats.append(
            f"{synthetic} of {len(cases)} evaluated consultations have synthetic (text-to-speech) audio: their speech "
            "numbers do not show how scribe hears real patients and clinicians in a real room."
        )
    if failed:
        caveats.append(f"{failed} consultation(s) could not be evaluated and are left out of every number.")
    if 0 < len(cases) < SMALL_N:
        caveats.append(f"Only {len(cases)} consultations: intervals are wide and subgroups cannot be judged.")
    if not heads:
        caveats.append("The run holds no scored consultations.")
    return EvaluationSummary(
        dataset=run.dataset,
        started_at=run.started_at,
        cases=len(run.cases),
        evaluated=len(cases),
        synthetic_audio=synthetic,
        models=dict(run.models),
        subgroups={k: sorted({c.subgroups[k] for c in cases if c.subgroups.get(k)}) for k in _kinds(cases)},
        headlines=heads,
        caveats=caveats,
    )


# --------------------------------------------------------------------------------------------
# The models this deployment uses
# --------------------------------------------------------------------------------------------


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


# What the providers say about models of the catalogue (their papers and model cards).
_PROVIDER_FACTS: dict[str, tuple[str, str]] = {
    "whisper": (
        "Whisper (OpenAI): an encoder-decoder transformer for speech recognition, converted to CTranslate2 "
        "(faster-whisper)",
        "OpenAI trained Whisper on 680,000 hours of audio paired with transcripts collected from the internet, "
        "about two thirds of it English (Radford et al., 'Robust Speech Recognition via Large-Scale Weak "
        "Supervision', 2022). It was not trained on clinical consultations, and scribe does not fine-tune it. "
        "OpenAI's model card reports that accuracy differs between languages, accents and speakers, and that the "
        "model can produce text that was not spoken.",
    ),
    "qwen2.5-coder": (
        "Qwen2.5-Coder-1.5B-Instruct (Alibaba Cloud, Qwen team): a decoder-only transformer of about 1.5 billion "
        "parameters, instruction-tuned; here quantised to 4 bits (Q4_K_M GGUF) and run by llama.cpp",
        "The Qwen team pretrained Qwen2.5-Coder on a large corpus, mostly source code with general text and "
        "mathematics, then instruction-tuned it (Qwen2.5-Coder Technical Report, 2024; see the upstream model "
        "card). It was not trained for clinical documentation, and scribe does not fine-tune it.",
    ),
    "smollm2": (
        "SmolLM2-135M-Instruct (Hugging Face): a decoder-only transformer of about 135 million parameters, "
        "Q4_1 GGUF run by llama.cpp",
        "Hugging Face trained SmolLM2 on web text, code, mathematics and instruction data (see the upstream model "
        "card). It is for software tests only: too small to draft clinical notes.",
    ),
}


def _facts(name: str) -> tuple[str, str] | None:
    return next((facts for key, facts in _PROVIDER_FACTS.items() if name.lower().startswith(key)), None)


def _host(url: str) -> str:
    """scheme://host[:port]/path without credentials or query, for a record anyone may read."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else url


def _asr_device(settings: Settings) -> str:
    where = {
        "auto": "on this machine: a CUDA GPU when one is present, otherwise the CPU",
        "cpu": "on this machine's CPU",
        "cuda": "on this machine's CUDA GPU",
    }[settings.device]
    precision = settings.compute_type or ("float16 on a GPU, int8 on the CPU" if settings.device == "auto" else "")
    if not precision:
        precision = "float16" if settings.device == "cuda" else "int8"
    return f"{where} (faster-whisper / CTranslate2, precision {precision})"


def _llm_device(settings: Settings) -> str:
    if settings.llm_backend == "openai":
        if not _llm_leaves_machine(settings):
            return f"by the OpenAI-compatible server on this machine ({_host(settings.openai_base_url)})"
        return (
            f"on the OpenAI-compatible server at {_host(settings.openai_base_url)}, which the organisation runs or "
            "contracts: transcript text is sent there"
        )
    if settings.llm_backend == "transformers":
        return f"on this machine (Hugging Face transformers; device setting {settings.device})"
    layers = settings.llm_gpu_layers
    if settings.device == "cpu" or layers == 0:
        offload = "on the CPU"
    elif layers == -1:
        offload = "with every layer on a CUDA GPU when one is present, otherwise on the CPU"
    else:
        offload = f"with {layers} layers on a CUDA GPU when one is present, the rest on the CPU"
    return f"on this machine, by llama.cpp, {offload}"


def _from_entry(entry: catalogue.ModelEntry, role: str, runs_on: str) -> dict[str, object]:
    pins = list(dict.fromkeys(ref.pin for f in entry.files for ref in f.pieces))
    facts = _facts(entry.name)
    return {
        "role": role,
        "name": entry.name,
        "in_catalogue": True,
        "description": entry.description,
        "version": "packages " + ", ".join(pins),
        "files": [FileDigest(name=f.name, size=f.size, sha256=f.sha256) for f in entry.files],
        "licence": entry.licence,
        "upstream": entry.upstream,
        "runs_on": runs_on,
        "architecture": facts[0] if facts else entry.description,
        "training_data": facts[1]
        if facts
        else todo(f"the training data as the model provider documents it ({entry.upstream})"),
    }


def _outside(name: str, role: str, runs_on: str, what: str) -> dict[str, object]:
    return {
        "role": role,
        "name": name,
        "in_catalogue": False,
        "description": what,
        "version": "not in scribe's catalogue: scribe does not pin its version or checksum",
        "licence": todo("the model's licence"),
        "upstream": todo("where the model comes from"),
        "runs_on": runs_on,
        "architecture": todo("the model's architecture and size, as its provider documents them"),
        "training_data": todo("the model's training data, as its provider documents it"),
    }


def deployed_models(settings: Settings) -> list[ModelInfo]:
    """The speech-recognition and note-drafting models these settings use, described from the catalogue."""
    cat = catalogue.load_catalogue(catalogue.catalogue_path(settings))
    asr_role = {
        "task": "speech recognition: turns the consultation audio into timed text segments",
        "input": "16 kHz mono audio of the consultation",
        "output": "text segments with word timings and confidence, later attributed to clinician or patient",
    }
    entry = cat.get(settings.asr_model)
    asr = (
        _from_entry(entry, "speech recognition", _asr_device(settings))
        if entry
        else _outside(
            settings.asr_model, "speech recognition", _asr_device(settings), "a local CTranslate2 model folder"
        )
    )
    llm_role = {
        "task": "drafting: writes each note section, the structured lists and the letters from the transcript",
        "input": "the numbered transcript lines, the note template's instruction for one section, and fixed rules",
        "output": "JSON statements per section, each citing the transcript segments it rests on",
    }
    if settings.llm_backend == "openai":
        name = settings.openai_model or todo("the model name the OpenAI-compatible server serves")
        llm = _outside(name, "note drafting", _llm_device(settings), "a model served by an OpenAI-compatible server")
    else:
        entry = cat.get(settings.llm_model)
        llm = (
            _from_entry(entry, "note drafting", _llm_device(settings))
            if entry
            else _outside(settings.llm_model, "note drafting", _llm_device(settings), "a local model file or folder")
        )
    return [ModelInfo(**asr, **asr_role), ModelInfo(**llm, **llm_role)]


# --------------------------------------------------------------------------------------------
# The ATRS record (template version 3.0)
# --------------------------------------------------------------------------------------------


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
    evaluation: EvaluationSummary | None = None


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


def _software_version() -> str:
    try:
        return importlib.metadata.version("scribe")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _store_location(settings: Settings) -> str:
    if settings.store_url:
        return "a PostgreSQL database the organisation runs (SCRIBE_STORE_URL)"
    return "a SQLite database in scribe's data folder on the machine"


def _llm_leaves_machine(settings: Settings) -> bool:
    """True when drafting sends transcripts to a server on another machine."""
    host = urlsplit(settings.openai_base_url).hostname or ""
    return settings.llm_backend == "openai" and host not in {"127.0.0.1", "localhost", "::1"}


def _audio_retention(settings: Settings) -> str:
    hours = settings.audio_retention_hours
    return "at approval" if hours == 0 else f"{hours:g} hours after approval"


def _outbound(settings: Settings) -> list[str]:
    """Where data can leave the machine under these settings."""
    out = []
    if settings.fhir_base_url:
        out.append(
            f"approved notes (never audio or transcripts) are sent to the EPR's FHIR server at "
            f"{_host(settings.fhir_base_url)} when a user exports them"
        )
    if _llm_leaves_machine(settings):
        out.append(f"transcript text is sent to the OpenAI-compatible LLM server at {_host(settings.openai_base_url)}")
    return out


def _headline_text(summary: EvaluationSummary | None, *metrics: str) -> str | None:
    if summary is None:
        return None
    found = [h for h in summary.headlines if h.metric in metrics]
    if not found:
        return None
    lines = "; ".join(f"{h.metric}: {h.text()}" for h in found)
    return f"{lines}. Evaluation '{summary.dataset}', {summary.evaluated} consultations. " + " ".join(summary.caveats)


def _owner(settings: Settings, organisation: str | None) -> OwnerAndResponsibility:
    org = (organisation or settings.transparency_organisation or settings.site_name).strip()
    llm_note = (
        f" This deployment sends transcripts to an LLM server at {_host(settings.openai_base_url)}: name whoever "
        "runs it and the terms of its access to patient data."
        if _llm_leaves_machine(settings)
        else ""
    )
    return OwnerAndResponsibility(
        organisation=_or_todo(org, "the organisation accountable for using scribe (SCRIBE_TRANSPARENCY_ORGANISATION)"),
        team=_or_todo(settings.transparency_team, "the team responsible for running scribe"),
        senior_responsible_owner=_or_todo(
            settings.transparency_sro, "the role title of the senior responsible owner (SCRIBE_TRANSPARENCY_SRO)"
        ),
        third_party_involvement=(
            "scribe is open-source software (Apache-2.0) that runs on the organisation's own machines; its models "
            "are open models used under their licences (see 4.2); no model provider receives any data. "
            + todo("whether a supplier installs, hosts or supports scribe, and who")
            + llm_note
        ),
        third_parties=[
            ThirdParty(
                third_party=todo("the supplier's name, or 'none'"),
                companies_house_number=todo("the supplier's Companies House number"),
                third_party_role=todo("what the supplier does (installation, hosting, support)"),
                procurement_procedure_type=todo("how the supplier was procured (e.g. a framework call-off)"),
                third_party_data_access_terms=todo(
                    "the terms of any supplier access to patient data (data processing agreement)"
                ),
            )
        ],
    )


def _description(
    settings: Settings, models: Sequence[ModelInfo], summary: EvaluationSummary | None
) -> DescriptionAndRationale:
    asr, llm = models
    epr = (
        f"Approved notes can be sent to the electronic patient record (FHIR R4, UK Core) at "
        f"{_host(settings.fhir_base_url)}."
        if settings.fhir_base_url
        else "No electronic patient record is connected: approved notes leave only as text, PDF or JSON that a "
        "clinician downloads or copies into the record."
    )
    benefit = _headline_text(
        summary,
        "Minutes saved per consultation (measured baseline)",
        "Minutes saved per consultation (ASSUMED baseline)",
    )
    return DescriptionAndRationale(
        detailed_description=(
            "With the patient's recorded agreement, scribe records a consultation (in the browser, or from an "
            "uploaded file) into an encrypted store on the organisation's own machine. A speech-recognition model "
            f"({asr.name}) transcribes it, with voice-activity detection and guards that remove or flag text "
            "invented in silence or loops, and each word is attributed to the clinician or the patient (by stereo "
            "channel, by voice, or, weakest, by what is said). A language model "
            f"({llm.name}) drafts the note one template section at a time (template '{settings.note_template}'), "
            "and GP and patient letters from the note; every statement cites the transcript segments it rests on. "
            "Rule-based checks then mark statements the transcript does not support, list salient facts the draft "
            "leaves out, and treat speech that reads as instructions to software as quoted speech only. A clinician "
            "reviews, corrects and approves the note in the review app; nothing unapproved can be exported. " + epr
        ),
        scope=(
            "Drafting clinical documentation (consultation notes and letters) for a clinician to check and approve. "
            "It does not diagnose, triage, prescribe or make any decision about care, and it does not replace the "
            "clinician's own record-keeping duty. Designed for English-language consultations between one clinician "
            "and one patient. " + todo("the services, settings and consultation types where the organisation uses it")
        ),
        benefit=(
            "Less time writing notes and more attention on the patient during the consultation. "
            + (
                f"Measured: {benefit}"
                if benefit
                else todo("the benefit measured locally (run `scribe evaluate` with a timed baseline)")
            )
        ),
        previous_process=todo("how notes were written before (typed during or after the consultation, dictated)"),
        alternatives_considered=todo(
            "alternatives considered (e.g. unaided writing, dictation, hosted ambient-voice products) and why "
            "scribe was chosen; scribe processes audio and text on the organisation's own machines"
        ),
    )


def _decision_making() -> DecisionMakingProcess:
    return DecisionMakingProcess(
        process_integration=(
            "scribe prepares a draft; the clinician who held the consultation decides what the record says. The "
            "draft is produced after (or, live, during) the consultation and shown in the review app beside the "
            "transcript. Only the version the clinician approves becomes the note that is exported; corrections "
            "make a new version that needs approval again."
        ),
        provided_information=(
            "The transcript with clinician and patient labels, times and playback of each segment; the draft note "
            "in the template's sections, each statement linked to the transcript segments it cites; flags on "
            "statements the transcript does not support (with the reason: medicine, dose, side, number, date or "
            "negation), on low-confidence transcript segments, on possible omissions (medicines, allergies, red "
            "flags, safety-netting advice) and on speech that reads as instructions to software; the GP and "
            "patient letters with the patient letter's reading level."
        ),
        frequency_and_scale_of_usage=(
            "Once per recorded consultation, on demand. "
            + todo("the number of clinicians using it and consultations per month")
        ),
        human_decisions_and_review=(
            "Human in the loop for every note: nothing scribe drafts reaches the record without a clinician's "
            "approval. The clinician edits, adds and deletes statements (edited statements are checked against "
            'the transcript again), then approves with the attestation "I have reviewed this note against the '
            'consultation and I am responsible for its content"; when flags remain, a second confirmation that '
            "the flagged items were checked is required. The clinician may reject a draft with a reason. Every "
            "edit, approval, rejection and export is recorded with who and when, in a hash-chained audit log."
        ),
        required_training=todo(
            "the training clinicians receive before use: what the flags mean, that drafts can contain errors and "
            "omissions even without flags, automation bias, and how to record consent and objections"
        ),
        appeals_and_review=(
            "A patient who disputes what the note says can have the dispute recorded against the note; it is shown "
            "to the clinician and carried into every later export, and the clinician can correct the note (a new "
            "approved version supersedes the earlier one). A patient who objects to recording is not recorded. "
            + todo("how patients raise concerns or complaints (e.g. the PALS or complaints contact)")
        ),
    )


def _model_spec(model: ModelInfo, summary: EvaluationSummary | None) -> ModelSpecification:
    metrics = (
        ("Word error rate", "Word error rate, pooled over all words", "Medical-term error rate")
        if model.role == "speech recognition"
        else ("ROUGE-1 F1 against the reference note", "Unsupported statements", "Omissions")
    )
    performance = _headline_text(summary, *metrics)
    digests = "; ".join(f"{f.name} sha256 {f.sha256}" for f in model.files)
    return ModelSpecification(
        model_name=model.name,
        model_version=f"{model.version}{'; ' + digests if digests else ''}. Runs {model.runs_on}.",
        model_task=model.task,
        model_input=model.input,
        model_output=model.output,
        model_architecture=f"{model.architecture}. Licence {model.licence}; upstream {model.upstream}.",
        model_performance=performance
        or todo("performance measured on the organisation's own consultations (`scribe evaluate`)"),
        datasets=model.training_data,
        dataset_purposes=(
            "Training, by the model's provider; scribe does not train or fine-tune models, and consultations are "
            "never used for training. Evaluation data: see 4.3."
        ),
    )


def _data_specs(settings: Settings, summary: EvaluationSummary | None) -> list[DataSpecification]:
    outbound = _outbound(settings)
    leaves = (
        "Under these settings data leaves the machine only as follows: " + "; ".join(outbound) + "."
        if outbound
        else "Nothing leaves the machine under these settings except what a user downloads."
    )
    store = _store_location(settings)
    specs = [
        DataSpecification(
            source_data_name="Consultation audio",
            data_modality="Audio",
            data_description="The recording of one consultation, from the browser's microphone or an uploaded file.",
            data_quantities="One recording per consultation. " + todo("expected consultations per month"),
            sensitive_attributes=(
                "Health data and anything said in the consultation (special category data); voices; patient "
                "identifiers if spoken."
            ),
            data_completeness_and_representativeness="Not applicable: processed one consultation at a time, not "
            "used to train models.",
            source_data_url="Not applicable: the organisation's own consultations, not published.",
            data_collection=(
                "Recorded only after the clinician records that the patient was told and agreed; an objection "
                "blocks recording for that consultation for good."
            ),
            data_cleaning="None: decoded to 16 kHz and transcribed as recorded.",
            data_sharing_agreements="Audio is never shared or sent off the machine. "
            + todo("any data sharing agreement that covers the deployment"),
            data_access_and_storage=(
                f"Stored in {store}, sealed with AES-256-GCM under a per-consultation data key wrapped by the "
                f"site key; deleted {_audio_retention(settings)} (audio_retention_hours = "
                f"{settings.audio_retention_hours:g}), keys destroyed with it. Only the owning clinician (or one "
                "granted access) can play it; every access is audited."
            ),
        ),
        DataSpecification(
            source_data_name="Transcript, draft notes, letters and patient details",
            data_modality="Text",
            data_description=(
                "The transcript, every note version with its edits and approval, the letters, patient details "
                "the clinician enters (name, NHS number, date of birth), disputes."
            ),
            data_quantities="One set per consultation.",
            sensitive_attributes="Health data (special category), NHS number and other identifiers.",
            data_completeness_and_representativeness="Not applicable: not used to train models.",
            source_data_url="Not applicable.",
            data_collection="Produced by scribe from the audio, and entered or edited by the clinician.",
            data_cleaning="None.",
            data_sharing_agreements=leaves,
            data_access_and_storage=(
                f"Encrypted in {store}; the whole consultation is deleted {settings.retention_days:g} days after "
                "approval (or creation, if never approved). Access by role: clinicians their own or granted "
                "consultations; integrators approved notes only; administrators metadata only. The approved note "
                "exported to the patient record is the copy that is kept."
            ),
        ),
    ]
    if summary is not None:
        specs.append(
            DataSpecification(
                source_data_name=f"Evaluation data: {summary.dataset}",
                data_modality="Audio and text (consultations with reference transcripts and notes)",
                data_description="Consultations used to measure scribe's accuracy and the time it saves.",
                data_quantities=(
                    f"{summary.cases} consultations in the run, {summary.evaluated} evaluated, "
                    f"{summary.synthetic_audio} of them with synthetic (text-to-speech) audio."
                ),
                sensitive_attributes=todo("whether the evaluation data holds real patient data"),
                data_completeness_and_representativeness=" ".join(summary.caveats)
                or todo("how far the evaluation consultations represent the organisation's patients"),
                source_data_url=todo("where the evaluation data comes from"),
                data_collection=todo("how the evaluation consultations were gathered"),
                data_cleaning="None beyond scribe's text normalisation for scoring.",
                data_sharing_agreements=todo("agreements covering the evaluation data"),
                data_access_and_storage=todo("where the evaluation data is kept and who can access it"),
            )
        )
    return specs


def _tool_spec(settings: Settings, models: Sequence[ModelInfo], summary: EvaluationSummary | None) -> ToolSpecification:
    asr, llm = models
    return ToolSpecification(
        system_architecture=(
            f"A Python application on the organisation's machine: a web review app (`scribe serve`, "
            f"{settings.host}:{settings.port}) and command line, a background worker that runs speech recognition "
            f"({asr.name}, {asr.runs_on}) and drafting ({llm.name}, {llm.runs_on}), and an encrypted store "
            f"({_store_location(settings)}). Rule-based grounding, omission and prompt-injection checks run in the "
            "same process. FHIR R4 export to the EPR "
            + (f"at {_host(settings.fhir_base_url)}." if settings.fhir_base_url else "is not configured.")
        ),
        phase=todo("the phase: pre-deployment, pilot, production or retired"),
        maintenance=(
            "Models are pinned by package version and sha256 in scribe's catalogue and re-checked with "
            "`scribe models verify`; changing a model or a setting changes this record, which `scribe "
            "transparency` regenerates. Re-run `scribe evaluate` on local consultations after any change. "
            + todo("who maintains the deployment, how often it is reviewed, and how incidents are reported")
        ),
        models="; ".join(f"{m.role}: {m.name} ({m.licence})" for m in models),
        model_specifications=[_model_spec(m, summary) for m in models],
        data_specifications=_data_specs(settings, summary),
    )


def _risks(settings: Settings) -> list[RiskAndMitigation]:
    risks = [
        (
            "Speech recognition invents text (hallucination) in silence, noise or loops",
            "Guards remove segments that are text in silence, known stock phrases or repetition loops, and flag "
            "low-confidence segments for the clinician; the clinician can play any segment back.",
        ),
        (
            "The draft states something the consultation did not support (language-model hallucination)",
            "Every statement must cite transcript segments; the grounding check marks unsupported statements with "
            "the reason (medicine, dose, side, number, date, negation) and keeps them, flagged, in the draft; "
            "approval with flags open needs a second confirmation.",
        ),
        (
            "The draft leaves out something important (omission)",
            "The omission check lists medicines, allergies, red-flag symptoms and safety-netting advice heard in "
            "the consultation but missing from the draft, above the note.",
        ),
        (
            "Words in the consultation steer the model (prompt injection)",
            "Speech that reads as instructions to software is marked as quoted speech in the prompt, can never "
            "support a statement and is left out of the omission check; the output format is fixed by a schema.",
        ),
        (
            "Words attributed to the wrong speaker (who said what is reversed)",
            "The transcript records which attribution method was used (stereo channel, voice, or text cues, the "
            "weakest); the clinician sees the labels and checks them; a clinician voice enrolment improves it.",
        ),
        (
            "Lower accuracy for some accents, languages, voices or audio conditions (unfair performance)",
            "`scribe evaluate` breaks every metric down by the subgroups the data carries and warns on small "
            "subgroups. " + todo("the local evaluation across the organisation's patient population"),
        ),
        (
            "Clinicians approve drafts without checking them (automation bias)",
            "Mandatory review and attestation on every note; flags shown inline; edits and review time recorded "
            "for monitoring. " + todo("training and local audit of approved notes"),
        ),
        (
            "Disclosure of confidential patient information",
            (
                "Processing on the organisation's machine"
                if not _llm_leaves_machine(settings)
                else "Audio stays on the organisation's machine (transcripts go to the configured LLM server)"
            )
            + "; AES-256-GCM encryption at rest with per-consultation keys; "
            "role-based access; hash-chained audit log of every access; audio and records deleted on the "
            "retention schedule with their keys (crypto-shredding); logs carry ids only.",
        ),
        (
            "Recording without the patient's agreement",
            "Consent is recorded per consultation before recording; an objection blocks recording for good.",
        ),
        (
            "An incorrect or unapproved note reaches the patient record",
            "Export refuses any version that is not approved; corrections supersede the earlier version in the "
            "EPR; patient disputes travel with every export.",
        ),
        (
            "A model file is altered or replaced",
            "Every model file is pinned by sha256 in the catalogue and checked when assembled and by "
            "`scribe models verify`.",
        ),
        (
            "Unidentified clinical hazards",
            "Clinical risk management under DCB0129 (manufacturer) and DCB0160 (deploying organisation): the "
            "hazard log and clinical safety case are the organisation's Clinical Safety Officer's job. "
            + todo("reference to the hazard log and safety case"),
        ),
    ]
    if _llm_leaves_machine(settings):
        risks.append(
            (
                "Transcripts leave the machine for the LLM server",
                f"Only to the server the site configured ({_host(settings.openai_base_url)}). "
                + todo("the server's location, operator and contract"),
            )
        )
    return [RiskAndMitigation(risk=r, mitigation=m) for r, m in risks]


def _assessments(summary: EvaluationSummary | None) -> list[ImpactAssessment]:
    out = [
        ImpactAssessment(
            assessment_title=title,
            assessment_description=description,
            assessment_date=todo("date completed"),
            assessment_link=todo("link, or where it can be requested"),
        )
        for title, description in (
            ("Data Protection Impact Assessment (DPIA)", "UK GDPR Article 35 assessment of processing health data."),
            (
                "Clinical safety case and hazard log (DCB0160)",
                "The deploying organisation's clinical risk management, led by its Clinical Safety Officer.",
            ),
            ("Equality impact assessment", "Effects on patients and staff with protected characteristics."),
        )
    ]
    if summary is not None:
        out.append(
            ImpactAssessment(
                assessment_title=f"scribe evaluation: {summary.dataset}",
                assessment_description=(
                    f"{summary.evaluated} consultations. "
                    + "; ".join(f"{h.metric}: {h.text()}" for h in summary.headlines)
                    + ". "
                    + " ".join(summary.caveats)
                ).strip(),
                assessment_date=summary.started_at.date().isoformat(),
                assessment_link=todo("where the evaluation report is published"),
            )
        )
    return out


def _mismatch(models: Sequence[ModelInfo], summary: EvaluationSummary | None) -> list[str]:
    if summary is None or not summary.models:
        return []
    used = " ".join(summary.models.values())
    missing = [m.name for m in models if m.name not in used]
    if not missing:
        return []
    return [
        f"The evaluation ran with {', '.join(f'{k}: {v}' for k, v in summary.models.items())}, but this deployment "
        f"uses {', '.join(missing)}: its numbers may not describe this deployment."
    ]


def build_record(
    settings: Settings, evaluation: EvaluationRun | None = None, organisation: str | None = None
) -> TransparencyRecord:
    """The ATRS record of the deployment these settings describe, with an evaluation's headlines if given."""
    models = deployed_models(settings)
    summary = summarise_evaluation(evaluation, Prices.from_settings(settings)) if evaluation else None
    if summary is not None:
        summary.caveats.extend(_mismatch(models, summary))
    owner = _owner(settings, organisation)
    tier1 = Tier1(
        name=TOOL_NAME,
        description=(
            "With the patient's agreement, scribe records a consultation on the organisation's own computers, turns "
            "the conversation into a written transcript and drafts the clinical note and letters from it. The "
            "clinician reads, corrects and approves every note before it goes into the patient's record; no "
            "unapproved note can be exported. It is used so clinicians spend less time writing and more time with "
            "patients."
            + (
                " To draft the note, the transcript is sent to a language-model server the organisation has arranged."
                if _llm_leaves_machine(settings)
                else ""
            )
        ),
        website_url=_or_todo(
            settings.transparency_website_url, "a page with more information (SCRIBE_TRANSPARENCY_WEBSITE_URL)"
        ),
        contact_email=_or_todo(
            settings.transparency_contact_email, "a public contact email address (SCRIBE_TRANSPARENCY_CONTACT_EMAIL)"
        ),
    )
    tier2 = Tier2(
        owner_and_responsibility=owner,
        description_and_rationale=_description(settings, models, summary),
        decision_making_process=_decision_making(),
        tool_specification=_tool_spec(settings, models, summary),
        risks_mitigations_and_impact_assessments=RisksMitigationsAndImpactAssessments(
            impact_assessments=_assessments(summary), risks_and_mitigations=_risks(settings)
        ),
    )
    record = TransparencyRecord(
        metadata=RecordMetadata(
            generated_at=datetime.now(UTC),
            generated_by=f"scribe {_software_version()} (`scribe transparency`)",
            models=models,
            evaluation=summary,
            data_leaving=_outbound(settings),
        ),
        tier1=tier1,
        tier2=tier2,
    )
    record.metadata.fields_to_complete = [*placeholders(tier1, "tier1."), *placeholders(tier2, "tier2.")]
    return record


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _md_value(value: str) -> str:
    return value.replace(TO_COMPLETE, f"**{TO_COMPLETE}**")


def _md_fields(model: BaseModel, level: int) -> list[str]:
    lines: list[str] = []
    for key, info in type(model).model_fields.items():
        value = getattr(model, key)
        title = info.title or key
        if isinstance(value, str):
            lines += [f"{'#' * level} {title}", "", _md_value(value), ""]
        elif isinstance(value, list):
            lines += [f"{'#' * level} {title}", ""]
            for i, item in enumerate(value, 1):
                label = getattr(item, "model_name", None) or getattr(item, "source_data_name", None) or f"{i}"
                lines += [f"{'#' * (level + 1)} {title.split(' - ')[-1]}: {label}", ""]
                lines += _md_fields(item, level + 2)
    return lines


def _md_risks(section: RisksMitigationsAndImpactAssessments) -> list[str]:
    def cell(text: str) -> str:
        return _md_value(text).replace("|", "\\|").replace("\n", " ")

    lines = ["### 5.1 - Impact assessments", "", "| Assessment | Description | Date | Link |", "|---|---|---|---|"]
    lines += [
        f"| {cell(a.assessment_title)} | {cell(a.assessment_description)} | {cell(a.assessment_date)} "
        f"| {cell(a.assessment_link)} |"
        for a in section.impact_assessments
    ]
    lines += ["", "### 5.2 - Risks and mitigations", "", "| Risk | Mitigation |", "|---|---|"]
    lines += [f"| {cell(r.risk)} | {cell(r.mitigation)} |" for r in section.risks_and_mitigations]
    return [*lines, ""]


def render_atrs_markdown(record: TransparencyRecord) -> str:
    """The record as a human-readable Markdown document, in the template's order and numbering."""
    meta = record.metadata
    lines = [
        f"# Algorithmic transparency record: {record.tier1.name}",
        "",
        f"Structure: {meta.standard}, template version {meta.standard_version} ({meta.standard_url}). "
        f"Generated {meta.generated_at:%Y-%m-%d} by {meta.generated_by} from this deployment's settings and model "
        "catalogue. This is a draft for the deploying organisation to complete and approve before publication.",
        "",
    ]
    if meta.fields_to_complete:
        lines += [
            f"**{len(meta.fields_to_complete)} fields are marked {TO_COMPLETE}**: "
            + ", ".join(f"`{p}`" for p in meta.fields_to_complete),
            "",
        ]
    lines += ["## Tier 1 - Summary", "", *_md_fields(record.tier1, 3)]
    for key, info in type(record.tier2).model_fields.items():
        section = getattr(record.tier2, key)
        lines += [f"## {info.title}", ""]
        lines += (
            _md_risks(section) if isinstance(section, RisksMitigationsAndImpactAssessments) else _md_fields(section, 3)
        )
    return "\n".join(lines).rstrip() + "\n"


def render_model_card(record: TransparencyRecord) -> str:
    """A model card for the pipeline's models (sections of Mitchell et al., 2019)."""
    meta, summary = record.metadata, record.metadata.evaluation
    lines = [
        f"# Model card: {TOOL_NAME}",
        "",
        f"Generated {meta.generated_at:%Y-%m-%d} by {meta.generated_by}. Sections follow Mitchell et al., "
        "'Model Cards for Model Reporting' (2019). scribe is a pipeline of models and rules; this card describes "
        "the models this deployment is configured to use and the pipeline around them.",
        "",
        "## Model details",
        "",
    ]
    for m in meta.models:
        lines += [
            f"### {m.role.capitalize()}: {m.name}",
            "",
            f"- What it is: {m.architecture}",
            f"- Version: {m.version}",
            *(f"- `{f.name}`: {f.size} bytes, sha256 `{f.sha256}`" for f in m.files),
            f"- Licence: {_md_value(m.licence)}",
            f"- Upstream: {_md_value(m.upstream)}",
            f"- Runs: {m.runs_on}",
            f"- Task: {m.task}. Input: {m.input}. Output: {m.output}.",
            "",
        ]
    lines += [
        "## Intended use",
        "",
        "- Primary use: drafting consultation notes and letters from a recorded clinician-patient consultation, "
        "for the clinician who held it to review, correct and approve.",
        "- Primary users: clinicians, who are responsible for the approved note.",
        "- Out of scope: diagnosis, triage, treatment decisions, any use without clinician review, consultations "
        "without the patient's agreement, and use of drafts as the record before approval.",
        "",
        "## Factors",
        "",
        "Accuracy can vary with: accent, dialect and language; age, sex and voice of the speakers; speech or "
        "hearing impairments; interpreters and more than two speakers; microphones, rooms, background noise and "
        "remote (telephone or video) consultations; overlapping speech; clinical vocabulary and medicine names; "
        "consultation type and length.",
    ]
    if summary is not None:
        groups = "; ".join(f"{k} ({', '.join(v)})" for k, v in summary.subgroups.items())
        lines += ["", f"The evaluation data carries these subgroups: {groups or 'none'}."]
    lines += [
        "",
        "## Metrics",
        "",
        "- Speech: word error rate after Whisper's English normalisation, medical-term error rate, speaker "
        "attribution accuracy, rate of invented (hallucinated) segments, real-time factor.",
        "- Notes: ROUGE-1/2/L against reference notes (word overlap, not correctness), fact-level precision and "
        "recall, share of statements the transcript does not support, omission rate, patient-letter reading level.",
        "- Time and cost: documentation time with scribe against a measured baseline, time to draft, CPU and "
        "GPU-held seconds, energy and cost per consultation.",
        "- Means are reported with bootstrap 95% intervals and the number of consultations behind them.",
        "",
        "## Evaluation data",
        "",
    ]
    if summary is None:
        lines.append(
            f"{TO_COMPLETE}: no evaluation was supplied. Run `scribe evaluate` on the organisation's own "
            "consultations and pass the run to `scribe transparency --evaluation RUN.json`."
        )
    else:
        lines += [
            f"Dataset '{summary.dataset}' (run started {summary.started_at:%Y-%m-%d}): {summary.cases} "
            f"consultations, {summary.evaluated} evaluated, {summary.synthetic_audio} with synthetic "
            "(text-to-speech) audio.",
        ]
    lines += ["", "## Training data", ""]
    lines += [f"- {m.name}: {_md_value(m.training_data)}" for m in meta.models]
    lines += [
        "- scribe trains nothing: no consultation, transcript or note is ever used to train or fine-tune a model.",
        "",
        "## Quantitative analyses",
        "",
    ]
    if summary is None or not summary.headlines:
        lines.append(f"{TO_COMPLETE}: no evaluation numbers yet.")
    else:
        lines += ["| Metric | Value | How |", "|---|---|---|"]
        lines += [f"| {h.metric} | {h.text()} | {h.method} |" for h in summary.headlines]
        lines += ["", *(f"- {c}" for c in summary.caveats)]
    lines += [
        "",
        "## Ethical considerations",
        "",
        "- Consultations hold special category health data: stored encrypted on the organisation's machines and "
        "deleted on a retention schedule; patients are told and may object, and an objection stops recording. "
        + (
            "Data leaves the machine only as follows: " + "; ".join(meta.data_leaving) + "."
            if meta.data_leaving
            else "Nothing is sent off the machine except what a user downloads."
        ),
        "- Drafts can contain invented, misattributed or missing content, and accuracy may be lower for some "
        "patients and clinicians; the flags reduce but do not remove this, so every note needs a clinician's "
        "review and approval.",
        "- Automation bias: a fluent draft invites approval without checking; attestation, flags and monitoring of "
        "edit rates address it, with training by the organisation.",
        "- Clinical risk management (DCB0129/DCB0160) and the hazard log belong to the organisation's Clinical "
        "Safety Officer.",
        "",
        "## Caveats and recommendations",
        "",
        "- The language models were not trained for clinical documentation; their drafts are starting points.",
        "- Evaluate on the organisation's own consultations, across its patient population, before relying on any "
        "number here; synthetic audio does not show real-room performance.",
        "- Re-run `scribe evaluate` and regenerate this card after changing any model or setting.",
        "",
    ]
    return "\n".join(lines)


def write_transparency(
    settings: Settings,
    out_dir: Path,
    evaluation: Path | None = None,
    organisation: str | None = None,
) -> list[Path]:
    """Write atrs.json, atrs.md and model-card.md into ``out_dir`` (each atomically); return their paths."""
    run = load_evaluation(evaluation) if evaluation is not None else None
    record = build_record(settings, run, organisation)
    files = {
        "atrs.json": json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
        "atrs.md": render_atrs_markdown(record),
        "model-card.md": render_model_card(record),
    }
    paths = []
    for name, text in files.items():
        path = out_dir / name
        write_text_atomic(path, text)
        paths.append(path)
    log.info("wrote the transparency record to %s", out_dir)
    return paths
