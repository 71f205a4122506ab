"""Settings come from arguments, SCRIBE_* variables and scribe.toml, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.config import load_settings
from scribe.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.asr_model == "whisper-base"
    assert settings.device == "auto"
    assert settings.model_cache == settings.data_dir / "models"


def test_toml_then_environment_then_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('asr_model = "whisper-tiny.en"\nbeam_size = 3\ndevice = "cpu"\n')
    monkeypatch.setenv("SCRIBE_CONFIG", str(config))
    assert load_settings().beam_size == 3
    monkeypatch.setenv("SCRIBE_BEAM_SIZE", "2")
    settings = load_settings()
    assert (settings.beam_size, settings.asr_model, settings.device) == (2, "whisper-tiny.en", "cpu")
    assert load_settings(beam_size=4).beam_size == 4


def test_invalid_settings_name_the_problem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCRIBE_DEVICE", "tpu")
    with pytest.raises(ConfigError, match="device"):
        load_settings()


def test_unknown_key_in_toml_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "scribe.toml"
    config.write_text("asr_modle = 'x'\n")
    monkeypatch.setenv("SCRIBE_CONFIG", str(config))
    with pytest.raises(ConfigError, match="asr_modle"):
        load_settings()


def test_malformed_toml_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "scribe.toml"
    config.write_text("asr_model = \n")
    monkeypatch.setenv("SCRIBE_CONFIG", str(config))
    with pytest.raises(ConfigError):
        load_settings()
