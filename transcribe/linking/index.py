"""What linking reads of the article index (a protocol the catalog fulfils, and a literal
index in the tests), and the passages it reads against it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from ..records import Article, ArticleProfile
from .words import proper_names, stopword_terms


class ArticleIndex(Protocol):
    """What linking reads of the catalog (it writes nothing)."""

    def tokenize(self, text: str) -> list[str]: ...
    def document_frequencies(self, terms: list[str]) -> dict[str, int]: ...
    def search_articles(self, terms: list[str], limit: int = 10) -> list[tuple[int, float]]: ...
    def articles_with(self, terms: list[str]) -> dict[str, list[int]]: ...
    def article(self, article_id: int) -> Article: ...
    def article_ids(self) -> list[int]: ...
    def article_count(self) -> int: ...
    def article_profiles(self, article_ids: list[int]) -> dict[int, ArticleProfile]: ...


@dataclass(frozen=True)
class Passage:
    start: float
    end: float
    text: str


PASSAGE_BREAK = "zqxjpassagebreakzqxj"  # between texts tokenized together (stems as itself)


def tokenize_all(index: ArticleIndex, texts: list[str]) -> list[list[str]]:
    """Each text's index terms, from one call to the tokenizer (the texts joined by a word
    the tokenizer keeps as it is, and split on it again): 30 passages of an episode cost
    one round trip instead of 30."""
    if len(texts) > 1 and not any(PASSAGE_BREAK in text for text in texts):
        split: list[list[str]] = [[]]
        for stem in index.tokenize(f" {PASSAGE_BREAK} ".join(texts)):
            if stem == PASSAGE_BREAK:
                split.append([])
            else:
                split[-1].append(stem)
        if len(split) == len(texts):
            return split
    return [index.tokenize(text) for text in texts]


def make_profile(
    index: ArticleIndex, article_id: int, stopwords: frozenset[str] | None = None
) -> ArticleProfile:
    """An article's profile (the preparation stores them; made here only for an article
    that has none stored). `stopwords`: the index's, when the caller has them already."""
    article = index.article(article_id)
    counts = Counter(index.tokenize(f"{article.title} {article.text}"))
    stopwords = stopword_terms(index) if stopwords is None else stopwords
    terms = sorted(counts)
    norm = math.sqrt(math.fsum(tf_weight(counts[t]) ** 2 for t in terms if t not in stopwords))
    return ArticleProfile(
        terms, [counts[t] for t in terms], norm, proper_names(f"{article.title}. {article.text}")
    )


def tf_weight(count: int) -> float:
    """How much a term printed `count` times says about an article: the first mention
    most, each further one less."""
    return 1 + math.log(count) if count > 0 else 0.0
