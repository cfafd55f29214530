"""The articles stage: the outlet's reporting, from feeds, pages and JSONL files.

A feed lists articles; each linked page is fetched once (by URL) and its text extracted
with trafilatura. Pages are fetched here, not by trafilatura, whose SSRF guard refuses
loopback addresses (the tests and the demo serve pages on 127.0.0.1). One article that fails
is reported and skipped; the others go on.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from . import http
from .catalog import Catalog
from .errors import ArticleError, FetchError
from .feeds import (
    FeedItem,
    NotAFeedError,
    is_sitemap,
    iso_date,
    looks_like_feed,
    parse_feed,
    parse_sitemap,
)
from .linking.prepare import article_profile
from .records import Article

log = logging.getLogger(__name__)

MIN_WORDS = 20  # less text than this is not an article worth linking
GLOSSARY_DAYS = 14  # the articles around an episode's date that lend it their names


def names_in_the_news(catalog: Catalog, date: str, limit: int) -> list[str]:
    """The names the outlet's articles used in the weeks around a date (ISO 8601), those in
    the most of them first: a glossary for Whisper, so it spells them the newsroom's way.
    Names found in more than a tenth of all the articles (and more than 3) are left out:
    the outlet's staples ("Ukraine", "NATO") are words Whisper knows, and would crowd the
    rare ones out. The names come from the articles' stored profiles."""
    try:
        day = datetime.fromisoformat(date[:10])
    except ValueError:
        return []
    window = timedelta(days=GLOSSARY_DAYS)
    articles = catalog.articles_between(
        (day - window).date().isoformat(), (day + window).date().isoformat()
    )
    counts: Counter[str] = Counter()
    for article in articles:
        assert article.id is not None  # read from the catalog
        # each once, in the article's order: a set's order changes with every process's
        # string hashing, and so would the tie order, the prompt and the words Whisper writes
        counts.update(list(dict.fromkeys(article_profile(catalog, article.id).names)))
    names = [name for name, _ in counts.most_common()]
    terms = {name: catalog.tokenize(name) for name in names}
    catalog.refresh_term_stats()
    frequencies = catalog.document_frequencies(t for found in terms.values() for t in found)
    staple_above = max(catalog.article_count() / 10, 3)

    def staple(name: str) -> bool:
        return min((frequencies.get(t, 0) for t in terms[name]), default=0) > staple_above

    return [n for n in names if not staple(n)][:limit]


@dataclass
class IngestReport:
    added: int = 0
    refreshed: int = 0  # known, fetched again because the feed or sitemap says it changed
    known: int = 0  # already in the catalog: not fetched again
    twins: int = 0  # the body of an article already there, under another URL: one article
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.added} added", f"{self.known} already known"]
        if self.refreshed:
            parts.append(f"{self.refreshed} refreshed")
        if self.twins:
            parts.append(f"{self.twins} copies of known articles")
        if self.errors:
            parts.append(f"{len(self.errors)} failed")
        return ", ".join(parts)


def ingest_articles(
    catalog: Catalog,
    sources: list[str],
    timeout: float = 30.0,
    allow_file_urls: bool = False,
    on_article: Callable[[str], None] | None = None,
) -> IngestReport:
    """Add the articles of each source to the catalog and its index: a feed, a sitemap (or
    sitemap index), a page, or a JSONL file. Known articles are not fetched again unless
    their feed or sitemap says they changed since."""
    report = IngestReport()
    for source in sources:
        try:
            for found in _articles_of(catalog, source, timeout, allow_file_urls, report):
                article = found.article
                if catalog.find_article(article.url) is not None and not found.refresh:
                    catalog.add_article_url(found.fetched_from, article.url)  # another URL
                    report.known += 1
                    continue
                # the same body already stored, under another URL or (refetched) this one:
                # remember the URLs and the date, and leave the index and the links alone
                twin = catalog.twin_of(article) or (
                    article.url if found.refresh and catalog.same_body(article) else None
                )
                if twin:
                    for url in {article.url, found.fetched_from} - {twin}:
                        catalog.add_article_url(url, twin)
                    catalog.note_modified(twin, article.modified)
                    if found.refresh:
                        report.known += 1
                    else:
                        report.twins += 1
                    continue
                catalog.add_article(article, fetched_from=found.fetched_from)
                report.added += not found.refresh
                report.refreshed += found.refresh
                if on_article:
                    on_article(article.title)
        except (ArticleError, FetchError, NotAFeedError) as e:
            report.errors.append(str(e))
            log.debug("articles: %s", e)  # reported with the others, once
    return report


@dataclass
class _Found:
    article: Article
    fetched_from: str  # the URL it was listed under (the article's own may be canonical)
    refresh: bool = False  # known, but the listing says it changed


def _articles_of(
    catalog: Catalog, source: str, timeout: float, allow_file_urls: bool, report: IngestReport
) -> Iterator[_Found]:
    """Each article of a source that is new, or changed since it was fetched."""
    if "://" not in source:
        path = Path(source)
        if path.is_dir():
            raise ArticleError(
                f"{source}: a folder; give its files: .jsonl records, pages, feeds or sitemaps"
            )
        if _is_jsonl(path):
            yield from _from_jsonl(path, catalog, report)
            return
        # a page, feed or sitemap saved on disk: the user named it, so it is read (the
        # file:// guard is for what a config's feeds point to)
        response = http.get(path.resolve().as_uri(), timeout=timeout, allow_file=True)
    else:
        response = http.get(source, timeout=timeout, allow_file=allow_file_urls)
    listing = _listing(response.body, source, timeout, allow_file_urls, report)
    if listing is not None:
        outlet, entries = listing
        for entry in entries:
            if not entry.link:
                continue
            refresh = catalog.find_article(entry.link) is not None
            if refresh and not entry.updated > catalog.article_modified(entry.link):
                report.known += 1
                continue
            try:
                article = _from_feed_entry(entry, outlet, source, timeout, allow_file_urls)
                yield _Found(article, entry.link, refresh)
            except (ArticleError, FetchError) as e:
                report.errors.append(str(e))
                log.debug("articles: %s", e)  # reported with the others, once
        return
    if catalog.find_article(response.url) is not None:
        report.known += 1
        return
    yield _Found(extract_article(response.body, response.url, source=source), source)


MAX_SITEMAPS = 200  # a sitemap index is followed this far (one level of nesting)


def _listing(
    body: bytes, source: str, timeout: float, allow_file_urls: bool, report: IngestReport
) -> tuple[str, list[FeedItem]] | None:
    """(outlet, entries) when the document is a feed or a sitemap; None for a page."""
    if is_sitemap(body) or body[:2] == b"\x1f\x8b":
        sitemap = parse_sitemap(body, source)
        entries = list(sitemap.pages)
        for child in sitemap.sitemaps[:MAX_SITEMAPS]:
            try:
                nested = parse_sitemap(
                    http.get(child, timeout=timeout, allow_file=allow_file_urls).body, child
                )
                entries.extend(nested.pages)
            except (FetchError, NotAFeedError) as e:
                report.errors.append(f"{child}: {e}")
        if len(sitemap.sitemaps) > MAX_SITEMAPS:
            log.warning("%s: only the first %d sitemaps are read", source, MAX_SITEMAPS)
        return "", entries
    if looks_like_feed(body):
        try:
            feed = parse_feed(body, source)
        except NotAFeedError:
            return None
        return feed.title, feed.entries
    return None


def _from_feed_entry(
    entry: FeedItem, outlet: str, source: str, timeout: float, allow_file_urls: bool
) -> Article:
    """The linked page's text; the feed's own full text when the page cannot be had."""
    try:
        page = http.get(entry.link, timeout=timeout, allow_file=allow_file_urls)
        article = extract_article(page.body, entry.link, source=source)
    except (ArticleError, FetchError) as e:
        fallback = html_to_text(entry.content_html or entry.description)
        if len(fallback.split()) < MIN_WORDS:
            raise
        log.info("articles: %s; using the feed's text", e)
        article = Article(url=entry.link, title=entry.title, text=fallback, source=source)
    article.title = entry.title or article.title
    article.published = entry.published or article.published
    article.author = article.author or entry.author
    article.outlet = article.outlet or outlet
    article.tags = article.tags or ", ".join(entry.tags)
    article.modified = entry.updated
    return article


def extract_article(html: bytes | str, url: str, source: str = "") -> Article:
    """Title, date, author and body text of an article page (trafilatura)."""
    import trafilatura

    # bytes go in as they came: trafilatura reads the page's own charset (or guesses it)
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ArticleError(f"{url}: not an HTML page")
    canonical = _canonical_url(tree)  # before extraction, which prunes the tree
    extracted = trafilatura.extract(
        tree, url=url, output_format="json", with_metadata=True, include_comments=False
    )
    if not extracted:
        raise ArticleError(f"{url}: no article text found on the page")
    data = json.loads(extracted)
    text = (data.get("text") or "").strip()
    if len(text.split()) < MIN_WORDS:
        raise ArticleError(f"{url}: the page's text is too short to be an article")
    return Article(
        url=canonical or url,
        title=(data.get("title") or "").strip() or url,
        text=text,
        published=data.get("date") or "",
        author=(data.get("author") or "").strip(),
        source=source,
        outlet=(data.get("sitename") or data.get("hostname") or "").strip(),
        section=(data.get("categories") or "").split(",")[0].strip(),
        tags=(data.get("tags") or "").strip(),
    )


def _canonical_url(tree) -> str:  # noqa: ANN001 - an lxml tree
    """The page's own <link rel="canonical">: the article's identity across mirrors."""
    hrefs = tree.xpath("//link[@rel='canonical']/@href")
    href = str(hrefs[0]).strip() if hrefs else ""
    return href if http.is_web(href) else ""


def html_to_text(html: str) -> str:
    if not html.strip():
        return ""
    from lxml import html as lxml_html

    try:
        return " ".join(lxml_html.fromstring(html).text_content().split())
    except Exception:  # lxml refuses some fragments; their text is the text
        return " ".join(html.split())


def _is_jsonl(path: Path) -> bool:
    """A local file of article records (its first character "{"), or one that cannot be
    read (whose error the JSONL reader gives); not a page, feed or sitemap ("<")."""
    try:
        with open(path, "rb") as f:
            start = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return True
    return not start.startswith((b"<", b"\x1f\x8b"))


def _from_jsonl(path: Path, catalog: Catalog, report: IngestReport) -> Iterator[_Found]:
    """One JSON object a line: url (or id), text (or body); optional title, published,
    author, outlet, section, tags, and modified (a newer one than stored replaces it)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ArticleError(f"{path}: cannot read ({e})") from e
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            url = record.get("url") or f"urn:{path.name}:{record['id']}"
            text = record.get("text") or record["body"]
            for field_name, value in (("url", url), ("text", text)):
                if not isinstance(value, str):
                    raise TypeError(f"{field_name} is a {type(value).__name__}, not text")
            for optional in ("title", "published", "author", "outlet", "section", "modified"):
                if not isinstance(record.get(optional) or "", str):
                    raise TypeError(f"{optional} is not text")
            tags = record.get("tags") or []
            tags = [tags] if isinstance(tags, str) else [str(t) for t in tags]
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            report.errors.append(f"{path}:{number}: not an article record ({e})")
            continue
        modified = iso_date(record.get("modified") or "")
        refresh = catalog.find_article(url) is not None
        if refresh and not modified > catalog.article_modified(url):
            report.known += 1
            continue
        article = Article(
            url=url,
            title=record.get("title") or text.split(".")[0][:120],
            text=text,
            published=iso_date(record.get("published") or "") or record.get("published") or "",
            author=record.get("author") or "",
            source=str(path),
            outlet=record.get("outlet") or record.get("source_country") or "",
            section=record.get("section") or "",
            tags=", ".join(tags),
            modified=modified,
        )
        yield _Found(article, url, refresh)
