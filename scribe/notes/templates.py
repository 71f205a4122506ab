"""Note templates: TOML files a site can add or change without code.

The packaged templates live in ``scribe/notes/templates/`` (``gp``, ``soap``, ``clinic``). A site
points ``SCRIBE_TEMPLATES_DIR`` at a folder of its own ``*.toml`` files: a file there adds a
template, or replaces the packaged one of the same ``name``. Each section tells the model what
belongs in it; ``lists`` names the structured lists to extract (medications, allergies,
problems, findings).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scribe.errors import ConfigError

PACKAGED = Path(__file__).with_name("templates")
ListName = Literal["medications", "allergies", "problems", "findings"]


class TemplateSection(BaseModel):
    """One section of a note template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable key, used in JSON and by the FHIR mapping.")
    title: str = Field(min_length=1)
    code: str = Field(
        default="",
        pattern=r"^([A-Z]{1,4})?$",
        description="Short code the model tags facts with (default: the key's initials).",
    )
    instruction: str = Field(min_length=1, description="What belongs in the section, told to the model.")
    loinc: str | None = Field(default=None, description="LOINC section code for FHIR Composition.section.")
    max_statements: int = Field(
        default=8, ge=1, le=30, description="Most facts the section takes from one part of the transcript."
    )
    patient_words_to: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]*$",
        description=(
            "For a section of what the clinician found (examination): the section a statement moves to "
            "when its only evidence is the patient's own words (what they report is history)."
        ),
    )


class TemplateExample(BaseModel):
    """A worked example the model sees before the consultation: a short transcript and its fact lines.

    It teaches the form and the house style (how terse, which section takes what); its content
    must never reach a note: the grounding check removes anything the real transcript does not
    support, and the drafting tests check that no example fact survives.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    transcript: str = Field(min_length=1, description="Lines 'Clinician: ...' / 'Patient: ...', one per turn.")
    facts: str = Field(min_length=1, description="Lines 'CODE [n] fact', citing the transcript's turns from 0.")


class Template(BaseModel):
    """A note template: its sections in order and the structured lists it asks for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    title: str
    description: str = ""
    sections: tuple[TemplateSection, ...] = Field(min_length=1)
    lists: tuple[ListName, ...] = ()
    example: TemplateExample | None = Field(default=None, description="A worked example shown to the model.")
    source: str = Field(default="", description="The file it was read from.")

    @model_validator(mode="after")
    def _unique_keys(self) -> Template:
        keys = [s.key for s in self.sections]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"section keys listed more than once: {', '.join(duplicates)}")
        unknown = sorted({s.patient_words_to for s in self.sections if s.patient_words_to} - set(keys))
        if unknown:
            raise ValueError(f"patient_words_to names no section of this template: {', '.join(unknown)}")
        return self


def _read(path: Path) -> Template:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read note template {path}: {exc}") from None
    try:
        return Template(**data, source=str(path))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'template'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid note template {path}: {problems}") from None


def _files(extra_dir: Path | None) -> dict[str, Path]:
    """Template name (file stem) to file; a site's folder overrides packaged files of the same name."""
    files = {p.stem: p for p in sorted(PACKAGED.glob("*.toml"))}
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise ConfigError(f"templates folder {extra_dir} does not exist; fix SCRIBE_TEMPLATES_DIR")
        files.update({p.stem: p for p in sorted(extra_dir.glob("*.toml"))})
    return files


def template_names(extra_dir: Path | None = None) -> list[str]:
    """Names of every template available, packaged and the site's."""
    return sorted(_files(extra_dir))


def load_template(name: str, extra_dir: Path | None = None) -> Template:
    """The template called ``name`` (a file stem), from the site's folder first, else packaged."""
    files = _files(extra_dir)
    path = files.get(name)
    if path is None:
        raise ConfigError(f"unknown note template {name!r}; available: {', '.join(sorted(files))}")
    template = _read(path)
    if template.name != name:
        raise ConfigError(f"note template {path} declares name {template.name!r}; rename the file or the name")
    return template
