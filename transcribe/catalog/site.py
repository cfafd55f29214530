"""What the render stage keeps: the publisher's feeds as last read (the enriched feed
adds our files to their items) and what each episode's pages were last rendered from."""

from __future__ import annotations

from .connection import Connection, now


class SiteTables(Connection):
    def save_source_feed(self, source: str, body: bytes) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO source_feeds VALUES (?, ?, ?)", (source, body, now())
        )

    def source_feed(self, source: str) -> bytes | None:
        return self.value("SELECT body FROM source_feeds WHERE source = ?", source)

    def sources_with_feed(self) -> set[str]:
        """The sources that were read as a feed (RSS or Atom): a listener can subscribe."""
        return {r[0] for r in self.db.execute("SELECT source FROM source_feeds")}

    def render_inputs(self) -> dict[str, str]:
        """episode id -> what its pages are made from, as a short text that changes when
        any of it does (transcript, speakers, links, chapters), for every transcribed episode."""
        rows = self.db.execute(
            "SELECT t.episode_id, t.created_at, t.producer, l.linked_at, c.made_at, s.made_at"
            " FROM transcripts t"
            " LEFT JOIN link_runs l ON l.episode_id = t.episode_id"
            " LEFT JOIN chapter_runs c ON c.episode_id = t.episode_id"
            " LEFT JOIN speaker_turns s ON s.episode_id = t.episode_id"
        )
        return {row[0]: "|".join(str(v) for v in row[1:]) for row in rows}

    def rendered(self, output: str) -> dict[str, tuple[str, str]]:
        """episode id -> (stamp, words) of its pages last rendered into `output`."""
        rows = self.db.execute(
            "SELECT episode_id, stamp, words FROM rendered WHERE output = ?", (output,)
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def save_rendered(self, output: str, episode_id: str, stamp: str, words: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO rendered VALUES (?, ?, ?, ?)",
            (output, episode_id, stamp, words),
        )
