"""The clinical vocabulary: packaged UK terms, a site's own list first, within Whisper's prompt budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe.asr.vocabulary import CHAR_BUDGET, hotwords, load_terms, packaged_terms, read_terms
from scribe.errors import ConfigError


def test_read_terms_skips_comments_blanks_and_duplicates() -> None:
    assert read_terms("# c\nParacetamol\n\nparacetamol\nA&E  # emergency\n") == ["Paracetamol", "A&E"]


def test_packaged_list_has_uk_medicines() -> None:
    terms = packaged_terms()
    assert {"paracetamol", "co-codamol", "salbutamol"} <= set(terms)
    assert len(terms) > 50


def test_site_terms_come_first(tmp_path: Path) -> None:
    site = tmp_path / "site.txt"
    site.write_text("Edoxaban\nparacetamol\n")
    terms = load_terms(site)
    assert terms[:2] == ["Edoxaban", "paracetamol"]
    assert terms.count("paracetamol") == 1


def test_hotwords_fit_the_budget() -> None:
    prompt = hotwords(packaged_terms())
    assert 0 < len(prompt) <= CHAR_BUDGET
    assert prompt.startswith("paracetamol, ibuprofen")
    assert len(hotwords(packaged_terms(), budget=600)) > len(prompt)
    assert hotwords(["a" * 50, "b"], budget=20) == ""


def test_unreadable_site_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SCRIBE_VOCABULARY_FILE"):
        load_terms(tmp_path / "missing.txt")
