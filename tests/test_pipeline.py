"""The fetch stage across sources, through the CLI, with real downloads from 127.0.0.1."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from transcribe.cli import cli
from transcribe.demo import FeedEntry, write_feed


def test_two_shows_that_number_their_guids_alike_keep_both_episodes(
    site, base_url, spoken, tmp_path
):
    spoken("Show A, episode one.", "shows-a1.mp3")
    spoken("Show B, episode one.", "shows-b1.mp3")
    folder = site / "shows"
    for show in ("a", "b"):
        write_feed(
            folder / f"{show}.xml",
            f"Show {show.upper()}",
            base_url,
            [
                FeedEntry(
                    "1",
                    f"Show {show.upper()}: the first",
                    "2026-10-01T10:00:00Z",
                    enclosure=f"audio/shows-{show}1.mp3",
                ),
            ],
        )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[sources]]\nurl = "{base_url}shows/a.xml"\n[[sources]]\nurl = "{base_url}shows/b.xml"\n'
    )
    for _ in range(2):  # and a rerun keeps them apart without downloading again
        result = CliRunner().invoke(cli, ["-q", "--config", str(config), "fetch"])
        assert result.exit_code == 0, result.output
    assert "2 episodes listed, 0 new, 0 downloaded" in result.output
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        rows = sorted(db.execute("SELECT title, state, media_path FROM episodes"))
    assert [(title, state) for title, state, _ in rows] == [
        ("Show A: the first", "fetched"),
        ("Show B: the first", "fetched"),
    ]
    assert rows[0][2] != rows[1][2]


def test_a_stage_that_fails_is_one_failure_and_the_other_episodes_and_stages_go_on(
    tmp_path, monkeypatch
):
    """Real SQLite, the real linker and renderer; one episode's linking is made to raise,
    and then the render."""
    from dataclasses import replace

    from transcribe import pipeline
    from transcribe.catalog import Catalog
    from transcribe.config import parse_config
    from transcribe.records import Article, Episode, Segment, Transcript

    feed = "https://feeds.example/show.xml"
    # the media are stand-ins (no audio to find speakers in), so the speakers stage is off
    config = parse_config(
        {
            "data": "data",
            "output": "site",
            "sources": [{"url": feed}],
            "speech": {"speakers": "off"},
        },
        tmp_path,
    )
    monkeypatch.setattr(pipeline, "fetch_episodes", lambda *args: None)  # listed already
    stories = {
        "harbour": "Harbourmaster Ingrid Solberg at Port Ellery waits for the Coastal "
        "Commission permit while Baltic Marine keeps two barges idle.",
        "orchard": "In the Verdon valley the Pippin apples went to cider makers, says Lucas "
        "Ferrand of the Verdon Growers Cooperative, after a record harvest.",
    }
    with Catalog(config.catalog_path) as catalog:
        for name, text in stories.items():
            catalog.add_article(Article(url=f"https://n.example/{name}", title=name, text=text))
            episode = Episode(id=name, source=feed, title=name, media_url=f"http://h/{name}.mp3")
            catalog.record_episode(episode)
            media = config.media_dir / f"{name}.mp3"
            media.parent.mkdir(parents=True, exist_ok=True)
            media.write_bytes(b"audio")
            catalog.mark_fetched(name, media, 20.0)
            heard = Transcript([Segment(0.0, 20.0, text)], "en", 1.0, 20.0)
            catalog.save_transcript(name, replace(heard, producer=config.speech.producer()))
        linker = pipeline.link_transcript

        def breaks_on_the_harbour(episode_id, *args, **kwargs):
            if episode_id == "harbour":
                raise RuntimeError("the linker broke")
            return linker(episode_id, *args, **kwargs)

        monkeypatch.setattr(pipeline, "link_transcript", breaks_on_the_harbour)
        report = pipeline.run_job(config, catalog)
        assert [(f.what, f.stage) for f in report.failures] == [("harbour", "linking")]
        assert "the linker broke" in report.failures[0].message
        assert [link.article.url for link in catalog.links("orchard")] == [
            "https://n.example/orchard"
        ]
        assert report.rendered and (tmp_path / "site" / "episodes" / "orchard.html").is_file()

        def render_breaks(*args, **kwargs):
            raise RuntimeError("the renderer broke")

        monkeypatch.setattr(pipeline, "render_site", render_breaks)
        report = pipeline.run_job(config, catalog)
        assert [(f.what, f.stage) for f in report.failures] == [
            ("harbour", "linking"),
            ("site", "render"),
        ]
        assert any(line.startswith("linking:") for line in report.lines())  # still reported
