"""One Settings object: environment variables ``SCRIBE_*`` over an optional ``scribe.toml``.

Precedence, highest first: arguments passed to ``Settings(...)``, environment variables,
the TOML file (``SCRIBE_CONFIG`` or ``./scribe.toml``), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from scribe.errors import ConfigError

Device = Literal["auto", "cpu", "cuda"]
BackendName = Literal["llamacpp", "openai", "transformers"]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "scribe"


def _default_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "scribe"


def _config_file() -> Path:
    return Path(os.environ.get("SCRIBE_CONFIG", "scribe.toml"))


class Settings(BaseSettings):
    """Every setting scribe reads. Configuration stays at the edges: stages receive values."""

    model_config = SettingsConfigDict(env_prefix="SCRIBE_", extra="forbid")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Recordings, transcripts, caches.")
    cache_dir: Path | None = Field(default=None, description="Joined model files; default DATA_DIR/models.")
    manifest: Path | None = Field(default=None, description="Model catalogue; default the packaged one.")

    asr_model: str = Field(default="whisper-base", description="Catalogue name or a CTranslate2 folder.")
    device: Device = "auto"
    compute_type: str | None = Field(default=None, description="Default: float16 on CUDA, int8 on CPU.")
    threads: int = Field(default=0, ge=0, description="CPU threads; 0 means one per core.")
    beam_size: int = Field(default=5, ge=1, le=10)
    batch_size: int = Field(default=8, ge=1, description="Batched inference for files.")
    batched: bool = Field(default=False, description="Use batched inference for files.")
    language: str | None = Field(default=None, description="Force a language code; None detects it.")
    temperature_fallback: bool = Field(
        default=True, description="Re-decode doubtful windows by sampling (Whisper's fallback); lowers WER."
    )
    vocabulary: bool = Field(default=False, description="Steer recognition with the clinical vocabulary.")
    vocabulary_file: Path | None = Field(default=None, description="A site's extra terms, one per line.")
    max_audio_seconds: float = Field(default=4 * 3600, gt=0, description="Refuse longer audio.")
    clinician_channel: int = Field(default=0, ge=0, description="Stereo channel carrying the clinician.")
    enrolment: Path | None = Field(default=None, description="Clinician voice embedding from `scribe enrol`.")

    # Notes and letters (scribe.notes)
    llm_backend: BackendName = Field(default="llamacpp", description="Which LLM backend drafts notes and letters.")
    llm_model: str = Field(
        default="qwen2.5-coder-1.5b-instruct",
        description="Catalogue name or a GGUF file (llamacpp); a model folder or GGUF file (transformers).",
    )
    llm_context: int = Field(default=8192, ge=1024, description="Context window in tokens for local backends.")
    llm_threads: int = Field(
        default=0, ge=0, description="CPU threads for the LLM (llama.cpp, transformers); 0 means one per core."
    )
    llm_gpu_layers: int = Field(
        default=-1, ge=-1, description="Layers offloaded to CUDA; -1 means all when a GPU is present, else none."
    )
    llm_flash_attn: bool = Field(default=False, description="llama.cpp flash attention (see docs/benchmarks/notes.md).")
    llm_batch: int = Field(default=512, ge=32, description="llama.cpp prompt batch size in tokens.")
    llm_max_tokens: int = Field(default=700, ge=16, description="Most tokens generated for one letter.")
    llm_part_tokens: int = Field(
        default=600,
        ge=100,
        description="Parts the fact log reads: while recording, and after it for a transcript too long for one call.",
    )
    llm_note_tokens: int = Field(
        default=1024, ge=64, description="Most tokens the model may write for a whole note in one call."
    )
    llm_whole_note: bool = Field(
        default=True,
        description=(
            "Draft a transcript that fits the context in one prose call, a recording too (read as it grows, "
            "written at the stop); off, or past the context, in fact-log parts."
        ),
    )
    llm_repair: bool = Field(
        default=True,
        description="Repair unsupported statements before removal: one model turn in the fact log, "
        "a cut back to the supported opening in a prose note.",
    )
    llm_seed: int = Field(default=0, description="Sampling seed, for reproducible drafts.")
    note_template: str = Field(default="gp", description="Note template: gp, soap, clinic or a site's own.")
    templates_dir: Path | None = Field(
        default=None, description="A site's own note templates (TOML), added or overriding."
    )
    openai_base_url: str = Field(default="http://127.0.0.1:8000/v1", description="OpenAI-compatible server.")
    openai_model: str = Field(default="", description="Model name the server knows; empty asks the server.")
    openai_api_key: SecretStr | None = Field(default=None, description="Bearer key for the server, if it needs one.")
    openai_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for one response.")
    openai_retries: int = Field(default=3, ge=0, le=10, description="Retries on timeouts, 429 and 5xx.")

    # Store (scribe.store): SQLite in the data folder by default, PostgreSQL by URL.
    store_url: str | None = Field(
        default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://...; default sqlite DATA_DIR/scribe.db."
    )
    store_key: SecretStr | None = Field(
        default=None, description="Base64 of the 32-byte key that wraps the store's data keys (else store_key_file)."
    )
    store_key_file: Path = Field(
        default_factory=lambda: _default_config_dir() / "store.key",
        description="File holding the store key; keep it off the data disk. `scribe store init-key` makes one.",
    )
    audio_retention_hours: float = Field(
        default=0.0, ge=0, description="Delete audio this long after approval; 0 deletes it at approval."
    )
    retention_days: float = Field(
        default=30.0, gt=0, description="Delete whole consultations this long after approval (or creation if never)."
    )
    # Review web app (scribe.review)
    host: str = Field(default="127.0.0.1", description="Address `scribe serve` binds; loopback by default.")
    port: int = Field(default=8400, ge=1, le=65535)
    session_hours: float = Field(default=10.0, gt=0, description="A sign-in lasts this long.")
    cookie_secure: bool = Field(default=False, description="Send cookies over HTTPS only; set when behind TLS.")
    totp_for_all: bool = Field(default=False, description="Require TOTP from every role (always for admins).")
    login_max_failures: int = Field(default=5, ge=1, description="Failed sign-ins allowed per window.")
    login_window_minutes: float = Field(default=15.0, gt=0)
    max_upload_mb: float = Field(default=500.0, gt=0, description="Largest audio upload accepted.")
    draft_letters: bool = Field(default=True, description="Draft the GP and patient letters after the note.")

    # EPR export (FHIR R4). Nothing leaves the machine unless fhir_base_url is set.
    fhir_base_url: str | None = Field(
        default=None, description="FHIR R4 server approved notes are sent to, e.g. https://epr.example/fhir."
    )
    fhir_auth: Literal["none", "bearer", "smart"] = Field(
        default="none", description="none, a bearer token, or SMART backend services (signed JWT)."
    )
    fhir_token: SecretStr | None = Field(default=None, description="Bearer token when fhir_auth is bearer.")
    fhir_client_id: str = Field(default="", description="SMART backend services: the client id the EPR issued.")
    fhir_private_key_file: Path | None = Field(
        default=None, description="SMART backend services: PEM private key (RSA for RS384, P-384 for ES384)."
    )
    fhir_key_id: str = Field(default="", description="SMART backend services: the key's kid in the JWKS the EPR holds.")
    fhir_jwt_algorithm: Literal["RS384", "ES384"] = Field(default="RS384", description="Client assertion algorithm.")
    fhir_token_url: str | None = Field(
        default=None, description="SMART token endpoint; default: read from BASE/.well-known/smart-configuration."
    )
    fhir_scope: str = Field(default="system/*.write", description="SMART scopes asked for.")
    fhir_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for one FHIR request.")
    fhir_retries: int = Field(default=4, ge=0, le=10, description="Retries on timeouts, 429 and 5xx.")
    fhir_terminology: Path | None = Field(
        default=None, description="Site CSV mapping local terms to SNOMED CT / dm+d codes (term,system,code,display)."
    )
    site_name: str = Field(default="", description="The organisation keeping the record (FHIR Organization).")
    site_ods_code: str | None = Field(default=None, description="The organisation's ODS code, e.g. A81001.")

    # Post-market monitoring (`scribe monitor`): when a week's metric counts as drift.
    monitor_weeks: int = Field(default=12, ge=1, le=520, description="Weeks `scribe monitor` shows, this one included.")
    monitor_drift_threshold: float = Field(
        default=0.5, gt=0, description="Relative change against the earlier weeks' mean that is flagged (0.5 = 50%)."
    )
    monitor_min_cases: int = Field(
        default=5, ge=1, description="Fewest consultations behind a week's value for it to be judged for drift."
    )

    # Cost per consultation (scribe.evaluate.cost) and the transparency record (scribe transparency).
    # The cost defaults are assumptions, not measurements: a site sets its own (see docs/transparency.md).
    cost_cpu_watts_per_core: float = Field(default=10.0, ge=0, description="Assumed draw of one busy CPU core, W.")
    cost_gpu_watts: float = Field(default=300.0, ge=0, description="Assumed GPU board power under load, W.")
    cost_kwh_price: float = Field(
        default=0.25, ge=0, description="Electricity price per kWh; 0 when hourly prices already include power."
    )
    cost_cpu_core_hour_price: float = Field(default=0.0, ge=0, description="Price of one CPU core for an hour.")
    cost_gpu_hour_price: float = Field(default=0.0, ge=0, description="Price of one GPU for an hour.")
    cost_currency: str = Field(default="GBP", min_length=1, description="Currency of the prices above.")
    cost_carbon_g_per_kwh: float = Field(
        default=150.0, ge=0, description="Grid carbon intensity, g CO2e per kWh (use your reporting factor)."
    )
    transparency_organisation: str = Field(
        default="", description="Organisation named in the transparency record; default site_name."
    )
    transparency_team: str = Field(default="", description="Team responsible for scribe, for the record.")
    transparency_sro: str = Field(default="", description="Senior responsible owner (role title), for the record.")
    transparency_contact_email: str = Field(default="", description="Public contact email for the record.")
    transparency_website_url: str = Field(default="", description="Page with more information about the tool.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

    @property
    def model_cache(self) -> Path:
        return self.cache_dir or self.data_dir / "models"

    @property
    def database_url(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'scribe.db'}"


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation problems into one readable ConfigError."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid settings ({problems}); check SCRIBE_* variables and {_config_file()}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {_config_file()}: {exc}") from None
