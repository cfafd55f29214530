"""Linking: pure, over a literal index in plain Python, and over the catalog's real SQLite
FTS5 index once it is prepared."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest

from transcribe.catalog import Catalog
from transcribe.linking import (
    LinkIndex,
    LinkingOptions,
    Passage,
    link_text,
    link_transcript,
    passages,
)
from transcribe.linking.confidence import FEATURES, ConfidenceModel, MatchStrength, fit
from transcribe.linking.prepare import calibrate, prepare_index, profile_articles
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

# more of the outlet's archive, so that a literal index has stories to tell apart
ARCHIVE = [
    *ARTICLES,
    *(
        Article(url=f"https://news.example/{slug}", title=title, text=text)
        for slug, title, text in [
            (
                "tram",
                "Tram line to Westgate opens",
                "The new tram line from the station to Westgate opened on Monday. Transport "
                "director Amara Okafor said eleven thousand riders used it on the first day. "
                "Shopkeepers on Mill Road complained about the months of roadworks.",
            ),
            (
                "library",
                "Library roof repaired after storm",
                "Roofers finished repairing the Carnegie library roof, torn off by Storm Hilde "
                "in March. Librarian Tomasz Wierzbicki said the rare map collection stayed "
                "dry because volunteers moved it into the basement overnight.",
            ),
            (
                "rowing",
                "Rowing club wins regional title",
                "The Ellery Rowing Club won the regional eights title on the Lune river. Coach "
                "Beatrix Lindqvist credited a winter of early training, and the crew now aims "
                "for the national championship at Holme Pierrepont in July.",
            ),
            (
                "bakery",
                "Family bakery closes after ninety years",
                "Hollis and Daughters, the bakery on Quay Street, closes on Saturday after "
                "ninety years. Owner Miriam Hollis blamed flour and energy prices, and said "
                "the sourdough starter will go to the cookery school at Ellery College.",
            ),
            (
                "hospital",
                "Hospital opens new maternity wing",
                "St Brendan's hospital opened its new maternity wing with twelve birthing "
                "rooms. Chief midwife Olamide Adeyemi said waiting times for scans should "
                "halve, and the health trust paid for it with a grant from the lottery fund.",
            ),
            (
                "wind",
                "Offshore wind farm gets planning approval",
                "The Skerry Bank wind farm won planning approval for forty turbines off the "
                "coast. Developer Nordvind Energy said construction starts next spring, while "
                "the fishermen's association fears for the crab grounds.",
            ),
            (
                "school",
                "Primary school pupils plant a forest",
                "Pupils at Larkhill primary school planted two thousand saplings on the old "
                "quarry site. Headteacher Graham Pettifer said each class adopted a patch of "
                "oak and rowan, and the council fenced it against deer.",
            ),
            (
                "festival",
                "Folk festival moves to the castle grounds",
                "The Ellery folk festival moves to the castle grounds this summer after the "
                "showground flooded. Organiser Siobhan Garvey booked fiddler Aly Bain and "
                "expects eight thousand visitors over the weekend.",
            ),
            (
                "bridge",
                "Swing bridge stuck open for a week",
                "The Cotter swing bridge has been stuck open for a week after a motor failed. "
                "Engineers from Brunel Hydraulics are waiting for a part from Rotterdam, and "
                "drivers face a twenty minute detour through Ashby.",
            ),
        ]
    ),
]


class LiteralIndex:
    """The article index in plain Python (words lowercased, no stemming, idf-weighted
    overlap as the ranking): what linking reads, and nothing it could write with."""

    def __init__(self, articles: list[Article]):
        self.by_id = {n: replace(a, id=n) for n, a in enumerate(articles, 1)}
        self.terms = {n: set(self.tokenize(f"{a.title} {a.text}")) for n, a in self.by_id.items()}

    def tokenize(self, text: str) -> list[str]:
        return [w.lower() for w in re.findall(r"[^\W_]+", text)]

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        counts = {t: sum(t in held for held in self.terms.values()) for t in terms}
        return {t: n for t, n in counts.items() if n}

    def search_articles(self, terms: list[str], limit: int = 10) -> list[tuple[int, float]]:
        wanted = set(self.tokenize(" ".join(terms)))
        frequencies = self.document_frequencies(list(wanted))
        scores = {
            n: sum(math.log(1 + len(self.terms) / frequencies[t]) for t in wanted & held)
            for n, held in self.terms.items()
            if wanted & held
        }
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]

    def articles_with(self, terms: list[str]) -> dict[str, list[int]]:
        return {t: [n for n, held in self.terms.items() if t.lower() in held] for t in terms}

    def article(self, article_id: int) -> Article:
        return self.by_id[article_id]

    def article_ids(self) -> list[int]:
        return sorted(self.by_id)

    def article_count(self) -> int:
        return len(self.by_id)

    def article_profiles(self, article_ids: list[int]) -> dict:
        return {}  # nothing prepared: the scorer makes each profile in memory


@pytest.fixture(scope="module")
def literal() -> LinkIndex:
    articles = LiteralIndex(ARCHIVE)
    return LinkIndex(articles, calibrate(articles, LinkingOptions()))


def spoken(text: str, start: float = 0.0, seconds: float = 30.0) -> list[Segment]:
    return [Segment(start, start + seconds, text)]


def urls(links) -> list[str]:
    return [link.article.url.rsplit("/", 1)[1] for link in links if link.linked]


def test_passages_are_about_a_minute_and_a_short_tail_joins_the_last():
    segments = [Segment(t, t + 10, f"s{t}") for t in range(0, 130, 10)]
    windows = passages(segments, 60)
    assert [(p.start, p.end) for p in windows] == [(0, 60), (60, 130)]
    assert windows[0].text.startswith("s0 s10")


def test_the_confidence_model_is_fitted_to_the_archive_it_reads(literal):
    model = literal.confidence
    assert model.samples > 100 and model.accuracy > 0.8
    strong = MatchStrength(6.0, 1.0, 7.0, retrieval_margin=1.5, words=5.0, cosine=0.3)
    crowded = MatchStrength(6.0, 5.5, 7.0, retrieval_margin=0.1, words=5.0, cosine=0.3)
    faint = MatchStrength(1.5, 1.0, 9.0, retrieval_margin=0.2, words=1.0, cosine=0.05)
    assert model.confidence(strong) > 0.8
    assert model.confidence(faint) < 0.3
    assert model.confidence(crowded) < model.confidence(strong)


def test_fit_gives_probabilities_that_follow_the_evidence_and_stay_finite():
    rows = [(MatchStrength(s, 1.0, 6.0), s > 3) for s in (0.5, 1, 2, 2.5, 3.5, 4, 5, 6)]
    model = fit(rows)
    assert all(math.isfinite(c) for c in model.coefficients)  # separable, yet finite
    chances = [model.confidence(m) for m, _ in rows]
    assert chances == sorted(chances) and chances[0] < 0.5 < chances[-1]
    assert fit([]).confidence(MatchStrength(9.0, 0.0, 9.0)) < 1e-9  # nothing learnt: no link


def test_a_passage_links_to_the_story_it_tells_with_evidence_and_confidence(literal):
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
    links = link_transcript("ep", transcript, literal, LinkingOptions(passage_seconds=30))
    assert set(urls(links)) == {"harbour", "orchard"}
    harbour = next(link for link in links if link.article.url.endswith("harbour"))
    assert 0.5 <= harbour.confidence <= 1
    assert [(m.start, m.end) for m in harbour.evidence if m.linked] == [(60, 90)]
    assert {"Ellery", "Solberg", "Baltic"} <= set(harbour.shared_terms)
    assert {"Port Ellery", "Ingrid Solberg", "Coastal Commission", "Baltic Marine"} <= set(
        harbour.shared_names
    )


def test_one_sentence_about_a_story_inside_a_passage_about_something_else_is_found(literal):
    chatter = (
        "Thanks for listening again this week. We had so many messages from you about the "
        "weather and about the podcast itself. My cousin says the coffee machine at work "
        "broke again, and honestly nobody there knows how to fix it. "
    )
    mention = "Also, the Cotter swing bridge is stuck open and Brunel Hydraulics wait for a part. "
    text = chatter + mention + chatter.replace("this week", "as always")
    links = link_transcript(
        "ep", Transcript(spoken(text, seconds=60), "en"), literal, LinkingOptions()
    )
    assert urls(links) == ["bridge"]


def test_a_story_the_archive_does_not_hold_gets_no_link(literal):
    untold = (
        "A volcano erupted near Grindavik in Iceland overnight, and the Blue Lagoon closed "
        "while lava reached the road. Geologists from the Met Office expect more tremors."
    )
    links = link_text(untold, literal, LinkingOptions(top=10))
    assert urls(links) == []
    assert all(link.confidence < 0.5 for link in links)  # ranked, but not linked


def test_small_talk_links_to_nothing():
    # an outlet prints its everyday words (city, mayor, Tuesday) in many stories
    city = [
        Article(
            url=f"https://news.example/city-{n}",
            title=f"City {topic}",
            text=f"The mayor told the city on Tuesday that the town will review {topic}; "
            "people want a good year.",
        )
        for n, topic in enumerate(["bins", "parking", "parks", "schools", "trams", "rents"])
    ]
    articles = LiteralIndex(ARCHIVE + city)
    index = LinkIndex(articles, calibrate(articles, LinkingOptions()))
    text = "Today the mayor and the city people said the town wants a good year, on Tuesday."
    assert urls(link_text(text, index, LinkingOptions())) == []


def test_min_confidence_decides_what_is_linked_and_top_how_many_are_ranked(literal):
    text = "Ingrid Solberg at Port Ellery harbour waits for the Coastal Commission permit."
    ranked = link_text(text, literal, LinkingOptions())
    assert urls(ranked) == ["harbour"]
    sure = ranked[0].confidence
    assert urls(link_text(text, literal, LinkingOptions(min_confidence=min(1, sure + 0.001)))) == []
    assert len(link_text(text, literal, LinkingOptions(top=1, min_confidence=0))) == 1


# -- over the catalog's real index -------------------------------------------------------


@pytest.fixture()
def catalog():
    with Catalog(":memory:") as catalog:
        for article in ARCHIVE:
            catalog.add_article(article)
        yield catalog


def test_linking_a_prepared_catalog_writes_nothing(catalog):
    index = prepare_index(catalog, LinkingOptions())
    before = list(catalog.db.iterdump())  # every table but the tokenizer's scratch (temp)
    transcript = Transcript(
        spoken("Harbourmaster Ingrid Solberg waits for the Coastal Commission permit."), "en"
    )
    links = link_transcript("ep", transcript, index, LinkingOptions())
    assert urls(links) == ["harbour"]
    assert list(catalog.db.iterdump()) == before


def test_the_confidence_model_is_kept_and_fitted_again_when_the_archive_grows(catalog):
    first = prepare_index(catalog, LinkingOptions()).confidence
    stored = catalog.link_calibration()
    assert stored["coefficients"] == list(first.coefficients)
    assert stored["articles"] == len(ARCHIVE)
    assert prepare_index(catalog, LinkingOptions()).confidence == first
    for n in range(2):  # more than 1% more articles
        catalog.add_article(
            Article(
                url=f"https://news.example/ferry-{n}", title="Ferries", text="Ferries run late."
            )
        )
    grown = prepare_index(catalog, LinkingOptions()).confidence
    assert grown != first and catalog.link_calibration()["coefficients"] == list(grown.coefficients)
    assert catalog.link_calibration()["articles"] == len(ARCHIVE) + 2
    assert prepare_index(catalog, LinkingOptions(candidates=3)).confidence != first


def test_the_date_prior_prefers_the_story_of_the_week_but_keeps_an_old_strong_match(catalog):
    said = "Harbourmaster Ingrid Solberg of Port Ellery waits for the Coastal Commission permit."
    for url, published in (("old", "2025-01-10"), ("new", "2026-10-02")):
        catalog.add_article(
            Article(
                url=f"https://news.example/{url}",
                title="Dredging",
                text=said + " " + url,
                published=published,
            )
        )
    index = prepare_index(catalog, LinkingOptions())
    transcript = Transcript(spoken(said), language="en")
    linked = link_transcript(
        "ep", transcript, index, LinkingOptions(min_confidence=0), "2026-10-05"
    )
    dated = {x.article.url.rsplit("/", 1)[1]: x for x in linked}
    assert dated["new"].score > dated["old"].score
    assert (dated["new"].days_apart, dated["old"].days_apart) == (3, 633)
    assert dated["old"].score > dated["new"].score / 2 * 0.99  # the floor: halved at most
    undated = link_transcript(
        "ep", transcript, index, LinkingOptions(date_half_life_days=0, min_confidence=0)
    )
    scores = {x.article.url.rsplit("/", 1)[1]: x.score for x in undated}
    assert scores["new"] == scores["old"]


def test_dense_candidates_add_no_link_the_evidence_does_not_carry(catalog):
    dense = LinkingOptions(dense_model="minilm")
    index = prepare_index(catalog, dense)
    text = "Ingrid Solberg at Port Ellery harbour waits for the Coastal Commission permit."
    assert urls(link_text(text, index, dense)) == ["harbour"]
    assert urls(link_text("The weather was lovely and we had a picnic.", index, dense)) == []


def test_article_profiles_are_made_once_and_remade_when_the_text_changes(catalog):
    assert profile_articles(catalog) == len(ARCHIVE) and profile_articles(catalog) == 0
    harbour = catalog.find_article("https://news.example/harbour")
    profile = catalog.article_profiles([harbour])[harbour]
    assert "solberg" in profile.terms and "Ingrid Solberg" in profile.names
    assert profile.counts[profile.terms.index("harbour")] >= 2 and profile.norm > 0
    text = "Ingrid Solberg at Port Ellery harbour waits for the Coastal Commission permit."
    assert urls(link_text(text, prepare_index(catalog, LinkingOptions()), LinkingOptions()))
    catalog.add_article(
        Article(url="https://news.example/harbour", title="Ferry news", text="Ferries run late.")
    )
    assert harbour not in catalog.article_profiles([harbour])  # the old text's profile is gone
    index = prepare_index(catalog, LinkingOptions())
    assert (
        "ferri" in catalog.article_profiles([harbour])[harbour].terms
    )  # made again, of the new text
    assert "harbour" not in urls(link_text(text, index, LinkingOptions()))


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
            "Fishing boats scrape the channel at low tide while the dredging is delayed. "
            "And in the Verdon valley the Pippin apples went to cider makers, the growers "
            "cooperative chairman Lucas Ferrand said of the record harvest.",
            30,
        ),
        language="en",
    )
    options = LinkingOptions(passage_seconds=30, candidates=1)
    index = prepare_index(catalog, options)

    def harbour_evidence(chapters: list[tuple[float, float]]) -> list[tuple[float, float]]:
        links = link_transcript("ep", transcript, index, options, chapters=chapters)
        harbour = next(link for link in links if "harbour" in link.article.url)
        return [(m.start, m.end) for m in harbour.evidence if m.linked]

    assert harbour_evidence([]) == [(0, 30)]
    # judged by the chapter's retrieval, the offered article is confident there too
    assert harbour_evidence([(0, 60)]) == [(0, 30), (30, 60)]


def test_an_unfitted_model_links_nothing():
    articles = LiteralIndex(ARCHIVE)
    index = LinkIndex(articles, ConfidenceModel(coefficients=(-30.0, *[0.0] * (len(FEATURES) - 1))))
    text = "Ingrid Solberg at Port Ellery harbour waits for the Coastal Commission permit."
    assert urls(link_text(text, index, LinkingOptions())) == []


def test_passages_read_together_keep_their_own_words(literal):
    from transcribe.linking.scorer import Scorer

    texts = [
        "Great 🙂 harbour dredging permit for Port Ellery.",
        "The re\u0301sume\u0301 of Baltic Marine.",
        "Ingrid Solberg waits.",
    ]
    chunks = [Passage(0.0, 0.0, t) for t in texts]
    together = Scorer(literal.articles).read_all(chunks)
    alone = [Scorer(literal.articles).read(chunk) for chunk in chunks]
    assert [r.telling for r in together] == [r.telling for r in alone]
    assert "baltic" not in together[0].telling and "baltic" in together[1].telling


def test_a_name_said_longer_is_matched_at_the_part_printed():
    from transcribe.linking.words import name_matches, name_runs

    said = "New York New Jersey"
    assert name_matches([(said, name_runs(said))], " new jersey |") == {said: "New Jersey"}
    assert name_matches([("Ann", name_runs("Ann"))], " annual report |") == {}


def test_a_stretch_that_says_what_an_article_is_about_is_nearer_it_than_one_of_its_asides(literal):
    """The cosine weighs an article's terms by how often it prints them: the harbour
    story prints dredging, the harbour and the permit twice each, the barges and the
    tide once."""
    from transcribe.linking.scorer import Scorer

    scorer = Scorer(literal.articles)
    harbour = next(n for n, a in literal.articles.by_id.items() if a.url.endswith("/harbour"))

    def strength(text: str) -> MatchStrength:
        found = scorer.score(scorer.read(Passage(0.0, 0.0, text)))
        return next(c.strength for c in found if c.article_id == harbour)

    about = strength("The harbour dredging still waits for its permit.")
    aside = strength("Barges scrape the channel.")
    assert about.words == aside.words  # as much in common...
    assert about.cosine > 1.2 * aside.cosine > 0  # ...but about the story, not beside it
    assert 0 < aside.cosine < about.cosine <= 1


def test_calibration_tells_half_its_mentions_two_to_a_passage():
    from transcribe.linking.confidence import Mention, passages_told

    mentions = [Mention(n // 2, f"story {n // 2} part {n}") for n in range(12)]
    told = passages_told(mentions)
    assert [t.article_ids for t in told[:6]] == [(0,), (0,), (1,), (1,), (2,), (2,)]
    # two mentions of one article are no two stories: that pair is left out
    assert [t.article_ids for t in told[6:]] == []
    mixed = [Mention(n, f"story {n}") for n in range(8)]
    assert [t.article_ids for t in passages_told(mixed)] == [(0,), (1,), (2,), (3,), (4, 5), (6, 7)]
    assert passages_told(mixed)[-1].text == "story 6 story 7"


def test_calibration_looks_up_a_story_left_out_as_one_the_archive_never_held(literal):
    """Left out, an article's words count as printed one article less often, and a word
    only it prints is unknown: a real absent story's own words match nothing and are no
    part of what its best match covers, and so are the sampled ones'."""
    from transcribe.linking.scorer import Scorer

    scorer = Scorer(literal.articles)
    harbour = next(n for n, a in literal.articles.by_id.items() if a.url.endswith("/harbour"))
    said = "Ingrid Solberg is waiting for the council permit at Ellery."
    reading = scorer.read(Passage(0.0, 0.0, said))
    assert {"solberg", "permit", "council", "ellery"} <= set(reading.telling)
    weights = dict(scorer.term_weight)
    with scorer.without(frozenset({harbour})):
        gone = scorer.again(reading)
        assert "solberg" not in gone.telling and "permit" not in gone.telling
        assert {"council", "ellery"} <= set(gone.telling)  # other stories print them
        assert scorer.term_weight["ellery"] > weights["ellery"]  # rarer without one
        assert scorer.term_weight["council"] == weights["council"]
        assert all(c.article_id != harbour for c in scorer.score(gone, exclude={harbour}))
    assert dict(scorer.term_weight) == weights and scorer.read(reading.passage) == reading
