"""The deployment's public record: the UK Algorithmic Transparency Recording Standard, and a model card.

One module per job: ``schema`` (the ATRS record as pydantic models), ``deployment`` (what the
settings say about where data goes), ``inventory`` (the models in use, from the catalogue),
``evidence`` (an evaluation run's one Summary, as ``scribe evaluate`` computes it, and the figures
the record states from it), ``build`` with ``tool`` and ``risks`` (the record's sections), and
``render`` (atrs.json, and atrs.md and model-card.md from Jinja templates).
"""

from scribe.evaluate.transparency.build import build_record
from scribe.evaluate.transparency.evidence import Figure, evaluation_evidence, figures, load_evaluation
from scribe.evaluate.transparency.inventory import deployed_models
from scribe.evaluate.transparency.render import render_atrs_markdown, render_model_card, write_transparency
from scribe.evaluate.transparency.schema import (
    STANDARD,
    STANDARD_URL,
    STANDARD_VERSION,
    TO_COMPLETE,
    TOOL_NAME,
    EvaluationEvidence,
    FileDigest,
    ModelInfo,
    TransparencyRecord,
    placeholders,
    todo,
)

__all__ = [
    "STANDARD",
    "STANDARD_URL",
    "STANDARD_VERSION",
    "TOOL_NAME",
    "TO_COMPLETE",
    "EvaluationEvidence",
    "Figure",
    "FileDigest",
    "ModelInfo",
    "TransparencyRecord",
    "build_record",
    "deployed_models",
    "evaluation_evidence",
    "figures",
    "load_evaluation",
    "placeholders",
    "render_atrs_markdown",
    "render_model_card",
    "todo",
    "write_transparency",
]
