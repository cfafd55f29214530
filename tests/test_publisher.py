"""Publisher transcripts: a feed on 127.0.0.1 whose items carry <podcast:transcript> in each
format, and a video with manual subtitles. They are imported in place of Whisper's, marked
as the publisher's; a config switch transcribes anyway."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import SHARED
from test_video import youtube_info

from transcribe.cli import cli
from transcribe.demo import FeedEntry, ffmpeg, write_feed

pytestmark = pytest.mark.slow

FORMATS = {  # format -> (MIME type as feeds write it, segments in the spec's example)
    "json": ("application/json", 5),
    "vtt": ("text/vtt", 7),
    "srt": ("application/x-subrip", 222),
    "html": ("text/html", 10),
}


@pytest.fixture(scope="module")
def job(site, base_url, spoken, tmp_path_factory):
    folder = site / "publisher"
    folder.mkdir(exist_ok=True)
    spoken("A short clip that stands in for the episode audio.", "publisher.mp3")
    for extension in FORMATS:
        source = SHARED / "podcast-namespace" / "transcripts" / f"example.{extension}"
        shutil.copyfile(source, folder / f"example.{extension}")
    chapters = SHARED / "podcast-namespace" / "chapters" / "exampleComplex.json"
    shutil.copyfile(chapters, folder / "chapters.json")
    entries = [
        FeedEntry(
            f"pub-{extension}",
            f"With a {extension} transcript",
            "2026-10-01T10:00:00Z",
            enclosure="audio/publisher.mp3",
            extra=(
                (
                    "transcript",
                    {"url": f"publisher/example.{extension}", "type": media_type, "language": "en"},
                ),
                *(
                    [("chapters", {"url": "publisher/chapters.json", "type": "application/json"})]
                    if extension == "json"
                    else []
                ),
            ),
        )
        for extension, (media_type, _) in FORMATS.items()
    ]
    entries.append(
        FeedEntry(
            "pub-gone",
            "Its transcript is gone",
            "2026-10-02T10:00:00Z",
            enclosure="audio/publisher.mp3",
            extra=(("transcript", {"url": "publisher/missing.vtt", "type": "text/vtt"}),),
        )
    )
    write_feed(folder / "feed.xml", "Publisher show", base_url, entries)

    yt = site / "yt"  # the YouTube-shaped video: manual English subtitles in VTT
    yt.mkdir(exist_ok=True)
    ffmpeg("-i", str(site / "audio" / "publisher.mp3"), "-c:a", "aac", str(yt / "audio.m4a"))
    (yt / "subs.en.vtt").write_text(
        "WEBVTT\n\n00:00.000 --> 00:02.000\nThe map, as the channel captioned it.\n"
    )
    root = tmp_path_factory.mktemp("publisher-job")
    info = root / "Kx3vTq9LmZ0.info.json"
    info.write_text(json.dumps(youtube_info(base_url)))
    config = root / "config.toml"
    config.write_text(
        f'[[sources]]\nurl = "{base_url}publisher/feed.xml"\n[[sources]]\nurl = "{info}"\n'
    )
    return root, config


def transcripts(root) -> dict[str, tuple[str, str, int]]:
    with sqlite3.connect(root / "data" / "catalog.sqlite") as db:
        return {
            episode: (origin, producer, count)
            for episode, origin, producer, count in db.execute(
                "SELECT t.episode_id, t.origin, t.producer, count(s.idx) FROM transcripts t"
                " JOIN segments s ON s.episode_id = t.episode_id GROUP BY t.episode_id"
            )
        }


def test_publisher_transcripts_are_imported_in_every_format(job):
    root, config = job
    result = CliRunner().invoke(cli, ["-q", "--config", str(config), "run"])
    assert result.exit_code == 0, result.output
    assert "6 episodes transcribed" in result.output
    assert "5 publisher transcripts imported" in result.output
    found = transcripts(root)
    for extension, (_, segments) in FORMATS.items():
        origin, producer, count = found[f"pub-{extension}"]
        assert (origin, count) == ("publisher", segments)
        assert producer.endswith(f"publisher/example.{extension}")
    assert found["pub-gone"][0] == "whisper"  # the publisher's file is missing: Whisper runs
    origin, producer, _ = found["Kx3vTq9LmZ0"]  # the video's manual subtitles
    assert origin == "publisher" and producer.endswith("yt/subs.en.vtt")
    with sqlite3.connect(root / "data" / "catalog.sqlite") as db:
        speakers = {
            r[0] for r in db.execute("SELECT speaker FROM segments WHERE episode_id = 'pub-json'")
        }
    assert "Darth Vader" in speakers  # the JSON format names its speakers
    page = (root / "output" / "episodes" / "pub-html.html").read_text()
    assert "The transcript is the publisher&#39;s" in page and "rookie mistakes" in page
    status = CliRunner().invoke(cli, ["--config", str(config), "status"]).output
    assert "transcribed    6 (Whisper 1, the publisher's 5)" in status, status

    # the publisher's chapters (a JSON file, the video's own) are taken as they are
    spec = json.loads(
        (SHARED / "podcast-namespace" / "chapters" / "exampleComplex.json").read_text()
    )
    in_toc = [c["title"] for c in spec["chapters"] if c.get("toc", True) is not False]
    with sqlite3.connect(root / "data" / "catalog.sqlite") as db:
        chapters = dict(db.execute("SELECT episode_id, origin FROM chapter_runs"))
        titles = [
            r[0]
            for r in db.execute(
                "SELECT title FROM chapters WHERE episode_id = 'pub-json' ORDER BY idx"
            )
        ]
        video = [
            r[0]
            for r in db.execute(
                "SELECT title FROM chapters WHERE episode_id = 'Kx3vTq9LmZ0' ORDER BY idx"
            )
        ]
    assert chapters["pub-json"] == "publisher" and titles == in_toc
    assert chapters["Kx3vTq9LmZ0"] == "publisher" and video == ["Intro", "The map"]
    assert chapters["pub-vtt"] == "found"
    written = json.loads((root / "output" / "episodes" / "pub-json.chapters.json").read_text())
    assert [c["title"] for c in written["chapters"]] == in_toc

    again = CliRunner().invoke(cli, ["-q", "--config", str(config), "run"])
    assert "speech: nothing to transcribe (6 already transcribed)" in again.output


def test_a_config_switch_transcribes_them_anyway(job):
    root, config = job
    config.write_text(config.read_text() + "[speech]\npublisher_transcripts = false\n")
    result = CliRunner().invoke(cli, ["-q", "--config", str(config), "run"])
    assert "speech: 5 episodes transcribed" in result.output, result.output
    assert {origin for origin, _, _ in transcripts(root).values()} == {"whisper"}
