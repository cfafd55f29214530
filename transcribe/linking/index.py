"""What linking reads of the article index (a protocol the catalog fulfils, and a literal
index in the tests), and the passages it reads against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..records import Article
from .words import proper_names


class ArticleIndex(Protocol):
    """What linking reads of the catalog (it writes nothing)."""

    def tokenize(self, text: str) -> list[str]: ...
    def document_frequencies(self, terms: list[str]) -> dict[str, int]: ...
    def search_articles(self, terms: list[str], limit: int = 10) -> list[tuple[int, float]]: ...
    def articles_with(self, terms: list[str]) -> dict[str, list[int]]: ...
    def article(self, article_id: int) -> Article: ...
    def article_ids(self) -> list[int]: ...
    def article_count(self) -> int: ...
    def article_profiles(
        self, article_ids: list[int]
    ) -> dict[int, tuple[list[str], list[str]]]: ...


@dataclass(frozen=True)
class Passage:
    start: float
    end: float
    text: str


def make_profile(index: ArticleIndex, article_id: int) -> tuple[list[str], list[str]]:
    """An article's index terms and names (the preparation stores them; made here only
    for an article that has none stored)."""
    article = index.article(article_id)
    terms = sorted(set(index.tokenize(f"{article.title} {article.text}")))
    return terms, proper_names(f"{article.title}. {article.text}")
