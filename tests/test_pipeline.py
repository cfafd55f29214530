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
