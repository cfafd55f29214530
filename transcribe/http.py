"""Plain HTTP GETs for feeds and article pages (yt-dlp does the media downloads)."""

from __future__ import annotations

import http.client
import math
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .errors import FetchError

USER_AGENT = "transcribe/0.1 (+podcast transcript companion)"
MAX_BYTES = 50 * 1024 * 1024  # a feed or page larger than this is refused


def is_web(url: str) -> bool:
    """An http(s) address, the only kind published or followed from untrusted content."""
    return url.startswith(("http://", "https://"))


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    body: bytes
    content_type: str


def get(url: str, timeout: float = 30.0, retries: int = 2, allow_file: bool = False) -> Response:
    """GET a URL, retrying connection failures, 429 and 5xx with a growing pause."""
    if url.startswith("file:") and not allow_file:
        raise FetchError(f"{url}: file:// URLs are refused unless allowed in the config")
    if not url.startswith(("http://", "https://", "file:")):
        raise FetchError(f"{url}: not an http(s) URL")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read(MAX_BYTES + 1)
                if len(body) > MAX_BYTES:
                    raise FetchError(f"{url}: larger than {MAX_BYTES // 2**20} MiB")
                return Response(response.geturl(), body, response.headers.get_content_type())
        except urllib.error.HTTPError as e:
            retryable = e.code == 429 or e.code >= 500
            if not retryable or attempt == retries:
                raise FetchError(f"{url}: HTTP {e.code} {e.reason}") from e
            pause = retry_after(e.headers.get("Retry-After"), attempt)
        except (ValueError, http.client.HTTPException) as e:  # a malformed URL or response
            raise FetchError(f"{url[:200]}: {e}") from e
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            if attempt == retries:
                reason = getattr(e, "reason", e)
                raise FetchError(f"{url}: {reason}") from e
            pause = 2.0**attempt
        time.sleep(pause)
    raise AssertionError("unreachable")


MAX_WAIT = 60.0  # seconds a busy server's Retry-After is waited, at most


def retry_after(header: str | None, attempt: int) -> float:
    """Seconds to wait before asking a busy server again: its Retry-After, in seconds or as
    a date (at most MAX_WAIT), else 1, 2, 4 ... by attempt."""
    backoff = min(2.0**attempt, MAX_WAIT)
    if not header:
        return backoff
    try:
        seconds = float(header)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return backoff
    return min(max(seconds, 0.0), MAX_WAIT) if math.isfinite(seconds) else backoff
