"""`transcribe related`: the catalog's articles ranked for one transcript, as the job would
rank them for an episode, each with its confidence and whether the job would publish it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import LinkingOptions, link_text, link_transcript
from .prepare import prepare_index

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..chapters import ChapterOptions
    from ..records import Transcript


@dataclass(frozen=True)
class RelatedArticle:
    url: str
    title: str
    confidence: float  # the probability that the transcript talks about it
    linked: bool  # whether the job would publish it (confidence >= min_confidence)
    score: float
    published: str
    passages: list[tuple[float, float]]  # (start, end) of each passage that matched
    shared_terms: list[str]
    shared_names: list[str]


def related_articles(
    catalog: Catalog,
    transcript: Transcript,
    options: LinkingOptions,
    chapter_options: ChapterOptions,
) -> list[RelatedArticle]:
    """The best `options.top` articles for the transcript: by passages and chapters when
    it has timings (as the job links an episode), else as plain text."""
    from ..chapters import chapter_spans

    index = prepare_index(catalog, options)
    if any(s.end > 0 for s in transcript.segments):
        chapters = chapter_spans(transcript, catalog, chapter_options)
        links = link_transcript("", transcript, index, options, chapters=chapters)
    else:
        links = link_text(transcript.text, index, options)
    return [
        RelatedArticle(
            url=link.article.url,
            title=link.article.title,
            confidence=link.confidence,
            linked=link.linked,
            score=link.score,
            published=link.article.published,
            passages=[(m.start, m.end) for m in link.evidence],
            shared_terms=link.shared_terms[:20],
            shared_names=link.shared_names[:20],
        )
        for link in links
    ]
