"""Tier 2 section 4 of the ATRS record: the tool specification (system, models with their figures, data)."""

from __future__ import annotations

from collections.abc import Sequence

from scribe.config import Settings
from scribe.evaluate.transparency.deployment import audio_retention, host, outbound, store_location
from scribe.evaluate.transparency.evidence import headline_text
from scribe.evaluate.transparency.schema import (
    DataSpecification,
    EvaluationEvidence,
    ModelInfo,
    ModelSpecification,
    ToolSpecification,
    todo,
)


def _model_spec(model: ModelInfo, evidence: EvaluationEvidence | None) -> ModelSpecification:
    metrics = (
        ("Word error rate", "Word error rate, pooled over all words", "Medical-term error rate")
        if model.role == "speech recognition"
        else ("ROUGE-1 F1 against the reference note", "Unsupported statements", "Omissions")
    )
    performance = headline_text(evidence, *metrics)
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


def _data_specs(settings: Settings, evidence: EvaluationEvidence | None) -> list[DataSpecification]:
    flows = outbound(settings)
    leaves = (
        "Under these settings data leaves the machine only as follows: " + "; ".join(flows) + "."
        if flows
        else "Nothing leaves the machine under these settings except what a user downloads."
    )
    store = store_location(settings)
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
                f"site key; deleted {audio_retention(settings)} (audio_retention_hours = "
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
    if evidence is not None:
        summary = evidence.summary
        specs.append(
            DataSpecification(
                source_data_name=f"Evaluation data: {summary.dataset}",
                data_modality="Audio and text (consultations with reference transcripts and notes)",
                data_description="Consultations used to measure scribe's accuracy and the time it saves.",
                data_quantities=(
                    f"{summary.n_cases} consultations in the run ({summary.n_synthetic_audio} of them with synthetic "
                    f"(text-to-speech) audio), {summary.n_evaluated} evaluated."
                ),
                sensitive_attributes=todo("whether the evaluation data holds real patient data"),
                data_completeness_and_representativeness=" ".join(evidence.caveats)
                or todo("how far the evaluation consultations represent the organisation's patients"),
                source_data_url=todo("where the evaluation data comes from"),
                data_collection=todo("how the evaluation consultations were gathered"),
                data_cleaning="None beyond scribe's text normalisation for scoring.",
                data_sharing_agreements=todo("agreements covering the evaluation data"),
                data_access_and_storage=todo("where the evaluation data is kept and who can access it"),
            )
        )
    return specs


def tool_specification(
    settings: Settings, models: Sequence[ModelInfo], evidence: EvaluationEvidence | None
) -> ToolSpecification:
    """Section 4: the system, its models (with the evaluation's figures) and the data it handles."""
    asr, llm = models
    return ToolSpecification(
        system_architecture=(
            f"A Python application on the organisation's machine: a web review app (`scribe serve`, "
            f"{settings.host}:{settings.port}) and command line, a background worker that runs speech recognition "
            f"({asr.name}, {asr.runs_on}) and drafting ({llm.name}, {llm.runs_on}), and an encrypted store "
            f"({store_location(settings)}). Rule-based grounding, omission and prompt-injection checks run in the "
            "same process. FHIR R4 export to the EPR "
            + (f"at {host(settings.fhir_base_url)}." if settings.fhir_base_url else "is not configured.")
        ),
        phase=todo("the phase: pre-deployment, pilot, production or retired"),
        maintenance=(
            "Models are pinned by package version and sha256 in scribe's catalogue and re-checked with "
            "`scribe models verify`; changing a model or a setting changes this record, which `scribe "
            "transparency` regenerates. Re-run `scribe evaluate` on local consultations after any change. "
            + todo("who maintains the deployment, how often it is reviewed, and how incidents are reported")
        ),
        models="; ".join(f"{m.role}: {m.name} ({m.licence})" for m in models),
        model_specifications=[_model_spec(m, evidence) for m in models],
        data_specifications=_data_specs(settings, evidence),
    )
