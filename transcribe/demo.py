"""The bundled demo: a small invented outlet, spoken, published and served on 127.0.0.1.

`examples/demo/` holds the outlet's articles (HTML pages) and its podcast's episode scripts.
The demo speaks each script with espeak-ng (a conversation: the host and a reporter, two
voices, named in the feed with <podcast:person>), encodes it as MP3, writes a podcast feed and an
article feed, serves them all on a loopback port for the length of the run, and runs the
whole job on them with the real yt-dlp, Whisper, trafilatura and jinja2. The same pieces
(speak, the feed writers, serve) build the fixtures of the test suite.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import logging
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from .errors import TranscribeError
from .records import Turn

if TYPE_CHECKING:
    from .pipeline import RunReport

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "demo"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"


@dataclass
class FeedEntry:
    """One item of a feed the demo or a test publishes."""

    guid: str
    title: str
    published: str  # ISO 8601
    description: str = ""
    link: str = ""
    enclosure: str = ""  # path under the served folder, or an absolute URL
    enclosure_type: str = "audio/mpeg"
    duration: float | None = None
    extra: tuple[tuple[str, dict[str, str]], ...] = ()  # (podcast:tag, attributes)
    people: tuple[tuple[str, str], ...] = ()  # (name, role): <podcast:person role=...>name
    content: str = ""  # content:encoded (HTML)


def ffmpeg(*arguments: str) -> None:
    """Run ffmpeg quietly, overwriting its output; raises CalledProcessError on failure."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *arguments],
        check=True,
        capture_output=True,
    )


def speak(text: str, target: Path, voice: str = "en-us", speed: int = 165) -> Path:
    """Speak a text into an audio file with espeak-ng; ffmpeg encodes it by the target's
    extension (.mp3, .m4a, .wav, ...). Cached: an existing target is kept."""
    if target.exists():
        return target
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            raise TranscribeError(f"{tool} is not installed (make setup installs it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "speech.wav"
        subprocess.run(  # the text on stdin: as an argument, one starting with "-" is an option
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), "--stdin"],
            input=text.encode(),
            check=True,
            capture_output=True,
        )
        partial_file = Path(scratch) / f"encoded{target.suffix}"
        ffmpeg("-i", str(wav), "-ac", "1", str(partial_file))
        shutil.move(partial_file, target)
    return target


def converse(lines: list[tuple[str, str]], target: Path, pause: float = 0.5) -> list[Turn]:
    """Speak a conversation, (voice, text) a turn, into one audio file (each voice an
    espeak-ng voice, a pause between turns); returns who spoke when, each turn's speaker
    named by its voice. Cached: an existing target keeps its turns beside it."""
    import wave

    turns_file = target.with_name(target.name + ".turns.json")
    if target.exists() and turns_file.exists():
        return [Turn(**t) for t in json.loads(turns_file.read_text())]
    frames, turns, at, rate = [], [], 0.0, 22050
    with tempfile.TemporaryDirectory() as scratch:
        for n, (voice, text) in enumerate(lines):
            with wave.open(str(speak(text, Path(scratch) / f"{n}.wav", voice))) as part:
                rate = part.getframerate()
                audio = part.readframes(part.getnframes())
            seconds = len(audio) / 2 / rate
            turns.append(Turn(round(at, 3), round(at + seconds, 3), voice))
            silence = b"\0\0" * int(pause * rate)
            frames += [audio, silence]
            at += seconds + len(silence) / 2 / rate
        joined = Path(scratch) / "conversation.wav"
        with wave.open(str(joined), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(b"".join(frames))
        target.parent.mkdir(parents=True, exist_ok=True)
        encoded = Path(scratch) / f"encoded{target.suffix}"
        ffmpeg("-i", str(joined), "-ac", "1", str(encoded))
        shutil.move(encoded, target)
    turns_file.write_text(json.dumps([t.__dict__ for t in turns]))
    return turns


def write_feed(
    path: Path, title: str, base_url: str, entries: list[FeedEntry], description: str = ""
) -> Path:
    """An RSS 2.0 feed with the itunes, podcast and content namespaces."""
    nsmap = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "content": CONTENT_NS}
    rss = etree.Element("rss", nsmap=nsmap, version="2.0")
    channel = etree.SubElement(rss, "channel")
    _sub(channel, "title", title)
    _sub(channel, "link", base_url)
    _sub(channel, "description", description or title)
    _sub(channel, "language", "en")
    for entry in entries:
        item = etree.SubElement(channel, "item")
        _sub(item, "guid", entry.guid, isPermaLink="false")
        _sub(item, "title", entry.title)
        _sub(
            item,
            "pubDate",
            format_datetime(datetime.fromisoformat(entry.published.replace("Z", "+00:00"))),
        )
        if entry.description:
            _sub(item, "description", entry.description)
        if entry.content:
            _sub(item, f"{{{CONTENT_NS}}}encoded", entry.content)
        if entry.link:
            _sub(item, "link", _absolute(base_url, entry.link))
        if entry.enclosure:
            url = _absolute(base_url, entry.enclosure)
            size = 0
            local = path.parent / entry.enclosure
            if "://" not in entry.enclosure and local.exists():
                size = local.stat().st_size
            etree.SubElement(
                item, "enclosure", url=url, type=entry.enclosure_type, length=str(size)
            )
        if entry.duration:
            _sub(item, f"{{{ITUNES_NS}}}duration", str(round(entry.duration)))
        for tag, attributes in entry.extra:
            attrs = {k: _absolute(base_url, v) if k == "url" else v for k, v in attributes.items()}
            etree.SubElement(item, f"{{{PODCAST_NS}}}{tag}", **attrs)
        for name, role in entry.people:
            _sub(item, f"{{{PODCAST_NS}}}person", name, role=role)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(etree.tostring(rss, xml_declaration=True, encoding="utf-8", pretty_print=True))
    return path


@contextmanager
def serve(
    directory: Path, handler_class: type[http.server.SimpleHTTPRequestHandler] | None = None
) -> Iterator[str]:
    """Serve a folder over HTTP on 127.0.0.1 (a free port) while the block runs; yields the
    base URL, ending in "/". `handler_class`: another request handler (the tests' faults)."""
    handler = partial(handler_class or _QuietHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (yt-dlp probing a file) are not news


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@dataclass
class DemoSite:
    folder: Path
    episodes: int
    articles: int


def demo_script(episode: dict) -> str:
    """An episode's whole script, its speakers' turns one after another."""
    return " ".join(turn["text"] for turn in episode["turns"])


def _demo_audio(episode: dict, voices: dict[str, str]) -> str:
    """Its audio's path in the served folder, named by what it says and in which voices
    (cached: a changed script or voice is spoken again)."""
    said = json.dumps([episode["turns"], voices], sort_keys=True)
    return f"audio/{episode['guid']}-{hashlib.sha256(said.encode()).hexdigest()[:12]}.mp3"


def build_demo_site(folder: Path, examples: Path = EXAMPLES) -> DemoSite:
    """Speak the episodes and lay out the articles in `folder` (feeds are written once the
    server's address is known). Audio is cached by script, so a rerun speaks nothing."""
    show = json.loads((examples / "episodes.json").read_text(encoding="utf-8"))
    voices = show["show"]["voices"]
    for episode in show["episodes"]:
        lines = [(voices[turn["speaker"]], turn["text"]) for turn in episode["turns"]]
        converse(lines, folder / _demo_audio(episode, voices))
    pages = sorted((examples / "articles").glob("*.html"))
    (folder / "articles").mkdir(parents=True, exist_ok=True)
    for page in pages:
        shutil.copyfile(page, folder / "articles" / page.name)
    return DemoSite(folder, len(show["episodes"]), len(pages))


def publish_demo_feeds(site: DemoSite, base_url: str, examples: Path = EXAMPLES) -> tuple[str, str]:
    """Write the podcast feed and the article feed for a server at base_url; returns
    their URLs."""
    show = json.loads((examples / "episodes.json").read_text(encoding="utf-8"))
    entries = []
    for episode in show["episodes"]:
        entries.append(
            FeedEntry(
                guid=episode["guid"],
                title=episode["title"],
                published=episode["published"],
                description=episode["description"],
                enclosure=_demo_audio(episode, show["show"]["voices"]),
                people=tuple((name, role) for name, role in episode["people"]),
            )
        )
    info = show["show"]
    write_feed(site.folder / "podcast.xml", info["title"], base_url, entries, info["description"])
    articles = []
    for page in sorted((site.folder / "articles").glob("*.html")):
        head = etree.HTML(page.read_bytes())
        title = head.findtext(".//title") or page.stem
        published = head.xpath("string(//meta[@property='article:published_time']/@content)")
        articles.append(
            FeedEntry(
                guid=page.stem, title=title, published=published, link=f"articles/{page.name}"
            )
        )
    write_feed(site.folder / "articles.xml", info["author"], base_url, articles)
    return base_url + "podcast.xml", base_url + "articles.xml"


def demo_config_text(podcast_url: str, articles_url: str, data: Path, output: Path) -> str:
    """The config the demo runs with, as a user would write it."""
    return (
        f'data = "{data}"\noutput = "{output}"\narticles = ["{articles_url}"]\n\n'
        f'[[sources]]\nurl = "{podcast_url}"\n\n'
        '[speech]\nmodel = "tiny.en"\n\n'
        '[render]\ntitle = "The Millbrook Ledger Weekly: show notes"\nmedia = "copy"\n'
        f'base_url = "{DEMO_SITE_URL}"\n'
    )


# where the demo's site would be served from: `python3 -m http.server -d output 8000`
DEMO_SITE_URL = "http://localhost:8000/"


def run_demo(data: Path, output: Path) -> RunReport:
    """The whole job on the demo: its episodes spoken and served with their feeds on
    127.0.0.1 for the length of the run, the config written to `data`/demo.toml, the
    catalog and media kept in `data`, the site written to `output`."""
    from .catalog import Catalog
    from .config import load_config
    from .pipeline import run_job

    site = build_demo_site(data / "site")
    with serve(site.folder) as base_url:
        podcast_url, articles_url = publish_demo_feeds(site, base_url)
        config_file = data / "demo.toml"
        config_file.write_text(
            demo_config_text(podcast_url, articles_url, data.resolve(), output.resolve()),
            encoding="utf-8",
        )
        log.info(
            "demo: %d episodes and %d articles served at %s", site.episodes, site.articles, base_url
        )
        config = load_config(config_file)
        with Catalog(config.catalog_path) as catalog:
            return run_job(config, catalog)


def _sub(parent: etree._Element, tag: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, **attributes)
    element.text = text
    return element


def _absolute(base_url: str, path: str) -> str:
    return path if "://" in path else base_url + path.lstrip("/")
