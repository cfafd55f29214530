"""What the pages keep of untrusted HTML and URLs: the publisher's HTML sanitized to a few
harmless tags, or read as plain text, and links that cannot run script."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlparse

import nh3
from markupsafe import Markup

from ..http import is_web

ALLOWED_TAGS = {"a", "p", "br", "em", "strong", "i", "b", "ul", "ol", "li", "blockquote", "code"}
SAFE_SCHEMES = {"http", "https", "mailto"}
_BLOCK_START = re.compile(r"<(?=/?(?:p|br|li|div|blockquote|h[1-6]|tr|td)\b)", re.IGNORECASE)


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


def reads_as_web(url: str) -> bool:
    """An http(s) address as a browser reads it, spaces and case aside: one a reader can
    open (not a urn: id, a file or a script)."""
    return is_web(url.strip().lower())


def safe_url(url: str) -> str:
    """A URL for an href: only http(s) and mailto; anything else becomes inert."""
    return url if urlparse(url.strip()).scheme.lower() in SAFE_SCHEMES else "#"
