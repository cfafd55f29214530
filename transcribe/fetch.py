"""The fetch stage: list each source through yt-dlp, download an episode's audio.

yt-dlp lists and downloads everything. For podcast feeds the feed is also read by
feeds.py, for the tags yt-dlp ignores, and that reading is the fallback where yt-dlp gives
up on a feed (Atom, or XML that is not well-formed). A download lands in a scratch folder,
is checked to decode, and only then is moved into place, so a half-downloaded or corrupt
file is never where a finished one belongs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import http
from .errors import FetchError, MediaError, ParseError
from .feeds import Feed, looks_like_feed, parse_feed
from .records import Chapter, Episode

log = logging.getLogger(__name__)

ProgressHook = Callable[[dict[str, Any]], None]


class _QuietLogger:
    """yt-dlp's messages go to our log, not to the terminal."""

    def debug(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)

    info = debug

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", msg)

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", msg)


def _ydl_options(timeout: float, allow_file_urls: bool, **extra: Any) -> dict[str, Any]:
    return {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _QuietLogger(),
        "socket_timeout": timeout,
        "enable_file_urls": allow_file_urls,
        "noplaylist": True,
        **extra,
    }


def list_source(
    url: str,
    limit: int = 0,
    timeout: float = 30.0,
    allow_file_urls: bool = False,
    keep_feed: Callable[[bytes], None] | None = None,
) -> list[Episode]:
    """The episodes a feed, channel, playlist, video URL or .info.json file holds, newest
    first (the feed's order), without downloading any media. When the source is a feed,
    `keep_feed` is given its body (the enriched feed is made from it)."""
    from yt_dlp import YoutubeDL
    from yt_dlp.networking.exceptions import RequestError
    from yt_dlp.utils import YoutubeDLError

    if url.startswith("file:") and not allow_file_urls:
        raise FetchError(f"{url}: file:// URLs are refused unless fetch.allow_file_urls = true")
    if url.endswith(".info.json") and "://" not in url:
        return _from_info_json(Path(url), timeout)

    options = _ydl_options(timeout, allow_file_urls, extract_flat="in_playlist", skip_download=True)
    try:
        with YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except (YoutubeDLError, RequestError, ValueError) as e:
        # Atom feeds and feeds that are not well-formed XML: yt-dlp says "Unsupported URL"
        feed = _read_feed(url, timeout, allow_file_urls, keep_feed)
        if feed is None:
            raise FetchError(f"{url}: {_yt_dlp_reason(e)}") from e
        log.info("%s: read as a feed (%s)", url, _yt_dlp_reason(e))
        return _limited(feed.items, limit)

    if info.get("_type") != "playlist":
        return [episode_from_info(info, source=url)]
    entries = [e for e in info.get("entries") or [] if e]
    if info.get("extractor_key") == "Generic":
        feed = _read_feed(url, timeout, allow_file_urls, keep_feed)
        if feed is not None:  # an RSS feed: the feed's own reading carries more
            return _limited(_merge(feed, entries), limit)
    show = info.get("channel") or info.get("uploader") or info.get("title") or ""
    return _limited([episode_from_info(e, source=url, show=show) for e in entries], limit)


def episode_from_info(info: dict[str, Any], source: str, show: str = "") -> Episode:
    """Map one entry of yt-dlp's info (a video, or a flat playlist entry) to an Episode."""
    from yt_dlp.utils import unsmuggle_url

    url, smuggled = unsmuggle_url(info.get("webpage_url") or info.get("url") or "", {})
    episode_id = smuggled.get("force_videoid") or info.get("id") or url
    if not episode_id or not url:
        raise ParseError(f"{source}: an entry has neither an id nor a URL")
    timestamp = info.get("timestamp") or info.get("release_timestamp")
    published = ""
    if timestamp:
        published = datetime.fromtimestamp(timestamp, UTC).isoformat()
    elif info.get("upload_date"):
        published = datetime.strptime(info["upload_date"], "%Y%m%d").replace(tzinfo=UTC).isoformat()
    subtitles = {
        lang: _best_subtitle_url(tracks)
        for lang, tracks in (info.get("subtitles") or {}).items()
        if _best_subtitle_url(tracks)
    }
    return Episode(
        id=str(episode_id),
        source=source,
        show=show or info.get("channel") or info.get("uploader") or "",
        title=info.get("title") or str(episode_id),
        media_url=url,
        published=published,
        description=info.get("description") or "",
        link=info.get("webpage_url") or "",
        duration=float(info["duration"]) if info.get("duration") else None,
        image=info.get("thumbnail") or "",
        chapters=[
            Chapter(start=float(c["start_time"]), end=c.get("end_time"), title=c.get("title", ""))
            for c in info.get("chapters") or []
        ],
        subtitles=subtitles,
        kind="video"
        if info.get("vcodec") not in (None, "none") or info.get("ie_key") == "Youtube"
        else "audio",
    )


def download(
    episode: Episode,
    media_dir: Path,
    timeout: float = 30.0,
    retries: int = 3,
    allow_file_urls: bool = False,
    progress: ProgressHook | None = None,
) -> tuple[Path, float]:
    """Download an episode's audio into media_dir/<key>.<ext>; returns the path and the
    duration in seconds, measured by decoding the file (a file that does not decode is
    refused, whatever the server said). A server that says it is busy (429 or 503) is
    asked again after the wait it names, `retries` times."""
    _check_scheme(episode.media_url, allow_file_urls, local_info=_is_info_json(episode))
    for attempt in range(retries + 1):
        try:
            return _download_once(episode, media_dir, timeout, retries, allow_file_urls, progress)
        except FetchError as e:
            wait = _busy_wait(e, attempt)
            if wait is None or attempt == retries:
                raise
            log.warning("%s: the server is busy; trying again in %.0f s", episode.media_url, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


BUSY = (429, 503)  # statuses that mean "later", not "never"


def _busy_wait(error: Exception, attempt: int) -> float | None:
    """Seconds to wait before trying again when the server said it is busy (429 or 503),
    as http.retry_after reads its Retry-After; None for any other failure."""
    cause: BaseException | None = error
    for _ in range(10):  # down the chain of causes to the HTTP error, if one is there
        if cause is None or getattr(cause, "status", None) is not None:
            break
        exc_info = getattr(cause, "exc_info", None)
        cause = (
            getattr(cause, "cause", None)
            or (exc_info[1] if exc_info else None)
            or cause.__cause__
            or cause.__context__
        )
    if cause is None or getattr(cause, "status", None) not in BUSY:
        return None
    response = getattr(cause, "response", None)
    header = response.headers.get("Retry-After") if response is not None else None
    return http.retry_after(header, attempt)


def _download_once(
    episode: Episode,
    media_dir: Path,
    timeout: float,
    retries: int,
    allow_file_urls: bool,
    progress: ProgressHook | None,
) -> tuple[Path, float]:
    from yt_dlp import YoutubeDL
    from yt_dlp.networking.exceptions import RequestError
    from yt_dlp.utils import YoutubeDLError

    scratch = media_dir / ".partial" / episode.key
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    options = _ydl_options(
        timeout,
        allow_file_urls,
        format="bestaudio/best",
        outtmpl={"default": str(scratch / "media.%(ext)s")},
        retries=retries,
        fragment_retries=retries,
        progress_hooks=[progress] if progress else [],
        overwrites=True,
        writesubtitles=False,
    )
    try:
        with YoutubeDL(options) as ydl:
            if _is_info_json(episode):
                ydl.download_with_info_file(episode.media_url)
            else:
                ydl.download([episode.media_url])
        files = [
            p for p in scratch.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))
        ]
        if len(files) != 1:
            raise FetchError(
                f"{episode.media_url}: expected one downloaded file, found {len(files)}"
            )
        duration = probe_media(files[0])
        final = media_dir / f"{episode.key}{files[0].suffix}"
        os.replace(files[0], final)
        return final, duration
    except (YoutubeDLError, RequestError, ValueError, OSError) as e:
        raise FetchError(
            f"{episode.media_url}: could not download the audio ({_yt_dlp_reason(e)})"
        ) from e
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def probe_media(path: Path) -> float:
    """Decode every audio frame of a file; returns its duration in seconds. Raises
    MediaError for an empty, corrupt or silent-track-less file."""
    import av

    if not path.exists() or path.stat().st_size == 0:
        raise MediaError(f"{path.name}: empty file")
    samples, rate = 0, 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path.name}: no audio track")
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate
    except MediaError:
        raise
    except Exception as e:  # PyAV's errors: InvalidDataError, DecoderNotFoundError, ...
        raise MediaError(f"{path.name}: does not decode as audio ({e})") from e
    if not samples or not rate:
        raise MediaError(f"{path.name}: no audio frames")
    return samples / rate


def _is_info_json(episode: Episode) -> bool:
    """Only an info file the user named as a source is read from disk, never a feed's URL."""
    return episode.media_url == episode.source and episode.source.endswith(".info.json")


def _check_scheme(url: str, allow_file_urls: bool, local_info: bool = False) -> None:
    if local_info or http.is_web(url):
        return
    if url.startswith("file:") and allow_file_urls:
        return
    raise FetchError(f"{url[:200]}: not an http(s) URL; refused")


def _read_feed(
    url: str,
    timeout: float,
    allow_file_urls: bool,
    keep_feed: Callable[[bytes], None] | None = None,
) -> Feed | None:
    """The source read as a feed; None when it is no feed at all."""
    response = http.get(url, timeout=timeout, allow_file=allow_file_urls)
    if not looks_like_feed(response.body):
        return None
    feed = parse_feed(response.body, url)
    if feed.malformed and not feed.items:
        raise ParseError(f"{url}: malformed feed ({feed.malformed})")
    if feed.malformed:
        log.warning("%s: not well-formed (%s); read what could be read", url, feed.malformed)
    if keep_feed:
        keep_feed(response.body)
    return feed


def _merge(feed: Feed, entries: list[dict[str, Any]]) -> list[Episode]:
    """The feed's items, with what yt-dlp found for the same guid filled in where the feed
    left it blank (yt-dlp reads itunes:duration and dates its own way)."""
    by_id = {}
    for entry in entries:
        try:
            episode = episode_from_info(entry, source=feed.url, show=feed.title)
        except ParseError:
            continue
        by_id[episode.id] = episode
    items = feed.items  # made anew on each reading: fill in this list, and return it
    for item in items:
        listed = by_id.get(item.id)
        if listed:
            item.duration = item.duration or listed.duration
            item.published = item.published or listed.published
    return items


def _from_info_json(path: Path, timeout: float) -> list[Episode]:
    """An info dict saved by yt-dlp (--write-info-json): processed by yt-dlp as if it had
    just extracted it, so its formats and subtitles are resolved the usual way."""
    from yt_dlp import YoutubeDL

    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ParseError(f"{path}: not a readable info JSON file ({e})") from e
    with YoutubeDL(_ydl_options(timeout, False, skip_download=True)) as ydl:
        processed = ydl.process_ie_result(info, download=False)
    episode = episode_from_info(processed, source=str(path))
    episode.media_url = str(path)
    return [episode]


def _best_subtitle_url(tracks: list[dict[str, Any]]) -> str:
    """Prefer WebVTT, then SRT, then whatever the first track is."""
    for ext in ("vtt", "srt"):
        for track in tracks:
            if track.get("ext") == ext and track.get("url"):
                return track["url"]
    return next((t["url"] for t in tracks if t.get("url")), "")


def _limited(episodes: list[Episode], limit: int) -> list[Episode]:
    """The newest `limit` episodes (all when 0), newest first; undated ones keep the feed's
    order after the dated."""
    ordered = sorted(episodes, key=lambda e: e.published or "", reverse=True)
    return ordered[:limit] if limit else ordered


def _yt_dlp_reason(error: Exception) -> str:
    text = str(error).replace("ERROR: ", "").strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
