"""Real podcast feeds (../shared/data/feeds), listed through yt-dlp from 127.0.0.1."""

from __future__ import annotations

import shutil

import pytest
from conftest import SHARED

from transcribe.errors import FetchError
from transcribe.feeds import parse_feed
from transcribe.fetch import list_source

# file: (items, items with a podcast:transcript tag... counted as tags, items with chapters)
FEEDS = {
    "pc20rss.xml": (56, 47, 48),
    "no-agenda.xml": (29, 29, 29),  # not well-formed: an undefined entity
    "themnshow.xml": (54, 56, 54),
    "homegrown-hits.xml": (4, 0, 4),
    "sentimental-garbage.xml": (138, 0, 0),  # whitespace before the XML declaration
    "1865.xml": (61, 0, 0),
    "animated-no-agenda.xml": (20, 0, 0),
    "changing-the-tide.xml": (15, 0, 0),
    "dk-podcast.xml": (59, 0, 0),
    "launched.xml": (36, 0, 0),
}


@pytest.fixture(scope="module")
def feeds_url(site, base_url):
    folder = site / "feeds"
    shutil.copytree(SHARED / "feeds", folder, dirs_exist_ok=True)
    return base_url + "feeds/"


@pytest.mark.parametrize("name", sorted(FEEDS))
def test_every_real_feed_lists_all_its_items(feeds_url, name):
    items, transcripts, chapters = FEEDS[name]
    episodes = list_source(feeds_url + name)
    assert len(episodes) == items
    assert len({e.id for e in episodes}) == items  # stable, distinct ids
    assert sum(len(e.transcripts) for e in episodes) == transcripts
    assert sum(bool(e.chapters_url) for e in episodes) == chapters
    assert all(e.media_url.startswith("http") and e.title for e in episodes)


def test_feed_fields_that_yt_dlp_ignores_are_read(feeds_url):
    episodes = list_source(feeds_url + "pc20rss.xml")
    newest = episodes[0]
    assert newest.id == "PC2057"
    assert newest.published == "2021-10-08T18:55:32+00:00"
    assert newest.transcripts[0].url == "https://mp3s.nashownotes.com/PC20-57-Captions.srt"
    assert newest.transcripts[0].type == "application/srt"
    assert newest.chapters_url.endswith("/PC2057")
    videos = list_source(feeds_url + "animated-no-agenda.xml")
    assert {e.kind for e in videos} == {"video"}


def test_limit_takes_the_first_items_of_the_full_listing(feeds_url):
    assert [e.id for e in list_source(feeds_url + "1865.xml", limit=2)] == [
        e.id for e in list_source(feeds_url + "1865.xml")[:2]
    ]


def test_atom_feed_is_read_where_yt_dlp_refuses_it(site, base_url):
    atom = site / "feeds" / "atom.xml"
    atom.parent.mkdir(exist_ok=True)
    atom.write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom show</title>'
        "<entry><id>urn:ep:1</id><title>One</title><updated>2026-01-02T03:04:05Z</updated>"
        '<link rel="enclosure" type="audio/mpeg" href="http://127.0.0.1:9/one.mp3"/></entry>'
        "<entry><id>urn:ep:2</id><title>No media</title></entry></feed>"
    )
    episodes = list_source(base_url + "feeds/atom.xml")
    assert [(e.id, e.title, e.published, e.show) for e in episodes] == [
        ("urn:ep:1", "One", "2026-01-02T03:04:05+00:00", "Atom show")
    ]


def test_a_page_that_is_no_feed_is_a_clear_error(site, base_url):
    (site / "feeds" / "page.html").write_text("<html><body>hello</body></html>")
    with pytest.raises(FetchError, match="page.html"):
        list_source(base_url + "feeds/page.html")


def test_file_urls_are_refused_unless_allowed():
    with pytest.raises(FetchError, match="file://"):
        list_source((SHARED / "feeds" / "launched.xml").as_uri())
    assert (
        len(list_source((SHARED / "feeds" / "launched.xml").as_uri(), allow_file_urls=True)) == 36
    )


def test_parser_needs_no_network_and_expands_no_entities(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the feed parser opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&x;</title><item><guid>g</guid><title>t</title>'
        b'<enclosure url="http://127.0.0.1:9/a.mp3" type="audio/mpeg"/></item></channel></rss>'
    )
    feed = parse_feed(body, "http://example.invalid/feed")
    assert "root:" not in feed.title
    assert [e.id for e in feed.items] == ["g"]


def rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()


def item(guid: str, date: str = "", duration: str = "", url: str = "") -> str:
    url = url or f"http://127.0.0.1:9/{guid}.mp3"
    return (
        f"<item><guid>{guid}</guid><title>{guid}</title><pubDate>{date}</pubDate>"
        f'<itunes:duration xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">{duration}'
        f'</itunes:duration><enclosure url="{url}" type="audio/mpeg"/></item>'
    )


def test_odd_dates_and_durations_are_dropped_not_fatal():
    feed = parse_feed(
        rss(
            item("far-future", "Sat, 31 Dec 9999 23:00:00 -0500", "inf")
            + item("negative", "not a date", "-5")
            + item("fine", "Tue, 06 Oct 2026 18:00:00 GMT", "1:02:03")
        ),
        "http://x.example/feed",
    )
    assert [(e.id, e.published, e.duration) for e in feed.items] == [
        ("far-future", "", None),
        ("negative", "", None),
        ("fine", "2026-10-06T18:00:00+00:00", 3723.0),
    ]


def test_a_repeated_guid_keeps_both_episodes():
    feed = parse_feed(
        rss(item("1", url="http://h/part1.mp3") + item("1", url="http://h/part2.mp3")), "u"
    )
    assert [e.id for e in feed.items] == ["1", "1#http://h/part2.mp3"]


def test_limit_counts_from_the_newest_whatever_the_feed_order(site, base_url):
    (site / "feeds" / "oldest-first.xml").write_bytes(
        rss("".join(item(f"ep{n}", f"Mon, 0{n} Jun 2026 10:00:00 GMT") for n in range(1, 6)))
    )
    newest = list_source(base_url + "feeds/oldest-first.xml", limit=2)
    assert [e.id for e in newest] == ["ep5", "ep4"]


def test_a_gzip_bomb_sitemap_is_refused_not_inflated():
    import gzip

    from transcribe.feeds import NotAFeedError, parse_sitemap

    bomb = gzip.compress(b"<urlset>" + b" " * (60 * 2**20) + b"</urlset>")
    assert len(bomb) < 2**20
    with pytest.raises(NotAFeedError, match="over 50 MiB"):
        parse_sitemap(bomb, "http://127.0.0.1/sitemap.xml.gz")
    with pytest.raises(NotAFeedError, match="broken gzip"):
        parse_sitemap(b"\x1f\x8b not gzip at all", "http://127.0.0.1/s.xml.gz")


def test_a_busy_servers_wait_is_read_whatever_it_says():
    from transcribe.http import MAX_WAIT, retry_after

    assert retry_after("3", 0) == 3.0
    assert retry_after("-5", 0) == 0.0 and retry_after("nan", 1) == 2.0
    assert retry_after("99999", 0) == MAX_WAIT and retry_after("soon", 2) == 4.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0) == 0.0  # a date in the past
    assert retry_after(None, 3) == 8.0
