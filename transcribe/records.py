"""The records that pass between the stages of the job.

Each stage takes and returns these plain dataclasses; no raw dicts cross a module boundary.
Times are seconds from the start of the episode; dates are ISO 8601 strings in UTC.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import NamedTuple

_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
# names Windows keeps for devices, whatever extension follows ("con.html" too)
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))]
)
_DIGEST_PREFIX = "h."  # a "." never appears in a plain key, so the two kinds cannot collide


def file_key(episode_id: str) -> str:
    """A file-name-safe key for an episode id: the id itself when it is plainly safe
    (a YouTube video id, say), otherwise a digest of it, so no feed value ever picks a path."""
    if _SAFE_KEY.fullmatch(episode_id) and episode_id.lower() not in WINDOWS_RESERVED:
        return episode_id
    digest = hashlib.sha256(episode_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return _DIGEST_PREFIX + digest


@dataclass(frozen=True)
class FeedLink:
    """A file the publisher links from the feed item (a transcript or chapters)."""

    url: str
    type: str = ""  # MIME type as the feed gives it
    language: str = ""
    rel: str = ""


@dataclass(frozen=True)
class Chapter:
    start: float
    title: str
    url: str = ""
    end: float | None = None


@dataclass(frozen=True)
class Person:
    """Someone the publisher names in the feed (`<podcast:person>`), or the description."""

    name: str
    role: str = "host"  # the Podcasting 2.0 role: host, guest, ... (lowercase)


@dataclass
class Episode:
    """One episode of a source, as listed by the fetch stage."""

    id: str  # stable: the feed item's guid, or the video id
    source: str  # the URL of the feed, channel, playlist or video it came from
    title: str
    media_url: str  # what yt-dlp downloads: the enclosure, or the video page
    published: str = ""
    description: str = ""  # HTML as the publisher wrote it: sanitize before display
    content_html: str = ""  # content:encoded
    link: str = ""  # the item's web page
    duration: float | None = None
    show: str = ""  # the feed's or channel's title
    image: str = ""
    transcripts: list[FeedLink] = field(default_factory=list)
    chapters_url: str = ""
    chapters: list[Chapter] = field(default_factory=list)  # chapters the publisher gave
    subtitles: dict[str, str] = field(default_factory=dict)  # language -> URL (manual only)
    # who the publisher says takes part: the item's <podcast:person> tags, else the channel's
    people: list[Person] = field(default_factory=list)
    kind: str = "audio"  # "audio" or "video"

    @property
    def key(self) -> str:
        return file_key(self.id)


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str = ""  # when the publisher's transcript names one


UNNAMED_SPEAKER = "Speaker {}"  # a speaker with no name yet: "Speaker 1", "Speaker 2", ...
_UNNAMED = re.compile(r"Speaker \d+")


def is_unnamed(speaker: str) -> bool:
    return bool(_UNNAMED.fullmatch(speaker))


@dataclass(frozen=True)
class Turn:
    """A stretch of the episode one speaker holds (the speakers stage's finding)."""

    start: float
    end: float
    speaker: str  # "Speaker 1", ... or the name the evidence gives


@dataclass(frozen=True)
class Naming:
    """The name the speakers stage gave a speaker, and what gave it."""

    name: str
    evidence: str


@dataclass
class Transcript:
    segments: list[Segment]
    language: str
    language_probability: float = 1.0
    duration: float = 0.0  # seconds of audio
    origin: str = "whisper"  # "whisper" or "publisher"
    producer: str = ""  # what made it: engine, model and options

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass
class Article:
    url: str  # canonical URL: the article's identity
    title: str
    text: str
    published: str = ""
    author: str = ""
    source: str = ""  # the feed, page or file it was ingested from
    outlet: str = ""
    section: str = ""
    tags: str = ""  # comma-separated, as the page or the feed gives them
    modified: str = ""  # when the feed or sitemap last said it changed: a newer date refetches
    id: int | None = None  # rowid in the catalog, once stored


class ArticleProfile(NamedTuple):
    """What linking compares of an article with a passage (made once, kept in the
    catalog): its index terms (sorted, each once), how often each is printed (in the same
    order), the length of its vector of telling words (what a cosine divides by) and its
    names."""

    terms: list[str]
    counts: list[int]
    norm: float
    names: list[str]


@dataclass(frozen=True)
class PassageMatch:
    """Evidence for a link: one passage of the episode that matched the article."""

    start: float
    end: float
    score: float
    terms: tuple[str, ...]  # the words the passage and the article share
    names: tuple[str, ...] = ()  # the names (people, places, organisations) they share
    confidence: float = 0.0  # probability that the passage is about the article
    linked: bool = True  # confident enough to publish


@dataclass
class Link:
    episode_id: str
    article: Article
    score: float
    evidence: list[PassageMatch]

    days_apart: int | None = None  # between the episode and the article, when both are dated
    confidence: float = 0.0  # probability that the episode talks about this article
    linked: bool = True  # confident enough to publish (the job stores only these)

    @property
    def shared_terms(self) -> list[str]:
        return list(dict.fromkeys(t for match in self.evidence for t in match.terms))

    @property
    def shared_names(self) -> list[str]:
        return list(dict.fromkeys(n for match in self.evidence for n in match.names))

    def strongest_names(self, count: int = 3) -> list[str]:
        """The names of its surest passages first: what a reader is told the link is
        about."""
        surest = sorted(self.evidence, key=lambda m: (-m.confidence, m.start))
        return list(dict.fromkeys(n for match in surest for n in match.names))[:count]
