"""The clinical vocabulary that steers recognition towards UK medicine and clinical terms.

Whisper accepts a short text of "hotwords" that it conditions every window on. The prompt is
small (about 220 tokens), so terms are kept in priority order: a site's own list first, then the
packaged UK list, cut at a character budget.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from scribe.errors import ConfigError

PACKAGED = "uk_clinical.txt"
CHAR_BUDGET = 120  # about 35 tokens: longer prompts made WER much worse in the benchmark


def read_terms(text: str) -> list[str]:
    """Terms from a one-per-line text, without comments, blanks or duplicates (order kept)."""
    seen: dict[str, str] = {}
    for line in text.splitlines():
        term = line.split("#", 1)[0].strip()
        if term:
            seen.setdefault(term.lower(), term)
    return list(seen.values())


def packaged_terms() -> list[str]:
    """The UK clinical list shipped with scribe."""
    return read_terms(resources.files("scribe.asr").joinpath("vocabulary", PACKAGED).read_text("utf-8"))


def load_terms(site_file: Path | None = None) -> list[str]:
    """A site's terms (if any) followed by the packaged list."""
    site: list[str] = []
    if site_file is not None:
        try:
            site = read_terms(site_file.read_text("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read vocabulary file {site_file}: {exc}; fix SCRIBE_VOCABULARY_FILE") from None
    return read_terms("\n".join(site + packaged_terms()))


def hotwords(terms: list[str], budget: int = CHAR_BUDGET) -> str:
    """Join terms into a hotword prompt no longer than ``budget`` characters."""
    chosen: list[str] = []
    used = 0
    for term in terms:
        cost = len(term) + 2
        if used + cost > budget:
            break
        chosen.append(term)
        used += cost
    return ", ".join(chosen)
