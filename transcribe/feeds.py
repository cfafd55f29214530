"""Reading podcast feeds (RSS 2.0 and Atom) for what yt-dlp leaves out.

yt-dlp lists an RSS feed's enclosures but ignores `<podcast:transcript>`, `<podcast:chapters>`,
`content:encoded` and the item link, takes no Atom, and gives up on a feed that is not
well-formed. This parser is lenient (lxml's recovering parser, no entity expansion, no
network) and returns Episodes; fetch.py merges them with what yt-dlp lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

from .errors import NotAFeedError
from .records import Episode, FeedLink, Person

NS = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
    "media": "http://search.yahoo.com/mrss/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}


# Feeds from before the namespace settled use the GitHub address of its documentation.
PODCAST_NAMESPACES = {
    NS["podcast"],
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
}


@dataclass
class FeedItem:
    """One <item> or <entry>, whatever it announces (an episode or an article)."""

    guid: str
    title: str
    link: str
    published: str
    description: str
    content_html: str
    author: str = ""
    enclosure_url: str = ""
    enclosure_type: str = ""
    duration: float | None = None
    image: str = ""
    transcripts: list[FeedLink] = field(default_factory=list)
    chapters_url: str = ""
    updated: str = ""  # when the publisher says the item last changed
    tags: list[str] = field(default_factory=list)  # categories or keywords
    people: list[Person] = field(default_factory=list)


@dataclass
class Feed:
    title: str
    url: str
    description: str = ""
    link: str = ""
    image: str = ""
    entries: list[FeedItem] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)  # the channel's, for items without
    malformed: str = ""  # the first XML error the lenient parser recovered from

    @property
    def items(self) -> list[Episode]:
        """The entries that carry media, as episodes (the others have nothing to play)."""
        return [
            self._episode(entry, episode_id)
            for entry, episode_id in zip(self.entries, self.entry_ids(), strict=True)
            if episode_id
        ]

    def entry_ids(self) -> list[str]:
        """Each entry's episode id, in the feed's order ("" for an entry without media). A
        guid the feed repeats is made distinct by the enclosure, so no episode is lost."""
        ids: list[str] = []
        seen: set[str] = set()
        for entry in self.entries:
            episode_id = entry.guid or entry.enclosure_url if entry.enclosure_url else ""
            if episode_id and episode_id in seen:
                episode_id = f"{episode_id}#{entry.enclosure_url}"
            seen.add(episode_id)
            ids.append(episode_id)
        return ids

    @property
    def skipped(self) -> int:
        return sum(1 for e in self.entries if not e.enclosure_url)

    def _episode(self, entry: FeedItem, episode_id: str) -> Episode:
        return Episode(
            id=episode_id,
            source=self.url,
            show=self.title,
            title=entry.title or entry.guid or entry.enclosure_url,
            media_url=entry.enclosure_url,
            published=entry.published,
            description=entry.description,
            content_html=entry.content_html,
            link=entry.link,
            duration=entry.duration,
            image=entry.image or self.image,
            transcripts=entry.transcripts,
            chapters_url=entry.chapters_url,
            kind="video" if entry.enclosure_type.startswith("video/") else "audio",
            people=entry.people or self.people,  # an item's own people replace the channel's
        )


def read_xml(body: bytes, url: str) -> tuple[etree._Element, etree.XMLParser]:
    """A lenient parse: lxml recovers what it can; no entities, no network."""
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True
    )
    try:
        root = etree.fromstring(body.lstrip(), parser)
    except etree.XMLSyntaxError as e:
        raise NotAFeedError(f"{url}: not XML ({e})") from e
    if root is None:
        raise NotAFeedError(f"{url}: not XML")
    return root, parser


def parse_feed(body: bytes, url: str) -> Feed:
    """Parse an RSS or Atom document; raises NotAFeedError when it is neither."""
    root, parser = read_xml(body, url)
    tag = etree.QName(root).localname.lower()
    if tag == "rss" and root.find("channel") is not None:
        feed = _rss(root.find("channel"), url)
    elif tag == "feed" and etree.QName(root).namespace == NS["atom"]:
        feed = _atom(root, url)
    else:
        raise NotAFeedError(f"{url}: not an RSS or Atom feed (root element <{tag}>)")
    if parser.error_log:
        first = parser.error_log[0]
        feed.malformed = f"line {first.line}: {first.message.strip()}"
        if not feed.entries:  # recovered nothing: say why, rather than "an empty feed"
            raise NotAFeedError(f"{url}: malformed feed ({feed.malformed})")
    return feed


def looks_like_feed(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith(b"<?xml") or b"<rss" in head or b"<feed" in head


def _rss(channel: etree._Element, url: str) -> Feed:
    feed = Feed(
        title=_text(channel, "title"),
        url=url,
        description=_text(channel, "description"),
        link=_text(channel, "link"),
        image=_attr(channel, "itunes:image", "href") or _text(channel, "image/url"),
        people=_people(channel),
    )
    for item in channel.iterfind("item"):
        chapters = next(_podcast_tags(item, "chapters"), None)
        feed.entries.append(
            FeedItem(
                guid=_text(item, "guid"),
                title=_text(item, "title") or _text(item, "itunes:title"),
                link=_text(item, "link"),
                published=iso_date(_text(item, "pubDate")),
                description=_text(item, "description") or _text(item, "itunes:summary"),
                content_html=_text(item, "content:encoded"),
                author=_text(item, "author") or _text(item, "dc:creator"),
                enclosure_url=_attr(item, "enclosure", "url"),
                enclosure_type=_attr(item, "enclosure", "type"),
                duration=parse_duration(_text(item, "itunes:duration")),
                image=_attr(item, "itunes:image", "href"),
                transcripts=[
                    FeedLink(
                        url=t.get("url", "").strip(),
                        type=t.get("type", ""),
                        language=t.get("language", ""),
                        rel=t.get("rel", ""),
                    )
                    for t in _podcast_tags(item, "transcript")
                    if t.get("url")
                ],
                chapters_url=(chapters.get("url", "") if chapters is not None else "").strip(),
                updated=iso_date(_text(item, "atom:updated") or _text(item, "dc:modified")),
                tags=[t for t in _all_text(item, "category") if t],
                people=_people(item),
            )
        )
    return feed


def _people(element: etree._Element) -> list[Person]:
    """The <podcast:person> tags (role "host" when not given, as the namespace says)."""
    found = []
    for tag in _podcast_tags(element, "person"):
        name = " ".join("".join(tag.itertext()).split())[:100]
        if name:
            found.append(Person(name, (tag.get("role") or "host").strip().lower()[:30]))
    return list(dict.fromkeys(found))


def _atom(root: etree._Element, url: str) -> Feed:
    feed = Feed(title=_text(root, "atom:title"), url=url, description=_text(root, "atom:subtitle"))
    for entry in root.iterfind("atom:entry", NS):
        links = entry.findall("atom:link", NS)
        enclosure = next((li for li in links if li.get("rel") == "enclosure"), None)
        page = next(
            (li.get("href", "") for li in links if li.get("rel", "alternate") == "alternate"), ""
        )
        feed.entries.append(
            FeedItem(
                guid=_text(entry, "atom:id"),
                title=_text(entry, "atom:title"),
                link=page.strip(),
                published=iso_date(_text(entry, "atom:published") or _text(entry, "atom:updated")),
                description=_text(entry, "atom:summary"),
                content_html=_text(entry, "atom:content"),
                author=_text(entry, "atom:author/atom:name"),
                updated=iso_date(_text(entry, "atom:updated")),
                tags=[c.get("term", "").strip() for c in entry.iterfind("atom:category", NS)],
                enclosure_url=(enclosure.get("href", "") if enclosure is not None else "").strip(),
                enclosure_type=enclosure.get("type", "") if enclosure is not None else "",
            )
        )
    return feed


@dataclass
class Sitemap:
    """A sitemap's pages (`urlset`, with the news extension's title and date when given),
    or the sitemaps a sitemap index lists."""

    url: str
    pages: list[FeedItem] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def is_sitemap(body: bytes) -> bool:
    head = body[:4096].lower()
    return b"<urlset" in head or b"<sitemapindex" in head


def parse_sitemap(body: bytes, url: str) -> Sitemap:
    """Parse a sitemap or sitemap index (gzipped or not); raises NotAFeedError otherwise."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, url)
    root, _ = read_xml(body, url)
    tag = etree.QName(root).localname
    sitemap = Sitemap(url=url)
    if tag == "sitemapindex":
        sitemap.sitemaps = [loc for loc in _all_text(root, "sm:sitemap/sm:loc") if loc]
    elif tag == "urlset":
        for entry in root.iterfind("sm:url", NS):
            loc = _text(entry, "sm:loc")
            if not loc:
                continue
            keywords = _text(entry, "news:news/news:keywords")
            sitemap.pages.append(
                FeedItem(
                    guid=loc,
                    title=_text(entry, "news:news/news:title"),
                    link=loc,
                    published=iso_date(_text(entry, "news:news/news:publication_date")),
                    description="",
                    content_html="",
                    updated=iso_date(_text(entry, "sm:lastmod")),
                    tags=[k.strip() for k in keywords.split(",") if k.strip()],
                )
            )
    else:
        raise NotAFeedError(f"{url}: not a sitemap (root element <{tag}>)")
    return sitemap


MAX_SITEMAP_BYTES = 50 * 2**20  # the sitemap protocol's own limit, uncompressed


def _gunzip(body: bytes, url: str) -> bytes:
    """Decompress, refusing more than the protocol allows (a small file can inflate to
    gigabytes)."""
    import zlib

    inflater = zlib.decompressobj(wbits=31)  # 31: a gzip header
    try:
        data = inflater.decompress(body, MAX_SITEMAP_BYTES + 1)
    except zlib.error as e:
        raise NotAFeedError(f"{url}: a broken gzip file ({e})") from e
    if len(data) > MAX_SITEMAP_BYTES:
        raise NotAFeedError(f"{url}: over {MAX_SITEMAP_BYTES // 2**20} MiB uncompressed")
    return data


def _all_text(element: etree._Element, path: str) -> list[str]:
    return ["".join(found.itertext()).strip() for found in element.iterfind(path, NS)]


def _podcast_tags(element: etree._Element, name: str) -> Iterator[etree._Element]:
    for child in element:
        if isinstance(child.tag, str):
            qname = etree.QName(child)
            if qname.localname == name and qname.namespace in PODCAST_NAMESPACES:
                yield child


def _text(element: etree._Element, path: str) -> str:
    found = element.find(path, NS)
    if found is None:
        return ""
    return "".join(found.itertext()).strip()


def _attr(element: etree._Element, path: str, name: str) -> str:
    found = element.find(path, NS)
    return (found.get(name) or "").strip() if found is not None else ""


def iso_date(value: str) -> str:
    """RFC 822 (RSS) or ISO 8601 (Atom) -> ISO 8601 in UTC; "" when unreadable."""
    if not value:
        return ""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return ""
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).replace(microsecond=0).isoformat()
    except OverflowError:  # year 9999 in a far time zone, say: no usable date
        return ""


def parse_duration(value: str) -> float | None:
    """itunes:duration: seconds, or [[HH:]MM:]SS."""
    if not value:
        return None
    try:
        seconds = 0.0
        for part in value.strip().split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
