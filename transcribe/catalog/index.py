"""The article index: SQLite FTS5 over the articles (BM25 search, postings, the tokenizer
shared with linking), the term counts copied from it, and the linker's confidence model
fitted to it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .articles import ArticleTables


class ArticleIndexTables(ArticleTables):
    _term_stats_stamp = ""  # the articles stamp the term counts were last checked against

    def _connected(self) -> None:
        # a scratch index whose vocabulary lists a text's terms in order (tokenize)
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_fts"
            " USING fts5(body, tokenize='porter unicode61')"
        )
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_vocab"
            " USING fts5vocab(temp, scratch_fts, 'instance')"
        )

    def tokenize(self, text: str) -> list[str]:
        """The index's terms for a text, in order: the same tokenizer and stemmer as the
        article index, so a passage's words and an article's words compare as equals."""
        self.db.execute("INSERT INTO temp.scratch_fts(rowid, body) VALUES (1, ?)", (text,))
        try:
            return [
                r[0] for r in self.db.execute("SELECT term FROM temp.scratch_vocab ORDER BY offset")
            ]
        finally:
            self.db.execute("DELETE FROM temp.scratch_fts")

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """How many articles hold each term (terms in no article are left out), as of the
        last refresh_term_stats()."""
        rows = self.rows_in("SELECT term, df FROM term_stats WHERE term IN ({})", terms)
        return {r[0]: r[1] for r in rows}

    def search_articles(self, terms: Iterable[str], limit: int = 10) -> list[tuple[int, float]]:
        """Articles matching any of the words, best BM25 first, as (article id, score) with
        higher scores better. The index stems each word: give words as written, not terms
        it made (stemming a stem again can change it)."""
        query = " OR ".join(f'"{t}"' for t in sorted(set(terms)) if '"' not in t)
        if not query:
            return []
        rows = self.db.execute(
            "SELECT rowid, bm25(articles_fts) FROM articles_fts WHERE articles_fts MATCH ?"
            " ORDER BY bm25(articles_fts) LIMIT ?",
            (query, limit),
        )
        return [(row[0], -row[1]) for row in rows]

    def articles_with(self, terms: list[str]) -> dict[str, list[int]]:
        """The articles that hold each word (the index tokenizes and stems it): its
        postings, unranked (a query per word: faster than one UNION ALL of them, measured)."""
        return {
            term: [
                row[0]
                for row in self.db.execute(
                    "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", (f'"{term}"',)
                )
            ]
            for term in dict.fromkeys(terms)
            if '"' not in term
        }

    # -- upkeep, when the articles change -----------------------------------------------

    def refresh_term_stats(self) -> None:
        """Bring the term counts up to date with the articles (a copy of the index's
        vocabulary, made again only when the articles changed since)."""
        stamp = self.articles_stamp()
        if stamp == self._term_stats_stamp:
            return
        if self.value("SELECT value FROM stamps WHERE name = 'term_stats'") != stamp:
            self._merge_index(int(stamp))
            with self.atomic():
                self.db.execute("DELETE FROM term_stats")
                self.db.execute("INSERT INTO term_stats SELECT term, doc FROM articles_vocab")
                self.db.execute("INSERT OR REPLACE INTO stamps VALUES ('term_stats', ?)", (stamp,))
        self._term_stats_stamp = stamp

    def _merge_index(self, changes: int) -> None:
        """Merge the article index's segments into one once 1% of the articles changed
        since the last merge: every insert leaves a small segment, and a term's postings
        spread over thousands of them are read 3-4 times slower (measured at 100,000
        articles: a passage's query 6 ms before, 1.7 ms after; the merge takes 6 s)."""
        merged = int(self.value("SELECT value FROM stamps WHERE name = 'index_merged'") or 0)
        if (changes - merged) * 100 < self.article_count():
            return
        with self.atomic():
            self.db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
            self.db.execute("INSERT OR REPLACE INTO stamps VALUES ('index_merged', ?)", (changes,))

    def link_calibration(self) -> dict[str, Any] | None:
        """The linker's confidence model as last fitted (linking.prepare.confidence_model)."""
        stored = self.value("SELECT value FROM stamps WHERE name = 'link_calibration'")
        return json.loads(stored) if stored else None

    def save_link_calibration(self, model: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO stamps VALUES ('link_calibration', ?)", (json.dumps(model),)
        )
