"""The render stage: the catalog -> a static site of show notes.

Two phases: build each page's context from the catalog, then one writer renders and writes
it. Every file is written atomically, and only when its content changed, so a rerun on an
unchanged catalog touches nothing. Feed content is untrusted: templates autoescape, the
publisher's description is sanitized, and file names come from episode keys, never titles.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import jinja2
import nh3
from markupsafe import Markup

from ..catalog import Catalog
from ..files import write_atomic
from ..formats import FORMATS, clock, json_chapters
from ..records import Episode, Segment, Transcript

STATIC = Path(__file__).parent / "static"
ALLOWED_TAGS = {"a", "p", "br", "em", "strong", "i", "b", "ul", "ol", "li", "blockquote", "code"}
SAFE_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class RenderOptions:
    title: str = "Show notes"
    media: str = "remote"  # "remote": play the publisher's file; "copy": put it in the site
    base_url: str = ""  # where the site will be published, for absolute links


@dataclass
class RenderReport:
    pages: int = 0
    written: int = 0  # files whose content changed
    files: list[Path] = field(default_factory=list)


def render_site(catalog: Catalog, output: Path, options: RenderOptions) -> RenderReport:
    """Write index.html, a page per transcribed episode and its transcript files."""
    output.mkdir(parents=True, exist_ok=True)
    report = RenderReport()
    env = _environment()
    shown = []
    for episode in catalog.episodes():
        transcript = catalog.transcript(episode.id)
        if transcript is None:
            continue
        links = catalog.links(episode.id)
        shown.append({"episode": episode, "links": links, **_when(episode)})
        _render_episode(env, catalog, episode, transcript, links, output, options, report)
    page = env.get_template("index.html").render(root="", site_title=options.title, episodes=shown)
    _write(output / "index.html", page, report)
    for asset in sorted(STATIC.iterdir()):
        _write(output / "static" / asset.name, asset.read_text(encoding="utf-8"), report)
    report.pages = len(shown) + 1
    return report


def _render_episode(
    env: jinja2.Environment,
    catalog: Catalog,
    episode: Episode,
    transcript: Transcript,
    links: list,
    output: Path,
    options: RenderOptions,
    report: RenderReport,
) -> None:
    folder = output / "episodes"
    for extension, writer in FORMATS.items():
        _write(folder / f"{episode.key}.{extension}", writer.render(transcript), report)
    chapters = catalog.chapters(episode.id)
    if chapters:
        _write(
            folder / f"{episode.key}.chapters.json", json_chapters(chapters, episode.title), report
        )
    page = env.get_template("episode.html").render(
        root="../",
        site_title=options.title,
        episode=episode,
        transcript=transcript,
        description=sanitize_html(episode.content_html or episode.description),
        paragraphs=paragraphs(transcript.segments),
        links=links,
        chapters=chapters,
        formats=list(FORMATS),
        media_src=_media_src(catalog, episode, output, options),
        made_with=_made_with(transcript.producer),
        lang=transcript.language or "en",
        **_when(episode),
    )
    _write(folder / f"{episode.key}.html", page, report)


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


def safe_url(url: str) -> str:
    """A URL for an href: only http(s) and mailto; anything else becomes inert."""
    return url if urlparse(url.strip()).scheme.lower() in SAFE_SCHEMES else "#"


def _media_src(catalog: Catalog, episode: Episode, output: Path, options: RenderOptions) -> str:
    media_path = catalog.progress(episode.id)["media_path"]
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


def _made_with(producer: str) -> str:
    """ "model=tiny.en;engine=faster-whisper;..." -> "tiny.en, faster-whisper"."""
    settings = dict(part.split("=", 1) for part in producer.split(";") if "=" in part)
    return ", ".join(v for v in (settings.get("model"), settings.get("engine")) if v)


def _when(episode: Episode) -> dict[str, str]:
    date = ""
    if episode.published:
        try:
            date = datetime.fromisoformat(episode.published).strftime("%-d %B %Y")
        except ValueError:
            date = episode.published[:10]
    return {"date": date, "duration": clock(episode.duration) if episode.duration else ""}


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


def _write(path: Path, content: str, report: RenderReport) -> None:
    report.files.append(path)
    report.written += write_atomic(path, content)
