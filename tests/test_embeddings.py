"""The sentence-embedding model (all-MiniLM-L6-v2 from its PyPI package, run in numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from transcribe.embeddings import find_model, load
from transcribe.errors import ModelNotFoundError


def test_sentences_that_mean_the_same_are_close_and_others_are_not():
    embedder = load("minilm")
    vectors = embedder.embed(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
            "Zelensky met Biden in Washington to ask for Patriot missiles.",
            "The Ukrainian president went to the White House seeking air defence systems.",
        ]
    )
    assert vectors.shape == (5, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    # the pair from the model card scores 0.755 with sentence-transformers
    assert similarity[0, 1] == pytest.approx(0.755, abs=0.01)
    assert similarity[0, 2] < 0.1
    assert similarity[3, 4] > 0.3 > max(similarity[3, :3])


def test_a_batch_gives_the_same_vectors_as_one_text_at_a_time():
    embedder = load("minilm")
    texts = ["Short one.", "A much longer sentence, so that the batch needs padding here."]
    together = embedder.embed(texts)
    apart = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, apart, atol=1e-5)


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model.safetensors"):
        find_model(str(tmp_path))
