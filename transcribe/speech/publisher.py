"""The publisher's own transcript, when the feed links one (<podcast:transcript>) or a video
carries manual subtitles: imported in place of Whisper's, marked as the publisher's."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import http
from ..errors import ParseError, TranscribeError
from ..formats import read_transcript
from ..records import Episode, FeedLink, Transcript

if TYPE_CHECKING:
    from . import SpeechOptions

log = logging.getLogger(__name__)

# MIME type (as feeds write it) -> reader, best first: JSON and VTT carry the finest timing
FORMATS_BY_TYPE = {
    "application/json": "json",
    "text/vtt": "vtt",
    "application/x-subrip": "srt",
    "application/srt": "srt",
    "text/srt": "srt",
    "text/html": "html",
}
PREFERENCE = ["json", "vtt", "srt", "html"]


def publisher_transcript(
    episode: Episode, options: SpeechOptions, timeout: float, allow_file_urls: bool
) -> Transcript | None:
    """The publisher's transcript when there is one and the options take those; None when
    Whisper should run (also when the publisher's file cannot be had: said, not fatal)."""
    link = _taken_link(episode, options)
    if link is None:
        return None
    try:
        return import_transcript(link, timeout, allow_file_urls)
    except TranscribeError as e:
        log.warning("%s: the publisher's transcript is unusable (%s); transcribing", episode.id, e)
        return None


def current_producers(episode: Episode, options: SpeechOptions) -> set[str]:
    """The producers whose transcript is current: Whisper's with these options, or the
    publisher's own while the options take those."""
    current = {options.producer()}
    link = _taken_link(episode, options)
    if link is not None:
        current.add(publisher_producer(link))
    return current


def _taken_link(episode: Episode, options: SpeechOptions) -> FeedLink | None:
    return publisher_link(episode, options.language) if options.publisher_transcripts else None


def publisher_link(episode: Episode, language: str = "") -> FeedLink | None:
    """The publisher transcript to import for an episode, or None: the feed's transcript in
    the best format (in the wanted language when there is a choice), else manual subtitles."""
    candidates = [t for t in episode.transcripts if _format_of(t)]
    candidates += [
        FeedLink(url=url, type=_type_of_url(url), language=lang)
        for lang, url in sorted(episode.subtitles.items())
        if _type_of_url(url)
    ]
    if language:
        candidates = [c for c in candidates if c.language in ("", language)] or candidates
    candidates.sort(key=lambda t: PREFERENCE.index(_format_of(t)))
    return candidates[0] if candidates else None


def publisher_producer(link: FeedLink) -> str:
    """The stamp stored with an imported transcript (what made it)."""
    return f"publisher;url={link.url}"


def import_transcript(
    link: FeedLink, timeout: float = 30.0, allow_file_urls: bool = False
) -> Transcript:
    """Fetch and read the publisher's transcript; raises TranscribeError when it cannot be
    had or holds no text."""
    response = http.get(link.url, timeout=timeout, allow_file=allow_file_urls)
    kind = _format_of(link)
    try:
        transcript = read_transcript(response.body.decode("utf-8", errors="replace"), kind)
    except (ValueError, TypeError, AttributeError) as e:
        raise ParseError(f"{link.url}: not a readable {kind} transcript ({e})") from e
    segments = [s for s in transcript.segments if s.text.strip()]
    if not segments:
        raise TranscribeError(f"{link.url}: the publisher's transcript is empty")
    return Transcript(
        segments=segments,
        language=link.language,
        duration=max(s.end for s in segments),
        origin="publisher",
        producer=publisher_producer(link),
    )


def _format_of(link: FeedLink) -> str:
    """The reader for a link: by its declared type, else by its file extension."""
    declared = link.type.split(";")[0].strip().lower()
    return FORMATS_BY_TYPE.get(declared) or FORMATS_BY_TYPE.get(_type_of_url(link.url), "")


def _type_of_url(url: str) -> str:
    path = url.split("?")[0].lower()
    by_extension = {".vtt": "text/vtt", ".srt": "application/x-subrip", ".json": "application/json"}
    return next((t for ext, t in by_extension.items() if path.endswith(ext)), "")
