"""The catalog's schema, as named migrations applied in order: each runs once, in a
transaction, and is recorded in the `migrations` table. A migration is never edited once
released; a change is a new one at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager

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
    (
        # an episode's chapters as made before linking (the publisher's, or found and
        # titled by key phrase): the linker retrieves per chapter, the chapter stage then
        # gives them their articles
        "0012_chapter_outlines",
        """
        CREATE TABLE chapter_outlines (
            episode_id TEXT PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
            chapters TEXT NOT NULL,
            origin TEXT NOT NULL,
            producer TEXT NOT NULL
        );
        """,
    ),
    (
        # how often each term is printed and the length of the article's vector, for the
        # cosine the link decision reads: profiles are made again, with them
        "0013_article_profile_counts",
        """
        DELETE FROM article_profiles;
        ALTER TABLE article_profiles ADD COLUMN counts TEXT NOT NULL DEFAULT '';
        ALTER TABLE article_profiles ADD COLUMN norm REAL NOT NULL DEFAULT 0;
        """,
    ),
    (
        # who spoke when (the speakers stage): the turns, each speaker's mean voiceprint
        # (to know a show's voices again), and what produced them; the segments carry the
        # speaker of their words
        "0014_speaker_turns",
        """
        CREATE TABLE speaker_turns (
            episode_id TEXT PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
            turns TEXT NOT NULL,
            voiceprints TEXT NOT NULL,
            producer TEXT NOT NULL,
            made_at TEXT NOT NULL
        );
        """,
    ),
    (
        # the people the feed names (<podcast:person>), and the names the speakers stage
        # gave its speakers, each with its evidence
        "0015_people_and_speaker_names",
        """
        ALTER TABLE episodes ADD COLUMN people TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE speaker_turns ADD COLUMN names TEXT NOT NULL DEFAULT '{}';
        """,
    ),
]


def migrate(
    db: sqlite3.Connection,
    atomic: Callable[[], AbstractContextManager[None]],
    now: Callable[[], str],
    last: str | None = None,
) -> None:
    """Apply the migrations not applied yet, in order (up to and including `last`, for a
    test that builds an old catalog)."""
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM migrations")}
    for name, script in MIGRATIONS:
        if name not in done:
            with atomic():
                for statement in statements(script):
                    db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, ?)", (name, now()))
        if name == last:
            return


def statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    found, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if sqlite3.complete_statement(joined):
            found.append(joined)
            current = []
    return found
