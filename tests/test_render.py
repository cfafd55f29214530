"""The render stage over a real catalog (SQLite) with transcripts written into it: what it
writes, what it leaves alone on a rerun, and the pieces the pages are made of."""

from __future__ import annotations

import json

import pytest

from transcribe.catalog import Catalog
from transcribe.records import Article, Episode, Link, PassageMatch, Segment, Transcript
from transcribe.render import RenderOptions, render_site, same_story, show_key
from transcribe.render.search import normalized_words, vocabulary


def episode(number: int, published: str, source: str = "https://news.example/feed.xml", **kw):
    return Episode(
        id=f"ep-{number}",
        source=source,
        title=f"Episode {number}",
        media_url=f"https://news.example/{number}.mp3",
        published=published,
        show=kw.pop("show", "The Weekly"),
        **kw,
    )


def add_transcribed(catalog: Catalog, item: Episode, text: str) -> None:
    catalog.record_episode(item)
    words = text.split()
    segments = [
        Segment(i * 5.0, i * 5.0 + 5.0, " ".join(words[i * 8 : i * 8 + 8]))
        for i in range((len(words) + 7) // 8)
    ]
    catalog.save_transcript(item.id, Transcript(segments, language="en", producer="test"))


@pytest.fixture()
def catalog():
    with Catalog(":memory:") as catalog:
        for n in range(1, 4):
            add_transcribed(
                catalog,
                episode(n, f"2026-10-0{n}T18:00:00+00:00"),
                f"Episode {n} talks about the Harlow Bridge and the Ashby River café flood, "
                "then about the council and its new library branch in Eastgate.",
            )
        yield catalog


def test_a_rerun_rewrites_nothing_and_a_change_rewrites_only_its_episode(catalog, tmp_path):
    options = RenderOptions(base_url="https://shows.example/")
    first = render_site(catalog, tmp_path, options)
    assert first.written > 0 and first.unchanged == 0
    assert (tmp_path / "episodes" / "ep-1.html").is_file()
    again = render_site(catalog, tmp_path, options)
    assert again.written == 0 and again.unchanged == 3

    add_transcribed(catalog, episode(4, "2026-10-09T18:00:00+00:00"), "A new one about buses.")
    page = tmp_path / "episodes" / "ep-1.html"
    before = page.stat().st_mtime_ns
    third = render_site(catalog, tmp_path, options)
    assert third.unchanged == 3  # the others were not rendered again
    assert (tmp_path / "episodes" / "ep-4.html").is_file()
    assert page.stat().st_mtime_ns == before
    changed = {p.relative_to(tmp_path).as_posix() for p in third.files}
    assert "episodes/ep-4.vtt" in changed and "episodes/ep-1.vtt" not in changed

    heard_again = Transcript([Segment(0.0, 5.0, "Changed words about the trains.")], "en", 1.0, 5.0)
    catalog.save_transcript("ep-2", heard_again)
    fourth = render_site(catalog, tmp_path, options)
    changed = {p.relative_to(tmp_path).as_posix() for p in fourth.files}
    assert fourth.unchanged == 3 and "episodes/ep-2.vtt" in changed
    assert "episodes/ep-1.vtt" not in changed and "episodes/ep-4.vtt" not in changed
    assert "trains" in (tmp_path / "episodes" / "ep-2.vtt").read_text()

    page.unlink()  # a page lost from the output is made again
    assert render_site(catalog, tmp_path, options).unchanged == 3
    assert page.is_file()


def test_srt_cues_hold_two_lines_of_32_characters(catalog, tmp_path):
    import srt

    long = "word " * 60 + "a-very-long-compound-word-that-no-line-can-hold-whole"
    add_transcribed(catalog, episode(9, "2026-10-09"), long)
    render_site(catalog, tmp_path, RenderOptions())
    cues = list(srt.parse((tmp_path / "episodes" / "ep-9.srt").read_text()))
    assert len(cues) > 3
    for cue in cues:
        lines = cue.content.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 32 for line in lines), cue
        assert cue.end > cue.start
    assert cues[0].start.total_seconds() == 0.0
    said = " ".join(cue.content.replace("\n", " ") for cue in cues).split()
    assert "".join(said).replace("word", "") == long.replace("word", "").replace(" ", "")


def test_episodes_that_link_mostly_the_same_articles_within_days_tell_one_story():
    a, b, c, d = (episode(n, f"2026-10-{n:02d}") for n in (1, 3, 4, 30))
    linked = {"ep-1": {1, 2, 3}, "ep-3": {1, 2, 9}, "ep-4": {1, 7, 8, 9}, "ep-30": {1, 2, 3}}
    found = same_story([a, b, c, d], linked)
    assert [(o.id, n) for o, n in found["ep-1"]] == [("ep-3", 2)]  # ep-30: 29 days apart
    assert [(o.id, n) for o, n in found["ep-3"]] == [("ep-1", 2), ("ep-4", 2)]
    assert [o.id for o, _ in found["ep-4"]] == ["ep-3"]  # ep-1: 1 of 3 in common


def test_the_same_story_is_shown_on_both_pages(catalog, tmp_path):
    article = Article(url="https://news.example/bridge", title="Bridge closes", text="x")
    article.id = catalog.add_article(article)
    for episode_id in ("ep-1", "ep-2"):
        match = PassageMatch(0.0, 5.0, 9.0, ("bridge",))
        catalog.save_links(episode_id, [Link(episode_id, article, 9.0, [match])], "test")
    render_site(catalog, tmp_path, RenderOptions())
    first = (tmp_path / "episodes" / "ep-1.html").read_text()
    second = (tmp_path / "episodes" / "ep-2.html").read_text()
    assert 'href="ep-2.html">Episode 2</a>' in first and 'href="ep-1.html">Episode 1</a>' in second
    assert "ep-3.html" not in first


def test_show_keys_are_slugs_that_no_title_can_turn_into_a_path():
    assert show_key("The Millbrook Weekly") == "the-millbrook-weekly"
    assert show_key("../../etc/passwd") == "etc-passwd"
    assert show_key("CON") == "con-show" and show_key("") == "show"
    assert show_key("a\x00b" * 40) == "a-b" + "a-b" * 12 + "a"  # 40 characters at most
    assert show_key("News", "https://a.example/feed") != show_key("News", "https://b.example/feed")


def test_two_shows_of_one_name_get_their_own_pages_and_feeds(catalog, tmp_path):
    add_transcribed(
        catalog, episode(7, "2026-10-07", source="https://other.example/feed.xml"), "Other."
    )
    render_site(catalog, tmp_path, RenderOptions(base_url="https://shows.example/"))
    assert len(list((tmp_path / "shows").glob("the-weekly-*.html"))) == 2
    assert len(list((tmp_path / "feeds").glob("the-weekly-*.xml"))) == 2


def test_search_index_finds_words_without_case_or_accents(catalog, tmp_path):
    render_site(catalog, tmp_path, RenderOptions())
    assert normalized_words("Café ZÜRICH, l'été") == ["cafe", "zurich", "l", "ete"]
    assert vocabulary("Café ZÜRICH, l'été: cafe\u0301 ﬁne") == {
        "cafe",
        "zurich",
        "l",
        "ete",
        "fine",
    }
    # a combining mark does not split a word: the page's script sees these words whole too
    assert vocabulary("İstanbul cafe\u0301s नमस्ते") == {"istanbul", "cafes", "नमसत"}
    words = (tmp_path / "search" / "words-c.js").read_text()
    table = json.loads(words[words.index("{") : words.rindex(")")])
    assert table["cafe"] == [0, 1, 2]
    text = (tmp_path / "search" / "text" / "ep-1.js").read_text()
    assert text.startswith('TranscribeSearch.addText("ep-1", [[0.0,"Episode 1 talks')


def test_without_a_base_url_there_is_no_feed_and_the_report_says_why(catalog, tmp_path):
    report = render_site(catalog, tmp_path, RenderOptions())
    assert not (tmp_path / "feeds").exists() and not (tmp_path / "sitemap.xml").exists()
    assert "base_url" in report.summary()


def test_the_enriched_feed_is_xml_readers_take_and_each_show_gets_its_own_files():
    from lxml import etree

    from transcribe.render.syndication import EpisodeFiles, enriched_feed

    original = (
        b'<?xml version="1.0"?><rss version="2.0" '
        b'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
        b"<title>A&nbsp;B &copy; &madeup;</title>"
        b'<item><guid>1</guid><enclosure url="https://b.example/1.mp3" type="audio/mpeg"/>'
        b'<podcast:chapters url="https://b.example/1.json" type="application/json+chapters"/>'
        b"</item></channel></rss>"
    )
    source = "https://b.example/feed.xml"
    mine = episode(1, "2026-10-01", source=source)
    mine.id = f"{source}#1"  # another show had guid "1" first: the fetch stage keeps both
    other = episode(1, "2026-10-01", source="https://a.example/feed.xml")
    other.id = "1"
    files = {
        e.id: EpisodeFiles([(f"https://s.example/{tag}.vtt", "text/vtt")], "en", "https://c")
        for e, tag in ((mine, "mine"), (other, "other"))
    }
    feed = enriched_feed(original, source, "B", [mine], files)
    root = etree.fromstring(feed)  # well-formed: no undefined entity left
    assert root.findtext("channel/title") == "A\xa0B © "
    item = root.find("channel/item")
    podcast = "{https://podcastindex.org/namespace/1.0}"
    assert [t.get("url") for t in item.iter(f"{podcast}transcript")] == [
        "https://s.example/mine.vtt"
    ]
    assert len(item.findall(f"{podcast}chapters")) == 1  # the publisher's, not a second


def test_page_summaries_are_plain_text_read_once():
    from transcribe.render import plain_text

    html = "<p>Tom &amp; Jerry say 1 &lt; 2</p><p>Next<script>alert(1)</script></p>"
    assert plain_text(html) == "Tom & Jerry say 1 < 2 Next"
    assert plain_text("&amp;lt;b&amp;gt;") == "&lt;b&gt;"  # an entity written out stays so


def test_a_change_within_the_same_second_is_rendered(catalog, tmp_path):
    from transcribe.records import Chapter

    catalog.save_chapters("ep-1", [Chapter(0.0, "First title")], "test", "found")
    render_site(catalog, tmp_path, RenderOptions())
    catalog.save_chapters("ep-1", [Chapter(0.0, "Second title")], "test", "found")
    render_site(catalog, tmp_path, RenderOptions())
    assert "Second title" in (tmp_path / "episodes" / "ep-1.html").read_text()
    catalog.save_chapters("ep-1", [], "test", "found")
    render_site(catalog, tmp_path, RenderOptions())
    assert not (tmp_path / "episodes" / "ep-1.chapters.json").exists()  # none left behind


def test_words_inside_text_written_without_spaces_are_indexed_as_pairs():
    assert normalized_words("讨论气候变化") == ["讨论", "论气", "气候", "候变", "变化"]
    assert normalized_words("東京 COVID19疫情") == ["東京", "covid19", "疫情"]
    assert normalized_words("気") == ["気"]


def test_an_article_without_a_web_address_is_named_not_linked(catalog, tmp_path):
    """A JSONL article's "urn:" id is no address a reader can open; the why line names
    the surest passage's names first."""
    stored = Article(url="urn:news.jsonl:a1", title="Bridge closes", text="x")
    web = Article(url="https://news.example/river", title="River floods", text="y")
    stored.id, web.id = catalog.add_article(stored), catalog.add_article(web)
    links = [
        Link(
            "ep-1",
            stored,
            9.0,
            [
                PassageMatch(0.0, 5.0, 3.0, ("bridge",), ("Tanner Creek",), confidence=0.6),
                PassageMatch(5.0, 10.0, 6.0, ("bridge",), ("Harlow Bridge",), confidence=0.9),
            ],
        ),
        Link("ep-1", web, 8.0, [PassageMatch(10.0, 15.0, 8.0, ("river",))]),
    ]
    catalog.save_links("ep-1", links, "test")
    render_site(catalog, tmp_path, RenderOptions())
    page = (tmp_path / "episodes" / "ep-1.html").read_text()
    assert '<span class="headline">Bridge closes</span>' in page and "urn:news" not in page
    assert '<a class="headline" href="https://news.example/river"' in page
    why = page.split('<p class="why">', 1)[1].split("</p>", 1)[0]
    assert why.index("Harlow Bridge") < why.index("Tanner Creek")
