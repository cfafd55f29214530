"""The render stage: the catalog -> a static site of show notes.

Two phases: build each page's context from the catalog, then render and write it. The site:
index.html (episodes newest first, by show), a page per show, a page per episode (player,
transcript, chapters, related articles and episodes, downloads), search.html with its
prebuilt index, and, given a base URL, each show's enriched RSS feed and sitemap.xml.

Incremental: an episode's files are made again only when what they are made from changed
(its stamp, kept in the catalog, covers the episode, its transcript, links and chapters,
the episodes shown beside it, the settings and this package's own code); every file is
written atomically and only when its content changed. Feed content is untrusted: templates
autoescape, the publisher's description is sanitized, and file names come from episode
keys and digests, never titles.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cache
from html import unescape
from pathlib import Path
from urllib.parse import urlparse

import jinja2
import nh3
from markupsafe import Markup

from ..catalog import Catalog
from ..files import sweep_temporaries, write_atomic
from ..formats import FORMATS, clock, json_chapters
from ..records import WINDOWS_RESERVED, Episode, Segment
from .search import Searchable, index_scripts, text_script, vocabulary
from .syndication import EpisodeFiles, enriched_feed, json_ld, sitemap

HERE = Path(__file__).parent
STATIC = HERE / "static"
ALLOWED_TAGS = {"a", "p", "br", "em", "strong", "i", "b", "ul", "ol", "li", "blockquote", "code"}
SAFE_SCHEMES = {"http", "https", "mailto"}
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
class RenderReport:
    pages: int = 0
    written: int = 0  # files whose content changed
    unchanged: int = 0  # episodes whose files were up to date
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        fresh = f" ({self.unchanged} episodes up to date)" if self.unchanged else ""
        notes = "".join(f"; {note}" for note in self.notes)
        return f"{self.pages} pages{fresh}, {self.written} files written{notes}"


@dataclass
class Show:
    key: str  # file-name-safe: a slug of the title (and a digest of the source, for twins)
    title: str
    source: str
    episodes: list[Episode] = field(default_factory=list)


def render_site(catalog: Catalog, output: Path, options: RenderOptions) -> RenderReport:
    """Write the site into `output`; only what changed since the last render."""
    output.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(output)  # what a killed render was writing
    report = RenderReport()
    env = _environment()
    inputs = catalog.render_inputs()
    episodes = [e for e in catalog.episodes() if e.id in inputs]  # newest first
    shows = shows_of(episodes)
    show_of = {e.id: show for show in shows for e in show.episodes}
    related = same_story(episodes, catalog.linked_articles())
    where = str(output.resolve())
    stored = catalog.rendered(where)
    base = options.site_url
    searchable, made, stamps = [], {}, []
    chapters = catalog.chapter_titles()  # for the listings, and which episodes have any
    for episode in episodes:
        show = show_of[episode.id]
        media_path = catalog.progress(episode.id).media_path
        stamp = _stamp(episode, inputs[episode.id], related[episode.id], show, media_path, options)
        stamps.append(stamp)
        page = output / "episodes" / f"{episode.key}.html"
        if episode.id in stored and stored[episode.id][0] == stamp and page.is_file():
            words = stored[episode.id][1]
            report.unchanged += 1
        else:
            words = _render_episode(
                env,
                catalog,
                episode,
                show,
                related[episode.id],
                media_path,
                output,
                options,
                report,
            )
            catalog.save_rendered(where, episode.id, stamp, words)
        searchable.append(
            Searchable(
                episode.key,
                episode.title,
                show.title,
                _when(episode)["date"],
                frozenset(words.split()),
            )
        )
        if base:
            made[episode.id] = _files(catalog, episode, base, episode.id in chapters)
    site = {"root": "", "site_title": options.title}
    _write(
        output / "index.html",
        env.get_template("index.html").render(
            **site, shows=shows, episodes=[_listing(e, show_of, chapters) for e in episodes]
        ),
        report,
    )
    for show in shows:
        _write(
            output / "shows" / f"{show.key}.html",
            env.get_template("show.html").render(
                **{**site, "root": "../"},
                show=show,
                feed=f"../feeds/{show.key}.xml" if base else "",
                episodes=[_listing(e, show_of, chapters) for e in show.episodes],
            ),
            report,
        )
    _write(output / "search.html", env.get_template("search.html").render(**site), report)
    _write_search_index(output, searchable, stamps, report)
    if base:
        for show in shows:
            feed = enriched_feed(
                catalog.source_feed(show.source), show.source, show.title, show.episodes, made
            )
            _write(output / "feeds" / f"{show.key}.xml", feed, report)
        _write(output / "sitemap.xml", _sitemap(base, shows, episodes), report)
    else:
        report.notes.append("no render.base_url: the enriched feeds and sitemap.xml need it")
    for asset in sorted(STATIC.iterdir()):
        _write(output / "static" / asset.name, asset.read_bytes(), report)
    _prune(output / "shows", report.files)
    _prune(output / "feeds", report.files)
    report.pages = len(episodes) + len(shows) + 2
    return report


def _render_episode(
    env: jinja2.Environment,
    catalog: Catalog,
    episode: Episode,
    show: Show,
    related: list[tuple[Episode, int]],
    media_path: str,
    output: Path,
    options: RenderOptions,
    report: RenderReport,
) -> str:
    """Write the episode's page, transcript files and search text; return its words."""
    transcript = catalog.transcript(episode.id, words=False)
    assert transcript is not None  # render_inputs lists transcribed episodes only
    folder = output / "episodes"
    for extension, writer in FORMATS.items():
        _write(folder / f"{episode.key}.{extension}", writer.render(transcript), report)
    chapters = catalog.chapters(episode.id)
    chapters_file = folder / f"{episode.key}.chapters.json"
    if chapters:
        _write(chapters_file, json_chapters(chapters, episode.title), report)
    else:  # an episode whose chapters are gone keeps no file that still lists them
        chapters_file.unlink(missing_ok=True)
    _write(
        output / "search" / "text" / f"{episode.key}.js",
        text_script(episode.key, transcript.segments),
        report,
    )
    base = options.site_url
    media_src = _media_src(media_path, episode, output, options)
    description = sanitize_html(episode.content_html or episode.description)
    summary = plain_text(episode.content_html or episode.description)
    summary = summary[:297] + "…" if len(summary) > 300 else summary
    page_url = f"{base}episodes/{episode.key}.html" if base else ""
    page = env.get_template("episode.html").render(
        root="../",
        site_title=options.title,
        episode=episode,
        show=show,
        transcript=transcript,
        description=description,
        summary=summary,
        paragraphs=paragraphs(transcript.segments),
        links=catalog.links(episode.id),
        chapters=chapters,
        related=related,
        formats=list(FORMATS),
        media_src=media_src,
        media_url=_absolute(media_src, page_url),
        page_url=page_url,
        image=safe_url(episode.image) if episode.image.startswith(("http://", "https://")) else "",
        json_ld=json_ld(
            episode,
            summary,
            page_url,
            _absolute(media_src, page_url),
            f"{base}shows/{show.key}.html" if base else "",
        ),
        made_with=_made_with(transcript.producer),
        lang=transcript.language or "en",
        **_when(episode),
    )
    _write(folder / f"{episode.key}.html", page, report)
    return " ".join(sorted(vocabulary(transcript.text)))


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
            if shared >= math.ceil(min(len(mine), len(theirs)) / 2) and _near(episode, other, days):
                found[episode.id].append((other, shared))
        found[episode.id].sort(key=lambda pair: (-pair[1], pair[0].published, pair[0].id))
    return found


def _near(first: Episode, second: Episode, days: int) -> bool:
    try:
        apart = date.fromisoformat(first.published[:10]) - date.fromisoformat(second.published[:10])
    except ValueError:
        return True  # undated: the articles alone decide
    return abs(apart.days) <= days


def paragraphs(segments: list[Segment], seconds: float = 30.0) -> list[list[Segment]]:
    """Readable paragraphs: a new one after about `seconds`, at the end of a sentence."""
    result: list[list[Segment]] = []
    for segment in segments:
        if not segment.text.strip():
            continue
        if (
            not result
            or segment.start - result[-1][0].start >= seconds
            and result[-1][-1].text.rstrip().endswith((".", "?", "!"))
        ):
            result.append([])
        result[-1].append(segment)
    return result


def sanitize_html(html: str) -> Markup:
    """The publisher's HTML with only harmless tags, and links that cannot run script."""
    if not html.strip():
        return Markup("")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)


def plain_text(html: str) -> str:
    """The publisher's HTML as one line of plain text (for meta tags and JSON-LD, which
    escape it themselves): blocks apart, tags gone, entities read."""
    spaced = _BLOCK_START.sub(" <", html)
    return " ".join(unescape(nh3.clean(spaced, tags=set())).split())


_BLOCK_START = re.compile(r"<(?=/?(?:p|br|li|div|blockquote|h[1-6]|tr|td)\b)", re.IGNORECASE)


def safe_url(url: str) -> str:
    """A URL for an href: only http(s) and mailto; anything else becomes inert."""
    return url if urlparse(url.strip()).scheme.lower() in SAFE_SCHEMES else "#"


def _listing(episode: Episode, show_of: dict[str, Show], chapters: dict) -> dict:
    return {
        "episode": episode,
        "show": show_of[episode.id],
        "chapters": chapters.get(episode.id, []),
        **_when(episode),
    }


def _files(catalog: Catalog, episode: Episode, base: str, has_chapters: bool) -> EpisodeFiles:
    folder = f"{base}episodes/{episode.key}"
    return EpisodeFiles(
        transcripts=[(f"{folder}.{ext}", writer.media_type) for ext, writer in FORMATS.items()],
        language=catalog.transcript_language(episode.id),
        chapters=f"{folder}.chapters.json" if has_chapters else "",
        page=f"{folder}.html",
    )


def _sitemap(base: str, shows: list[Show], episodes: list[Episode]) -> bytes:
    newest = max((e.published for e in episodes), default="")
    urls = [(f"{base}index.html", newest), (f"{base}search.html", "")]
    urls += [(f"{base}shows/{s.key}.html", s.episodes[0].published) for s in shows]
    urls += [(f"{base}episodes/{e.key}.html", e.published) for e in episodes]
    return sitemap(urls)


def _write_search_index(
    output: Path, searchable: list[Searchable], stamps: list[str], report: RenderReport
) -> None:
    """The word files, made again only when an episode's files were (their stamps say)."""
    digest = hashlib.sha256("".join(stamps).encode()).hexdigest()
    marker = output / "search" / "index.stamp"
    if marker.is_file() and marker.read_text() == digest:
        return
    for path, script in index_scripts(searchable).items():
        _write(output / path, script, report)
    _write(marker, digest, report)


def _media_src(media_path: str, episode: Episode, output: Path, options: RenderOptions) -> str:
    """Where the page's player finds the media: the publisher's URL, or (media = "copy") a
    copy in the site."""
    if options.media == "copy" and media_path and Path(media_path).is_file():
        source = Path(media_path)
        target = output / "media" / f"{episode.key}{source.suffix}"
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(source, partial)
            os.replace(partial, target)
        return f"../media/{target.name}"
    return safe_url(episode.media_url)


def _absolute(src: str, page_url: str) -> str:
    """The media's absolute URL: as given, or relative to the page's."""
    if src.startswith(("http://", "https://")):
        return src
    if page_url and src.startswith("../"):
        return page_url.rsplit("/", 2)[0] + "/" + src[3:]
    return ""


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
        _code_version(),
        asdict(options),
        asdict(episode),
        made_from,
        [
            (other.key, other.title, other.published, other.show, other.kind, shared)
            for other, shared in related
        ],
        [show.key, show.title],
        media_path,
    ]
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


@cache
def _code_version() -> str:
    """A digest of the templates, the static files and the code that renders them."""
    digest = hashlib.sha256()
    files = [*HERE.glob("*.py"), *HERE.glob("templates/*"), *STATIC.iterdir()]
    files.append(HERE.parent / "formats.py")
    for path in sorted(files):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _made_with(producer: str) -> str:
    """ "model=tiny.en;engine=faster-whisper;..." -> "tiny.en, faster-whisper"."""
    settings = dict(part.split("=", 1) for part in producer.split(";") if "=" in part)
    return ", ".join(v for v in (settings.get("model"), settings.get("engine")) if v)


def _when(episode: Episode) -> dict[str, str]:
    shown = ""
    if episode.published:
        try:
            shown = datetime.fromisoformat(episode.published).strftime("%-d %B %Y")
        except ValueError:
            shown = episode.published[:10]
    return {"date": shown, "duration": clock(episode.duration) if episode.duration else ""}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("transcribe.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = clock
    env.filters["safe_url"] = safe_url
    return env


def _prune(folder: Path, written: list[Path]) -> None:
    """Remove what this render did not write from a folder it writes whole (a show that
    was renamed leaves no page behind)."""
    if folder.is_dir():
        for path in set(folder.iterdir()) - set(written):
            if path.is_file():
                path.unlink()


def _write(path: Path, content: str | bytes, report: RenderReport) -> None:
    report.files.append(path)
    report.written += write_atomic(path, content)
