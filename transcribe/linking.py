"""The linking stage: which of the outlet's articles an episode talks about, and why.

The transcript is cut into passages of about a minute. Each passage's telling words (no
stopwords) query the article index (BM25 over SQLite FTS5); each candidate article is then
scored by the words it shares with the passage, each word weighted by how rare it is among
the articles, so shared names and numbers count and shared small talk does not. A passage
counts as evidence for an article only above a threshold; an episode's related articles are
ranked by the sum of their evidence.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Protocol

from .records import Article, Link, PassageMatch, Segment, Transcript

# Function words that carry no topic; compared after the index's own stemming.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his
    how i if in into is it its itself just let me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some
    such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves okay yeah well going get got
    like know think say says said really one two three four five six seven eight nine
    ten first second next last week weeks today tonight day days year years time back
    right good new people thing things way want much many lot also every still around us
    ok im its thats dont
    """.split()  # noqa: SIM905 - a word list reads better as words
)

_WORD = re.compile(r"[^\W_]+")
# a sentence ends at . ! or ? (and closing quotes) before a space and a capital or digit
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")


@dataclass(frozen=True)
class LinkingOptions:
    top: int = 5  # related articles kept per episode
    passage_seconds: float = 60.0  # length of a passage
    min_score: float = 8.0  # a passage must score this much against an article to count
    min_shared_terms: int = 3  # and share at least this many telling words with it
    candidates: int = 10  # articles retrieved per passage before scoring

    def producer(self) -> str:
        return ";".join(f"{k}={v}" for k, v in asdict(self).items())


@dataclass(frozen=True)
class Passage:
    start: float
    end: float
    text: str


class ArticleIndex(Protocol):
    """What linking needs of the catalog."""

    def tokenize(self, text: str) -> list[str]: ...
    def document_frequencies(self, terms: list[str]) -> dict[str, int]: ...
    def search_articles(self, terms: list[str], limit: int = 10) -> list[tuple[int, float]]: ...
    def article(self, article_id: int) -> Article: ...
    def article_count(self) -> int: ...


def split_sentences(text: str) -> list[str]:
    """The text's sentences (paragraph breaks end one too)."""
    sentences = []
    for paragraph in text.split("\n"):
        sentences.extend(s.strip() for s in _SENTENCE_END.split(paragraph) if s.strip())
    return sentences


_CAPITALIZED = re.compile(r"[A-Z][\w'’-]*")
# capitalized for the calendar's sake, not names anyone needs help with
_NOT_NAMES = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december mr mrs ms dr
    """.split()  # noqa: SIM905
)


def proper_names(text: str) -> list[str]:
    """Names in a text, as runs of capitalized words (Whisper and newsrooms capitalize
    names): "Volodymyr Zelensky", "Kharkiv", "NATO". A run that starts a sentence loses a
    first word that is a common word ("The", "But"). Each name once, in order."""
    names: dict[str, None] = {}
    for sentence in split_sentences(text):
        words = sentence.split()
        run: list[str] = []
        for position, raw in enumerate([*words, ""]):
            word = raw.strip('.,;:!?"()[]“”‘’')
            word = word[:-2] if word.endswith(("'s", "’s")) else word
            if _CAPITALIZED.fullmatch(word) and len(word) > 1:
                if not run and position == 0 and word.lower() in STOPWORDS:
                    continue
                run.append(word)
                if raw.endswith((",", ";", ":", ".", "?", "!")):  # a name ends at punctuation
                    names.setdefault(" ".join(run))
                    run = []
                continue
            if run:
                names.setdefault(" ".join(run))
                run = []
    return [n for n in names if n.lower() not in _NOT_NAMES and n.lower() not in STOPWORDS]


def query_terms(text: str, index: ArticleIndex) -> list[str]:
    """The text's telling words, as index terms, once each, in order: no function words,
    no single letters."""
    return _telling(index.tokenize(text), stopword_terms(index))


def _telling(terms: list[str], stopwords: frozenset[str]) -> list[str]:
    return [t for t in dict.fromkeys(terms) if t not in stopwords and len(t) > 1]


def stopword_terms(index: ArticleIndex) -> frozenset[str]:
    return frozenset(index.tokenize(" ".join(STOPWORDS))) | STOPWORDS


def passages(segments: list[Segment], seconds: float) -> list[Passage]:
    """Consecutive windows of whole segments, each about `seconds` long; a short tail joins
    the window before it."""
    windows: list[list[Segment]] = []
    for segment in segments:
        if windows and segment.end - windows[-1][0].start <= seconds:
            windows[-1].append(segment)
        else:
            windows.append([segment])
    if len(windows) > 1 and windows[-1][-1].end - windows[-1][0].start < seconds / 2:
        windows[-2].extend(windows.pop())
    return [
        Passage(w[0].start, w[-1].end, " ".join(s.text.strip() for s in w)) for w in windows if w
    ]


def link_transcript(
    episode_id: str, transcript: Transcript, index: ArticleIndex, options: LinkingOptions
) -> list[Link]:
    """The episode's related articles, best first, each with its evidence."""
    return rank_articles(
        episode_id, passages(transcript.segments, options.passage_seconds), index, options
    )


def link_text(
    text: str, index: ArticleIndex, options: LinkingOptions, words: int = 150
) -> list[Link]:
    """Related articles for a plain text (no times): passages of about `words` words."""
    tokens = text.split()
    chunks = [
        Passage(0.0, 0.0, " ".join(tokens[i : i + words])) for i in range(0, len(tokens), words)
    ]
    return rank_articles("", chunks, index, options)


def rank_articles(
    episode_id: str, chunks: list[Passage], index: ArticleIndex, options: LinkingOptions
) -> list[Link]:
    total = index.article_count()
    if not total or not chunks:
        return []
    scorer = _Scorer(index, total)
    evidence: dict[int, list[PassageMatch]] = defaultdict(list)
    for passage in chunks:
        for article_id, match in scorer.matches(passage, options):
            evidence[article_id].append(match)
    links = [
        Link(
            episode_id=episode_id,
            article=index.article(article_id),
            score=round(sum(m.score for m in matches), 3),
            evidence=sorted(matches, key=lambda m: m.start),
        )
        for article_id, matches in evidence.items()
    ]
    links.sort(key=lambda link: (-link.score, link.article.id or 0))
    return links[: options.top]


class _Scorer:
    """Scores passages against articles; caches each article's terms for one linking run."""

    def __init__(self, index: ArticleIndex, total: int):
        self.index = index
        self.total = total
        self.stopwords = stopword_terms(index)
        self.article_terms: dict[int, set[str]] = {}

    def weight(self, document_frequency: int) -> float:
        """A BM25-style idf, scaled so a word found in one article weighs 1."""
        return _idf(document_frequency, self.total) / _idf(1, self.total)

    def matches(self, passage: Passage, options: LinkingOptions) -> list[tuple[int, PassageMatch]]:
        stems = self.index.tokenize(passage.text)
        surface = _surface_forms(passage.text, stems)
        telling = _telling(stems, self.stopwords)
        frequencies = self.index.document_frequencies(telling)
        telling = [t for t in telling if t in frequencies]
        found = []
        for article_id, _bm25 in self.index.search_articles(telling, options.candidates):
            shared = [t for t in telling if t in self._terms(article_id)]
            score = sum(self.weight(frequencies[t]) for t in shared)
            if len(shared) < options.min_shared_terms or score < options.min_score:
                continue
            # rarest first; among equals, names (capitalized as said), then longer words
            shared.sort(
                key=lambda t: (frequencies[t], not surface.get(t, t)[:1].isupper(), -len(t), t)
            )
            found.append(
                (
                    article_id,
                    PassageMatch(
                        start=passage.start,
                        end=passage.end,
                        score=round(score, 3),
                        terms=tuple(surface.get(t, t) for t in shared),
                    ),
                )
            )
        return found

    def _terms(self, article_id: int) -> set[str]:
        if article_id not in self.article_terms:
            article = self.index.article(article_id)
            self.article_terms[article_id] = set(
                self.index.tokenize(f"{article.title} {article.text}")
            )
        return self.article_terms[article_id]


def _idf(document_frequency: int, total: int) -> float:
    return math.log(1 + (total - document_frequency + 0.5) / (document_frequency + 0.5))


def _surface_forms(text: str, stems: list[str]) -> dict[str, str]:
    """stem -> the word as said, for showing evidence ("bridge", not "bridg")."""
    words = _WORD.findall(text)
    if len(words) != len(stems):  # the tokenizer split differently: show the stems
        return {}
    forms: dict[str, str] = {}
    for stem, word in zip(stems, words, strict=True):
        forms.setdefault(stem, word)
    return forms
