"""The chapters stage: where the talk turns to another story, with a short title for each.

The publisher's chapters win when the feed or the video gives them. Otherwise the transcript
is cut into blocks of about half a minute, and each gap between blocks is scored by how
much the words before it and after it have in common (lexical cohesion, as in Hearst's
TextTiling): a topic changes where the cohesion dips deeply. Chapters are kept between a
minimum and a maximum length. A chapter's title is the headline of the related article whose
evidence lies mostly in it (that article is its `url` too), or else its key phrase: the run
of telling words most particular to it.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass

from .errors import ParseError
from .http import is_web
from .linking import ArticleIndex, Passage, passages, stopword_terms, telling_terms
from .linking.index import tokenize_all
from .records import Chapter, Link, Transcript

MIN_DEPTH = 0.1  # a dip in cohesion (0 to 2) shallower than this is no change of topic
_SENTENCE_END = (".", "!", "?", ";", ":")


@dataclass(frozen=True)
class ChapterOptions:
    min_seconds: float = 120.0  # no chapter shorter than this (unless the episode is)
    max_seconds: float = 900.0  # a longer stretch is cut at its deepest dip
    block_seconds: float = 30.0  # the unit of comparison
    window_blocks: int = 3  # blocks compared on each side of a gap

    def producer(self) -> str:
        return ";".join(f"{k}={v}" for k, v in asdict(self).items())


def find_chapters(
    transcript: Transcript, links: list[Link], index: ArticleIndex, options: ChapterOptions
) -> list[Chapter]:
    """Chapters of a transcript, each with a title and, where one fits, an article URL."""
    found = outline(transcript, index, options)
    return with_articles(found, links, transcript.duration, retitle=True)


def outline(transcript: Transcript, index: ArticleIndex, options: ChapterOptions) -> list[Chapter]:
    """The chapters found in a transcript, each titled by its key phrase (made before
    linking: the linker retrieves per chapter, and with_articles then titles them)."""
    blocks, counts, spans = _tiles(transcript, index, options)
    return [
        Chapter(
            start=blocks[first].start,
            end=blocks[last - 1].end,
            title=_key_phrase(blocks[first:last], counts, first, last, index),
        )
        for first, last in spans
    ]


def chapter_spans(
    transcript: Transcript, index: ArticleIndex, options: ChapterOptions
) -> list[tuple[float, float]]:
    """(start, end) of each chapter outline() finds, without their titles."""
    blocks, _, spans = _tiles(transcript, index, options)
    return [(blocks[first].start, blocks[last - 1].end) for first, last in spans]


def spans_of(chapters: list[Chapter], duration: float) -> list[tuple[float, float]]:
    """(start, end) of each chapter: one without an end runs to the next one's start (the
    last to the end of the episode)."""
    starts = [c.start for c in chapters]
    ends = [*starts[1:], max(duration, starts[-1] if starts else 0.0)]
    return [(c.start, c.end or end) for c, end in zip(chapters, ends, strict=True)]


def _tiles(
    transcript: Transcript, index: ArticleIndex, options: ChapterOptions
) -> tuple[list[Passage], list[Counter], list[tuple[int, int]]]:
    """The transcript's blocks, each block's telling words counted, and the chapters as
    (first block, block after the last)."""
    blocks = passages(transcript.segments, options.block_seconds)
    if not blocks:
        return [], [], []
    stopwords = stopword_terms(index)
    terms = tokenize_all(index, [b.text for b in blocks])
    counts = [Counter(telling_terms(t, stopwords)) for t in terms]
    cuts = _boundaries(blocks, counts, options)
    return blocks, counts, list(zip([0, *cuts], [*cuts, len(blocks)], strict=True))


def with_articles(
    chapters: list[Chapter], links: list[Link], duration: float, retitle: bool = False
) -> list[Chapter]:
    """The chapters, each given the related article that matched inside it as its URL
    (when it has none of its own) and, with `retitle` (chapters found here, titled by a
    key phrase), the article's headline as its title."""
    result = []
    for n, chapter in enumerate(chapters):
        following = chapters[n + 1].start if n + 1 < len(chapters) else duration
        end = chapter.end or (following if following > chapter.start else None)
        article = (
            None
            if chapter.url
            else _best_article(links, chapter.start, math.inf if end is None else end)
        )
        result.append(
            Chapter(
                start=chapter.start,
                end=end,
                title=article.title if article and retitle else chapter.title,
                url=chapter.url or (article.url if article else ""),
            )
        )
    return result


def parse_json_chapters(body: bytes | str, source: str) -> list[Chapter]:
    """Podcasting 2.0 JSON chapters (version 1.x): `chapters` with `startTime` and `title`;
    chapters marked `toc: false` are not part of the table of contents."""
    try:
        data = json.loads(body)
        entries = data["chapters"]
        chapters = [
            Chapter(
                start=float(c["startTime"]),
                title=str(c.get("title") or "").strip(),
                url=_web_url(c.get("url")),
                end=_end(c.get("endTime"), float(c["startTime"])),
            )
            for c in entries
            if c.get("toc", True) is not False
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ParseError(f"{source}: not a JSON chapters file ({e})") from e
    return sorted(
        (c for c in chapters if math.isfinite(c.start) and c.start >= 0), key=lambda c: c.start
    )


def _end(value: object, start: float) -> float | None:
    """A chapter's end when it is a number after its start; else unknown."""
    try:
        end = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return end if math.isfinite(end) and end > start else None


def _web_url(value: object) -> str:
    """Only http(s) links travel from the publisher's file into ours."""
    url = str(value or "").strip()
    return url if is_web(url) else ""


def _boundaries(blocks: list[Passage], counts: list[Counter], options: ChapterOptions) -> list[int]:
    """Block indexes where a chapter starts (the first one, 0, left out)."""
    gaps = range(1, len(blocks))
    if not gaps:
        return []
    k = options.window_blocks
    cohesion = {
        g: _cosine(_merged(counts[max(0, g - k) : g]), _merged(counts[g : g + k])) for g in gaps
    }
    depth = {g: _depth(cohesion, g) for g in gaps}
    values = list(depth.values())
    # only dips clearly deeper than the usual ebb and flow of talk (TextTiling's liberal
    # cut-off, mean - sd/2, cut a single-story stretch into many pieces)
    threshold = statistics.mean(values) + statistics.pstdev(values) / 2 if len(values) > 1 else 0.0

    def fits(cuts: list[int]) -> bool:
        edges = [0, *sorted(cuts), len(blocks)]
        return all(
            blocks[b - 1].end - blocks[a].start >= options.min_seconds
            for a, b in zip(edges, edges[1:], strict=False)
        )

    cuts: list[int] = []
    for gap in sorted(gaps, key=lambda g: -depth[g]):
        if depth[gap] > max(threshold, MIN_DEPTH) and fits([*cuts, gap]):
            cuts.append(gap)
    # a stretch longer than the maximum is cut at its deepest gap that keeps the minimum
    changed = True
    while changed:
        changed = False
        edges = [0, *sorted(cuts), len(blocks)]
        for a, b in zip(edges, edges[1:], strict=False):
            if blocks[b - 1].end - blocks[a].start <= options.max_seconds:
                continue
            inside = [g for g in range(a + 1, b) if fits([*cuts, g])]
            middle = (blocks[a].start + blocks[b - 1].end) / 2
            if inside:  # the deepest dip; among equals, the one nearest the middle
                cuts.append(
                    max(inside, key=lambda g: (round(depth[g], 2), -abs(blocks[g].start - middle)))
                )
                changed = True
                break
    return sorted(cuts)


def _depth(cohesion: dict[int, float], gap: int) -> float:
    """How deep the cohesion dips at a gap: the climb to the highest point on each side."""
    value = cohesion[gap]
    left = right = value
    g = gap - 1
    while g in cohesion and cohesion[g] >= left:
        left = cohesion[g]
        g -= 1
    g = gap + 1
    while g in cohesion and cohesion[g] >= right:
        right = cohesion[g]
        g += 1
    return (left - value) + (right - value)


def _merged(counts: list[Counter]) -> Counter:
    """The counts added up (update() in place: adding Counters makes a new one each time)."""
    total: Counter = Counter()
    for count in counts:
        total.update(count)
    return total


def _cosine(a: Counter, b: Counter) -> float:
    shared = set(a) & set(b)
    if not shared:
        return 0.0
    dot = sum(a[t] * b[t] for t in shared)
    return dot / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))


def _best_article(links: list[Link], start: float, end: float):  # noqa: ANN202 - Article | None
    """The related article with the most evidence inside [start, end)."""
    best, best_score = None, 0.0
    for link in links:
        score = sum(
            m.score
            for m in link.evidence
            if min(m.end, end) - max(m.start, start) > (m.end - m.start) / 2
        )
        if score > best_score:
            best, best_score = link.article, score
    return best


def _key_phrase(
    chapter: list[Passage], counts: list[Counter], first: int, last: int, index: ArticleIndex
) -> str:
    """The run of one to three telling words, as said, that is most particular to this
    chapter: frequent in it, rare in the rest of the episode; every word of it among the
    chapter's strongest, and no run across the end of a sentence."""
    inside = _merged(counts[first:last])
    elsewhere = _merged(counts[:first] + counts[last:])
    weight = {t: n / (1 + elsewhere[t]) for t, n in inside.items() if n > 1}
    if not weight:
        return "Chapter"
    strong = 0.4 * max(weight.values())
    best, best_score = "", 0.0
    for passage in chapter:
        said = passage.text.split()
        words = [w.strip(".,;:!?\"'()") for w in said]
        terms = [index.tokenize(w) for w in words]
        telling = [len(t) == 1 and weight.get(t[0], 0) >= strong for t in terms]
        for i in range(len(words)):
            score = 0.0
            for size in (1, 2, 3):
                last_word = i + size - 1
                if last_word >= len(words) or not telling[last_word]:
                    break
                score += weight[terms[last_word][0]]
                bonus = score * (1 + 0.2 * (size - 1))  # a phrase says more than a word
                if bonus > best_score:
                    best, best_score = " ".join(words[i : i + size]), bonus
                if said[last_word].endswith(_SENTENCE_END):
                    break
    return (best[:1].upper() + best[1:]) if best else "Chapter"
