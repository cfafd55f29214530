"""The Gazette's rendered site in a real browser (Debian's chromium, driven by Playwright,
pages opened from file:// as a reader who downloaded the site would), and its files checked
by real parsers: feedparser and lxml for the enriched feed, webvtt-py and srt for the
captions, the Podcasting 2.0 examples for the JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
from conftest import SHARED
from gazette import PAYLOAD_TITLE, SITE_URL
from lxml import etree

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
PODCAST = "{https://podcastindex.org/namespace/1.0}"


@pytest.fixture(scope="module")
def shownotes(outlet, first_run) -> Path:
    return outlet["root"] / "first-site"


@dataclass(frozen=True)
class Site:
    folder: Path
    played: str  # an episode to play
    searched: str  # an episode to search
    searched_title: str


@pytest.fixture(scope="module", params=["gazette", "demo"])
def site_under_test(request) -> Site:
    """The Gazette's site (payloads, failures) and the bundled demo's (what `make run` makes)."""
    if request.param == "gazette":
        folder = request.getfixturevalue("shownotes")
        return Site(folder, "ep-bridge", "ep-library", "A library for Eastgate")
    result, folder = request.getfixturevalue("demo_run")
    assert result.exit_code == 0, result.output
    return Site(
        folder / "out",
        "millbrook-weekly-001",
        "millbrook-weekly-002",
        "A Library for Eastgate and Farm Food in the Cafeteria",
    )


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "make test installs Debian's chromium (make system-packages)"
    with sync_playwright() as playwright:
        # as root the sandbox cannot start; the pages are our own, opened from disk
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Watched:
    """A page whose console errors, uncaught exceptions and dialogs are recorded."""

    def __init__(self, browser, **context):
        self.page = browser.new_page(**context)
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        self.page.on(
            "dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss())
        )

    def open(self, path: Path, suffix: str = ""):
        self.page.goto(path.as_uri() + suffix)
        self.page.wait_for_load_state("load")
        return self.page

    def current_time(self) -> float:
        return self.page.evaluate("document.getElementById('player').currentTime")

    def player_ready(self) -> None:
        self.page.wait_for_function("document.getElementById('player').readyState >= 1")


@pytest.fixture()
def watched(browser):
    tab = Watched(browser)
    yield tab
    tab.page.close()


def segment_count(shownotes: Path, episode_id: str) -> int:
    return len(json.loads((shownotes / "episodes" / f"{episode_id}.json").read_text())["segments"])


def episode_page(shownotes: Path, episode_id: str) -> Path:
    return shownotes / "episodes" / f"{episode_id}.html"


def test_every_page_loads_with_no_console_error(site_under_test, watched):
    shownotes = site_under_test.folder
    pages = [
        shownotes / "index.html",
        shownotes / "search.html",
        *sorted((shownotes / "shows").glob("*.html")),
    ]
    pages += sorted((shownotes / "episodes").glob("*.html"))
    assert len(pages) >= 6
    for path in pages:
        page = watched.open(path)
        assert page.locator("main h1").count() == 1, path
    assert watched.problems == []


def test_clicking_a_timestamp_or_a_word_seeks_the_player(site_under_test, watched):
    page = watched.open(episode_page(site_under_test.folder, site_under_test.played))
    watched.player_ready()
    player = "document.getElementById('player')"
    word = page.locator(".seg").last  # (Whisper cuts a short clip into one segment or more)
    said_at = float(word.get_attribute("data-t"))
    page.evaluate(f"{player}.currentTime = {said_at + 5}")
    word.click()
    assert abs(watched.current_time() - said_at) < 0.5  # it plays on from there
    assert page.locator(".seg.now").last.get_attribute("data-t") == word.get_attribute("data-t")
    page.evaluate(f"{player}.pause(); {player}.currentTime = 9")
    page.locator(".para a.ts").first.focus()  # by keyboard: a timestamp is a link
    page.keyboard.press("Enter")
    assert watched.current_time() < 0.5
    assert page.url.endswith("#t=0:00")
    assert watched.problems == []


def test_a_deep_link_starts_the_player_there(site_under_test, watched):
    watched.open(episode_page(site_under_test.folder, site_under_test.played), "#t=0:04")
    watched.player_ready()
    watched.page.wait_for_function("document.getElementById('player').currentTime > 3.9")
    assert watched.current_time() == pytest.approx(4.0)


def test_search_finds_a_phrase_and_opens_the_episode_where_it_was_said(site_under_test, watched):
    shownotes, searched = site_under_test.folder, site_under_test.searched
    said = json.loads((shownotes / "episodes" / f"{searched}.json").read_text())["segments"]
    segment = said[1] if len(said) > 1 else said[0]
    phrase = " ".join(segment["body"].split()[1:4])
    page = watched.open(shownotes / "search.html", f"?q={phrase}")
    page.wait_for_selector("#results li")
    first = page.locator("#results > li").filter(
        has=page.get_by_role("heading", name=site_under_test.searched_title, exact=True)
    )
    assert first.count() == 1
    assert phrase.split()[0].strip(".,").lower() in first.locator("mark").first.inner_text().lower()
    first.locator("a.ts").first.click()
    page.wait_for_url(f"**/episodes/{searched}.html#t=*")
    watched.player_ready()
    page.wait_for_function(
        f"document.getElementById('player').currentTime >= {int(segment['startTime'])}"
    )
    assert int(watched.current_time()) == int(segment["startTime"])

    page = watched.open(shownotes / "search.html", "?q=words+nobody+said+anywhere")
    page.wait_for_function("document.getElementById('search-status').textContent.length > 0")
    assert page.locator("#results li").count() == 0
    assert "No episode says" in page.locator("#search-status").inner_text()
    assert watched.problems == []


def test_feed_payloads_run_no_script_in_the_browser(shownotes, watched):
    pages = [p for p in (shownotes / "episodes").glob("h.*.html") if "Bridge news" in p.read_text()]
    assert pages
    every = sorted((shownotes / "episodes").glob("*.html"))  # ep-tram: article, chapters, ...
    for path in [*every, shownotes / "index.html", *sorted((shownotes / "shows").glob("*.html"))]:
        page = watched.open(path)
        assert page.evaluate("window.__pwned") is None, path
    for query in ("bridge", "velvet lane", "script window pwned"):  # results show the text
        page = watched.open(shownotes / "search.html", f"?q={query}")
        page.wait_for_selector("#results li")
        assert page.evaluate("window.__pwned") is None
    assert watched.problems == []  # no alert() ran
    # the title reaches the JSON-LD whole, and cannot close its script element
    page = watched.open(pages[0])
    data = json.loads(page.locator("script[type='application/ld+json']").inner_text())
    assert data["@type"] == "PodcastEpisode" and data["name"] == PAYLOAD_TITLE
    assert data["url"].startswith(SITE_URL + "episodes/h.")


def test_an_episode_page_reads_as_show_notes(site_under_test, watched):
    """The description under the title, the episode in a listener's words, a way to
    subscribe, each related article with one line of why (the full evidence folded away),
    and a link to the moment playing that can be copied."""
    page = watched.open(episode_page(site_under_test.folder, site_under_test.played))
    if page.locator(".description").count():
        assert page.locator("main h1 + .description").count() == 1
    meta = page.locator("p.meta").first.inner_text()
    assert " in English" in meta and " · en" not in meta
    assert page.locator("a.subscribe").count() == 1
    made = page.locator("p.meta").nth(1).inner_text()
    assert "speech recognition" in made or "publisher" in made
    related = page.locator(".related li")
    assert related.count() >= 1
    first = related.first
    assert first.locator(".why a[data-t]").count() >= 1 and first.locator(".why").is_visible()
    details = first.locator("details.evidence")
    assert not details.evaluate("d => d.open")
    assert not first.get_by_text("Words in common").is_visible()
    details.locator("summary").click()
    assert first.get_by_text("Words in common").is_visible()

    watched.player_ready()
    page.evaluate("document.getElementById('player').currentTime = 4")
    page.locator("button.copy-moment").click()
    page.wait_for_function("document.querySelector('output.copied').textContent.length > 0")
    copied = page.locator("output.copied").inner_text()
    assert copied.endswith(f"{site_under_test.played}.html#t=0:04"), copied
    assert watched.problems == []


def test_the_index_lists_descriptions_without_repeating_the_title(site_under_test, watched):
    shownotes = site_under_test.folder
    page = watched.open(shownotes / "index.html")
    assert page.locator("main h1").bounding_box()["height"] <= 1  # for screen readers only
    assert page.locator("header .home").is_visible()
    summaries = page.locator(".episodes li .summary")
    assert summaries.count() >= 1 and len(summaries.first.inner_text()) <= 201
    for path in (shownotes / "index.html", shownotes / "search.html", *shownotes.glob("shows/*")):
        assert watched.open(path).locator("a.subscribe").count() >= 1, path
    assert watched.problems == []


def test_pages_have_landmarks_labels_and_fit_a_phone(site_under_test, browser):
    shownotes = site_under_test.folder
    tab = Watched(browser, viewport={"width": 375, "height": 740})
    for path in (
        shownotes / "index.html",
        episode_page(shownotes, site_under_test.played),
        shownotes / "search.html",
    ):
        page = tab.open(path)
        for landmark in ("header", "main", "footer", "form[role=search]"):
            assert page.locator(landmark).count() >= 1, (path, landmark)
        unlabelled = page.evaluate(
            "[...document.querySelectorAll('input')].filter(i => !i.labels.length).length"
        )
        assert unlabelled == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    tab.page.close()
    assert tab.problems == []


def test_the_enriched_feed_parses_and_carries_a_transcript_tag_per_format(shownotes):
    [feed_file] = [p for p in (shownotes / "feeds").glob("*.xml") if "gazette" in p.name]
    parsed = feedparser.parse(feed_file.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Gazette <b>Weekly</b>"
    ids = [entry.id for entry in parsed.entries]
    assert {"ep-bridge", "ep-library", "ep-missing"} <= set(ids)  # the original items, all
    root = etree.fromstring(feed_file.read_bytes())
    items = {item.findtext("guid"): item for item in root.iter("item")}
    bridge = items["ep-bridge"]
    tags = bridge.findall(f"{PODCAST}transcript")
    assert {t.get("type") for t in tags} == {
        "text/vtt",
        "application/x-subrip",
        "text/plain",
        "application/json",
    }
    assert all(t.get("url").startswith(SITE_URL + "episodes/ep-bridge.") for t in tags)
    assert all(t.get("language") == "en" for t in tags)
    assert {t.get("rel") for t in tags} == {"captions", None}
    assert bridge.find("enclosure").get("url").endswith("e2e-bridge.mp3")  # kept as it was
    assert items["ep-missing"].find(f"{PODCAST}transcript") is None  # failed: nothing to add
    chapters = bridge.find(f"{PODCAST}chapters")
    assert chapters is None or chapters.get("type") == "application/json+chapters"
    sitemap = etree.fromstring((shownotes / "sitemap.xml").read_bytes())
    locations = [e.text for e in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert SITE_URL + "episodes/ep-bridge.html" in locations


def test_transcript_files_pass_their_parsers_and_match_the_examples(shownotes):
    import srt
    import webvtt

    folder = shownotes / "episodes"
    cues = webvtt.read(str(folder / "ep-bridge.vtt"))
    assert len(cues) == segment_count(shownotes, "ep-bridge")
    assert "Harlow" in " ".join(c.text for c in cues)
    captions = list(srt.parse((folder / "ep-bridge.srt").read_text()))
    assert (
        captions
        and all(len(line) <= 32 for c in captions for line in c.content.split("\n"))
        and all(c.content.count("\n") <= 1 for c in captions)
    )
    ours = json.loads((folder / "ep-bridge.json").read_text())
    example = json.loads(
        (SHARED / "podcast-namespace" / "transcripts" / "example.json").read_text()
    )
    assert ours["version"] == example["version"]
    assert set(ours["segments"][0]) <= set(example["segments"][0]) | {"speaker"}
    examples = SHARED / "podcast-namespace" / "transcripts"
    assert len(webvtt.read(str(examples / "example.vtt"))) > 0  # the parsers read the spec's own
    assert len(list(srt.parse((examples / "example.srt").read_text()))) > 0


def test_search_finds_a_word_inside_text_written_without_spaces(tmp_path, watched):
    from transcribe.catalog import Catalog
    from transcribe.records import Episode, Segment, Transcript
    from transcribe.render import RenderOptions, render_site

    said = [
        Segment(0.0, 6.0, "大家好，欢迎收听本周的新闻。"),
        Segment(6.0, 12.0, "我们今天讨论气候变化，然后谈谈经济。"),
        Segment(12.0, 18.0, "東京の天気は晴れです。"),
    ]
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.record_episode(
            Episode(id="zh-1", source="https://zh.example/feed", title="新闻", media_url="")
        )
        catalog.save_transcript("zh-1", Transcript(said, language="zh", producer="test"))
        render_site(catalog, tmp_path / "site", RenderOptions())
    for query, start in (("气候变化", "0:06"), ("经济", "0:06"), ("天気", "0:12")):
        page = watched.open(tmp_path / "site" / "search.html", f"?q={query}")
        page.wait_for_selector("#results li")
        link = page.locator("#results a.ts").first
        assert link.inner_text() == start, query
        assert link.get_attribute("href") == f"episodes/zh-1.html#t={start}"
    page = watched.open(tmp_path / "site" / "search.html", "?q=变化经济")  # not said together
    page.wait_for_function("document.getElementById('search-status').textContent.length > 0")
    assert page.locator("#results li").count() == 0
    assert watched.problems == []


def test_the_timeline_draws_speakers_chapters_and_articles_and_seeks(site_under_test, watched):
    """Under the player: the turns, the chapters and the articles' stretches, placed by
    time; hovering names them (title), a click plays from there, the playhead follows."""
    page = watched.open(episode_page(site_under_test.folder, site_under_test.played))
    watched.player_ready()
    speakers = page.locator(".timeline .track-speakers .mark")
    first = page.locator(".para .who").first.inner_text()  # who speaks first
    assert speakers.count() >= 1 and first in speakers.first.get_attribute("title")
    legend = page.locator(".timeline .legend li").all_inner_texts()  # a label for each
    assert set(legend) == set(page.locator(".para .who").all_inner_texts()) and legend[0] == first
    chapters = page.locator(".chapters li").count()
    assert page.locator(".timeline .track-chapters .mark").count() == chapters
    if page.locator(".related .headline").count():
        assert page.locator(".timeline .track-articles .mark").count() >= 1
    marks = page.locator(".timeline .mark")
    starts = [float(t) for t in marks.evaluate_all("ms => ms.map(m => m.dataset.t)")]
    latest = max(range(len(starts)), key=starts.__getitem__)
    assert starts[latest] > 1
    marks.nth(latest).click()
    assert abs(watched.current_time() - starts[latest]) < 0.5
    page.wait_for_function(
        "parseFloat(document.querySelector('.timeline .playhead').style.left) > 0"
    )
    assert watched.problems == []
