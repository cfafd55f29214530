"""What other programs read of the site: each show's enriched RSS feed, sitemap.xml, and
each episode's schema.org JSON-LD.

The enriched feed is the publisher's own feed, item for item, with a
<podcast:transcript> tag for each transcript file the site made (type and language given)
and a <podcast:chapters> tag, pointing at the site's base URL (spec:
../shared/data/podcast-namespace/spec/transcript.md). A source that is no RSS feed (a
channel, a playlist, an Atom feed) gets a plain RSS feed made from the catalog instead.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlparse

from lxml import etree
from markupsafe import Markup

from ..feeds import NotAFeedError, parse_feed, read_xml
from ..http import is_web
from ..records import Episode

PODCAST = "https://podcastindex.org/namespace/1.0"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


@dataclass(frozen=True)
class EpisodeFiles:
    """The files the site made for an episode, as absolute URLs."""

    transcripts: list[tuple[str, str]]  # (url, MIME type)
    language: str
    chapters: str = ""  # the JSON chapters' URL, if any
    page: str = ""


def enriched_feed(
    original: bytes | None, source: str, show: str, episodes: list[Episode], files: dict
) -> bytes:
    """The publisher's RSS feed with our transcript and chapters tags on each item the
    site has files for (`files`: episode id -> EpisodeFiles); a new RSS feed when the
    source gave none."""
    root = _rss_root(original, source)
    if root is not None and original:  # the items, numbered as the fetch stage numbered them
        ids = parse_feed(original, source).entry_ids()
        _resolve_entities(root)
    else:
        root = _new_feed(show, episodes)
        ids = [e.id for e in episodes]
    # this show's own episodes only: a guid another show also uses was stored as
    # "SOURCE#GUID" by the fetch stage
    own = {e.id: files[e.id] for e in episodes if e.id in files}
    channel = root.find("channel")
    for item, episode_id in zip(channel.iterfind("item"), ids, strict=False):
        made = own.get(episode_id) or own.get(f"{source}#{episode_id}")
        if made is None:
            continue
        for url, kind in made.transcripts:
            tag = etree.SubElement(item, f"{{{PODCAST}}}transcript", nsmap={"podcast": PODCAST})
            tag.set("url", url)
            tag.set("type", kind)
            if made.language:
                tag.set("language", made.language)
            if kind in ("text/vtt", "application/x-subrip"):
                tag.set("rel", "captions")
        if made.chapters and not _has_chapters(item):  # one a item; the publisher's first
            tag = etree.SubElement(item, f"{{{PODCAST}}}chapters", nsmap={"podcast": PODCAST})
            tag.set("url", made.chapters)
            tag.set("type", "application/json+chapters")
    etree.cleanup_namespaces(root, top_nsmap={"podcast": PODCAST})
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _has_chapters(item: etree._Element) -> bool:
    return any(
        isinstance(child.tag, str)
        and etree.QName(child).localname == "chapters"
        and "podcast" in (etree.QName(child).namespace or "")
        for child in item
    )


def _resolve_entities(root: etree._Element) -> None:
    """Entities the lenient parser left unexpanded (&nbsp; in an RSS feed, with no DTD to
    define it) become their characters (or nothing, when unknown): written back as
    entities, they would make the feed XML that no reader accepts."""
    for entity in list(root.iter(etree.Entity)):
        name = entity.text.strip("&;") if entity.text else ""
        character = html.unescape(f"&{name};") if name else ""
        character = "" if character.startswith("&") else character
        parent = entity.getparent()
        if parent is None:
            continue
        text = character + (entity.tail or "")
        previous = entity.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
        parent.remove(entity)


def _rss_root(original: bytes | None, source: str) -> etree._Element | None:
    """The publisher's feed, when it is RSS (read leniently, as the fetch stage did)."""
    if not original:
        return None
    try:
        root, _ = read_xml(original, source)
    except NotAFeedError:
        return None
    return root if root.tag == "rss" and root.find("channel") is not None else None


def _new_feed(show: str, episodes: list[Episode]) -> etree._Element:
    """An RSS 2.0 feed of the show's episodes, for a source that has no feed of its own."""
    root = etree.Element("rss", version="2.0", nsmap={"podcast": PODCAST})
    channel = etree.SubElement(root, "channel")
    etree.SubElement(channel, "title").text = show
    etree.SubElement(channel, "description").text = f"Episodes of {show}, with transcripts"
    for episode in episodes:
        item = etree.SubElement(channel, "item")
        etree.SubElement(item, "title").text = episode.title
        etree.SubElement(item, "guid", isPermaLink="false").text = episode.id
        if episode.link or episode.media_url:
            etree.SubElement(item, "link").text = episode.link or episode.media_url
        if episode.published:
            etree.SubElement(item, "pubDate").text = _rfc822(episode.published)
        if episode.description:
            etree.SubElement(item, "description").text = episode.description
        if _is_media_file(episode.media_url):
            etree.SubElement(
                item, "enclosure", url=episode.media_url, length="0", type=_type(episode)
            )
    return root


def _rfc822(iso: str) -> str:
    try:
        return format_datetime(datetime.fromisoformat(iso))
    except ValueError:
        return iso


def _is_media_file(url: str) -> bool:
    path = urlparse(url).path.lower()
    return is_web(url) and path.endswith(
        (".mp3", ".m4a", ".ogg", ".opus", ".wav", ".mp4", ".webm", ".aac")
    )


def _type(episode: Episode) -> str:
    return "video/mp4" if episode.kind == "video" else "audio/mpeg"


def sitemap(urls: list[tuple[str, str]]) -> bytes:
    """sitemap.xml of (absolute URL, last modified date or "")."""
    root = etree.Element(f"{{{SITEMAP}}}urlset", nsmap={None: SITEMAP})
    for url, modified in urls:
        entry = etree.SubElement(root, f"{{{SITEMAP}}}url")
        etree.SubElement(entry, f"{{{SITEMAP}}}loc").text = url
        if modified:
            etree.SubElement(entry, f"{{{SITEMAP}}}lastmod").text = modified[:10]
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def json_ld(
    episode: Episode,
    description: str,
    page_url: str,
    media_url: str,
    show_url: str,
    people: list[str] = (),
) -> Markup:
    """schema.org PodcastEpisode (VideoObject for a video), ready for a
    <script type="application/ld+json">: no "<" survives, so nothing can close it.
    `people`: who takes part (the feed's people and the speakers named), as its actors."""
    if episode.kind == "video":
        data: dict = {
            "@type": "VideoObject",
            "name": episode.title,
            "description": description or episode.title,
            "uploadDate": episode.published,
            "thumbnailUrl": _web(episode.image),
            "contentUrl": _web(media_url),
            "embedUrl": _web(episode.link),
        }
    else:
        data = {
            "@type": "PodcastEpisode",
            "name": episode.title,
            "description": description,
            "datePublished": episode.published,
            "associatedMedia": {"@type": "MediaObject", "contentUrl": _web(media_url)}
            if _web(media_url)
            else None,
            "partOfSeries": {"@type": "PodcastSeries", "name": episode.show, "url": show_url}
            if episode.show
            else None,
            "image": _web(episode.image),
        }
    data["url"] = page_url
    data["duration"] = _iso_duration(episode.duration)
    data["actor"] = [{"@type": "Person", "name": name} for name in people]
    document = {"@context": "https://schema.org", **{k: v for k, v in data.items() if v}}
    text = json.dumps(document, ensure_ascii=False, indent=1)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _web(url: str) -> str:
    return url if is_web(url) else ""


def _iso_duration(seconds: float | None) -> str:
    """3725 -> PT1H2M5S."""
    if not seconds or seconds <= 0:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{secs}S"
