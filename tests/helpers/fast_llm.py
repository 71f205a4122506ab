"""Settings that make the real LLM pipeline fast enough for tests: SmolLM2 and a one-section site template.

SmolLM2-135M drafts poorly; tests that use it check the machinery, never the quality.
"""

from __future__ import annotations

from pathlib import Path

BRIEF_TEMPLATE = """
name = "brief"
title = "Brief note"
[[sections]]
key = "summary"
title = "Summary"
code = "S"
instruction = "Why the patient came and what was agreed."
max_statements = 2
[example]
transcript = '''
Clinician: What brings you in?
Patient: My ear has hurt for two days.
Clinician: Use the drops twice a day.
'''
facts = '''
S [1] Ear pain for two days.
S [2] Ear drops twice a day.
'''
"""

FAST_LLM: dict[str, object] = {
    "llm_model": "smollm2-135m-instruct",
    "llm_context": 2048,
    "llm_max_tokens": 120,
    "llm_note_tokens": 200,
}
"""Settings overrides: the tiny model, a small context, short answers, no retries."""


def brief_templates(directory: Path) -> Path:
    """A site templates folder holding the one-section ``brief`` template; returns the folder."""
    templates = directory / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (templates / "brief.toml").write_text(BRIEF_TEMPLATE)
    return templates


def fast_env(directory: Path) -> dict[str, str]:
    """The same as SCRIBE_* environment variables for a `scribe` subprocess (with Whisper tiny.en)."""
    env = {f"SCRIBE_{key.upper()}": str(value) for key, value in FAST_LLM.items()}
    return env | {"SCRIBE_ASR_MODEL": "whisper-tiny.en", "SCRIBE_TEMPLATES_DIR": str(brief_templates(directory))}
