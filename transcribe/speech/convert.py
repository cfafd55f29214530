"""CTranslate2 Whisper model -> openai-whisper checkpoint, so both engines run the same weights.

A CTranslate2 `model.bin` is a small header, then for each tensor its name, shape, dtype and
raw bytes, then a list of aliases (the output projection aliases the token embedding, which
openai-whisper ties). Attention is stored fused: self-attention's query, key and value in
`linear_0` (the key has no bias, so its third is zeros) and the output in `linear_1`;
cross-attention's query in `linear_0`, key and value in `linear_1`, the output in `linear_2`.
The alignment heads used for word timings live in the model's config.json.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import ConversionError

# the order of CTranslate2's DataType enum (include/ctranslate2/types.h)
_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, "bfloat16")
SUPPORTED_BINARY_VERSIONS = (5, 6)


@dataclass
class Ct2Model:
    spec: str
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]


def read_ct2_model(path: Path) -> Ct2Model:
    """Read every tensor of a CTranslate2 model.bin into numpy arrays."""
    with open(path, "rb") as file:
        version = _unpack(file, "I")
        if version not in SUPPORTED_BINARY_VERSIONS:
            raise ConversionError(f"{path}: model.bin format version {version} is not supported")
        spec = _string(file)
        _unpack(file, "I")  # the spec's revision
        variables = {}
        for _ in range(_unpack(file, "I")):
            name = _string(file)
            shape = tuple(_unpack(file, "I") for _ in range(_unpack(file, "B")))
            dtype = _DTYPES[_unpack(file, "B")]
            data = file.read(_unpack(file, "I"))
            if dtype == "bfloat16":  # widen: the top half of a float32
                raw = np.frombuffer(data, dtype=np.uint16).astype(np.uint32) << 16
                array = raw.view(np.float32)
            else:
                array = np.frombuffer(data, dtype=dtype)
            variables[name] = array.reshape(shape)
        aliases = {_string(file): _string(file) for _ in range(_unpack(file, "I"))}
    if spec != "WhisperSpec":
        raise ConversionError(f"{path}: a {spec} model, not a Whisper model")
    return Ct2Model(spec, variables, aliases)


def ct2_to_openai(model_dir: Path) -> dict:
    """The openai-whisper checkpoint ({"dims", "model_state_dict"}) for a CTranslate2 model
    folder, plus "alignment_heads" in openai-whisper's own dump format."""
    import torch

    model = read_ct2_model(model_dir / "model.bin")
    v = model.variables
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))

    def layers(prefix: str) -> int:
        return len({k.split("/")[1] for k in v if re.match(rf"{prefix}/layer_\d+/", k)})

    n_audio_layer, n_text_layer = layers("encoder"), layers("decoder")
    n_text_ctx, n_text_state = v["decoder/position_encodings/encodings"].shape
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    dims = {
        "n_mels": int(v["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(n_audio_ctx),
        "n_audio_state": int(n_audio_state),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(n_text_ctx),
        "n_text_state": int(n_text_state),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    state: dict[str, np.ndarray] = {
        "encoder.conv1.weight": v["encoder/conv1/weight"],
        "encoder.conv1.bias": v["encoder/conv1/bias"],
        "encoder.conv2.weight": v["encoder/conv2/weight"],
        "encoder.conv2.bias": v["encoder/conv2/bias"],
        "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
        "encoder.ln_post.weight": v["encoder/layer_norm/gamma"],
        "encoder.ln_post.bias": v["encoder/layer_norm/beta"],
        "decoder.token_embedding.weight": v["decoder/embeddings/weight"],
        "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
        "decoder.ln.weight": v["decoder/layer_norm/gamma"],
        "decoder.ln.bias": v["decoder/layer_norm/beta"],
    }
    for i in range(n_audio_layer):
        source, target = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        state |= _self_attention(v, f"{source}/self_attention", f"{target}.attn")
        state |= _feed_forward(v, source, target)
    for i in range(n_text_layer):
        source, target = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        state |= _self_attention(v, f"{source}/self_attention", f"{target}.attn")
        state |= _cross_attention(v, f"{source}/attention", f"{target}.cross_attn")
        state |= _feed_forward(v, source, target)
    heads = np.zeros((n_text_layer, dims["n_text_head"]), dtype=bool)
    for layer, head in config.get("alignment_heads", []):
        heads[layer, head] = True
    return {
        "dims": dims,
        "model_state_dict": {
            k: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for k, a in state.items()
        },
        "alignment_heads": base64.b85encode(gzip.compress(heads.tobytes())),
    }


def convert(model_dir: Path, target: Path) -> Path:
    """Write the openai-whisper checkpoint of a CTranslate2 model folder (atomically)."""
    import torch

    checkpoint = ct2_to_openai(model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    torch.save(checkpoint, partial)
    partial.replace(target)
    return target


def _self_attention(v: dict[str, np.ndarray], source: str, target: str) -> dict[str, np.ndarray]:
    """Query, key and value fused in linear_0 (the key's bias third is zeros); out in linear_1."""
    query, key, value = np.split(v[f"{source}/linear_0/weight"], 3)
    query_bias, _zeros, value_bias = np.split(v[f"{source}/linear_0/bias"], 3)
    return _attention(v, source, target, (query, query_bias, key, value, value_bias), "linear_1")


def _cross_attention(v: dict[str, np.ndarray], source: str, target: str) -> dict[str, np.ndarray]:
    """Query in linear_0, key and value fused in linear_1; out in linear_2."""
    key, value = np.split(v[f"{source}/linear_1/weight"], 2)
    _zeros, value_bias = np.split(v[f"{source}/linear_1/bias"], 2)
    query, query_bias = v[f"{source}/linear_0/weight"], v[f"{source}/linear_0/bias"]
    return _attention(v, source, target, (query, query_bias, key, value, value_bias), "linear_2")


def _attention(
    v: dict[str, np.ndarray], source: str, target: str, qkv: tuple[np.ndarray, ...], out: str
) -> dict[str, np.ndarray]:
    query, query_bias, key, value, value_bias = qkv
    return {
        f"{target}.query.weight": query,
        f"{target}.query.bias": query_bias,
        f"{target}.key.weight": key,
        f"{target}.value.weight": value,
        f"{target}.value.bias": value_bias,
        f"{target}.out.weight": v[f"{source}/{out}/weight"],
        f"{target}.out.bias": v[f"{source}/{out}/bias"],
        f"{target}_ln.weight": v[f"{source}/layer_norm/gamma"],
        f"{target}_ln.bias": v[f"{source}/layer_norm/beta"],
    }


def _feed_forward(v: dict[str, np.ndarray], source: str, target: str) -> dict[str, np.ndarray]:
    return {
        f"{target}.mlp.0.weight": v[f"{source}/ffn/linear_0/weight"],
        f"{target}.mlp.0.bias": v[f"{source}/ffn/linear_0/bias"],
        f"{target}.mlp.2.weight": v[f"{source}/ffn/linear_1/weight"],
        f"{target}.mlp.2.bias": v[f"{source}/ffn/linear_1/bias"],
        f"{target}.mlp_ln.weight": v[f"{source}/ffn/layer_norm/gamma"],
        f"{target}.mlp_ln.bias": v[f"{source}/ffn/layer_norm/beta"],
    }


def _unpack(file: BinaryIO, fmt: str) -> int:
    size = struct.calcsize(fmt)
    data = file.read(size)
    if len(data) != size:
        raise ConversionError(f"{file.name}: ends early (truncated model.bin?)")
    return struct.unpack(fmt, data)[0]


def _string(file: BinaryIO) -> str:
    length = _unpack(file, "H")
    return file.read(length)[:-1].decode("utf-8")
