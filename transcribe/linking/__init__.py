"""The linking stage: which of the outlet's articles an episode talks about, and why.

The transcript is cut into passages of about a minute. Each passage's telling words (no
stopwords) query the article index (BM25 over SQLite FTS5); each candidate article is then
scored by the words it shares with the passage, each word weighted by how rare it is among
the articles, so shared names and numbers count and shared small talk does not. A passage
counts as evidence for an article only above a threshold; an episode's related articles are
ranked by the sum of their evidence.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

from .records import Article, Link, PassageMatch, Segment, Transcript

if TYPE_CHECKING:
    from .catalog import Catalog

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
    # A passage counts as evidence for an article when it scores min_score, or when it
    # scores min_covered_score and the words it shares carry min_coverage of the weight of
    # all its telling words (a short passage that is all about the article). Calibrated by
    # bench/linking.py: no link for any of 15 unrelated texts, and spoken queries linked.
    min_score: float = 8.0
    min_coverage: float = 0.5
    min_covered_score: float = 4.0
    min_shared_terms: int = 2  # and it shares at least this many telling words
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
class Passage:
    start: float
    end: float
    text: str


@dataclass
class _Reading:
    """A passage as the scorer reads it."""

    passage: Passage
    stem_of: dict[str, str]  # word as said -> index term
    said: dict[str, str]  # index term -> the word as first said
    telling: list[str]  # its telling words found in the index, once each
    names: list[tuple[str, list[str]]]  # (name said, its _runs)


class ArticleIndex(Protocol):
    """What linking needs of the catalog."""

    def tokenize(self, text: str) -> list[str]: ...
    def document_frequencies(self, terms: list[str]) -> dict[str, int]: ...
    def search_articles(self, terms: list[str], limit: int = 10) -> list[tuple[int, float]]: ...
    def articles_with(self, terms: list[str]) -> dict[str, list[int]]: ...
    def article(self, article_id: int) -> Article: ...
    def article_count(self) -> int: ...
    def article_profile(self, article_id: int) -> tuple[list[str], list[str]] | None: ...
    def article_profiles(
        self, article_ids: list[int]
    ) -> dict[int, tuple[list[str], list[str]]]: ...
    def save_article_profile(self, article_id: int, terms: list[str], names: list[str]) -> None: ...
    def refresh_term_stats(self) -> None: ...


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
    names): "Volodymyr Zelensky", "Kharkiv", "NATO". A sentence's first word counts only if
    the text also capitalizes it elsewhere ("Rather" and "Kharkiv" both open sentences).
    Each name once, in order."""
    runs: list[tuple[list[str], bool]] = []  # (words, starts its sentence)
    for sentence in split_sentences(text):
        run: list[str] = []
        opens = False
        for position, raw in enumerate([*sentence.split(), ""]):
            word = raw.strip('.,;:!?"()[]“”‘’')
            word = word[:-2] if word.endswith(("'s", "’s")) else word
            if _CAPITALIZED.fullmatch(word) and len(word) > 1:
                opens = opens or (not run and position == 0)
                run.append(word)
                if not raw.endswith((",", ";", ":", ".", "?", "!")):
                    continue
            if run:
                runs.append((run, opens))
            run, opens = [], False
    inside = {w for run, opens in runs for w in (run[1:] if opens else run)}
    names: dict[str, None] = {}
    for run, opens in runs:
        if opens and run[0] not in inside:
            run = run[1:]
        name = " ".join(run)
        if name and name.lower() not in _NOT_NAMES and name.lower() not in STOPWORDS:
            names.setdefault(name)
    return list(names)


def query_words(text: str, index: ArticleIndex) -> list[str]:
    """The text's telling words as written (what the index's search takes: it stems them
    itself), once each by term, in order: no function words, no single letters."""
    stems = index.tokenize(text)
    said = _first_said(_stems_of_words(text, stems))
    return [said.get(term, term) for term in _telling(stems, stopword_terms(index))]


def telling_terms(terms: list[str], stopwords: frozenset[str]) -> list[str]:
    """The terms that carry the topic, in order, repeats kept: no function words, no single
    letters."""
    return [t for t in terms if t not in stopwords and len(t) > 1]


def _telling(terms: list[str], stopwords: frozenset[str]) -> list[str]:
    return telling_terms(list(dict.fromkeys(terms)), stopwords)


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
    episode_id: str,
    transcript: Transcript,
    index: ArticleIndex,
    options: LinkingOptions,
    published: str = "",
    chapters: Sequence[tuple[float, float]] = (),
) -> list[Link]:
    """The episode's related articles, best first, each with its evidence. `published`:
    the episode's date, for the date prior; `chapters`: (start, end) of each, where the
    topic changes, for retrieval per chapter as well as per passage."""
    return rank_articles(
        episode_id,
        passages(transcript.segments, options.passage_seconds),
        index,
        options,
        published,
        chapters,
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
    episode_id: str,
    chunks: list[Passage],
    index: ArticleIndex,
    options: LinkingOptions,
    published: str = "",
    chapters: Sequence[tuple[float, float]] = (),
) -> list[Link]:
    """Articles found for each passage, and for each chapter (offered to its passages:
    a passage whose names were misheard still meets the story its chapter tells), scored
    on each passage's words; an article's evidence is the passages that pass, summed."""
    total = index.article_count()
    if not total or not chunks:
        return []
    scorer = _Scorer(index, total, options)
    readings = [scorer.read(passage) for passage in chunks]
    offered: list[list[int]] = [[] for _ in readings]
    for start, end in chapters:
        inside = [n for n, r in enumerate(readings) if start <= r.passage.start < end]
        found = scorer.chapter_candidates([readings[n] for n in inside])
        for n in inside:
            offered[n] = found
    evidence: dict[int, list[PassageMatch]] = defaultdict(list)
    for reading, extra in zip(readings, offered, strict=True):
        for article_id, match in scorer.matches(reading, extra):
            evidence[article_id].append(match)
    links = []
    for article_id, matches in evidence.items():
        article = index.article(article_id)
        apart = days_apart(published, article.published)
        prior = date_prior(apart, options.date_half_life_days)
        links.append(
            Link(
                episode_id=episode_id,
                article=article,
                score=round(sum(m.score for m in matches) * prior, 3),
                evidence=sorted(matches, key=lambda m: m.start),
                days_apart=apart,
            )
        )
    links.sort(key=lambda link: (-link.score, link.article.id or 0))
    return links[: options.top]


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


class _Scorer:
    """Scores passages against articles; caches each article's terms and names for one
    linking run."""

    def __init__(self, index: ArticleIndex, total: int, options: LinkingOptions):
        self.index = index
        self.total = total
        self.options = options
        index.refresh_term_stats()
        self.stopwords = stopword_terms(index)
        self.article_terms: dict[int, set[str]] = {}
        self.article_names: dict[int, str] = {}
        self.frequencies: dict[str, int] = {}  # document frequencies met so far
        self.name_weights: dict[str, float] = {}
        self.weights: dict[int, float] = {}  # document frequency -> weight
        self.postings: dict[str, list[int]] = {}  # a big archive's rare terms, once read
        # a term as it was said: the index's MATCH stems what it is given, and stemming a
        # stem again can change it ("hous" -> "hou"), so queries give the word as said
        self.said: dict[str, str] = {}
        self.unindexed: set[str] = set()  # terms in no article
        self.dense = dense_index(index, options.dense_model) if options.dense_model else None

    def weight(self, document_frequency: int) -> float:
        """A BM25-style idf, scaled so a word found in one article weighs 1."""
        if document_frequency not in self.weights:
            self.weights[document_frequency] = _idf(document_frequency, self.total) / _idf(
                1, self.total
            )
        return self.weights[document_frequency]

    def candidates(self, passage: Passage, telling: list[str]) -> list[int]:
        """The articles that share the passage's words (BM25's best while the archive is
        small); with a dense model, fused by reciprocal rank with the articles whose
        sentences are nearest in meaning."""
        wanted = self.options.candidates
        lexical = self._lexical(telling, wanted * 2)
        if self.dense is None:
            return lexical[:wanted]
        fused: dict[int, float] = defaultdict(float)
        for ranking in (lexical, self.dense.rank(passage.text, wanted * 2)):
            for position, article_id in enumerate(ranking, 1):
                fused[article_id] += 1 / (RRF_K + position)
        return sorted(fused, key=lambda a: -fused[a])[:wanted]

    def _lexical(self, telling: list[str], wanted: int) -> list[int]:
        """Up to ALL_TERMS_UP_TO articles, BM25 over all the passage's telling words. Past
        it, the QUERY_TERMS rarest of them, since each common word adds a long posting list
        to score (measured at 100,000 articles: 2.4 ms a passage with its 8 rarest terms,
        58 ms with 16 of them when they are common), and the articles that hold them ranked
        by the weight of those they hold: for rare words BM25's length and frequency terms
        change little, and reading the postings without them is 4 times faster (the
        scorer then judges each candidate on all the words). A passage that tells two
        stories may then find only one: the price of the speed."""
        if self.total <= ALL_TERMS_UP_TO:
            said = [self.said.get(t, t) for t in telling]
            return [a for a, _ in self.index.search_articles(said, wanted)]
        rarest = sorted(telling, key=lambda t: self.frequencies.get(t, 0))[:QUERY_TERMS]
        held: dict[int, float] = defaultdict(float)
        unread = {self.said.get(t, t): t for t in rarest if t not in self.postings}
        for word, articles in self.index.articles_with(list(unread)).items():
            self.postings[unread[word]] = articles
        for term in rarest:
            weight = self.weight(self.frequencies[term])
            for article_id in self.postings[term]:
                held[article_id] += weight
        return heapq.nsmallest(wanted, held, key=lambda a: (-held[a], a))

    def read(self, passage: Passage) -> _Reading:
        """A passage's index terms, telling words (with their frequencies looked up) and
        names."""
        stems = self.index.tokenize(passage.text)
        telling = _telling(stems, self.stopwords)
        unknown = [t for t in telling if t not in self.frequencies and t not in self.unindexed]
        found = self.index.document_frequencies(unknown)
        self.frequencies.update(found)
        self.unindexed.update(t for t in unknown if t not in found)
        stem_of = _stems_of_words(passage.text, stems)
        said = _first_said(stem_of)
        for stem, word in said.items():
            self.said.setdefault(stem, word)
        return _Reading(
            passage=passage,
            stem_of=stem_of,
            said=said,
            telling=[t for t in telling if t in self.frequencies],
            names=[(name, _runs(name)) for name in proper_names(passage.text)],
        )

    def chapter_candidates(self, readings: list[_Reading]) -> list[int]:
        """The articles a whole chapter's telling words point to (its CHAPTER_TERMS
        rarest, so that a long chapter queries as fast as a passage)."""
        telling = list(dict.fromkeys(t for r in readings for t in r.telling))
        rarest = sorted(telling, key=lambda t: self.frequencies[t])[:CHAPTER_TERMS]
        return self._lexical(rarest, self.options.candidates) if len(readings) > 1 else []

    def matches(
        self, reading: _Reading, offered: Sequence[int] = ()
    ) -> list[tuple[int, PassageMatch]]:
        """The articles (found for the passage, or `offered`) its words are evidence for."""
        options = self.options
        passage, stem_of, telling = reading.passage, reading.stem_of, reading.telling
        surface = reading.said
        frequencies = self.frequencies
        weight_said = sum(self.weight(frequencies[t]) for t in telling) or 1.0
        own = self.candidates(passage, telling)
        candidates = [*own, *(a for a in offered if a not in own)]
        self._load_profiles(candidates)
        matches = []
        for article_id in candidates:
            held = self.article_terms[article_id]
            shared = [t for t in telling if t in held]
            if len(shared) < options.min_shared_terms:
                continue
            names = _shared_names(reading.names, self.article_names[article_id])
            words = sum(self.weight(frequencies[t]) for t in shared)
            score = words + options.name_weight * sum(self._name_weight(n, stem_of) for n in names)
            covered = words / weight_said >= options.min_coverage
            if not (score >= options.min_score or (covered and score >= options.min_covered_score)):
                continue
            # rarest first; among equals, names (capitalized as said), then longer words
            shared.sort(
                key=lambda t: (frequencies[t], not surface.get(t, t)[:1].isupper(), -len(t), t)
            )
            matches.append(
                (
                    article_id,
                    PassageMatch(
                        start=passage.start,
                        end=passage.end,
                        score=round(score, 3),
                        terms=tuple(surface.get(t, t) for t in shared),
                        names=names,
                    ),
                )
            )
        return matches

    def _name_weight(self, name: str, stem_of: dict[str, str]) -> float:
        """A shared name counts as much as its rarest word: the outlet's town, in every
        article, adds next to nothing; a minister named in two adds almost a whole point."""
        if name not in self.name_weights:
            # the name's words as the passage's tokenizing stemmed them (else ask the index)
            stems = [stem_of.get(word) for word in _WORD.findall(name)]
            if None in stems:
                stems = self.index.tokenize(name)
            frequencies = [self.frequencies[t] for t in stems if t in self.frequencies]
            self.name_weights[name] = self.weight(min(frequencies)) if frequencies else 0.0
        return self.name_weights[name]

    def _load_profiles(self, article_ids: list[int]) -> None:
        """The candidates' terms and names, read from the catalog in one query (made now
        for an article that has none): tokenizing whole articles while linking would be
        most of its cost."""
        missing = [a for a in article_ids if a not in self.article_terms]
        stored = self.index.article_profiles(missing) if missing else {}
        for article_id in missing:
            terms, names = stored.get(article_id) or _make_profile(self.index, article_id)
            self.article_terms[article_id] = set(terms)
            # " name one | name two |": a said name's part is printed when " part " is in it
            self.article_names[article_id] = "".join(f" {n.lower()} |" for n in names)


def profile_articles(catalog: Catalog, batch: int = 500) -> int:
    """Make the terms-and-names profile of every article that has none (the linker reads
    them instead of tokenizing whole articles while it links). Returns how many it made."""
    from . import progress

    missing = catalog.articles_without_profile()
    bar = progress.bar(len(missing), "index articles", unit="article") if missing else None
    for start in range(0, len(missing), batch):
        with catalog.atomic():
            for article_id in missing[start : start + batch]:
                _make_profile(catalog, article_id)
        if bar:
            bar.update(len(missing[start : start + batch]))
    if bar:
        bar.close()
    catalog.refresh_term_stats()  # the counts (and merged index) linking will read
    return len(missing)


def article_profile(index: ArticleIndex, article_id: int) -> tuple[list[str], list[str]]:
    """An article's index terms and names: as stored, or made (and stored) now."""
    return index.article_profile(article_id) or _make_profile(index, article_id)


def _make_profile(index: ArticleIndex, article_id: int) -> tuple[list[str], list[str]]:
    article = index.article(article_id)
    terms = sorted(set(index.tokenize(f"{article.title} {article.text}")))
    names = proper_names(f"{article.title}. {article.text}")
    index.save_article_profile(article_id, terms, names)
    return terms, names


def _runs(name: str) -> list[str]:
    """A name and its parts, longest first, lowercased: "Harbourmaster Ingrid Solberg" is
    also "Ingrid Solberg" and "Solberg", so a name said with a title still meets its
    printed form."""
    words = name.lower().split()[:6]
    return [
        " ".join(words[i : i + size])
        for size in range(len(words), 0, -1)
        for i in range(len(words) - size + 1)
    ]


def _shared_names(said: list[tuple[str, list[str]]], printed: str) -> tuple[str, ...]:
    """For each name said (with its _runs), its longest part that is, or is part of, a
    name the article prints (`printed`: " name | name |", lowercased), as said."""
    shared: dict[str, None] = {}
    for name, runs in said:
        for run in runs:
            if f" {run} " in printed and run not in STOPWORDS:
                words = name.split()
                size = len(run.split())
                start = [w.lower() for w in words].index(run.split()[0])
                shared.setdefault(" ".join(words[start : start + size]))
                break
    return tuple(shared)


def _idf(document_frequency: int, total: int) -> float:
    return math.log(1 + (total - document_frequency + 0.5) / (document_frequency + 0.5))


def _stems_of_words(text: str, stems: list[str]) -> dict[str, str]:
    """word as said -> its index term, in the order said, for showing evidence as said
    ("bridge", not "bridg") and weighing names; empty when the tokenizer split the text
    otherwise than words."""
    words = _WORD.findall(text)
    if len(words) != len(stems):
        return {}
    return dict(zip(words, stems, strict=True))


def _first_said(stem_of: dict[str, str]) -> dict[str, str]:
    """index term -> the first word said that the index reads as it."""
    return {stem: word for word, stem in reversed(stem_of.items())}


QUERY_TERMS = 8  # past ALL_TERMS_UP_TO articles, a passage queries with its rarest terms
CHAPTER_TERMS = 16  # a chapter queries with its rarest terms
ALL_TERMS_UP_TO = 5000
RRF_K = 60  # reciprocal rank fusion's constant: each ranking gives 1 / (60 + rank)


class DenseIndex:
    """Sentence vectors of every article, made once per article and model and kept in the
    catalog; an article's similarity to a passage is that of its nearest sentence."""

    def __init__(self, catalog: Catalog, model: str):
        import numpy as np

        from . import embeddings, progress

        self.embedder = embeddings.load(model)
        name = self.embedder.name
        stored = catalog.article_vectors(name)
        articles = catalog.articles()
        missing = [a for a in articles if a.id not in stored]
        bar = progress.bar(len(missing), "embed articles", unit="article") if missing else None
        owners, blocks = [], []
        for article in articles:
            if article.id in stored:
                dimensions, blob = stored[article.id]
                vectors = np.frombuffer(blob, dtype=np.float16).reshape(-1, dimensions)
            else:
                sentences = split_sentences(f"{article.title}.\n{article.text}")
                vectors = self.embedder.embed(sentences).astype(np.float16)
                catalog.save_article_vectors(article.id, name, vectors.shape[1], vectors.tobytes())
                bar.update(1)
            owners.extend([article.id] * len(vectors))
            blocks.append(vectors)
        if bar:
            bar.close()
        self.matrix = np.vstack(blocks).astype(np.float32) if blocks else np.zeros((0, 1))
        self.owners = np.array(owners)

    def rank(self, text: str, limit: int) -> list[int]:
        import numpy as np

        if not len(self.owners):
            return []
        similarity = self.matrix @ self.embedder.embed([text])[0]
        order = np.argsort(-similarity)
        ranked: dict[int, None] = {}
        for row in order:  # the articles of the nearest sentences, each once
            ranked.setdefault(int(self.owners[row]))
            if len(ranked) == limit:
                break
        return list(ranked)


_dense_cache: list[tuple[object, str, str, DenseIndex]] = []  # (catalog, model, stamp, index)


def dense_index(index: ArticleIndex, model: str) -> DenseIndex:
    """One dense index per catalog, model and state of the articles, per process (the
    catalog object itself is the key: held here, its id cannot pass to another)."""
    from .catalog import Catalog

    if not isinstance(index, Catalog):
        raise TypeError("dense linking needs the catalog, where the vectors are kept")
    stamp = index.articles_stamp()
    for catalog, name, made_at, dense in _dense_cache:
        if catalog is index and name == model and made_at == stamp:
            return dense
    _dense_cache[:] = [(index, model, stamp, DenseIndex(index, model))]
    return _dense_cache[0][3]
