"""The linking stage: which of the outlet's articles an episode talks about, and how sure.

The transcript is cut into passages of about a minute. Each passage's telling words (no
stopwords) query the article index (BM25 over SQLite FTS5), and so do each chapter's;
each candidate article is scored by the words and names it shares with the passage's
sentences, each word weighted by how rare it is among the articles (scorer.py). Whether a
match is the story being talked about is a probability, `confidence`, learnt from the
archive's own articles (confidence.py, calibrated by prepare.py before linking); an
episode's related articles are ranked by it, and the job publishes the confident ones.

Linking reads a prepared index and returns records: it writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from ..records import Link, PassageMatch, Segment, Transcript
from .confidence import UNFITTED, ConfidenceModel
from .index import ArticleIndex, Passage
from .scorer import Candidate, Reading, Scorer
from .words import (
    STOPWORDS,
    proper_names,
    query_words,
    split_sentences,
    stopword_terms,
    telling_terms,
)

if TYPE_CHECKING:
    from .dense import DenseIndex

__all__ = [
    "STOPWORDS",
    "ArticleIndex",
    "LinkIndex",
    "LinkingOptions",
    "Passage",
    "link_text",
    "link_transcript",
    "passages",
    "proper_names",
    "query_words",
    "rank_articles",
    "split_sentences",
    "stopword_terms",
    "telling_terms",
]


@dataclass(frozen=True)
class LinkingOptions:
    top: int = 5  # related articles kept per episode
    # the job publishes a link when the probability that the passage is about the article
    # (its confidence, learnt from the archive itself) is at least this: more likely right
    # than wrong, at even odds that a story told has its article in the archive
    min_confidence: float = 0.5
    passage_seconds: float = 60.0  # length of a passage
    candidates: int = 5  # articles retrieved per passage before scoring (10 measured no better)
    name_weight: float = 1.0  # each name shared adds this times the weight of its rarest word
    # news is about time: an article's score is multiplied by a factor that falls from 1 (same
    # day) towards 0.5 (long before or after the episode), halving the gap every this many
    # days; 0 turns it off. The floor keeps an older explainer that matches strongly.
    date_half_life_days: float = 30.0
    # "" for BM25 alone; "minilm" (make dense) or a model folder adds sentence-embedding
    # candidates, fused with BM25's by reciprocal rank (bench/linking.py measures both)
    dense_model: str = ""

    def producer(self) -> str:
        return ";".join(f"{k}={v}" for k, v in asdict(self).items())


@dataclass(frozen=True)
class LinkIndex:
    """What linking reads: the article index, the confidence model calibrated on it, and
    the sentence vectors when a dense model is on (all made by prepare.prepare_index)."""

    articles: ArticleIndex
    confidence: ConfidenceModel = UNFITTED
    dense: DenseIndex | None = None


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
    episode_id: str,
    transcript: Transcript,
    index: LinkIndex,
    options: LinkingOptions,
    published: str = "",
    chapters: Sequence[tuple[float, float]] = (),
) -> list[Link]:
    """The episode's articles, most confident first, each with its evidence (the job keeps
    the `linked` ones). `published`: the episode's date, for the date prior; `chapters`:
    (start, end) of each, where the topic changes, for retrieval per chapter as well."""
    return rank_articles(
        episode_id,
        passages(transcript.segments, options.passage_seconds),
        index,
        options,
        published,
        chapters,
    )


def link_text(text: str, index: LinkIndex, options: LinkingOptions, words: int = 150) -> list[Link]:
    """Articles for a plain text (no times): passages of about `words` words."""
    tokens = text.split()
    chunks = [
        Passage(0.0, 0.0, " ".join(tokens[i : i + words])) for i in range(0, len(tokens), words)
    ]
    return rank_articles("", chunks, index, options)


def published_links(links: list[Link]) -> list[Link]:
    """The links the job publishes: the confident ones, each with only its confident
    evidence."""
    return [
        replace(link, evidence=[m for m in link.evidence if m.linked])
        for link in links
        if link.linked
    ]


def rank_articles(
    episode_id: str,
    chunks: list[Passage],
    index: LinkIndex,
    options: LinkingOptions,
    published: str = "",
    chapters: Sequence[tuple[float, float]] = (),
) -> list[Link]:
    """Articles found for each passage, and for each chapter (offered to its passages:
    a passage whose names were misheard still meets the story its chapter tells), scored
    on each passage's sentences; an article's confidence is that of its surest passage,
    its score the sum of its passages' (times the date prior)."""
    if not index.articles.article_count() or not chunks:
        return []
    scorer = Scorer(index.articles, options.candidates, options.name_weight, index.dense)
    readings = scorer.read_all(chunks)
    offered = _chapter_offers(scorer, readings, chapters)
    evidence: dict[int, list[PassageMatch]] = defaultdict(list)
    for reading, extra in zip(readings, offered, strict=True):
        for candidate in scorer.score(reading, extra):
            sure = index.confidence.confidence(candidate.strength)
            evidence[candidate.article_id].append(
                _match(reading, candidate, sure, sure >= options.min_confidence)
            )
    links = []
    for article_id, matches in evidence.items():
        article = index.articles.article(article_id)
        apart = days_apart(published, article.published)
        prior = date_prior(apart, options.date_half_life_days)
        confidence = max(m.confidence for m in matches)
        links.append(
            Link(
                episode_id=episode_id,
                article=article,
                score=round(sum(m.score for m in matches) * prior, 3),
                evidence=sorted(matches, key=lambda m: m.start),
                days_apart=apart,
                confidence=confidence,
                linked=confidence >= options.min_confidence,
            )
        )
    links.sort(key=lambda link: (-round(link.confidence, 2), -link.score, link.article.id or 0))
    return links[: options.top]


def _chapter_offers(
    scorer: Scorer, readings: list[Reading], chapters: Sequence[tuple[float, float]]
) -> list[dict[int, float]]:
    offered: list[dict[int, float]] = [{} for _ in readings]
    for start, end in chapters:
        inside = [n for n, r in enumerate(readings) if start <= r.passage.start < end]
        found = scorer.chapter_candidates([readings[n] for n in inside])
        for n in inside:
            offered[n] = found
    return offered


def _match(reading: Reading, candidate: Candidate, confidence: float, linked: bool) -> PassageMatch:
    return PassageMatch(
        start=reading.passage.start,
        end=reading.passage.end,
        score=round(candidate.score, 3),
        terms=tuple(reading.said.get(t, t) for t in candidate.shared),
        names=candidate.names,
        confidence=round(confidence, 4),
        linked=linked,
    )


DATE_FLOOR = 0.5  # the date prior never takes more than half of a score


def date_prior(days: int | None, half_life: float) -> float:
    if days is None or half_life <= 0:
        return 1.0
    return DATE_FLOOR + (1 - DATE_FLOOR) * 0.5 ** (abs(days) / half_life)


def days_apart(first: str, second: str) -> int | None:
    """Whole days between two ISO 8601 dates (date part only); None when one is missing."""
    try:
        return abs((date.fromisoformat(first[:10]) - date.fromisoformat(second[:10])).days)
    except ValueError:
        return None
