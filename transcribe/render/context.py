"""The render's first phase: what each page is made from, read from the catalog in a few
batched queries (the second phase, in __init__, writes). An episode's own transcript,
links and chapters are read by the writer, one episode at a time, only when its files are
made again: the memory a render needs does not grow with the site."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

from ..catalog import Catalog
from ..formats import FORMATS, clock
from ..linking import days_apart
from ..records import WINDOWS_RESERVED, Chapter, Episode, Link, Segment, Turn
from .html import plain_text, reads_as_web, safe_url
from .syndication import EpisodeFiles

HERE = Path(__file__).parent
STATIC = HERE / "static"
SAME_STORY_DAYS = 7  # episodes this close that share most of their articles tell one story


@dataclass(frozen=True)
class RenderOptions:
    title: str = "Show notes"
    media: str = "remote"  # "remote": play the publisher's file; "copy": put it in the site
    base_url: str = ""  # where the site will be published: enables feeds, sitemap, og:url

    @property
    def site_url(self) -> str:
        """base_url ending in "/" (or "" when none is set), for joining paths to it."""
        return self.base_url.rstrip("/") + "/" if self.base_url else ""


@dataclass
class Show:
    key: str  # file-name-safe: a slug of the title (and a digest of the source, for twins)
    title: str
    source: str
    episodes: list[Episode] = field(default_factory=list)
    # where a listener subscribes: the site's feed with transcripts (under a base URL),
    # else the publisher's feed, else the channel or playlist; and what the link says
    subscribe: str = ""
    subscribe_label: str = ""

    def subscribe_href(self, root: str) -> str:
        """The subscribe link from a page `root` away from the site's top."""
        return root + self.subscribe if self.subscribe.startswith("feeds/") else self.subscribe


@dataclass(frozen=True)
class EpisodePage:
    """An episode as this render sees it."""

    episode: Episode
    show: Show
    related: list[tuple[Episode, int]]  # the episodes that tell the same story, and how
    media_path: str  # its downloaded media ("" when none)
    media_src: str  # where the page's player finds the media
    chapter_titles: list[str]
    stamp: str  # a digest of everything its files are made from
    stored_words: str | None  # its search words, when its files are up to date
    files: EpisodeFiles | None  # its files' addresses, for the enriched feed (a base URL)

    def listing(self) -> dict:
        """What the index and show pages list of it."""
        return {
            "episode": self.episode,
            "show": self.show,
            "chapters": self.chapter_titles,
            "summary": summary(self.episode, 200),
            **when(self.episode),
        }


@dataclass(frozen=True)
class SiteContext:
    output: Path
    options: RenderOptions
    shows: list[Show]
    pages: list[EpisodePage]  # newest first
    rendered_into: str  # the output folder, as the catalog's render stamps name it


def build_context(catalog: Catalog, output: Path, options: RenderOptions) -> SiteContext:
    """Every page's material: the transcribed episodes by show, each with its stamp and
    whether its files are up to date."""
    inputs = catalog.render_inputs()
    episodes = [e for e in catalog.episodes() if e.id in inputs]  # newest first
    shows = shows_of(episodes)
    feeds = catalog.sources_with_feed()
    for show in shows:
        show.subscribe, show.subscribe_label = _subscribe(show, feeds, options)
    show_of = {e.id: show for show in shows for e in show.episodes}
    related = same_story(episodes, catalog.linked_articles())
    where = str(output.resolve())
    stored = catalog.rendered(where)
    media = catalog.media_paths()
    chapters = catalog.chapter_titles()
    languages = catalog.transcript_languages()
    pages = []
    for episode in episodes:
        media_path = media.get(episode.id, "")
        stamp = _stamp(
            episode,
            inputs[episode.id],
            related[episode.id],
            show_of[episode.id],
            media_path,
            options,
        )
        fresh = episode.id in stored and stored[episode.id][0] == stamp
        fresh = fresh and (output / "episodes" / f"{episode.key}.html").is_file()
        pages.append(
            EpisodePage(
                episode=episode,
                show=show_of[episode.id],
                related=related[episode.id],
                media_path=media_path,
                media_src=media_src(episode, media_path, options),
                chapter_titles=chapters.get(episode.id, []),
                stamp=stamp,
                stored_words=stored[episode.id][1] if fresh else None,
                files=_files(
                    episode, options.site_url, languages[episode.id], episode.id in chapters
                )
                if options.site_url
                else None,
            )
        )
    return SiteContext(output, options, shows, pages, where)


def shows_of(episodes: list[Episode]) -> list[Show]:
    """The episodes grouped by source, in the order of each show's newest episode."""
    shows: dict[str, Show] = {}
    for episode in episodes:
        if episode.source not in shows:
            title = episode.show or urlparse(episode.source).netloc or "Episodes"
            shows[episode.source] = Show(show_key(title), title, episode.source)
        shows[episode.source].episodes.append(episode)
    slugs = Counter(show.key for show in shows.values())
    for show in shows.values():  # a name two shows share: told apart by their sources
        if slugs[show.key] > 1:
            show.key = show_key(show.title, show.source)
    return list(shows.values())


def show_key(title: str, source: str = "") -> str:
    """ "the-millbrook-weekly": a slug of the title (lowercase letters, digits and dashes,
    so no title picks a path), with a digest of the source when given (to tell apart two
    shows of one name)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "show"
    if source:
        slug += "-" + hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return slug if slug not in WINDOWS_RESERVED else f"{slug}-show"


def same_story(
    episodes: list[Episode], linked: dict[str, set[int]], days: int = SAME_STORY_DAYS
) -> dict[str, list[tuple[Episode, int]]]:
    """For each episode, the others that tell the same story: published within `days` of
    it (when both are dated) and sharing at least half of the related articles of the one
    with fewer; with how many they share, most first."""
    by_article: dict[int, list[Episode]] = {}
    for episode in episodes:
        for article in linked.get(episode.id, ()):
            by_article.setdefault(article, []).append(episode)
    found: dict[str, list[tuple[Episode, int]]] = {e.id: [] for e in episodes}
    for episode in episodes:
        mine = linked.get(episode.id, set())
        others = {o.id: o for a in mine for o in by_article[a] if o.id != episode.id}
        for other in others.values():
            theirs = linked[other.id]
            shared = len(mine & theirs)
            apart = days_apart(episode.published, other.published)  # None: undated
            if shared >= math.ceil(min(len(mine), len(theirs)) / 2) and (apart or 0) <= days:
                found[episode.id].append((other, shared))
        found[episode.id].sort(key=lambda pair: (-pair[1], pair[0].published, pair[0].id))
    return found


def paragraphs(segments: list[Segment], seconds: float = 30.0) -> list[list[Segment]]:
    """Readable paragraphs: a new one at each change of speaker, and after about `seconds`
    at the end of a sentence."""
    result: list[list[Segment]] = []
    for segment in segments:
        if not segment.text.strip():
            continue
        if (
            not result
            or segment.speaker != result[-1][-1].speaker
            or segment.start - result[-1][0].start >= seconds
            and result[-1][-1].text.rstrip().endswith((".", "?", "!"))
        ):
            result.append([])
        result[-1].append(segment)
    return result


SPEAKER_COLOURS = 6  # the style sheet's speaker colours; more speakers reuse them


def speaker_colours(segments: list[Segment]) -> dict[str, int]:
    """Each speaker's colour number, in order of first words (a label names them too, so
    the colour is never the only sign)."""
    order = dict.fromkeys(s.speaker for s in segments if s.speaker and s.text.strip())
    return {speaker: n % SPEAKER_COLOURS for n, speaker in enumerate(order)}


@dataclass(frozen=True)
class Mark:
    """One stretch drawn on the episode's timeline: where (percent of the episode), what
    a hover names, where a click seeks, and its colour number (speakers only)."""

    left: float
    width: float
    label: str
    start: float
    colour: int = 0


@dataclass(frozen=True)
class Timeline:
    speakers: list[Mark]
    chapters: list[Mark]
    articles: list[Mark]


def timeline(
    duration: float,
    turns: list[Turn],
    chapters: list[Chapter],
    links: list[Link],
    colours: dict[str, int],
) -> Timeline | None:
    """The strip under the player: the speakers' turns, the chapters and where each related
    article is discussed, placed by time; None without a duration or anything to draw."""
    if duration <= 0 or not (turns or chapters or links):
        return None

    def mark(start: float, end: float, label: str, colour: int = 0) -> Mark:
        left = min(max(start / duration, 0.0), 1.0) * 100
        width = max(min(end, duration) - max(start, 0.0), 0.0) / duration * 100
        span = f"{clock(start)}–{clock(end)}"
        return Mark(round(left, 3), round(max(width, 0.3), 3), f"{label}, {span}", start, colour)

    ends = [c.start for c in chapters[1:]] + [duration]
    return Timeline(
        speakers=[mark(t.start, t.end, t.speaker, colours.get(t.speaker, 0)) for t in turns],
        chapters=[mark(c.start, end, c.title) for c, end in zip(chapters, ends, strict=True)],
        articles=[
            mark(m.start, m.end, link.article.title) for link in links for m in link.evidence
        ],
    )


def summary(episode: Episode, characters: int = 300) -> str:
    """The publisher's description as plain text, cut at a word near `characters`."""
    text = plain_text(episode.content_html or episode.description)
    if len(text) <= characters:
        return text
    return text[:characters].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def language_name(code: str) -> str:
    """ "en" -> "English" (Whisper's codes, named in English as the pages are written);
    the code itself when it has no name."""
    from babel import Locale

    return Locale("en").languages.get(code, code) if code else ""


def _subscribe(show: Show, feeds: set[str], options: RenderOptions) -> tuple[str, str]:
    if options.site_url:
        return f"feeds/{show.key}.xml", "Subscribe (RSS, with transcripts)"
    if show.source in feeds:
        return safe_url(show.source), "Subscribe (RSS)"
    if reads_as_web(show.source):
        return show.source, "Subscribe"
    return "", ""


def media_src(episode: Episode, media_path: str, options: RenderOptions) -> str:
    """Where the page's player finds the media: the publisher's URL, or (media = "copy")
    the copy the writer puts in the site."""
    if options.media == "copy" and media_path and Path(media_path).is_file():
        return f"../media/{episode.key}{Path(media_path).suffix}"
    return safe_url(episode.media_url)


def when(episode: Episode) -> dict[str, str]:
    """The episode's date and length, as the pages show them."""
    shown = ""
    if episode.published:
        try:
            shown = datetime.fromisoformat(episode.published).strftime("%-d %B %Y")
        except ValueError:
            shown = episode.published[:10]
    return {"date": shown, "duration": clock(episode.duration) if episode.duration else ""}


def _files(episode: Episode, base: str, language: str, has_chapters: bool) -> EpisodeFiles:
    folder = f"{base}episodes/{episode.key}"
    return EpisodeFiles(
        transcripts=[(f"{folder}.{ext}", writer.media_type) for ext, writer in FORMATS.items()],
        language=language,
        chapters=f"{folder}.chapters.json" if has_chapters else "",
        page=f"{folder}.html",
    )


def _stamp(
    episode: Episode,
    made_from: str,
    related: list[tuple[Episode, int]],
    show: Show,
    media_path: str,
    options: RenderOptions,
) -> str:
    """What an episode's files are made from, as a digest."""
    material = [
        code_version(),
        asdict(options),
        asdict(episode),
        made_from,
        [
            (other.key, other.title, other.published, other.show, other.kind, shared)
            for other, shared in related
        ],
        [show.key, show.title, show.subscribe],
        media_path,
    ]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


@cache
def code_version() -> str:
    """A digest of the templates, the static files and the code that renders them."""
    digest = hashlib.sha256()
    files = [*HERE.glob("*.py"), *HERE.glob("templates/*"), *STATIC.iterdir()]
    files.append(HERE.parent / "formats.py")
    for path in sorted(files):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()
