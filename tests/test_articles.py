"""Article ingestion from pages, feeds and JSONL, into a real catalog and FTS5 index."""

from __future__ import annotations

import json
import os

from conftest import SHARED, article_page

from transcribe.articles import extract_article, ingest_articles
from transcribe.catalog import Catalog
from transcribe.demo import FeedEntry, write_feed
from transcribe.records import Article

STORY = [
    "The Kessling ferry terminal reopened on Friday after a three-week strike by dock staff.",
    "The Dockworkers Union said members accepted a pay offer from Nordlys Lines, which runs "
    "the crossings to the islands of Torvik and Hallam.",
    "Travellers queued from dawn, and the first sailing left at seven with every seat taken.",
]


def test_extraction_keeps_the_story_and_drops_the_boilerplate():
    html = article_page(
        "Ferries sail again", STORY, canonical="https://n.example/ferries", author="Ada Lind"
    )
    article = extract_article(html, "http://127.0.0.1:1/ferries.html")
    assert article.url == "https://n.example/ferries"  # the canonical URL is the identity
    assert article.title == "Ferries sail again" and article.author == "Ada Lind"
    assert "Nordlys Lines" in article.text and "All rights reserved" not in article.text


def test_feed_and_pages_ingest_once_and_a_dead_page_is_one_error(site, base_url, tmp_path):
    folder = site / "articles-test"
    folder.mkdir(exist_ok=True)
    (folder / "ferries.html").write_text(article_page("Ferries sail again", STORY))
    (folder / "short.html").write_text(article_page("Brief", ["Too short to be news."]))
    write_feed(
        folder / "feed.xml",
        "Island News",
        base_url,
        [
            FeedEntry(
                "1", "Ferries sail again", "2026-10-01T08:00:00Z", link="articles-test/ferries.html"
            ),
            FeedEntry("2", "Gone", "2026-10-02T08:00:00Z", link="articles-test/missing.html"),
            FeedEntry("3", "Brief", "2026-10-03T08:00:00Z", link="articles-test/short.html"),
        ],
    )
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        report = ingest_articles(catalog, [base_url + "articles-test/feed.xml"])
        assert report.added == 1 and len(report.errors) == 2
        assert any("missing.html: HTTP 404" in e for e in report.errors)
        assert any("too short" in e for e in report.errors)
        [article] = catalog.articles()
        assert article.published == "2026-10-01T08:00:00+00:00" and article.outlet == "Island News"
        assert catalog.search_articles(catalog.tokenize("Nordlys ferry"))[0][0] == article.id

        again = ingest_articles(catalog, [base_url + "articles-test/feed.xml"])
        assert again.added == 0 and again.known == 1  # fetched once, by URL
        page = ingest_articles(catalog, [base_url + "articles-test/ferries.html"])
        assert page.added == 0 and page.known == 1  # same article, reached as a page
        assert catalog.article_count() == 1


def test_real_news_jsonl_ingests_and_indexes_and_twins_are_one_article(tmp_path):
    news = SHARED / "news" / "ukraine-war-dev.jsonl"
    records = [json.loads(line) for line in news.read_text().splitlines()]
    bodies = {" ".join(r["body"].lower().split()) for r in records}
    twins = [r for r in records if r["duplicate_of"] in {x["id"] for x in records}]
    assert twins and len(bodies) < len(records)  # the file has republished copies
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        report = ingest_articles(catalog, [str(news)])
        assert report.added == len(bodies) == catalog.article_count() and not report.errors
        assert report.twins == len(records) - len(bodies)
        for twin in twins:  # the copy's id leads to the article it copies
            assert catalog.find_article(f"urn:{news.name}:{twin['id']}") == catalog.find_article(
                f"urn:{news.name}:{twin['duplicate_of']}"
            )
        hits = catalog.search_articles(catalog.tokenize("Zaporizhzhia nuclear power plant"), 5)
        assert len(hits) == 5
        assert "Zaporizhzhia" in catalog.article(hits[0][0]).text
        assert (
            ingest_articles(catalog, [str(SHARED / "news" / "ukraine-war-dev.jsonl")]).known == 224
        )


def test_a_missing_source_is_a_clear_error(tmp_path):
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        report = ingest_articles(catalog, [str(tmp_path / "nope.jsonl"), "http://127.0.0.1:9/rss"])
    assert report.added == 0 and len(report.errors) == 2
    assert "nope.jsonl" in report.errors[0] and "127.0.0.1:9" in report.errors[1]


def test_page_in_a_legacy_charset_is_read_in_its_charset():
    html = article_page(
        "Le pont réparé",
        [
            "Le conseil municipal a approuvé la réparation du "
            "pont après trois années de débats entre les élus et les habitants."
        ]
        * 3,
    )
    page = html.replace('charset="utf-8"', 'charset="iso-8859-1"').encode("latin-1")
    article = extract_article(page, "http://127.0.0.1:1/pont.html")
    assert article.title == "Le pont réparé" and "approuvé" in article.text


def test_jsonl_records_of_the_wrong_shape_are_reported_one_by_one(tmp_path):
    import json

    path = tmp_path / "odd.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"url": "https://x/1", "text": 5},
                {"url": "https://x/2", "title": ["a"], "text": "words " * 30},
                {"url": "https://x/3", "title": "Fine", "text": "words " * 30},
                ["not", "an", "object"],
            ]
        )
    )
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        report = ingest_articles(catalog, [str(path)])
    assert report.added == 1 and len(report.errors) == 3
    assert all("not an article record" in e for e in report.errors)


def test_a_malformed_link_is_one_articles_error(site, base_url, tmp_path):
    folder = site / "articles-odd"
    folder.mkdir(exist_ok=True)
    write_feed(
        folder / "feed.xml",
        "Odd",
        base_url,
        [
            FeedEntry("1", "Spaces", "2026-10-01T08:00:00Z", link="http://127.0.0.1:9/a b\nc"),
        ],
    )
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        report = ingest_articles(catalog, [base_url + "articles-odd/feed.xml"])
    assert report.added == 0 and len(report.errors) == 1


LIBRARY = [
    "The Eastgate branch library opens its doors on Monday after a two-year rebuild.",
    "Librarian Ada Okafor said the new reading room holds twelve thousand books and a "
    "makerspace with three laser cutters, paid for by the Wren Foundation.",
    "Children's story hour returns on Saturday mornings, and the cafe serves local honey.",
]


def _sitemap(urls: list[tuple[str, str, str]]) -> str:
    """A news sitemap: (loc, title, keywords) for each page."""
    entries = "".join(
        f"<url><loc>{loc}</loc><lastmod>2026-10-05T10:00:00Z</lastmod><news:news>"
        "<news:publication><news:name>Test Gazette</news:name><news:language>en"
        "</news:language></news:publication>"
        f"<news:publication_date>2026-10-04T09:00:00Z</news:publication_date>"
        f"<news:title>{title}</news:title><news:keywords>{keywords}</news:keywords>"
        "</news:news></url>"
        for loc, title, keywords in urls
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + entries + "</urlset>"
    )


def test_a_sitemap_index_leads_to_news_sitemaps_plain_and_gzipped(site, base_url, tmp_path):
    import gzip

    folder = site / "sitemap-test"
    folder.mkdir(exist_ok=True)
    (folder / "ferries.html").write_text(article_page("Ferries", STORY))
    (folder / "library.html").write_text(article_page("Library", LIBRARY))
    (folder / "news-1.xml").write_text(
        _sitemap(
            [(base_url + "sitemap-test/ferries.html", "Ferries sail again", "ferries, strike")]
        )
    )
    (folder / "news-2.xml.gz").write_bytes(
        gzip.compress(
            _sitemap(
                [(base_url + "sitemap-test/library.html", "A library reopens", "books")]
            ).encode()
        )
    )
    children = ["news-1.xml", "news-2.xml.gz", "gone.xml"]
    (folder / "sitemap.xml").write_text(
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<sitemap><loc>{base_url}sitemap-test/{c}</loc></sitemap>" for c in children)
        + "</sitemapindex>"
    )
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        report = ingest_articles(catalog, [base_url + "sitemap-test/sitemap.xml"])
        assert report.added == 2
        assert len(report.errors) == 1 and "gone.xml" in report.errors[0]  # the others go on
        articles = {a.title: a for a in catalog.articles()}
        assert set(articles) == {"Ferries sail again", "A library reopens"}
        ferries = articles["Ferries sail again"]
        assert ferries.published == "2026-10-04T09:00:00+00:00"
        assert ferries.tags == "ferries, strike" and "Nordlys" in ferries.text
        assert ingest_articles(catalog, [base_url + "sitemap-test/sitemap.xml"]).known == 2


def test_an_article_is_fetched_again_only_when_its_feed_says_it_changed(site, base_url, tmp_path):
    folder = site / "refresh-test"
    folder.mkdir(exist_ok=True)
    page = folder / "library.html"
    page.write_text(article_page("Library", LIBRARY))

    def atom(updated: str) -> None:
        (folder / "feed.xml").write_text(
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Gazette</title>'
            f"<entry><id>lib</id><title>A library reopens</title><updated>{updated}</updated>"
            f'<link rel="alternate" href="{base_url}refresh-test/library.html"/>'
            '<category term="Culture"/></entry></feed>'
        )

    feed = base_url + "refresh-test/feed.xml"
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        atom("2026-10-05T10:00:00Z")
        assert ingest_articles(catalog, [feed]).added == 1
        page.write_text(article_page("Library", [*LIBRARY, "Correction: the cafe opens in May."]))
        unchanged = ingest_articles(catalog, [feed])
        assert unchanged.known == 1 and unchanged.refreshed == 0
        assert "Correction" not in catalog.articles()[0].text  # not fetched again
        atom("2026-10-06T12:00:00Z")
        changed = ingest_articles(catalog, [feed])
        assert changed.refreshed == 1 and changed.added == 0 and "1 refreshed" in changed.summary()
        [article] = catalog.articles()
        assert "Correction" in article.text and article.tags == "Culture"
        assert catalog.search_articles(catalog.tokenize("correction cafe May"))[0][0] == article.id


def test_the_glossary_holds_the_names_of_the_weeks_around_the_date_without_staples(tmp_path):
    from transcribe.articles import names_in_the_news

    def story(n: int, day: str, names: str) -> Article:
        return Article(
            url=f"https://news.example/{n}",
            title=f"Story {n}",
            text=f"Reporters in Ukraine met {names} on the road to the front, said officials.",
            published=day,
        )

    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        for n, (day, names) in enumerate(
            [
                ("2023-06-01", "Yevgeny Prigozhin and Sergei Shoigu"),
                ("2023-06-05", "Yevgeny Prigozhin"),
                ("2023-06-20", "Valery Gerasimov, Oleksandr Syrskyi and Kyrylo Budanov"),
                ("2023-09-01", "Oleksii Reznikov"),  # months away: not in the glossary
            ]
        ):
            catalog.add_article(story(n, day, names))
        glossary = names_in_the_news(catalog, "2023-06-08T10:00:00Z", limit=10)
        assert glossary[0] == "Yevgeny Prigozhin"  # in the most articles of the fortnight
        assert {"Sergei Shoigu", "Valery Gerasimov"} <= set(glossary)
        assert "Oleksii Reznikov" not in glossary
        assert "Ukraine" not in glossary  # in every article: a staple Whisper knows
        assert names_in_the_news(catalog, "2023-06-08", limit=1) == ["Yevgeny Prigozhin"]
        assert names_in_the_news(catalog, "", limit=10) == []
    # the same glossary in every process (ties, such as the two names of one article, are
    # not left to the order of a set, which string hashing changes from run to run)
    import subprocess
    import sys

    code = (
        "import sys; from transcribe.catalog import Catalog;"
        "from transcribe.articles import names_in_the_news as n;"
        "print(n(Catalog(sys.argv[1]), '2023-06-08', 10))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "catalog.sqlite")],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert len(runs) == 1, runs


def test_a_dated_copy_settles_and_an_unchanged_refetch_touches_nothing(tmp_path):
    body = " ".join(LIBRARY)
    path = tmp_path / "wire.jsonl"

    def write(modified: str) -> None:
        path.write_text(
            "\n".join(json.dumps({"id": i, "body": body, "modified": modified}) for i in ("a", "b"))
            + "\n"
        )

    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        write("2026-10-01T10:00:00Z")
        first = ingest_articles(catalog, [str(path)])
        assert (first.added, first.twins) == (1, 1)
        stamp = catalog.articles_stamp()
        again = ingest_articles(catalog, [str(path)])
        assert again.known == 2 and catalog.article_count() == 1
        write("2026-10-03T10:00:00Z")  # newer dates, the same text: nothing to redo
        later = ingest_articles(catalog, [str(path)])
        assert later.refreshed == 0 and catalog.article_count() == 1
        assert catalog.articles_stamp() == stamp  # links and chapters stay as they are
        assert ingest_articles(catalog, [str(path)]).known == 2
