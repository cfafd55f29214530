"""The catalog: one SQLite file, the single record of what the job has done.

This is the only module that speaks SQL. Every stage reads what earlier stages wrote here
and writes its own results in a transaction, with a stamp of what produced them, so a
rerun skips work whose inputs and settings have not changed, and a killed run loses at
most the episode in flight.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from .errors import CatalogBusyError, CatalogError
from .records import (
    Article,
    Chapter,
    Episode,
    FeedLink,
    Link,
    PassageMatch,
    Segment,
    Transcript,
    Word,
)

# Episode states, in the order an episode moves through them. An error on a stage leaves
# the state where it was and sets `error`, so the next run retries that stage.
LISTED, FETCHED, TRANSCRIBED = "listed", "fetched", "transcribed"

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE episodes (
            id TEXT PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            show TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL,
            published TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            content_html TEXT NOT NULL DEFAULT '',
            link TEXT NOT NULL DEFAULT '',
            duration REAL,
            media_url TEXT NOT NULL,
            image TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'audio',
            feed_transcripts TEXT NOT NULL DEFAULT '[]',
            chapters_url TEXT NOT NULL DEFAULT '',
            chapters TEXT NOT NULL DEFAULT '[]',
            subtitles TEXT NOT NULL DEFAULT '{}',
            listed_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'listed',
            media_path TEXT NOT NULL DEFAULT '',
            fetched_at TEXT NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '',
            error_stage TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE transcripts (
            episode_id TEXT PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
            language TEXT NOT NULL,
            language_probability REAL NOT NULL,
            duration REAL NOT NULL,
            origin TEXT NOT NULL,
            producer TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE segments (
            episode_id TEXT NOT NULL REFERENCES transcripts(episode_id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start REAL NOT NULL,
            end REAL NOT NULL,
            text TEXT NOT NULL,
            words TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (episode_id, idx)
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            author TEXT NOT NULL DEFAULT '',
            published TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            outlet TEXT NOT NULL DEFAULT '',
            added_at TEXT NOT NULL
        );
        CREATE TABLE article_urls (
            url TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE
        );
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, text, content='articles', content_rowid='id', tokenize='porter unicode61'
        );
        CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END;
        CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
        END;
        CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END;
        CREATE VIRTUAL TABLE articles_vocab USING fts5vocab(articles_fts, 'row');
        CREATE TABLE links (
            episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            score REAL NOT NULL,
            evidence TEXT NOT NULL,
            PRIMARY KEY (episode_id, article_id)
        );
        CREATE TABLE link_runs (
            episode_id TEXT PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
            producer TEXT NOT NULL,
            linked_at TEXT NOT NULL
        );
        """,
    ),
    (
        "0002_segment_speaker",
        "ALTER TABLE segments ADD COLUMN speaker TEXT NOT NULL DEFAULT '';",
    ),
    (
        # the same body under two URLs (wire copy, a republished story) is one article
        "0003_article_body_hash",
        """
        ALTER TABLE articles ADD COLUMN body_hash TEXT NOT NULL DEFAULT '';
        UPDATE articles SET body_hash = body_hash(text);
        CREATE INDEX articles_by_body ON articles(body_hash);
        """,
    ),
    (
        "0004_chapters",
        """
        CREATE TABLE chapters (
            episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start REAL NOT NULL,
            end REAL,
            title TEXT NOT NULL,
            url TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (episode_id, idx)
        );
        CREATE TABLE chapter_runs (
            episode_id TEXT PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
            producer TEXT NOT NULL,
            origin TEXT NOT NULL,
            made_at TEXT NOT NULL
        );
        """,
    ),
    (
        "0005_article_section_tags_modified",
        """
        ALTER TABLE articles ADD COLUMN section TEXT NOT NULL DEFAULT '';
        ALTER TABLE articles ADD COLUMN tags TEXT NOT NULL DEFAULT '';
        ALTER TABLE articles ADD COLUMN modified TEXT NOT NULL DEFAULT '';
        """,
    ),
    ("0006_link_days_apart", "ALTER TABLE links ADD COLUMN days_apart INTEGER;"),
    (
        # sentence vectors for dense linking (optional), per embedding model
        "0007_article_vectors",
        """
        CREATE TABLE article_vectors (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            dimensions INTEGER NOT NULL,
            vectors BLOB NOT NULL,
            PRIMARY KEY (article_id, model)
        );
        """,
    ),
    (
        # each article's index terms and names, made the first time linking meets it
        "0008_article_profiles",
        """
        CREATE TABLE article_profiles (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
            terms TEXT NOT NULL,
            names TEXT NOT NULL
        );
        """,
    ),
    (
        # how many articles hold each term, copied from the index when the articles change:
        # FTS5's own vocabulary table counts a term's documents by reading its whole list
        "0009_term_stats",
        """
        CREATE TABLE term_stats (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE stamps (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO stamps VALUES ('articles', '1');
        """,
    ),
    (
        # the publisher's feed as last read (the enriched feed adds our files to its items);
        # what each episode's pages were last rendered from, per output folder
        "0010_source_feeds_rendered",
        """
        CREATE TABLE source_feeds (
            source TEXT PRIMARY KEY, body BLOB NOT NULL, fetched_at TEXT NOT NULL
        );
        CREATE TABLE rendered (
            output TEXT NOT NULL,
            episode_id TEXT NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
            stamp TEXT NOT NULL,
            words TEXT NOT NULL,
            PRIMARY KEY (output, episode_id)
        );
        """,
    ),
    (
        # links made by fixed thresholds have no confidence: every episode is linked again
        "0011_link_confidence",
        """
        ALTER TABLE links ADD COLUMN confidence REAL NOT NULL DEFAULT 0;
        DELETE FROM link_runs;
        """,
    ),
]


def body_hash(text: str) -> str:
    """Identity of an article's body: equal up to case and spacing."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()


def now() -> str:
    # to the microsecond: the render stamps tell a change within the second from the one before
    return datetime.now(UTC).isoformat()


class Catalog:
    """A connection to the catalog file, created and migrated on first open."""

    def __init__(self, path: Path | str, exclusive: bool = True):
        """Open (and create or migrate) the catalog. `exclusive` takes the run lock: one
        writing run at a time per catalog; the lock dies with its process, so a killed run
        never leaves it stuck."""
        self.path = Path(path)
        self._lock: BinaryIO | None = None
        self._term_stats_stamp = ""
        self._article_count = ("", 0)  # (articles stamp, count)
        self._savepoints = 0  # made so far: each nested atomic() names its own
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._lock = _take_lock(self.path.with_name(self.path.name + ".lock"))
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.create_function("body_hash", 1, body_hash, deterministic=True)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")
            self._migrate()
            self._prepare_tokenizer()
        except sqlite3.DatabaseError as e:
            self._release()
            raise CatalogError(f"{path}: not a usable catalog ({e})") from e

    def close(self) -> None:
        self.db.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _value(self, query: str, *parameters: object) -> Any:
        """The first column of the query's first row; None when there is no row."""
        row = self.db.execute(query, parameters).fetchone()
        return row[0] if row else None

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction: all of the block's writes land, or none do. Inside another, a
        savepoint: a failure caught around the inner block takes back its writes alone."""
        if self.db.in_transaction:
            self._savepoints += 1
            name = f"inner_{self._savepoints}"
            self.db.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
                raise
            self.db.execute(f"RELEASE {name}")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = {row[0] for row in self.db.execute("SELECT name FROM migrations")}
        for name, script in MIGRATIONS:
            if name in done:
                continue
            with self.atomic():
                for statement in _statements(script):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, now()))

    # -- episodes ---------------------------------------------------------------------

    def record_episode(self, episode: Episode) -> bool:
        """Insert a newly listed episode, or refresh the feed's metadata of a known one
        (its progress is kept). Returns True when the episode is new."""
        values = {
            "id": episode.id,
            "key": episode.key,
            "source": episode.source,
            "show": episode.show,
            "title": episode.title,
            "published": episode.published,
            "description": episode.description,
            "content_html": episode.content_html,
            "link": episode.link,
            "duration": episode.duration,
            "media_url": episode.media_url,
            "image": episode.image,
            "kind": episode.kind,
            "feed_transcripts": json.dumps([asdict(t) for t in episode.transcripts]),
            "chapters_url": episode.chapters_url,
            "chapters": json.dumps([asdict(c) for c in episode.chapters]),
            "subtitles": json.dumps(episode.subtitles),
        }
        with self.atomic():
            known = self.db.execute("SELECT 1 FROM episodes WHERE id = ?", (episode.id,)).fetchone()
            if known:
                # once the media is downloaded, its measured duration beats the feed's
                assignments = ", ".join(
                    f"{k} = CASE WHEN state = '{LISTED}' THEN COALESCE(:{k}, {k}) ELSE {k} END"
                    if k == "duration"
                    else f"{k} = :{k}"
                    for k in values
                    if k not in ("id", "key")
                )
                self.db.execute(f"UPDATE episodes SET {assignments} WHERE id = :id", values)
                return False
            values["listed_at"] = now()
            columns = ", ".join(values)
            params = ", ".join(f":{k}" for k in values)
            self.db.execute(f"INSERT INTO episodes ({columns}) VALUES ({params})", values)
            return True

    def episode(self, episode_id: str) -> Episode:
        found = self.find_episode(episode_id)
        if found is None:
            raise KeyError(episode_id)
        return found

    def find_episode(self, episode_id: str) -> Episode | None:
        row = self.db.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()
        return _episode(row) if row else None

    def episodes(self, state: str | None = None) -> list[Episode]:
        """Episodes, newest first; with a state, only those in it."""
        query = "SELECT * FROM episodes"
        params: tuple[str, ...] = ()
        if state:
            query += " WHERE state = ?"
            params = (state,)
        query += " ORDER BY published DESC, listed_at DESC, id"
        return [_episode(row) for row in self.db.execute(query, params)]

    def progress(self, episode_id: str) -> sqlite3.Row:
        """The state, media path and last error of an episode."""
        return self.db.execute(
            "SELECT state, media_path, fetched_at, error, error_stage, attempts"
            " FROM episodes WHERE id = ?",
            (episode_id,),
        ).fetchone()

    def mark_fetched(self, episode_id: str, media_path: Path, duration: float) -> None:
        self.db.execute(
            "UPDATE episodes SET state = ?, media_path = ?, duration = ?, fetched_at = ?,"
            " error = '', error_stage = '' WHERE id = ?",
            (FETCHED, str(media_path), duration, now(), episode_id),
        )

    def mark_listed(self, episode_id: str, reason: str) -> None:
        """Back to the start: its media is gone, so the next fetch downloads it again."""
        self.db.execute(
            "UPDATE episodes SET state = ?, media_path = '', error = ?, error_stage = 'fetch',"
            " attempts = attempts + 1 WHERE id = ?",
            (LISTED, reason, episode_id),
        )

    def mark_failed(self, episode_id: str, stage: str, message: str) -> None:
        self.db.execute(
            "UPDATE episodes SET error = ?, error_stage = ?, attempts = attempts + 1 WHERE id = ?",
            (message, stage, episode_id),
        )

    def failures(self) -> list[sqlite3.Row]:
        return list(
            self.db.execute(
                "SELECT id, title, error_stage, error, attempts FROM episodes"
                " WHERE error != '' ORDER BY id"
            )
        )

    # -- transcripts ------------------------------------------------------------------

    def save_transcript(self, episode_id: str, transcript: Transcript) -> None:
        """Replace the episode's transcript and move it to the transcribed state."""
        with self.atomic():
            self.db.execute("DELETE FROM transcripts WHERE episode_id = ?", (episode_id,))
            self.db.execute(
                "INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    episode_id,
                    transcript.language,
                    transcript.language_probability,
                    transcript.duration,
                    transcript.origin,
                    transcript.producer,
                    now(),
                ),
            )
            self.db.executemany(
                "INSERT INTO segments (episode_id, idx, start, end, text, words, speaker)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        episode_id,
                        i,
                        s.start,
                        s.end,
                        s.text,
                        json.dumps([asdict(w) for w in s.words]),
                        s.speaker,
                    )
                    for i, s in enumerate(transcript.segments)
                ),
            )
            self.db.execute(
                "UPDATE episodes SET state = ?, error = '', error_stage = '' WHERE id = ?",
                (TRANSCRIBED, episode_id),
            )

    def transcript(self, episode_id: str, words: bool = True) -> Transcript | None:
        """The episode's transcript; `words=False` leaves out the word timings (reading
        them is most of the cost, and pages do not need them)."""
        head = self.db.execute(
            "SELECT * FROM transcripts WHERE episode_id = ?", (episode_id,)
        ).fetchone()
        if head is None:
            return None
        columns = "start, end, text, speaker" + (", words" if words else "")
        segments = [
            Segment(
                start=row["start"],
                end=row["end"],
                text=row["text"],
                words=tuple(Word(**w) for w in json.loads(row["words"])) if words else (),
                speaker=row["speaker"],
            )
            for row in self.db.execute(
                f"SELECT {columns} FROM segments WHERE episode_id = ? ORDER BY idx", (episode_id,)
            )
        ]
        return Transcript(
            segments=segments,
            language=head["language"],
            language_probability=head["language_probability"],
            duration=head["duration"],
            origin=head["origin"],
            producer=head["producer"],
        )

    def transcript_language(self, episode_id: str) -> str:
        return (
            self._value("SELECT language FROM transcripts WHERE episode_id = ?", episode_id) or ""
        )

    def transcript_producer(self, episode_id: str) -> str | None:
        return self._value("SELECT producer FROM transcripts WHERE episode_id = ?", episode_id)

    # -- articles ---------------------------------------------------------------------

    def has_article(self, url: str) -> bool:
        """Whether an article is known by this URL: its canonical URL or one it was
        fetched from."""
        return (
            self.db.execute(
                "SELECT 1 FROM articles WHERE url = ? UNION ALL"
                " SELECT 1 FROM article_urls WHERE url = ?",
                (url, url),
            ).fetchone()
            is not None
        )

    def find_article(self, url: str) -> int | None:
        """The id of the article known by this URL (canonical or an alias), if any."""
        row = self.db.execute(
            "SELECT id FROM articles WHERE url = ? UNION ALL"
            " SELECT article_id FROM article_urls WHERE url = ?",
            (url, url),
        ).fetchone()
        return row[0] if row else None

    def article_modified(self, url: str) -> str:
        """The change date stored with the article known by this URL ("" when none)."""
        row = self.db.execute(
            "SELECT modified FROM articles WHERE id = ?", (self.find_article(url),)
        ).fetchone()
        return row[0] if row else ""

    def twin_of(self, article: Article) -> str | None:
        """The canonical URL of another article with the same body, if there is one."""
        row = self.db.execute(
            "SELECT url FROM articles WHERE body_hash = ? AND url != ? LIMIT 1",
            (body_hash(article.text), article.url),
        ).fetchone()
        return row[0] if row else None

    def same_body(self, article: Article) -> bool:
        """Whether the article stored under this URL has this body already."""
        row = self.db.execute(
            "SELECT body_hash = body_hash(?) FROM articles WHERE url = ?",
            (article.text, article.url),
        ).fetchone()
        return bool(row and row[0])

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
            article_id = self.db.execute(
                "SELECT id FROM articles WHERE url = ?", (article.url,)
            ).fetchone()[0]
            self.db.execute(
                "UPDATE stamps SET value = CAST(value AS INTEGER) + 1 WHERE name = 'articles'"
            )
            # a replaced text needs its vectors and profile made again
            self.db.execute("DELETE FROM article_vectors WHERE article_id = ?", (article_id,))
            self.db.execute("DELETE FROM article_profiles WHERE article_id = ?", (article_id,))
            return article_id

    def article_profiles(
        self, article_ids: Iterable[int]
    ) -> dict[int, tuple[list[str], list[str]]]:
        """article_profile of many articles at once (those with none are left out)."""
        wanted = sorted(set(article_ids))
        profiles = {}
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound values
            chunk = wanted[start : start + 500]
            rows = self.db.execute(
                "SELECT article_id, terms, names FROM article_profiles"
                f" WHERE article_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            profiles.update((r[0], _profile(r[1], r[2])) for r in rows)
        return profiles

    def articles_without_profile(self) -> list[int]:
        rows = self.db.execute(
            "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM article_profiles)"
            " ORDER BY id"
        )
        return [r[0] for r in rows]

    def save_article_profile(self, article_id: int, terms: list[str], names: list[str]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO article_profiles VALUES (?, ?, ?)",
            (article_id, " ".join(terms), "\t".join(names)),
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

    def article(self, article_id: int) -> Article:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise KeyError(article_id)
        return _article(row)

    def article_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM articles ORDER BY id")]

    def articles(self) -> list[Article]:
        return [_article(r) for r in self.db.execute("SELECT * FROM articles ORDER BY id")]

    def articles_between(self, first_day: str, last_day: str) -> list[Article]:
        """Articles published from `first_day` to `last_day` (YYYY-MM-DD), both included."""
        rows = self.db.execute(
            "SELECT * FROM articles WHERE substr(published, 1, 10) BETWEEN ? AND ? ORDER BY id",
            (first_day, last_day),
        )
        return [_article(r) for r in rows]

    def article_count(self) -> int:
        # counting 100,000 rows takes milliseconds: counted again only when articles change
        stamp = self.articles_stamp()
        if self._article_count[0] != stamp:
            count = self.db.execute("SELECT count(*) FROM articles").fetchone()[0]
            self._article_count = (stamp, count)
        return self._article_count[1]

    def articles_stamp(self) -> str:
        """Changes whenever an article is added or replaced (a counter, so that asking is
        cheap however many articles there are)."""
        return self.db.execute("SELECT value FROM stamps WHERE name = 'articles'").fetchone()[0]

    # -- the article index ------------------------------------------------------------

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
        wanted = sorted(set(terms))
        frequencies: dict[str, int] = {}
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound values
            chunk = wanted[start : start + 500]
            rows = self.db.execute(
                f"SELECT term, df FROM term_stats WHERE term IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            frequencies.update((r[0], r[1]) for r in rows)
        return frequencies

    def refresh_term_stats(self) -> None:
        """Bring the term counts up to date with the articles (a copy of the index's
        vocabulary, made again only when the articles changed since)."""
        stamp = self.articles_stamp()
        if stamp == self._term_stats_stamp:
            return
        row = self.db.execute("SELECT value FROM stamps WHERE name = 'term_stats'").fetchone()
        if row is None or row[0] != stamp:
            self._merge_index(int(stamp))
            with self.atomic():
                self.db.execute("DELETE FROM term_stats")
                self.db.execute("INSERT INTO term_stats SELECT term, doc FROM articles_vocab")
                self.db.execute("INSERT OR REPLACE INTO stamps VALUES ('term_stats', ?)", (stamp,))
        self._term_stats_stamp = stamp

    def link_calibration(self) -> dict[str, Any] | None:
        """The linker's confidence model as last fitted (prepare.confidence_model)."""
        stored = self._value("SELECT value FROM stamps WHERE name = 'link_calibration'")
        return json.loads(stored) if stored else None

    def save_link_calibration(self, model: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO stamps VALUES ('link_calibration', ?)", (json.dumps(model),)
        )

    def _merge_index(self, changes: int) -> None:
        """Merge the article index's segments into one once 1% of the articles changed
        since the last merge: every insert leaves a small segment, and a term's postings
        spread over thousands of them are read 3-4 times slower (measured at 100,000
        articles: a passage's query 6 ms before, 1.7 ms after; the merge takes 6 s)."""
        row = self.db.execute("SELECT value FROM stamps WHERE name = 'index_merged'").fetchone()
        merged = int(row[0]) if row else 0
        if (changes - merged) * 100 < self.article_count():
            return
        with self.atomic():
            self.db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
            self.db.execute("INSERT OR REPLACE INTO stamps VALUES ('index_merged', ?)", (changes,))

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

    def _prepare_tokenizer(self) -> None:
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_fts"
            " USING fts5(body, tokenize='porter unicode61')"
        )
        self.db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_vocab"
            " USING fts5vocab(temp, scratch_fts, 'instance')"
        )

    # -- links ------------------------------------------------------------------------

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
                article=_article(row),
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
        return self._value("SELECT producer FROM link_runs WHERE episode_id = ?", episode_id)

    def linked_articles(self) -> dict[str, set[int]]:
        """episode id -> the ids of its related articles, for every linked episode."""
        linked: dict[str, set[int]] = {}
        for episode_id, article_id in self.db.execute("SELECT episode_id, article_id FROM links"):
            linked.setdefault(episode_id, set()).add(article_id)
        return linked

    # -- the publisher's feeds and the rendered site ------------------------------------

    def save_source_feed(self, source: str, body: bytes) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO source_feeds VALUES (?, ?, ?)", (source, body, now())
        )

    def source_feed(self, source: str) -> bytes | None:
        return self._value("SELECT body FROM source_feeds WHERE source = ?", source)

    def render_inputs(self) -> dict[str, str]:
        """episode id -> what its pages are made from, as a short text that changes when
        any of it does (transcript, links, chapters), for every transcribed episode."""
        rows = self.db.execute(
            "SELECT t.episode_id, t.created_at, t.producer, l.linked_at, c.made_at"
            " FROM transcripts t"
            " LEFT JOIN link_runs l ON l.episode_id = t.episode_id"
            " LEFT JOIN chapter_runs c ON c.episode_id = t.episode_id"
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

    def chapter_titles(self) -> dict[str, list[str]]:
        """episode id -> its chapter titles in order, for every chaptered episode."""
        titles: dict[str, list[str]] = {}
        for episode_id, title in self.db.execute(
            "SELECT episode_id, title FROM chapters ORDER BY episode_id, idx"
        ):
            titles.setdefault(episode_id, []).append(title)
        return titles

    # -- reports ----------------------------------------------------------------------

    # -- chapters ---------------------------------------------------------------------

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

    def chapter_producer(self, episode_id: str) -> str | None:
        return self._value("SELECT producer FROM chapter_runs WHERE episode_id = ?", episode_id)

    def summary(self) -> dict[str, int]:
        """Counts for `transcribe status`."""
        counts = {LISTED: 0, FETCHED: 0, TRANSCRIBED: 0}
        for state, n in self.db.execute("SELECT state, count(*) FROM episodes GROUP BY state"):
            counts[state] = n
        one = lambda q: self.db.execute(q).fetchone()[0]  # noqa: E731
        counts["failing"] = one("SELECT count(*) FROM episodes WHERE error != ''")
        counts["episodes"] = one("SELECT count(*) FROM episodes")
        counts["articles"] = one("SELECT count(*) FROM articles")
        counts["links"] = one("SELECT count(*) FROM links")
        counts["linked episodes"] = one("SELECT count(DISTINCT episode_id) FROM links")
        return counts


def _take_lock(path: Path) -> BinaryIO:
    lock = open(path, "a+b")  # noqa: SIM115 (held open for the catalog's lifetime)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().decode(errors="replace").strip() or "?"
        lock.close()
        raise CatalogBusyError(
            f"another transcribe run (pid {holder}) is using {path.parent}; try again when it ends"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()).encode())
    lock.flush()
    return lock


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    return statements


def _episode(row: sqlite3.Row) -> Episode:
    return Episode(
        id=row["id"],
        source=row["source"],
        show=row["show"],
        title=row["title"],
        media_url=row["media_url"],
        published=row["published"],
        description=row["description"],
        content_html=row["content_html"],
        link=row["link"],
        duration=row["duration"],
        image=row["image"],
        kind=row["kind"],
        transcripts=[FeedLink(**t) for t in json.loads(row["feed_transcripts"])],
        chapters_url=row["chapters_url"],
        chapters=[Chapter(**c) for c in json.loads(row["chapters"])],
        subtitles=json.loads(row["subtitles"]),
    )


def _article(row: sqlite3.Row) -> Article:
    return Article(**{f.name: row[f.name] for f in fields(Article)})


def _profile(terms: str, names: str) -> tuple[list[str], list[str]]:
    return terms.split(" "), names.split("\t") if names else []
