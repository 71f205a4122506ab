"""Tier 2 section 5 of the ATRS record: impact assessments, and risks with their mitigations."""

from __future__ import annotations

from scribe.config import Settings
from scribe.evaluate.transparency.deployment import host, llm_leaves_machine
from scribe.evaluate.transparency.evidence import figures
from scribe.evaluate.transparency.schema import EvaluationEvidence, ImpactAssessment, RiskAndMitigation, todo


def risks(settings: Settings) -> list[RiskAndMitigation]:
    """Section 5.2: the risks of using scribe under these settings, each with what mitigates it."""
    items = [
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
                if not llm_leaves_machine(settings)
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
    if llm_leaves_machine(settings):
        items.append(
            (
                "Transcripts leave the machine for the LLM server",
                f"Only to the server the site configured ({host(settings.openai_base_url)}). "
                + todo("the server's location, operator and contract"),
            )
        )
    return [RiskAndMitigation(risk=r, mitigation=m) for r, m in items]


def assessments(evidence: EvaluationEvidence | None) -> list[ImpactAssessment]:
    """Section 5.1: the organisation's assessments to complete, and the evaluation run when there is one."""
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
    if evidence is not None:
        summary = evidence.summary
        out.append(
            ImpactAssessment(
                assessment_title=f"scribe evaluation: {summary.dataset}",
                assessment_description=(
                    f"{summary.n_evaluated} consultations. "
                    + "; ".join(f"{f.metric}: {f.text()}" for f in figures(evidence))
                    + ". "
                    + " ".join(evidence.caveats)
                ).strip(),
                assessment_date=summary.started_at.date().isoformat(),
                assessment_link=todo("where the evaluation report is published"),
            )
        )
    return out
