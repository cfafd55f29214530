"""The render stage: the catalog -> a static site of show notes.

Two phases: build what each page is made from (context.py: typed records, batched catalog
reads), then write it all (here: pages, transcript files, feeds, sitemap and search). The
site: index.html (episodes newest first, by show), a page per show, a page per episode
(player, transcript, chapters, related articles and episodes, downloads), search.html with
its prebuilt index, and, given a base URL, each show's enriched RSS feed and sitemap.xml.

Incremental: an episode's files are made again only when what they are made from changed
(its stamp, kept in the catalog, covers the episode, its transcript, links and chapters,
the episodes shown beside it, the settings and this package's own code); every file is
written atomically and only when its content changed. Feed content is untrusted: templates
autoescape, the publisher's description is sanitized (html.py), and file names come from
episode keys and digests, never titles.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from ..catalog import Catalog
from ..files import copy_atomic, sweep_temporaries, write_atomic
from ..formats import FORMATS, clock, json_chapters
from ..http import is_web
from ..records import Episode, Transcript, is_unnamed
from .context import (
    STATIC,
    EpisodePage,
    RenderOptions,
    Show,
    SiteContext,
    build_context,
    language_name,
    paragraphs,
    same_story,
    show_key,
    speaker_colours,
    summary,
    timeline,
    when,
)
from .html import plain_text, reads_as_web, safe_url, sanitize_html
from .search import Searchable, index_scripts, text_script, vocabulary
from .syndication import enriched_feed, json_ld, sitemap

__all__ = [
    "RenderOptions",
    "RenderReport",
    "Show",
    "plain_text",
    "render_site",
    "same_story",
    "sanitize_html",
    "show_key",
]


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


def render_site(catalog: Catalog, output: Path, options: RenderOptions) -> RenderReport:
    """Write the site into `output`; only what changed since the last render."""
    output.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(output)  # what a killed render was writing
    return _Writer(catalog, build_context(catalog, output, options)).write()


class _Writer:
    """The second phase: writes every file of the site from its context."""

    def __init__(self, catalog: Catalog, site: SiteContext):
        self.catalog = catalog
        self.site = site
        self.output = site.output
        self.options = site.options
        self.report = RenderReport()
        self.env = _environment()

    def write(self) -> RenderReport:
        site, base = self.site, self.options.site_url
        searchable = []
        for page in site.pages:
            words = page.stored_words
            if words is None:
                words = self._episode(page)
                self.catalog.save_rendered(site.rendered_into, page.episode.id, page.stamp, words)
            else:
                self.report.unchanged += 1
            searchable.append(
                Searchable(
                    page.episode.key,
                    page.episode.title,
                    page.show.title,
                    when(page.episode)["date"],
                    frozenset(words.split()),
                )
            )
        common = {"root": "", "site_title": self.options.title, "subscriptions": site.shows}
        index = self.env.get_template("index.html")
        listings = [page.listing() for page in site.pages]
        self._write("index.html", index.render(**common, shows=site.shows, episodes=listings))
        for show in site.shows:
            shown = [p.listing() for p in site.pages if p.show is show]
            page = self.env.get_template("show.html").render(
                **{**common, "root": "../"},
                show=show,
                feed=f"../feeds/{show.key}.xml" if base else "",
                episodes=shown,
            )
            self._write(f"shows/{show.key}.html", page)
        self._write("search.html", self.env.get_template("search.html").render(**common))
        self._search_index(searchable, [page.stamp for page in site.pages])
        if base:
            self._feeds()
        else:
            self.report.notes.append(
                "no render.base_url: the enriched feeds and sitemap.xml need it"
            )
        for asset in sorted(STATIC.iterdir()):
            self._write(f"static/{asset.name}", asset.read_bytes())
        _prune(self.output / "shows", self.report.files)
        _prune(self.output / "feeds", self.report.files)
        self.report.pages = len(site.pages) + len(site.shows) + 2
        return self.report

    def _episode(self, page: EpisodePage) -> str:
        """Write the episode's page, transcript files and search text; return its words."""
        episode, base = page.episode, self.options.site_url
        transcript = self.catalog.transcript(episode.id, words=False)
        assert transcript is not None  # render_inputs lists transcribed episodes only
        for extension, writer in FORMATS.items():
            self._write(f"episodes/{episode.key}.{extension}", writer.render(transcript))
        chapters = self.catalog.chapters(episode.id)
        chapters_file = f"episodes/{episode.key}.chapters.json"
        if chapters:
            self._write(chapters_file, json_chapters(chapters, episode.title))
        else:  # an episode whose chapters are gone keeps no file that still lists them
            (self.output / chapters_file).unlink(missing_ok=True)
        self._write(f"search/text/{episode.key}.js", text_script(episode.key, transcript.segments))
        if page.media_src.startswith("../media/"):
            _copy_media(Path(page.media_path), self.output / page.media_src.removeprefix("../"))
        description = sanitize_html(episode.content_html or episode.description)
        short = summary(episode)
        page_url = f"{base}episodes/{episode.key}.html" if base else ""
        media_url = _absolute(page.media_src, page_url)
        colours, links = speaker_colours(transcript.segments), self.catalog.links(episode.id)
        html = self.env.get_template("episode.html").render(
            root="../",
            site_title=self.options.title,
            episode=episode,
            show=page.show,
            transcript=transcript,
            description=description,
            summary=short,
            paragraphs=paragraphs(transcript.segments),
            speakers=colours,
            timeline=timeline(
                transcript.duration, self.catalog.turns(episode.id), chapters, links, colours
            ),
            links=links,
            chapters=chapters,
            related=page.related,
            formats=list(FORMATS),
            media_src=page.media_src,
            media_url=media_url,
            page_url=page_url,
            image=safe_url(episode.image) if is_web(episode.image) else "",
            json_ld=json_ld(
                episode,
                short,
                page_url,
                media_url,
                f"{base}shows/{page.show.key}.html" if base else "",
                people_in(episode, transcript),
            ),
            made_with=_made_with(transcript.producer),
            language=language_name(transcript.language),
            subscribe=page.show.subscribe_href("../"),
            subscribe_label=page.show.subscribe_label,
            lang=transcript.language or "en",
            **when(episode),
        )
        self._write(f"episodes/{episode.key}.html", html)
        return " ".join(sorted(vocabulary(transcript.text)))

    def _feeds(self) -> None:
        """Each show's enriched feed, and the sitemap (with a base URL)."""
        base, site = self.options.site_url, self.site
        files = {p.episode.id: p.files for p in site.pages if p.files is not None}
        for show in site.shows:
            source = self.catalog.source_feed(show.source)
            feed = enriched_feed(source, show.source, show.title, show.episodes, files)
            self._write(f"feeds/{show.key}.xml", feed)
        episodes = [page.episode for page in site.pages]
        newest = max((e.published for e in episodes), default="")
        urls = [(f"{base}index.html", newest), (f"{base}search.html", "")]
        urls += [(f"{base}shows/{s.key}.html", s.episodes[0].published) for s in site.shows]
        urls += [(f"{base}episodes/{e.key}.html", e.published) for e in episodes]
        self._write("sitemap.xml", sitemap(urls))

    def _search_index(self, searchable: list[Searchable], stamps: list[str]) -> None:
        """The word files, made again only when an episode's files were (their stamps say)."""
        digest = hashlib.sha256("".join(stamps).encode()).hexdigest()
        marker = self.output / "search" / "index.stamp"
        if marker.is_file() and marker.read_text() == digest:
            return
        for path, script in index_scripts(searchable).items():
            self._write(path, script)
        self._write("search/index.stamp", digest)

    def _write(self, path: str | Path, content: str | bytes) -> None:
        target = self.output / path
        self.report.files.append(target)
        self.report.written += write_atomic(target, content)


def _copy_media(source: Path, target: Path) -> None:
    """The episode's media copied into the site (media = "copy"), unless it is there."""
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        copy_atomic(source, target)


def _absolute(src: str, page_url: str) -> str:
    """The media's absolute URL: as given, or relative to the page's."""
    if is_web(src):
        return src
    if page_url and src.startswith("../"):
        return page_url.rsplit("/", 2)[0] + "/" + src[3:]
    return ""


def people_in(episode: Episode, transcript: Transcript) -> list[str]:
    """Who takes part: the people the feed names, then the speakers named in the
    transcript (a "Speaker N" is no one's name)."""
    named = [s.speaker for s in transcript.segments if s.speaker and not is_unnamed(s.speaker)]
    return list(dict.fromkeys([p.name for p in episode.people] + named))


def _made_with(producer: str) -> str:
    """ "model=tiny.en;engine=faster-whisper;..." -> "tiny.en, faster-whisper"."""
    settings = dict(part.split("=", 1) for part in producer.split(";") if "=" in part)
    return ", ".join(v for v in (settings.get("model"), settings.get("engine")) if v)


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
    env.filters["reads_as_web"] = reads_as_web
    return env


def _prune(folder: Path, written: list[Path]) -> None:
    """Remove what this render did not write from a folder it writes whole (a show that
    was renamed leaves no page behind)."""
    if folder.is_dir():
        for path in set(folder.iterdir()) - set(written):
            if path.is_file():
                path.unlink()
