"""The whole job over a feed served on 127.0.0.1: real yt-dlp, Whisper, trafilatura, SQLite.

One feed carries good episodes and bad ones (a 404 enclosure, random bytes, silence, script
payloads in its fields); the job must finish the good ones, report the bad ones per episode,
and record nothing as done that is not. A rerun does nothing; a fixed episode is picked up.
"""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from click.testing import CliRunner

from transcribe.cli import cli

pytestmark = pytest.mark.slow


def active_content(html: str) -> list[str]:
    """What in a page could run script, other than our own: event-handler attributes,
    script elements, javascript: links, SVG, frames."""
    from lxml import html as lxml_html

    found = []
    for element in lxml_html.fromstring(html).iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "script" and element.get("src", "").endswith("static/player.js"):
            continue
        if tag == "script" and element.get("type") == "application/ld+json":
            continue
        if tag in ("script", "svg", "iframe", "object", "embed"):
            found.append(tag)
        for name, value in element.attrib.items():
            if name.lower().startswith("on") or value.strip().lower().startswith("javascript:"):
                found.append(f"{tag} {name}={value}")
    return found


def catalog(outlet: dict) -> sqlite3.Connection:
    db = sqlite3.connect(outlet["root"] / "data" / "catalog.sqlite")
    db.row_factory = sqlite3.Row
    return db


def test_run_finishes_good_episodes_and_reports_bad_ones(outlet, first_run):
    assert first_run.exit_code == 1, first_run.output  # some episodes failed, the rest done
    out = first_run.output
    assert "FAILED fetch: ep-missing" in out and "404" in out
    assert "FAILED fetch: ep-random" in out and "decode" in out
    assert "FAILED speech: ep-silence" in out and "no speech" in out
    assert "FAILED list: " in out and "not-a-feed.html: Unsupported URL" in out
    assert "broken.xml: malformed feed (line 3" in out
    assert "FAILED fetch: ep-local-file: file:///etc/passwd: not an http(s) URL; refused" in out
    assert "FAILED articles: " in out and "no-such-articles.xml: HTTP 404" in out
    with catalog(outlet) as db:
        states = dict(db.execute("SELECT id, state FROM episodes"))
        errors = dict(db.execute("SELECT id, error FROM episodes WHERE error != ''"))
    assert states == {
        "ep-bridge": "transcribed",
        "ep-library": "transcribed",
        "../../etc/passwd": "transcribed",
        "ep-missing": "listed",
        "ep-random": "listed",
        "ep-silence": "fetched",
        "ep-local-file": "listed",
        "ep-tram": "transcribed",  # the publisher's transcript, imported
    }
    assert set(errors) == {"ep-missing", "ep-random", "ep-silence", "ep-local-file"}


def test_transcripts_hold_the_spoken_words(outlet, first_run):
    with catalog(outlet) as db:
        text = " ".join(
            r[0] for r in db.execute("SELECT text FROM segments WHERE episode_id = 'ep-library'")
        ).lower()
        language = db.execute(
            "SELECT language FROM transcripts WHERE episode_id = 'ep-library'"
        ).fetchone()[0]
        words = json.loads(
            db.execute("SELECT words FROM segments WHERE episode_id = 'ep-bridge'").fetchone()[0]
        )
    assert language == "en"
    for word in ("council", "library", "neighborhood", "hardware street", "students"):
        assert word in text
    assert words and all(w["end"] >= w["start"] for w in words)


def test_each_episode_links_to_its_article_and_not_the_others(outlet, first_run):
    with catalog(outlet) as db:
        links = {}
        for episode_id, url, evidence in db.execute(
            "SELECT l.episode_id, a.url, l.evidence FROM links l JOIN articles a"
            " ON a.id = l.article_id ORDER BY l.episode_id, l.rank"
        ):
            links.setdefault(episode_id, []).append(url)
            assert json.loads(evidence)[0]["terms"]  # every link says why
        articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert articles == 4
    assert links["ep-bridge"] == ["https://gazette.example/bridge"]
    assert links["ep-library"] == ["https://gazette.example/library"]
    assert links["ep-tram"] == ["https://gazette.example/tram"]
    assert links["../../etc/passwd"] == ["https://gazette.example/bridge"]  # the bridge's audio
    assert set(links) == {"ep-bridge", "ep-library", "ep-tram", "../../etc/passwd"}


def test_site_files_are_written_and_name_no_path_from_the_feed(outlet, first_run):
    site = outlet["root"] / "site"
    index = (site / "index.html").read_text()
    assert "The bridge closes" in index and "A library for Eastgate" in index
    assert "Gone" not in index  # failed episodes get no page
    for extension in ("html", "vtt", "srt", "txt", "json"):
        assert (site / "episodes" / f"ep-bridge.{extension}").is_file()
    vtt = (site / "episodes" / "ep-bridge.vtt").read_text()
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")
    transcript = json.loads((site / "episodes" / "ep-bridge.json").read_text())
    assert transcript["version"] == "1.0.0"
    assert {"startTime", "endTime", "body"} <= set(transcript["segments"][0])
    page = (site / "episodes" / "ep-bridge.html").read_text()
    assert 'src="../media/ep-bridge.mp3"' in page and "Harlow Bridge to close" in page
    written = {p.resolve() for p in outlet["root"].rglob("*")}
    assert all(str(p).startswith(str(outlet["root"].resolve())) for p in written)
    assert not list(outlet["root"].rglob("passwd*"))
    leftovers = [p for p in written if p.is_file() and (".part" in p.name or p.suffix == ".tmp")]
    assert not leftovers
    old_umask = os.umask(0)
    os.umask(old_umask)
    assert (site / "index.html").stat().st_mode & 0o777 == 0o666 & ~old_umask  # servable


def test_feed_payloads_render_inert(outlet, first_run):
    site = outlet["root"] / "site"
    pages = [p for p in (site / "episodes").glob("h.*.html")]  # the id is a path: digested
    payload_page = next(p for p in pages if "Bridge news" in p.read_text())
    html = payload_page.read_text() + (site / "index.html").read_text()
    assert "<script>window.__pwned" not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert active_content(html) == [] and "alert(2)" not in html
    assert "<em>kept</em>" in payload_page.read_text()
    assert "Gazette &lt;b&gt;Weekly&lt;/b&gt;" in html


def test_payloads_in_articles_transcripts_and_chapters_render_as_text(outlet, first_run):
    """The publisher's transcript (and its speaker), its chapter titles and links, an
    article's title, author and text: every field that reaches a page, shown as text."""
    site = outlet["root"] / "site"
    page = (site / "episodes" / "ep-tram.html").read_text()
    search_text = (site / "search" / "text" / "ep-tram.js").read_text()
    everything = page + (site / "index.html").read_text() + search_text
    assert "Full notes, <em>kept</em>" in page  # content:encoded, sanitized
    for n in range(3, 15):  # each payload's own number: none is left as markup
        assert f"<script>window.__pwned = {n}" not in everything
        assert f'onerror="window.__pwned = {n}"' not in everything
        assert f'onload="window.__pwned = {n}"' not in everything
    assert active_content(page) == []
    assert "&lt;script&gt;window.__pwned = 4&lt;/script&gt;" in page  # transcript text
    assert "&lt;img src=x onerror=&#34;window.__pwned = 9&#34;&gt;The depot" in page  # chapter
    assert "Velvet Lane tram depot reopens &lt;img src=x" in page  # the article's headline
    assert "</script>" not in search_text  # the search index cannot close its script
    chapters = json.loads((site / "episodes" / "ep-tram.chapters.json").read_text())
    assert [c.get("url", "") for c in chapters["chapters"]] == ["", ""]  # javascript: dropped


def test_rerun_downloads_and_transcribes_nothing_then_picks_up_a_fixed_episode(
    outlet, first_run, site
):
    media = outlet["root"] / "data" / "media" / "ep-bridge.mp3"
    stamp = media.stat().st_mtime_ns
    with catalog(outlet) as db:
        created = dict(db.execute("SELECT episode_id, created_at FROM transcripts"))
    again = CliRunner().invoke(cli, ["-q", "--config", str(outlet["config"]), "run"])
    assert "0 new, 0 downloaded" in again.output
    assert "speech: nothing to transcribe (4 already transcribed)" in again.output
    assert "linking: 0 episodes linked" in again.output
    assert media.stat().st_mtime_ns == stamp
    with catalog(outlet) as db:
        assert dict(db.execute("SELECT episode_id, created_at FROM transcripts")) == created
        attempts = db.execute("SELECT attempts FROM episodes WHERE id = 'ep-missing'").fetchone()[0]
    assert attempts == 2  # a failed download is retried on the next run

    (site / "audio" / "e2e-missing.mp3").write_bytes(
        (site / "audio" / "e2e-bridge.mp3").read_bytes()
    )
    fixed = CliRunner().invoke(cli, ["-q", "--config", str(outlet["config"]), "run"])
    assert "1 downloaded" in fixed.output and "speech: 1 episodes transcribed" in fixed.output
    with catalog(outlet) as db:
        state, error = db.execute(
            "SELECT state, error FROM episodes WHERE id = 'ep-missing'"
        ).fetchone()
        assert (state, error) == ("transcribed", "")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_lost_media_is_downloaded_again_and_removed_sources_are_left_alone(outlet, first_run):
    media = outlet["root"] / "data" / "media" / "ep-library.m4a"
    media.unlink()
    with catalog(outlet) as db:
        db.execute("UPDATE transcripts SET producer = 'older' WHERE episode_id = 'ep-library'")
    lost = CliRunner().invoke(cli, ["-q", "--config", str(outlet["config"]), "run"])
    assert "FAILED speech: ep-library" in lost.output and "is missing" in lost.output
    again = CliRunner().invoke(cli, ["-q", "--config", str(outlet["config"]), "run"])
    assert "1 downloaded" in again.output and "speech: 1 episodes transcribed" in again.output
    assert media.is_file()

    only_articles = outlet["root"] / "no-sources.toml"
    only_articles.write_text(
        outlet["config"].read_text().split("[[sources]]")[0]
        + "[speech]\nbeam_size = 1\n[linking]\nmin_confidence = 0.6\n"
        + "[chapters]\nmin_seconds = 90.0\n"
    )

    def stamps() -> list[tuple]:
        with catalog(outlet) as db:
            made = "SELECT episode_id, producer FROM link_runs UNION ALL"
            return [
                tuple(r)
                for r in db.execute(f"{made} SELECT episode_id, producer FROM chapter_runs")
            ]

    before = stamps()
    assert before  # the first run linked and chaptered its episodes
    untouched = CliRunner().invoke(cli, ["-q", "--config", str(only_articles), "run"])
    # not its sources any more: new settings transcribe, link and chapter none of them
    assert "speech: nothing to transcribe" in untouched.output
    assert "linking: 0 episodes linked" in untouched.output
    assert "chapters:" not in untouched.output
    assert stamps() == before


def test_a_second_run_at_once_is_told_clearly(outlet, first_run):
    from transcribe.catalog import Catalog
    from transcribe.errors import CatalogBusyError

    with Catalog(outlet["root"] / "data" / "catalog.sqlite"):
        result = CliRunner().invoke(cli, ["--config", str(outlet["config"]), "run"])
        assert result.exit_code == 1
        assert "another transcribe run (pid" in result.output and "try again" in result.output
        status = CliRunner().invoke(cli, ["--config", str(outlet["config"]), "status"])
        assert status.exit_code == 0 and "transcribed" in status.output  # reading is fine
        with pytest.raises(CatalogBusyError):
            Catalog(outlet["root"] / "data" / "catalog.sqlite")
