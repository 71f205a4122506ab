"""Packaging: fhir_mappings builds as a wheel of its own with only its own dependencies; scribe's wheel holds its
model catalogue."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _build_wheel(project: Path, out: Path, backend: str) -> zipfile.ZipFile:
    """``pip wheel --no-deps`` of ``project`` into ``out``; offline when ``backend`` is installed here."""
    isolation = [] if importlib.util.find_spec(backend) is None else ["--no-build-isolation"]
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation, "-w", str(out), str(project)]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.mark.subprocess
def test_fhir_mappings_wheel_holds_only_fhir_mappings_and_needs_only_pydantic_and_fhir_resources(
    tmp_path: Path,
) -> None:
    with _build_wheel(ROOT / "fhir_mappings", tmp_path, "hatchling") as wheel:
        names = wheel.namelist()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        headers = Parser().parsestr(wheel.read(metadata).decode())
    code = sorted(name for name in names if ".dist-info/" not in name)
    expected = sorted(f"fhir_mappings/{path.name}" for path in (ROOT / "fhir_mappings").glob("*.py"))
    assert code == expected
    requirements = {canonicalize_name(Requirement(line).name) for line in headers.get_all("Requires-Dist")}
    assert requirements == {"pydantic", canonicalize_name("fhir.resources")}


@pytest.mark.subprocess
def test_scribe_wheel_holds_the_model_catalogue(tmp_path: Path) -> None:
    # Built from a copy, so that setuptools' build/ and egg-info folders stay out of the working tree.
    project = tmp_path / "project"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in ("scribe", "fhir_mappings"):
        shutil.copytree(ROOT / folder, project / folder, ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, project / name)
    with _build_wheel(project, tmp_path / "dist", "setuptools") as wheel:
        names = set(wheel.namelist())
        manifest = wheel.read("scribe/catalogue.toml").decode()
    assert manifest == (ROOT / "scribe" / "catalogue.toml").read_text()
    assert "scribe/catalogue.py" in names and "fhir_mappings/contract.py" in names
