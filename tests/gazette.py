"""The Test Gazette: a feed served on 127.0.0.1 with good episodes and bad ones (a 404
enclosure, random bytes, silence, script payloads in its fields, a path for an id), its
articles, and one run of the whole job over it, shared by the end-to-end and the site tests
(the job runs once per test session).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from transcribe.cli import cli
from transcribe.demo import FeedEntry, write_feed

SITE_URL = "https://gazette.example/shownotes/"  # where the rendered site says it lives

BRIDGE = (
    "Welcome to the Gazette podcast. The Harlow Bridge over Tanner Creek closes on Monday "
    "for fourteen weeks. Public Works Director Dana Whitcombe says Keystone Span Builders "
    "will replace the concrete deck, and drivers must take the Quarry Road detour."
)
LIBRARY = (
    "Now to the council. The city council voted five to two to build a new library branch "
    "in the Eastgate neighborhood. Councilmember Rosa Gable says the branch will open on "
    "Hardware Street with a reading garden and study rooms for students."
)
ARTICLES = {
    "bridge": (
        "Harlow Bridge to close for repairs",
        [
            "The Harlow Bridge over Tanner Creek will close on Monday for fourteen weeks of repairs.",
            "Public Works Director Dana Whitcombe said Keystone Span Builders won the contract to "
            "replace the concrete deck and repair corroded steel beams under the span.",
            "Drivers will follow a detour along Quarry Road, which adds several minutes to a trip "
            "across town, and trucks will be sent to the interchange instead.",
        ],
    ),
    "library": (
        "Council approves Eastgate library branch",
        [
            "The city council voted five to two on Tuesday to build a library branch in Eastgate.",
            "Councilmember Rosa Gable, who represents the neighborhood, said the branch on "
            "Hardware Street will have a reading garden, study rooms and a children's corner.",
            "Construction is expected to begin in the spring, and the branch should open its "
            "doors to readers the following year.",
        ],
    ),
    "buses": (
        "Electric buses join the number seven line",
        [
            "Millbrook Transit put six electric buses into service on the number seven line.",
            "The buses charge overnight at the depot on Canal Avenue and run every twelve "
            "minutes between the railway station and the hospital.",
            "Riders praised the quiet ride, and the agency plans to replace its diesel fleet "
            "within a decade if funding allows.",
        ],
    ),
    "tram": (  # an article whose title, author and text carry markup (stored as text)
        'Velvet Lane tram depot reopens <img src=x onerror="window.__pwned = 3">',
        [
            "The tram depot on Velvet Lane reopens on Friday with eight new trams.",
            "Transit Director Amara Quist said riders of the Velvet Lane line waited two "
            "years for the depot to reopen.",
            "<script>window.__pwned = 7</script> Quist thanked the depot crews.",
        ],
    ),
}
PAYLOAD_AUTHOR = "<script>window.__pwned = 8</script>"
# the publisher's own transcript and chapters, with markup in every field
TRAM_TRANSCRIPT = {
    "version": "1.0.0",
    "segments": [
        {
            "startTime": 0.0,
            "endTime": 4.0,
            "speaker": "<b onmouseover=alert(1)>Host</b>",
            "body": "The tram depot on Velvet Lane reopens on Friday with eight new trams, "
            "says Transit Director Amara Quist. <script>window.__pwned = 4</script>",
        },
        {
            "startTime": 4.0,
            "endTime": 8.0,
            "body": "Riders of the Velvet Lane line waited two years for the depot. "
            '<svg onload="window.__pwned = 5"></svg><img src=x onerror="window.__pwned = 6">',
        },
    ],
}
TRAM_CHAPTERS = {
    "version": "1.2.0",
    "chapters": [
        {
            "startTime": 0,
            "title": '<img src=x onerror="window.__pwned = 9">The depot',
            "url": "javascript:window.__pwned = 10",
        },
        {"startTime": 4, "title": "</script><script>window.__pwned = 11</script>Riders"},
    ],
}
PAYLOAD_TITLE = "Bridge news <script>window.__pwned = 1</script>"
PAYLOAD_DESCRIPTION = (
    '<p>Listen <a href="javascript:alert(1)">here</a><img src=x onerror="alert(1)">'
    "<script>alert(2)</script><em>kept</em></p>"
)


@pytest.fixture(scope="session")
def outlet(site: Path, base_url: str, spoken) -> dict:
    from conftest import article_page, silence  # conftest imports this module's fixtures

    folder = site / "e2e"
    spoken(BRIDGE, "e2e-bridge.mp3")
    spoken(LIBRARY, "e2e-library.m4a")
    silence(site / "audio" / "e2e-silence.mp3")
    (site / "audio" / "e2e-random.mp3").write_bytes(os.urandom(40_000))
    for slug, (title, paragraphs) in ARTICLES.items():
        page = folder / "articles" / f"{slug}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        author = PAYLOAD_AUTHOR if slug == "tram" else "Staff"
        page.write_text(
            article_page(
                title, paragraphs, canonical=f"https://gazette.example/{slug}", author=author
            )
        )
    (folder / "tram.json").write_text(json.dumps(TRAM_TRANSCRIPT))
    (folder / "tram-chapters.json").write_text(json.dumps(TRAM_CHAPTERS))
    write_feed(
        folder / "articles.xml",
        "The Test Gazette",
        base_url,
        [
            FeedEntry(slug, title, "2026-10-05T09:00:00Z", link=f"e2e/articles/{slug}.html")
            for slug, (title, _) in ARTICLES.items()
        ],
    )
    episodes = [
        FeedEntry(
            "ep-bridge",
            "The bridge closes",
            "2026-10-07T18:00:00Z",
            "<p>This week: the <em>bridge</em>.</p>",
            enclosure="audio/e2e-bridge.mp3",
        ),
        FeedEntry(
            "ep-library",
            "A library for Eastgate",
            "2026-10-08T18:00:00Z",
            enclosure="audio/e2e-library.m4a",
            enclosure_type="audio/mp4",
        ),
        FeedEntry("ep-missing", "Gone", "2026-10-09T18:00:00Z", enclosure="audio/e2e-missing.mp3"),
        FeedEntry("ep-random", "Noise", "2026-10-10T18:00:00Z", enclosure="audio/e2e-random.mp3"),
        FeedEntry("ep-silence", "Quiet", "2026-10-11T18:00:00Z", enclosure="audio/e2e-silence.mp3"),
        FeedEntry(
            "../../etc/passwd",
            PAYLOAD_TITLE,
            "2026-10-06T18:00:00Z",
            PAYLOAD_DESCRIPTION,
            enclosure="audio/e2e-bridge.mp3",
        ),
        FeedEntry(
            "ep-local-file", "Sneaky", "2026-10-12T18:00:00Z", enclosure="file:///etc/passwd"
        ),
        FeedEntry(
            "ep-tram",
            "The tram depot",
            "2026-10-09T18:00:00Z",
            enclosure="audio/e2e-bridge.mp3",
            content='<p>Full notes, <em>kept</em> <img src=x onerror="window.__pwned = 12">'
            "<svg><script>window.__pwned = 13</script></svg>"
            '<a href="javascript:window.__pwned = 14">a link</a></p>',
            extra=(
                ("transcript", {"url": "e2e/tram.json", "type": "application/json"}),
                (
                    "chapters",
                    {"url": "e2e/tram-chapters.json", "type": "application/json+chapters"},
                ),
            ),
        ),
    ]
    write_feed(folder / "podcast.xml", "Gazette <b>Weekly</b>", base_url, episodes)
    (folder / "not-a-feed.html").write_text("<html><body><p>No feed here</p></body></html>")
    (folder / "broken.xml").write_bytes(
        b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Broken</title>\n<item><guid>x'
        b"</guid><enclosure url=\x00\x01 <<<"
    )
    root = folder / "job"
    config = root / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'data = "data"\noutput = "site"\n'
        f'articles = ["{base_url}e2e/articles.xml", "{base_url}e2e/no-such-articles.xml"]\n'
        f'[[sources]]\nurl = "{base_url}e2e/podcast.xml"\n'
        f'[[sources]]\nurl = "{base_url}e2e/not-a-feed.html"\n'
        f'[[sources]]\nurl = "{base_url}e2e/broken.xml"\n'
        f'[render]\nmedia = "copy"\nbase_url = "{SITE_URL}"\n'
    )
    return {"root": root, "config": config, "site": folder}


@pytest.fixture(scope="session")
def first_run(outlet: dict):
    """The job's first run; the site it wrote is also copied to first-site, as it was, for
    the tests that read it after others have run the job again with other settings."""
    result = CliRunner().invoke(cli, ["-q", "--config", str(outlet["config"]), "run"])
    shutil.copytree(outlet["root"] / "site", outlet["root"] / "first-site")
    return result
