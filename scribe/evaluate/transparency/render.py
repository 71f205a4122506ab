"""Rendering the record: atrs.json, atrs.md and model-card.md, from Jinja templates beside the report's.

The Markdown record follows the template's order and numbering (the field titles of the schema);
the model card follows Mitchell et al., "Model Cards for Model Reporting" (2019). Both templates
live in ``scribe/evaluate/templates/`` and are rendered with StrictUndefined, like the report.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined, Template
from pydantic import BaseModel

from scribe.config import Settings
from scribe.evaluate.transparency.build import build_record
from scribe.evaluate.transparency.evidence import figures, load_evaluation
from scribe.evaluate.transparency.schema import TO_COMPLETE, TOOL_NAME, TransparencyRecord
from scribe.fileio import write_text_atomic

log = logging.getLogger(__name__)


def _md_value(value: str) -> str:
    """A field's text with every placeholder in bold."""
    return value.replace(TO_COMPLETE, f"**{TO_COMPLETE}**")


def _md_cell(value: str) -> str:
    """A field's text for one cell of a Markdown table."""
    return _md_value(value).replace("|", "\\|").replace("\n", " ")


def _fields(model: BaseModel) -> list[tuple[str, str | list[BaseModel]]]:
    """(title, value) of each text or list field of a record section, in the template's order."""
    out: list[tuple[str, str | list[BaseModel]]] = []
    for key, info in type(model).model_fields.items():
        value = getattr(model, key)
        if isinstance(value, str | list):
            out.append((info.title or key, value))
    return out


def _item_label(item: BaseModel, index: int) -> str:
    """What names one item of a list field: its model or data source name, else its number."""
    return str(getattr(item, "model_name", None) or getattr(item, "source_data_name", None) or index)


def _template(name: str) -> Template:
    environment = Environment(
        autoescape=False,  # Markdown, not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = _md_value
    environment.filters["cell"] = _md_cell
    environment.filters["fields"] = _fields
    environment.filters["item_label"] = _item_label
    environment.filters["code"] = lambda text: f"`{text}`"
    text = resources.files("scribe.evaluate").joinpath("templates", name).read_text("utf-8")
    return environment.from_string(text)


def render_atrs_markdown(record: TransparencyRecord) -> str:
    """The record as a human-readable Markdown document, in the template's order and numbering."""
    sections = [(info.title, getattr(record.tier2, key)) for key, info in type(record.tier2).model_fields.items()]
    text = _template("atrs.md.j2").render(
        record=record, meta=record.metadata, sections=sections, to_complete=TO_COMPLETE
    )
    return text.rstrip() + "\n"


def render_model_card(record: TransparencyRecord) -> str:
    """A model card for the pipeline's models (sections of Mitchell et al., 2019)."""
    evidence = record.metadata.evaluation
    return _template("model-card.md.j2").render(
        meta=record.metadata,
        evidence=evidence,
        figures=figures(evidence),
        tool_name=TOOL_NAME,
        to_complete=TO_COMPLETE,
    )


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
