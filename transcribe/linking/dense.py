"""Optional sentence-embedding candidates: each article's sentence vectors, made once per
article and model and kept in the catalog (made by the preparation, read by the scorer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .words import split_sentences

if TYPE_CHECKING:
    from ..catalog import Catalog


class DenseIndex:
    """Sentence vectors of every article, made once per article and model and kept in the
    catalog; an article's similarity to a passage is that of its nearest sentence."""

    def __init__(self, catalog: Catalog, model: str):
        import numpy as np

        from .. import embeddings, progress

        self.embedder = embeddings.load(model)
        name = self.embedder.name
        stored = catalog.article_vectors(name)
        articles = catalog.articles()
        missing = [a for a in articles if a.id not in stored]
        bar = progress.bar(len(missing), "embed articles", unit="article") if missing else None
        owners, blocks = [], []
        for article in articles:
            if article.id in stored:
                dimensions, blob = stored[article.id]
                vectors = np.frombuffer(blob, dtype=np.float16).reshape(-1, dimensions)
            else:
                sentences = split_sentences(f"{article.title}.\n{article.text}")
                vectors = self.embedder.embed(sentences).astype(np.float16)
                catalog.save_article_vectors(article.id, name, vectors.shape[1], vectors.tobytes())
                bar.update(1)
            owners.extend([article.id] * len(vectors))
            blocks.append(vectors)
        if bar:
            bar.close()
        self.matrix = np.vstack(blocks).astype(np.float32) if blocks else np.zeros((0, 1))
        self.owners = np.array(owners)

    def rank(self, text: str, limit: int) -> list[int]:
        import numpy as np

        if not len(self.owners):
            return []
        similarity = self.matrix @ self.embedder.embed([text])[0]
        order = np.argsort(-similarity)
        ranked: dict[int, None] = {}
        for row in order:  # the articles of the nearest sentences, each once
            ranked.setdefault(int(self.owners[row]))
            if len(ranked) == limit:
                break
        return list(ranked)
