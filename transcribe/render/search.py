"""Search across every transcript, with no server: a prebuilt index the page's script reads.

The index is split so that a search loads little, and written as scripts rather than JSON
because a page opened from file:// may load scripts but not fetch files:
- search/episodes.js: each episode's key, title, show and date;
- search/words-X.js: each word starting with X -> the episodes that say it (by number);
- search/text/KEY.js: an episode's segments (start, text), loaded for the episodes whose
  words all match, to find the phrase and the moment it was said.
Words are compared lowercased and without accents, the same way in Python and in the
script (static/search.js).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from ..records import Segment

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Searchable:
    """An episode as the search lists it."""

    key: str
    title: str
    show: str
    date: str
    words: frozenset[str]


def normalized_words(text: str) -> list[str]:
    """Lowercase words without accents: "Café Zürich" -> ["cafe", "zurich"]; in scripts
    written without spaces, overlapping pairs of characters: "气候变化" -> ["气候", "候变",
    "变化"], so that a word inside a run of them is found."""
    if text.isascii():
        return _WORD.findall(text.lower())
    text = unicodedata.normalize("NFKD", text).translate(_marks())
    return [part for word in _WORD.findall(text.lower()) for part in _pairs(word)]


# Chinese, Japanese (kana) and Thai: runs of letters with no spaces between the words
_UNSPACED = re.compile("[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _pairs(word: str) -> list[str]:
    """A word, with each run of unspaced script in it cut into overlapping pairs."""
    parts, last = [], 0
    for run in _UNSPACED.finditer(word):
        if run.start() > last:
            parts.append(word[last : run.start()])
        letters = run.group()
        parts.extend([letters[i : i + 2] for i in range(len(letters) - 1)] or [letters])
        last = run.end()
    if last < len(word):
        parts.append(word[last:])
    return parts


def vocabulary(text: str) -> set[str]:
    """The distinct normalized_words of a text. Accents are taken off the few words that
    have them, not off the whole text (five times faster on a transcript); such words are
    taken whole, between spaces, since a combining mark would split them."""
    words: set[str] = set()
    for token in set(text.lower().split()):
        words.update(_WORD.findall(token) if token.isascii() else normalized_words(token))
    return words


@cache
def _marks() -> dict[int, None]:
    """Every combining mark (Unicode category M), to delete: removed after NFKD, they leave
    letters without their accents (the script's \\p{M} does the same)."""
    return {c: None for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M"}


def shard(word: str) -> str:
    """The file a word's entry lives in: its first letter or digit, else "_"."""
    first = word[:1]
    return first if first.isascii() and first.isalnum() else "_"


def text_script(key: str, segments: list[Segment]) -> str:
    """search/text/KEY.js: the episode's segments, for finding a phrase and its time, and
    who said it (a third field, when known)."""
    rows = [
        [round(s.start, 2), " ".join(s.text.split()), *([s.speaker] if s.speaker else [])]
        for s in segments
        if s.text.strip()
    ]
    return f"TranscribeSearch.addText({_js(key)}, {_js(rows)});\n"


def index_scripts(episodes: list[Searchable]) -> dict[str, str]:
    """search/episodes.js and the word files, by path under the site."""
    postings: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for number, episode in enumerate(episodes):
        for word in sorted(episode.words):
            postings[shard(word)][word].append(number)
    listed = [[e.key, e.title, e.show, e.date] for e in episodes]
    scripts = {"search/episodes.js": f"TranscribeSearch.setEpisodes({_js(listed)});\n"}
    for name, words in sorted(postings.items()):
        scripts[f"search/words-{name}.js"] = (
            f"TranscribeSearch.addWords({_js(name)}, {_js(dict(sorted(words.items())))});\n"
        )
    return scripts


def _js(value: object) -> str:
    """JSON that is safe inside a script: no "</script>" or HTML comment can close it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e")
