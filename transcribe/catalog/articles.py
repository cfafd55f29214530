"""Articles: the outlet's stories, the other URLs they are known by, and what linking
keeps of each (its profile and sentence vectors)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import fields

from ..records import Article, ArticleProfile
from .connection import Connection, body_hash, now


class ArticleTables(Connection):
    # counting 100,000 rows takes milliseconds: counted again only when articles change
    _article_count: tuple[str, int] = ("", 0)  # (articles stamp, count)

    def find_article(self, url: str) -> int | None:
        """The id of the article known by this URL (canonical or one it was fetched
        from), if any."""
        return self.value(
            "SELECT id FROM articles WHERE url = ? UNION ALL"
            " SELECT article_id FROM article_urls WHERE url = ?",
            url,
            url,
        )

    def article_modified(self, url: str) -> str:
        """The change date stored with the article known by this URL ("" when none)."""
        return (
            self.value("SELECT modified FROM articles WHERE id = ?", self.find_article(url)) or ""
        )

    def twin_of(self, article: Article) -> str | None:
        """The canonical URL of another article with the same body, if there is one."""
        return self.value(
            "SELECT url FROM articles WHERE body_hash = ? AND url != ? LIMIT 1",
            body_hash(article.text),
            article.url,
        )

    def same_body(self, article: Article) -> bool:
        """Whether the article stored under this URL has this body already."""
        return bool(
            self.value(
                "SELECT body_hash = body_hash(?) FROM articles WHERE url = ?",
                article.text,
                article.url,
            )
        )

    def note_modified(self, url: str, modified: str) -> None:
        """Record a newer change date for the article at `url` (its text unchanged)."""
        self.db.execute(
            "UPDATE articles SET modified = ? WHERE url = ? AND modified < ?",
            (modified, url, modified),
        )

    def add_article_url(self, url: str, canonical_url: str) -> None:
        """Remember that `url` leads to the known article at `canonical_url`."""
        self.db.execute(
            "INSERT OR IGNORE INTO article_urls SELECT ?, id FROM articles WHERE url = ?",
            (url, canonical_url),
        )

    def add_article(self, article: Article, fetched_from: str = "") -> int:
        """Store an article (replacing one with the same canonical URL) and index it;
        `fetched_from` is remembered as another URL of it. Returns its id."""
        with self.atomic():
            self.db.execute(
                "INSERT INTO articles (url, title, author, published, text, source, outlet,"
                " section, tags, modified, added_at, body_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, body_hash(?))"
                " ON CONFLICT(url) DO UPDATE SET title = excluded.title,"
                " author = excluded.author, published = excluded.published,"
                " text = excluded.text, source = excluded.source, outlet = excluded.outlet,"
                " section = excluded.section, tags = excluded.tags,"
                " modified = excluded.modified, added_at = excluded.added_at,"
                " body_hash = excluded.body_hash",
                (
                    article.url,
                    article.title,
                    article.author,
                    article.published,
                    article.text,
                    article.source,
                    article.outlet,
                    article.section,
                    article.tags,
                    article.modified,
                    now(),
                    article.text,
                ),
            )
            if fetched_from and fetched_from != article.url:
                self.add_article_url(fetched_from, article.url)
            article_id = self.value("SELECT id FROM articles WHERE url = ?", article.url)
            self.db.execute(
                "UPDATE stamps SET value = CAST(value AS INTEGER) + 1 WHERE name = 'articles'"
            )
            # a replaced text needs its vectors and profile made again
            self.db.execute("DELETE FROM article_vectors WHERE article_id = ?", (article_id,))
            self.db.execute("DELETE FROM article_profiles WHERE article_id = ?", (article_id,))
            return article_id

    def article(self, article_id: int) -> Article:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise KeyError(article_id)
        return article_from(row)

    def article_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM articles ORDER BY id")]

    def articles(self) -> list[Article]:
        return [article_from(r) for r in self.db.execute("SELECT * FROM articles ORDER BY id")]

    def articles_between(self, first_day: str, last_day: str) -> list[Article]:
        """Articles published from `first_day` to `last_day` (YYYY-MM-DD), both included."""
        rows = self.db.execute(
            "SELECT * FROM articles WHERE substr(published, 1, 10) BETWEEN ? AND ? ORDER BY id",
            (first_day, last_day),
        )
        return [article_from(r) for r in rows]

    def article_count(self) -> int:
        stamp = self.articles_stamp()
        if self._article_count[0] != stamp:
            self._article_count = (stamp, self.value("SELECT count(*) FROM articles"))
        return self._article_count[1]

    def articles_stamp(self) -> str:
        """Changes whenever an article is added or replaced (a counter, so that asking is
        cheap however many articles there are)."""
        return self.value("SELECT value FROM stamps WHERE name = 'articles'")

    # -- what linking keeps of each article ----------------------------------------------

    def article_profiles(self, article_ids: Iterable[int]) -> dict[int, ArticleProfile]:
        """The stored profiles of these articles (those with none are left out)."""
        rows = self.rows_in(
            "SELECT article_id, terms, counts, norm, names FROM article_profiles"
            " WHERE article_id IN ({})",
            article_ids,
        )
        return {
            r[0]: ArticleProfile(
                r[1].split(),  # terms hold no spaces; an article of no words has none
                [int(c) for c in r[2].split()],
                r[3],
                r[4].split("\t") if r[4] else [],
            )
            for r in rows
        }

    def articles_without_profile(self) -> list[int]:
        rows = self.db.execute(
            "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM article_profiles)"
            " ORDER BY id"
        )
        return [r[0] for r in rows]

    def save_article_profile(self, article_id: int, profile: ArticleProfile) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO article_profiles (article_id, terms, counts, norm, names)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                article_id,
                " ".join(profile.terms),
                " ".join(map(str, profile.counts)),
                profile.norm,
                "\t".join(profile.names),
            ),
        )

    def article_vectors(self, model: str) -> dict[int, tuple[int, bytes]]:
        """article id -> (dimensions, float16 sentence vectors) stored for a model."""
        rows = self.db.execute(
            "SELECT article_id, dimensions, vectors FROM article_vectors WHERE model = ?", (model,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def save_article_vectors(
        self, article_id: int, model: str, dimensions: int, vectors: bytes
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO article_vectors VALUES (?, ?, ?, ?)",
            (article_id, model, dimensions, vectors),
        )


def article_from(row: sqlite3.Row) -> Article:
    """An article from a row holding the articles table's columns."""
    return Article(**{f.name: row[f.name] for f in fields(Article)})
