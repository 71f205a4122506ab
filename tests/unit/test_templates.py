"""Note templates: packaged ones load, a site's folder adds and overrides, bad files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.errors import ConfigError
from scribe.notes.templates import load_template, template_names

GP_SECTIONS = ["presenting_complaint", "history", "examination", "assessment", "plan", "safety_netting", "follow_up"]


def test_packaged_templates_load_with_the_sections_the_issue_names() -> None:
    assert {"gp", "soap", "clinic"} <= set(template_names())
    gp = load_template("gp")
    assert [s.key for s in gp.sections] == GP_SECTIONS
    assert gp.lists == ("medications", "allergies", "problems", "findings")
    assert [s.key for s in load_template("soap").sections] == ["subjective", "objective", "assessment", "plan"]
    assert all(s.loinc for s in load_template("clinic").sections)


def test_site_folder_adds_a_template_and_overrides_a_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "gp.toml").write_text(
        'name = "gp"\ntitle = "Our GP note"\n[[sections]]\nkey = "summary"\ntitle = "Summary"\ninstruction = "All."\n'
    )
    (tmp_path / "physio.toml").write_text(
        'name = "physio"\ntitle = "Physio"\nlists = ["findings"]\n'
        '[[sections]]\nkey = "goals"\ntitle = "Goals"\ninstruction = "Goals agreed."\nmax_statements = 3\n'
    )
    assert "physio" in template_names(tmp_path)
    assert load_template("gp", tmp_path).title == "Our GP note"
    physio = load_template("physio", tmp_path)
    assert physio.sections[0].max_statements == 3 and physio.lists == ("findings",)
    assert load_template("gp").title == "GP consultation note"  # without the folder, the packaged one


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('name = "x"\ntitle = "X"\n', "sections"),
        (
            'name = "x"\ntitle = "X"\nlists = ["drugs"]\n[[sections]]\nkey = "a"\ntitle = "A"\ninstruction = "i"\n',
            "lists",
        ),
        (
            'name = "x"\ntitle = "X"\n[[sections]]\nkey = "a"\ntitle = "A"\ninstruction = "i"\n'
            '[[sections]]\nkey = "a"\ntitle = "B"\ninstruction = "j"\n',
            "more than once",
        ),
        ('name = "x"\ntitle = "X"\n[[sections]]\nkey = "Bad Key"\ntitle = "A"\ninstruction = "i"\n', "key"),
        ("name = = broken", "cannot read"),
        (
            'name = "x"\ntitle = "X"\n[[sections]]\nkey = "exam"\ntitle = "E"\ninstruction = "i"\n'
            'patient_words_to = "history"\n',
            "patient_words_to names no section",
        ),
    ],
)
def test_invalid_site_template_is_refused_with_the_file_and_the_problem(
    tmp_path: Path, body: str, expected: str
) -> None:
    (tmp_path / "x.toml").write_text(body)
    with pytest.raises(ConfigError, match=expected) as info:
        load_template("x", tmp_path)
    assert "x.toml" in str(info.value)


def test_unknown_template_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match="available: clinic, gp, soap"):
        load_template("nope")


def test_missing_site_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        template_names(tmp_path / "missing")


def test_file_name_and_declared_name_must_agree(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        'name = "b"\ntitle = "B"\n[[sections]]\nkey = "s"\ntitle = "S"\ninstruction = "i"\n'
    )
    with pytest.raises(ConfigError, match="declares name 'b'"):
        load_template("a", tmp_path)
