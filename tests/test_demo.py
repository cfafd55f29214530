"""The bundled demo, end to end (what `make run` runs): every episode links to the articles
its script discusses, and to no other."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.slow

STORIES = {  # episode -> words of the headlines of the articles it discusses, in order
    "millbrook-weekly-001": ["Harlow Bridge", "Flood Warning"],
    "millbrook-weekly-002": ["Library Branch", "School Lunches"],
    "millbrook-weekly-003": ["Marmots", "Harlow Bridge"],
}
EXPECTED = {episode: set(stories) for episode, stories in STORIES.items()}


def test_the_demo_links_each_episode_to_its_stories_and_makes_chapters(demo_run):
    result, tmp_path = demo_run
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        links = db.execute(
            "SELECT l.episode_id, a.title FROM links l JOIN articles a ON a.id = l.article_id"
        ).fetchall()
    found: dict[str, set[str]] = {episode: set() for episode in EXPECTED}
    for episode, title in links:
        matched = [words for words in EXPECTED[episode] if words in title]
        assert matched, f"{episode} linked to {title!r}, which it does not discuss"
        found[episode].update(matched)
    assert found == EXPECTED
    for episode, stories in STORIES.items():  # each story a chapter, titled by its article
        chapters = json.loads(
            (tmp_path / "out" / "episodes" / f"{episode}.chapters.json").read_text()
        )
        assert chapters["version"] == "1.2.0"
        titles = [chapter["title"] for chapter in chapters["chapters"]]
        assert len(titles) == len(stories), titles
        assert all(words in title for words, title in zip(stories, titles, strict=True)), titles
        assert all(chapter["url"].startswith("https://") for chapter in chapters["chapters"])


def test_the_demo_is_a_conversation_of_two_named_speakers_in_the_catalog_files_and_page(demo_run):
    """Two espeak-ng voices: the host introduces herself and, in two episodes, the reporter;
    the feed names them (the third names only the host: the reporter is known by voice)."""
    result, tmp_path = demo_run
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        names = {
            e: json.loads(n) for e, n in db.execute("SELECT episode_id, names FROM speaker_turns")
        }
        speakers = db.execute("SELECT DISTINCT episode_id, speaker FROM segments").fetchall()
    assert set(names) == set(STORIES)
    for episode, named in names.items():
        assert {n["name"] for n in named.values()} == {"Carla Jennings", "Sam Ortiz"}, episode
    assert "the voice of Sam Ortiz" in str(names["millbrook-weekly-003"])
    assert sorted(speakers) == sorted(
        (episode, name) for episode in STORIES for name in ("Carla Jennings", "Sam Ortiz")
    )
    for episode in STORIES:
        page = (tmp_path / "out" / "episodes" / f"{episode}.html").read_text()
        assert page.count('<span class="who">Carla Jennings</span>') >= 3
        assert page.count('<span class="who">Sam Ortiz</span>') >= 3
        vtt = (tmp_path / "out" / "episodes" / f"{episode}.vtt").read_text()
        assert vtt.count("<v Carla Jennings>") >= 3 and vtt.count("<v Sam Ortiz>") >= 3
