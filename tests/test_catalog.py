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
