"""The catalog: keys, episode records across feeds, the run lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from transcribe.catalog import Catalog
from transcribe.errors import CatalogBusyError, CatalogError
from transcribe.records import Article, Episode, file_key


def test_file_keys_are_safe_and_never_collide():
    assert file_key("Kx3vTq9LmZ0") == "Kx3vTq9LmZ0"
    hostile = ["../../etc/passwd", "a/b", "CON", "x" * 500, "nul\x00byte", ".", ".."]
    keys = [file_key(i) for i in hostile]
    assert all("/" not in k and "\x00" not in k and len(k) <= 64 for k in keys)
    assert len(set(keys)) == len(keys)
    assert file_key(keys[0]) != keys[0]  # a guid that copies a digest key gets a key of its own
    assert file_key("CON").startswith("h.") and file_key("lpt1").startswith("h.")  # Windows


def test_a_fetched_episode_keeps_its_measured_duration(tmp_path):
    with Catalog(tmp_path / "c.sqlite") as catalog:
        episode = Episode(id="g", source="s", title="t", media_url="http://h/a.mp3", duration=10)
        catalog.record_episode(episode)
        catalog.mark_fetched("g", tmp_path / "a.mp3", 63.5)
        episode.duration = 3600  # the feed says otherwise on the next listing
        catalog.record_episode(episode)
        assert catalog.episode("g").duration == 63.5


def test_the_lock_dies_with_a_killed_run(tmp_path):
    path = tmp_path / "c.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from transcribe.catalog import Catalog; "
            f"c = Catalog({str(path)!r}); print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(CatalogBusyError, match=f"pid {holder.pid}"):
        Catalog(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    time.sleep(0.1)
    with Catalog(path) as catalog:  # nothing stuck
        assert catalog.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_file_that_is_no_catalog_is_one_clear_error(tmp_path):
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    for _ in range(2):  # the second time too: the failed open let its lock go
        with pytest.raises(CatalogError, match="not a usable catalog"):
            Catalog(path)


def test_the_index_is_queried_with_words_as_said_not_stems():
    # the index stems what it is given; a stem stemmed again can change ("hous" -> "hou")
    with Catalog(":memory:") as catalog:
        article = Article(url="https://n.example/h", title="Sold", text="The house was sold.")
        article_id = catalog.add_article(article)
        assert catalog.tokenize("house") == ["hous"]
        assert catalog.articles_with(["house"]) == {"house": [article_id]}
        assert [a for a, _ in catalog.search_articles(["house"])] == [article_id]
        assert catalog.articles_with(["hous"]) == {"hous": []}  # why the words are kept


def test_a_failure_caught_inside_a_nested_block_takes_back_that_block_alone():
    with Catalog(":memory:") as catalog:
        with catalog.atomic():
            catalog.add_article(Article(url="https://n.example/kept", title="Kept", text="k"))
            with pytest.raises(RuntimeError), catalog.atomic():
                catalog.add_article(Article(url="https://n.example/gone", title="Gone", text="g"))
                raise RuntimeError("the inner step failed")
            assert catalog.find_article("https://n.example/gone") is None
        assert catalog.find_article("https://n.example/kept") is not None
        assert catalog.find_article("https://n.example/gone") is None
        with pytest.raises(RuntimeError), catalog.atomic():  # the outer block still all or none
            catalog.add_article(Article(url="https://n.example/late", title="Late", text="l"))
            raise RuntimeError("the whole step failed")
        assert catalog.find_article("https://n.example/late") is None


def test_a_catalog_made_by_the_first_release_opens_at_the_last_with_its_records(tmp_path):
    """Every migration applies, in order, to a catalog that holds data of the first schema."""
    import contextlib
    import sqlite3

    from transcribe.catalog.connection import body_hash, now
    from transcribe.catalog.migrations import MIGRATIONS, migrate

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, contextlib.nullcontext, now, last="0001_initial")
    db.execute(
        "INSERT INTO episodes (id, key, source, title, media_url, listed_at, state)"
        " VALUES ('g', 'g', 'https://f.example/feed', 'Old episode', 'https://f.example/a.mp3',"
        " '2024-01-01', 'transcribed')"
    )
    db.execute("INSERT INTO transcripts VALUES ('g', 'en', 0.9, 2.0, 'whisper', 'p', 'x')")
    db.execute(
        "INSERT INTO segments (episode_id, idx, start, end, text) VALUES ('g', 0, 0, 2, 'Hi')"
    )
    db.execute(
        "INSERT INTO articles (url, title, text, added_at) VALUES"
        " ('https://n.example/a', 'Harbour', 'The harbour  reopened.', '2024-01-01')"
    )
    db.execute("INSERT INTO links VALUES ('g', 1, 1, 3.5, '[]')")
    db.execute("INSERT INTO link_runs VALUES ('g', 'thresholds', 'x')")
    assert [r[0] for r in db.execute("SELECT name FROM migrations")] == ["0001_initial"]
    db.close()

    with Catalog(path) as catalog:
        applied = [r[0] for r in catalog.db.execute("SELECT name FROM migrations ORDER BY name")]
        assert applied == [name for name, _ in MIGRATIONS]
        assert catalog.episode("g").title == "Old episode"
        assert catalog.transcript("g").segments[0].text == "Hi"
        article_id = catalog.find_article("https://n.example/a")
        assert catalog.value("SELECT body_hash FROM articles WHERE id = ?", article_id) == (
            body_hash("the harbour reopened.")
        )
        assert catalog.links("g")[0].confidence == 0  # a link of the old thresholds: unsure
        assert catalog.link_producer("g") is None  # ...so the episode is linked again
        assert catalog.summary().links == 1 and catalog.summary().transcribed == 1


def test_profiles_made_before_term_counts_are_made_again(tmp_path):
    """A catalog whose article profiles hold no term counts (before 0013) has them remade
    by the next preparation, with the counts the link decision reads."""
    import contextlib
    import sqlite3

    from transcribe.catalog.connection import body_hash, now
    from transcribe.catalog.migrations import migrate
    from transcribe.linking import LinkingOptions
    from transcribe.linking.prepare import prepare_index

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("body_hash", 1, body_hash, deterministic=True)
    migrate(db, contextlib.nullcontext, now, last="0012_chapter_outlines")
    db.execute(
        "INSERT INTO articles (url, title, text, added_at) VALUES"
        " ('https://n.example/a', 'Harbour', 'The harbour reopened at the harbour.', '2024-01-01')"
    )
    db.execute("INSERT INTO article_profiles VALUES (1, 'harbour reopen', '')")
    db.close()

    with Catalog(path) as catalog:
        assert catalog.articles_without_profile() == [1]  # the old profile is dropped
        prepare_index(catalog, LinkingOptions())
        profile = catalog.article_profiles([1])[1]
        assert profile.counts[profile.terms.index("harbour")] == 3 and profile.norm > 0


def test_an_article_of_no_words_keeps_a_profile_of_none(tmp_path):
    from transcribe.linking import LinkingOptions
    from transcribe.linking.prepare import prepare_index

    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.add_article(Article(url="https://n.example/dash", title="—", text="…"))
        prepare_index(catalog, LinkingOptions())
        profile = catalog.article_profiles([1])[1]
        assert (profile.terms, profile.counts, profile.norm) == ([], [], 0.0)
