"""Chapters: topic boundaries on a real FTS5 tokenizer, titles, and the JSON chapters format."""

from __future__ import annotations

import json
import re

import pytest
from conftest import SHARED

from transcribe.catalog import Catalog
from transcribe.chapters import ChapterOptions, find_chapters, parse_json_chapters
from transcribe.errors import ParseError
from transcribe.formats import json_chapters
from transcribe.linking import LinkingOptions, link_transcript
from transcribe.linking.prepare import prepare_index
from transcribe.records import Article, Chapter, Segment, Transcript

TOPICS = {
    "harbour": [
        "Dredging of the Port Ellery harbour is delayed again this month.",
        "Harbourmaster Ingrid Solberg says the permit from the Coastal Commission never came.",
        "The contractor Baltic Marine has two barges waiting outside the harbour mouth.",
        "Fishing boats scrape the channel at low tide, and skippers are losing catches.",
        "Solberg wants the dredging finished before the winter storms reach Port Ellery.",
        "Without the permit the barges and the dredger cost the harbour money every day.",
    ],
    "orchard": [
        "Over in the Verdon valley the apple growers picked a record harvest.",
        "The Verdon Growers Cooperative sold most of the Pippin apples to cider makers.",
        "Chairman Lucas Ferrand expects apple prices to fall as the cold stores fill.",
        "Pickers worked late into October to bring the apples in from the orchards.",
        "Cider makers in the valley are paying less per tonne than they did last autumn.",
        "Ferrand says growers may plant fewer Pippin trees if prices keep falling.",
    ],
    "council": [
        "Finally the city council meets to argue about the budget for the libraries.",
        "Councillors want to close two branch libraries to save on heating and staff.",
        "Readers and librarians plan a protest outside the town hall before the vote.",
        "The budget gap is four million, and the libraries are an easy target, critics say.",
        "The mayor promised the reading rooms would stay open on Saturday mornings.",
        "Library volunteers collected three thousand signatures against the closures.",
    ],
}


def episode_about(topics: list[str], seconds_each: float = 240.0, step: float = 15.0) -> Transcript:
    segments, t = [], 0.0
    for topic in topics:
        sentences = TOPICS[topic]
        for i in range(int(seconds_each / step)):
            segments.append(Segment(t, t + step, sentences[i % len(sentences)]))
            t += step
    return Transcript(segments=segments, language="en", duration=t)


@pytest.fixture()
def catalog():
    with Catalog(":memory:") as catalog:
        catalog.add_article(
            Article(
                url="https://news.example/harbour",
                title="Harbour dredging delayed by permit dispute",
                text=" ".join(TOPICS["harbour"][:3]),
            )
        )
        catalog.add_article(
            Article(
                url="https://news.example/orchard",
                title="Orchard harvest breaks record",
                text=" ".join(TOPICS["orchard"][:3]),
            )
        )
        yield catalog


def test_chapters_start_where_the_story_changes_and_take_the_matching_headline(catalog):
    transcript = episode_about(["harbour", "orchard", "council"])
    links = link_transcript(
        "e1", transcript, prepare_index(catalog, LinkingOptions()), LinkingOptions()
    )
    chapters = find_chapters(transcript, links, catalog, ChapterOptions())
    assert [round(c.start) for c in chapters] == [0, 240, 480]
    assert chapters[0].title == "Harbour dredging delayed by permit dispute"
    assert chapters[0].url == "https://news.example/harbour"
    assert chapters[1].title == "Orchard harvest breaks record"
    # no article about the libraries: the chapter's own key phrase, and no URL
    assert chapters[2].url == ""
    assert re.search(r"librar|budget|council", chapters[2].title, re.I)
    assert chapters[-1].end == transcript.duration


def test_without_articles_each_title_is_a_phrase_of_its_own_chapter(catalog):
    transcript = episode_about(["orchard", "harbour"], seconds_each=300)
    chapters = find_chapters(transcript, [], catalog, ChapterOptions())
    assert [round(c.start) for c in chapters] == [0, 300]
    assert re.search(r"apple|verdon|pippin|cider|ferrand|grower", chapters[0].title, re.I)
    assert re.search(r"harbour|solberg|barge|dredg|ellery|permit", chapters[1].title, re.I)


def test_no_chapter_is_shorter_than_the_minimum_or_longer_than_the_maximum(catalog):
    short = episode_about(["harbour", "orchard"], seconds_each=50)
    assert len(find_chapters(short, [], catalog, ChapterOptions())) == 1
    options = ChapterOptions(min_seconds=120, max_seconds=400)
    long_one = episode_about(["council"], seconds_each=1200)
    chapters = find_chapters(long_one, [], catalog, options)
    lengths = [c.end - c.start for c in chapters]
    assert len(chapters) >= 3 and max(lengths) <= 400 and min(lengths) >= 120


def test_json_chapters_read_the_spec_examples_and_write_version_1_2():
    folder = SHARED / "podcast-namespace" / "chapters"
    for example in ("example.json", "exampleComplex.json"):
        raw = json.loads((folder / example).read_text())
        chapters = parse_json_chapters((folder / example).read_text(), example)
        in_toc = [c for c in raw["chapters"] if c.get("toc", True) is not False]
        assert [c.start for c in chapters] == sorted(float(c["startTime"]) for c in in_toc)
        written = json.loads(json_chapters(chapters, "An episode"))
        assert written["version"] == "1.2.0" and written["title"] == "An episode"
        assert [c["startTime"] for c in written["chapters"]] == [c.start for c in chapters]
        assert all(set(c) <= {"startTime", "endTime", "title", "url"} for c in written["chapters"])
    again = parse_json_chapters(
        json_chapters([Chapter(0, "Intro"), Chapter(61.5, "News", "https://x.example/a")]), "x"
    )
    assert again == [Chapter(0.0, "Intro"), Chapter(61.5, "News", "https://x.example/a")]


@pytest.mark.parametrize("body", ["not json", "[]", '{"chapters": [{"title": "no start"}]}'])
def test_a_broken_chapters_file_is_a_clear_error(body):
    with pytest.raises(ParseError, match="not a JSON chapters file"):
        parse_json_chapters(body, "http://127.0.0.1/ch.json")


def test_the_publishers_chapter_file_cannot_smuggle_bad_times_or_links():
    body = json.dumps(
        {
            "version": "1.2.0",
            "chapters": [
                {"startTime": 0, "title": "Intro", "endTime": 1e999, "url": "javascript:alert(1)"},
                {"startTime": 30, "title": "News", "endTime": 10, "url": "https://x.example/a"},
                {"startTime": -5, "title": "Before the start"},
            ],
        }
    )
    chapters = parse_json_chapters(body, "http://127.0.0.1/ch.json")
    assert chapters == [Chapter(0.0, "Intro"), Chapter(30.0, "News", "https://x.example/a")]
    json.loads(json_chapters(chapters))  # strict JSON: no Infinity or NaN in it


def test_a_publisher_chapter_past_the_audio_keeps_an_unknown_end(catalog):
    from transcribe.chapters import with_articles

    transcript = episode_about(["harbour"], seconds_each=120)
    links = link_transcript(
        "e1", transcript, prepare_index(catalog, LinkingOptions()), LinkingOptions()
    )
    given = [Chapter(0.0, "Harbour"), Chapter(500.0, "After the end")]
    chapters = with_articles(given, links, transcript.duration)
    assert chapters[0].end == 500.0 and chapters[0].url == "https://news.example/harbour"
    assert chapters[1].end is None and chapters[1].url == ""
