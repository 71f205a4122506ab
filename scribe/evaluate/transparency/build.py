"""Building the ATRS record from this deployment's settings, its models and, when given, an evaluation's Summary.

:func:`build_record` fills the ATRS template (version 3.0: tier 1 summary; tier 2 owner and
responsibility, description and rationale, decision-making process, tool specification with model
and data specifications, risks, mitigations and impact assessments) from what this deployment
really is: the settings in force, the model catalogue (names, pinned packages, sha256, licences),
the data flows those settings allow, the human oversight the review app enforces, and, when given,
the numbers of an evaluation run as :func:`scribe.evaluate.report.summarise` computes them. What
software cannot know is left as :data:`TO_COMPLETE` with a hint; ``metadata.fields_to_complete``
lists those fields. Sections 1 to 3 are written here, section 4 in ``tool`` and section 5 in ``risks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from scribe.config import Settings
from scribe.evaluate.cost import Prices
from scribe.evaluate.results import EvaluationRun
from scribe.evaluate.transparency.deployment import host, llm_leaves_machine, outbound, software_version
from scribe.evaluate.transparency.evidence import MINUTES_SAVED, evaluation_evidence, headline_text
from scribe.evaluate.transparency.inventory import deployed_models
from scribe.evaluate.transparency.risks import assessments, risks
from scribe.evaluate.transparency.schema import (
    TOOL_NAME,
    DecisionMakingProcess,
    DescriptionAndRationale,
    EvaluationEvidence,
    ModelInfo,
    OwnerAndResponsibility,
    RecordMetadata,
    RisksMitigationsAndImpactAssessments,
    ThirdParty,
    Tier1,
    Tier2,
    TransparencyRecord,
    or_todo,
    placeholders,
    todo,
)
from scribe.evaluate.transparency.tool import tool_specification


def _owner(settings: Settings, organisation: str | None) -> OwnerAndResponsibility:
    org = (organisation or settings.transparency_organisation or settings.site_name).strip()
    llm_note = (
        f" This deployment sends transcripts to an LLM server at {host(settings.openai_base_url)}: name whoever "
        "runs it and the terms of its access to patient data."
        if llm_leaves_machine(settings)
        else ""
    )
    return OwnerAndResponsibility(
        organisation=or_todo(org, "the organisation accountable for using scribe (SCRIBE_TRANSPARENCY_ORGANISATION)"),
        team=or_todo(settings.transparency_team, "the team responsible for running scribe"),
        senior_responsible_owner=or_todo(
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
    settings: Settings, models: Sequence[ModelInfo], evidence: EvaluationEvidence | None
) -> DescriptionAndRationale:
    asr, llm = models
    epr = (
        f"Approved notes can be sent to the electronic patient record (FHIR R4, UK Core) at "
        f"{host(settings.fhir_base_url)}."
        if settings.fhir_base_url
        else "No electronic patient record is connected: approved notes leave only as text, PDF or JSON that a "
        "clinician downloads or copies into the record."
    )
    benefit = headline_text(evidence, *MINUTES_SAVED.values())
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


def build_record(
    settings: Settings, evaluation: EvaluationRun | None = None, organisation: str | None = None
) -> TransparencyRecord:
    """The ATRS record of the deployment these settings describe, with an evaluation's figures if given."""
    models = deployed_models(settings)
    evidence = evaluation_evidence(evaluation, models, Prices.from_settings(settings)) if evaluation else None
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
                if llm_leaves_machine(settings)
                else ""
            )
        ),
        website_url=or_todo(
            settings.transparency_website_url, "a page with more information (SCRIBE_TRANSPARENCY_WEBSITE_URL)"
        ),
        contact_email=or_todo(
            settings.transparency_contact_email, "a public contact email address (SCRIBE_TRANSPARENCY_CONTACT_EMAIL)"
        ),
    )
    tier2 = Tier2(
        owner_and_responsibility=owner,
        description_and_rationale=_description(settings, models, evidence),
        decision_making_process=_decision_making(),
        tool_specification=tool_specification(settings, models, evidence),
        risks_mitigations_and_impact_assessments=RisksMitigationsAndImpactAssessments(
            impact_assessments=assessments(evidence), risks_and_mitigations=risks(settings)
        ),
    )
    record = TransparencyRecord(
        metadata=RecordMetadata(
            generated_at=datetime.now(UTC),
            generated_by=f"scribe {software_version()} (`scribe transparency`)",
            models=models,
            evaluation=evidence,
            data_leaving=outbound(settings),
        ),
        tier1=tier1,
        tier2=tier2,
    )
    record.metadata.fields_to_complete = [*placeholders(tier1, "tier1."), *placeholders(tier2, "tier2.")]
    return record
