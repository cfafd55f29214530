"""What the later stages made of each episode: its related articles and its chapters,
each with a stamp of what produced them."""

from __future__ import annotations

import json
from dataclasses import asdict

from ..records import Chapter, Link, PassageMatch
from .articles import article_from
from .connection import Connection, now


class ResultTables(Connection):
    def save_links(self, episode_id: str, links: list[Link], producer: str) -> None:
        with self.atomic():
            self.db.execute("DELETE FROM links WHERE episode_id = ?", (episode_id,))
            self.db.executemany(
                "INSERT INTO links VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        episode_id,
                        link.article.id,
                        rank,
                        link.score,
                        json.dumps([asdict(m) for m in link.evidence]),
                        link.days_apart,
                        link.confidence,
                    )
                    for rank, link in enumerate(links, 1)
                ),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO link_runs VALUES (?, ?, ?)", (episode_id, producer, now())
            )

    def links(self, episode_id: str) -> list[Link]:
        rows = self.db.execute(
            "SELECT l.score, l.evidence, l.days_apart, l.confidence, a.* FROM links l"
            " JOIN articles a ON a.id = l.article_id"
            " WHERE l.episode_id = ? ORDER BY l.rank",
            (episode_id,),
        )
        return [
            Link(
                episode_id=episode_id,
                article=article_from(row),
                score=row["score"],
                evidence=[
                    PassageMatch(
                        m["start"],
                        m["end"],
                        m["score"],
                        tuple(m["terms"]),
                        tuple(m.get("names", ())),
                        m.get("confidence", 0.0),
                    )
                    for m in json.loads(row["evidence"])
                ],
                days_apart=row["days_apart"],
                confidence=row["confidence"],
            )
            for row in rows
        ]

    def link_producer(self, episode_id: str) -> str | None:
        return self.value("SELECT producer FROM link_runs WHERE episode_id = ?", episode_id)

    def linked_articles(self) -> dict[str, set[int]]:
        """episode id -> the ids of its related articles, for every linked episode."""
        linked: dict[str, set[int]] = {}
        for episode_id, article_id in self.db.execute("SELECT episode_id, article_id FROM links"):
            linked.setdefault(episode_id, set()).add(article_id)
        return linked

    def save_chapters(
        self, episode_id: str, chapters: list[Chapter], producer: str, origin: str
    ) -> None:
        """`origin`: "publisher" (the feed's or video's own) or "found" (by the stage)."""
        with self.atomic():
            self.db.execute("DELETE FROM chapters WHERE episode_id = ?", (episode_id,))
            self.db.executemany(
                "INSERT INTO chapters VALUES (?, ?, ?, ?, ?, ?)",
                [(episode_id, i, c.start, c.end, c.title, c.url) for i, c in enumerate(chapters)],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO chapter_runs VALUES (?, ?, ?, ?)",
                (episode_id, producer, origin, now()),
            )

    def chapters(self, episode_id: str) -> list[Chapter]:
        rows = self.db.execute(
            "SELECT start, end, title, url FROM chapters WHERE episode_id = ? ORDER BY idx",
            (episode_id,),
        )
        return [Chapter(start=r[0], end=r[1], title=r[2], url=r[3]) for r in rows]

    def save_outline(
        self, episode_id: str, chapters: list[Chapter], origin: str, producer: str
    ) -> None:
        """The chapters made before linking; `origin` as for save_chapters."""
        self.db.execute(
            "INSERT OR REPLACE INTO chapter_outlines VALUES (?, ?, ?, ?)",
            (episode_id, json.dumps([asdict(c) for c in chapters]), origin, producer),
        )

    def outline(self, episode_id: str) -> tuple[list[Chapter], str]:
        """The chapters made before linking and their origin (none: [], "")."""
        row = self.db.execute(
            "SELECT chapters, origin FROM chapter_outlines WHERE episode_id = ?", (episode_id,)
        ).fetchone()
        return ([Chapter(**c) for c in json.loads(row[0])], row[1]) if row else ([], "")

    def outline_producer(self, episode_id: str) -> str | None:
        return self.value("SELECT producer FROM chapter_outlines WHERE episode_id = ?", episode_id)

    def chapter_producer(self, episode_id: str) -> str | None:
        return self.value("SELECT producer FROM chapter_runs WHERE episode_id = ?", episode_id)

    def chapter_titles(self) -> dict[str, list[str]]:
        """episode id -> its chapter titles in order, for every chaptered episode."""
        titles: dict[str, list[str]] = {}
        for episode_id, title in self.db.execute(
            "SELECT episode_id, title FROM chapters ORDER BY episode_id, idx"
        ):
            titles.setdefault(episode_id, []).append(title)
        return titles
