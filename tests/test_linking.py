"""Linking over a real SQLite FTS5 index, with literal articles and passages."""

from __future__ import annotations

import pytest

from transcribe.catalog import Catalog
from transcribe.linking import LinkingOptions, link_text, link_transcript, passages
from transcribe.records import Article, Segment, Transcript

ARTICLES = [
    Article(
        url="https://news.example/harbour",
        title="Harbour dredging delayed by permit dispute",
        text="Dredging of the Port Ellery harbour is delayed. Harbourmaster Ingrid Solberg said "
        "the Coastal Commission has not issued the permit, and the contractor Baltic Marine "
        "is waiting with two barges. Fishing boats already scrape the channel at low tide.",
    ),
    Article(
        url="https://news.example/orchard",
        title="Orchard harvest breaks record",
        text="Apple growers in the Verdon valley picked a record harvest. The Verdon Growers "
        "Cooperative said cider makers bought most of the Pippin apples, and chairman Lucas "
        "Ferrand expects prices to fall as the cold stores fill.",
    ),
    Article(
        url="https://news.example/council",
        title="City council meets on Tuesday",
        text="The city council meets on Tuesday to discuss the budget. The mayor said people "
        "want the town to spend wisely this year and residents can attend the meeting.",
    ),
]


@pytest.fixture()
def catalog():
    with Catalog(":memory:") as catalog:
        for article in ARTICLES:
            catalog.add_article(article)
        yield catalog


def spoken(text: str, start: float = 0.0, seconds: float = 30.0) -> list[Segment]:
    return [Segment(start, start + seconds, text)]


def test_passages_are_about_a_minute_and_a_short_tail_joins_the_last():
    segments = [Segment(t, t + 10, f"s{t}") for t in range(0, 130, 10)]
    windows = passages(segments, 60)
    assert [(p.start, p.end) for p in windows] == [(0, 60), (60, 130)]
    assert windows[0].text.startswith("s0 s10")


def test_passage_links_to_the_article_it_talks_about_with_evidence(catalog):
    transcript = Transcript(
        spoken(
            "Down at Port Ellery the harbourmaster Ingrid Solberg is still waiting for "
            "the Coastal Commission, while Baltic Marine keeps two barges idle.",
            60,
        )
        + spoken(
            "Meanwhile in the Verdon valley the Pippin apples sold to cider makers, "
            "says Lucas Ferrand of the growers cooperative.",
            120,
        ),
        language="en",
    )
    links = link_transcript("ep", transcript, catalog, LinkingOptions(passage_seconds=30))
    assert {link.article.url for link in links} == {
        "https://news.example/harbour",
        "https://news.example/orchard",
    }
    harbour = next(link for link in links if "harbour" in link.article.url)
    assert [(m.start, m.end) for m in harbour.evidence] == [(60, 90)]
    assert {"Ellery", "Solberg", "Baltic"} <= set(harbour.shared_terms)
    assert "the" not in harbour.shared_terms
    # names said and printed alike are evidence of their own, and raise the score
    assert {"Port Ellery", "Ingrid Solberg", "Coastal Commission", "Baltic Marine"} <= set(
        harbour.shared_names
    )
    without = link_transcript(
        "ep", transcript, catalog, LinkingOptions(passage_seconds=30, name_weight=0)
    )
    assert harbour.score == next(x for x in without if "harbour" in x.article.url).score + 4


def test_small_talk_links_to_nothing(catalog):
    # an outlet prints its everyday words (city, mayor, Tuesday) in many stories
    for n, topic in enumerate(["bins", "parking", "parks", "schools", "trams", "rents"]):
        catalog.add_article(
            Article(
                url=f"https://news.example/city-{n}",
                title=f"City {topic}",
                text=f"The mayor told the city on Tuesday that the town will review {topic}; "
                "people want a good year.",
            )
        )
    text = "Today the mayor and the city people said the town wants a good year, on Tuesday."
    assert link_text(text, catalog, LinkingOptions()) == []


def test_threshold_and_top_are_honoured(catalog):
    text = "Ingrid Solberg at Port Ellery harbour waits for the Coastal Commission permit."
    assert len(link_text(text, catalog, LinkingOptions())) == 1
    assert link_text(text, catalog, LinkingOptions(min_score=100, min_covered_score=100)) == []
    # a passage all about the article counts from the lower score
    assert link_text(text, catalog, LinkingOptions(min_score=100, min_covered_score=4))
    assert link_text(text, catalog, LinkingOptions(min_score=100, min_coverage=1.1)) == []
    assert link_text(text, catalog, LinkingOptions(min_shared_terms=50)) == []


def test_empty_catalog_links_nothing():
    with Catalog(":memory:") as empty:
        assert link_text("Port Ellery harbour", empty, LinkingOptions()) == []


def test_the_date_prior_prefers_the_story_of_the_week_but_keeps_an_old_strong_match():
    said = "Harbourmaster Ingrid Solberg of Port Ellery waits for the Coastal Commission permit."
    with Catalog(":memory:") as catalog:
        for n, topic in enumerate(["rail fares", "school meals", "a marathon", "the zoo"] * 3):
            catalog.add_article(
                Article(
                    url=f"https://news.example/{n}", title=topic, text=f"A story about {topic}."
                )
            )
        for url, published in (("old", "2025-01-10"), ("new", "2026-10-02")):
            catalog.add_article(
                Article(
                    url=f"https://news.example/{url}",
                    title="Dredging",
                    text=said + " " + url,
                    published=published,
                )
            )
        transcript = Transcript(spoken(said), language="en")
        linked = link_transcript(
            "ep", transcript, catalog, LinkingOptions(), published="2026-10-05"
        )
        assert [x.article.url for x in linked] == [
            "https://news.example/new",
            "https://news.example/old",
        ]
        assert [x.days_apart for x in linked] == [3, 633]
        assert linked[1].score > linked[0].score / 2 * 0.99  # the floor: halved at most
        undated = link_transcript(
            "ep", transcript, catalog, LinkingOptions(date_half_life_days=0), published="2026-10-05"
        )
        assert undated[0].score == undated[1].score


def test_dense_candidates_add_no_link_the_evidence_does_not_carry(catalog):
    text = "Ingrid Solberg at Port Ellery harbour waits for the Coastal Commission permit."
    dense = LinkingOptions(dense_model="minilm")
    assert [x.article.url for x in link_text(text, catalog, dense)] == [
        "https://news.example/harbour"
    ]
    assert link_text("The weather was lovely and we had a picnic.", catalog, dense) == []


def test_article_profiles_are_made_once_and_remade_when_the_text_changes(catalog):
    from transcribe.linking import profile_articles

    assert profile_articles(catalog) == 3 and profile_articles(catalog) == 0
    harbour = catalog.find_article("https://news.example/harbour")
    terms, names = catalog.article_profile(harbour)
    assert "solberg" in terms and "Ingrid Solberg" in names
    text = "Ingrid Solberg at Port Ellery harbour waits for the Coastal Commission permit."
    assert link_text(text, catalog, LinkingOptions())
    catalog.add_article(
        Article(url="https://news.example/harbour", title="Ferry news", text="Ferries run late.")
    )
    assert catalog.article_profile(harbour) is None  # the old text's profile is gone
    assert link_text(text, catalog, LinkingOptions()) == []


def test_a_chapter_offers_its_story_to_a_passage_that_found_another(catalog):
    # the second passage's own best article is the orchard (it says more of its words);
    # its chapter, which opens on the harbour's names, finds the harbour, and the passage's
    # words about the harbour are then evidence for it too
    transcript = Transcript(
        spoken(
            "Harbourmaster Ingrid Solberg at Port Ellery says the Baltic Marine barges wait "
            "for the Coastal Commission permit.",
            0,
        )
        + spoken(
            "Fishing boats scrape the channel at low tide while the dredging is delayed, "
            "and in the Verdon valley the Pippin apples went to cider makers, the growers "
            "cooperative chairman Lucas Ferrand said of the record harvest.",
            30,
        ),
        language="en",
    )
    options = LinkingOptions(passage_seconds=30, candidates=1)

    def harbour_evidence(chapters: list[tuple[float, float]]) -> list[tuple[float, float]]:
        links = link_transcript("ep", transcript, catalog, options, chapters=chapters)
        harbour = next(link for link in links if "harbour" in link.article.url)
        return [(m.start, m.end) for m in harbour.evidence]

    assert harbour_evidence([]) == [(0, 30)]
    assert harbour_evidence([(0, 60)]) == [(0, 30), (30, 60)]
