"""Scoring a passage against articles, over a read-only article index.

Each passage's telling words retrieve candidate articles; each candidate is scored on every
stretch of one to three of the passage's sentences (and on the whole passage) by the words
and names the stretch shares with it, each word weighted by how rare it is among the
articles. A candidate is judged on the stretch where it stands furthest above the
runner-up on the same words, so a story told in one sentence inside a passage about
something else is judged on that sentence, and a story told all along on all of it.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import ChainMap, Counter, defaultdict
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .confidence import MatchStrength
from .index import ArticleIndex, Passage, make_profile, tf_weight, tokenize_all
from .words import (
    WORD,
    distinct_telling,
    first_said,
    name_matches,
    name_runs,
    proper_names,
    split_sentences,
    stems_of_words,
    stopword_terms,
)

if TYPE_CHECKING:
    from .dense import DenseIndex

QUERY_TERMS = 8  # past ALL_TERMS_UP_TO articles, a passage queries with its rarest terms
CHAPTER_TERMS = 16  # a chapter queries with its rarest terms
ALL_TERMS_UP_TO = 5000
RRF_K = 60  # reciprocal rank fusion's constant: each ranking gives 1 / (60 + rank)
STRETCH_SENTENCES = 3  # the longest stretch of sentences a match is judged on
SENTENCE_WORDS = 40  # a longer sentence (speech without punctuation) is cut into pieces
MIN_SHARED = 2  # one word in common is a coincidence, not evidence


@dataclass
class Reading:
    """A passage as the scorer reads it."""

    passage: Passage
    stems: list[str]  # its index terms, in order
    stem_of: dict[str, str]  # word as said -> index term
    said: dict[str, str]  # index term -> the word as first said
    telling: list[str]  # its telling words found in the index, once each
    names: list[tuple[str, list[str]]]  # (name said, its name_runs)
    sentences: list[frozenset[str]]  # the telling words of each sentence
    sentence_names: list[list[tuple[str, list[str]]]]  # the names said in each sentence


@dataclass(frozen=True)
class Candidate:
    """An article as one passage meets it."""

    article_id: int
    score: float  # on the whole passage
    shared: tuple[str, ...]  # index terms shared, rarest first
    names: tuple[str, ...]  # names shared, as said
    strength: MatchStrength  # of its best stretch of sentences


class Scorer:
    """Scores passages against articles; remembers what it has read of the index (term
    frequencies, postings, profiles) for one linking run, and writes nothing."""

    def __init__(
        self,
        index: ArticleIndex,
        candidates: int = 5,
        name_weight: float = 1.0,
        dense: DenseIndex | None = None,
    ):
        self.index = index
        self.total = index.article_count()
        self.wanted = candidates
        self.name_weight = name_weight
        self.dense = dense
        self.stopwords = stopword_terms(index)
        self.article_terms: dict[int, dict[str, int]] = {}  # term -> times printed
        self.article_norms: dict[int, float] = {}
        self.article_names: dict[int, str] = {}
        self.frequencies: MutableMapping[str, int] = {}  # document frequencies met so far
        self.name_weights: MutableMapping[str, float] = {}
        self.weights: dict[int, float] = {}  # document frequency -> weight
        self.term_weight: MutableMapping[str, float] = {}  # the weights of the terms read
        self.postings: dict[str, list[int]] = {}  # a big archive's rare terms, once read
        # a term as it was said: the index's MATCH stems what it is given, and stemming a
        # stem again can change it ("hous" -> "hou"), so queries give the word as said
        self.said: dict[str, str] = {}
        self.unindexed: set[str] = set()  # terms in no article
        self.nearest: dict[str, list[int]] = {}  # dense rankings made, by text

    def weight(self, document_frequency: int) -> float:
        """A BM25-style idf, scaled so a word found in one article weighs 1."""
        if document_frequency not in self.weights:
            self.weights[document_frequency] = _idf(document_frequency, self.total) / _idf(
                1, self.total
            )
        return self.weights[document_frequency]

    def read(self, passage: Passage) -> Reading:
        """A passage's index terms, telling words (with their frequencies looked up),
        names, and the same for each of its sentences."""
        return self.read_all([passage])[0]

    def read_all(self, passages: list[Passage]) -> list[Reading]:
        """read() of many passages, with one round trip to the index's tokenizer and one
        for the term frequencies (30 of each for a 30-minute episode cost 25 ms)."""
        stems = tokenize_all(self.index, [p.text for p in passages])
        telling = [distinct_telling(terms, self.stopwords) for terms in stems]
        unknown = {
            t
            for terms in telling
            for t in terms
            if t not in self.frequencies and t not in self.unindexed
        }
        found = self.index.document_frequencies(sorted(unknown))
        self.frequencies.update(found)
        self.unindexed.update(t for t in unknown if t not in found)
        return [
            self._reading(passage, terms, said)
            for passage, terms, said in zip(passages, stems, telling, strict=True)
        ]

    def _reading(self, passage: Passage, stems: list[str], telling: list[str]) -> Reading:
        stem_of = stems_of_words(passage.text, stems)
        said = first_said(stem_of)
        for stem, word in said.items():
            self.said.setdefault(stem, word)
        known = [t for t in telling if self.frequencies.get(t)]
        for term in known:
            if term not in self.term_weight:
                self.term_weight[term] = self.weight(self.frequencies[term])
        names = [(name, name_runs(name)) for name in proper_names(passage.text)]
        sentences = self._sentences(passage.text, stems, frozenset(known))
        return Reading(
            passage=passage,
            stems=stems,
            stem_of=stem_of,
            said=said,
            telling=known,
            names=names,
            sentences=[terms for _, terms in sentences],
            sentence_names=[[n for n in names if _says(text, n[0])] for text, _ in sentences],
        )

    @staticmethod
    def _sentences(
        text: str, stems: list[str], known: frozenset[str]
    ) -> list[tuple[str, frozenset[str]]]:
        """(text, telling terms) of each sentence; the whole passage as one when the
        tokenizer's terms do not line up with its words."""
        if len(WORD.findall(text)) != len(stems):
            return [(text, known)]
        pieces, at = [], 0
        for sentence in split_sentences(text):
            words = sentence.split()
            for first in range(0, len(words), SENTENCE_WORDS):
                piece = " ".join(words[first : first + SENTENCE_WORDS])
                count = len(WORD.findall(piece))
                pieces.append((piece, frozenset(t for t in stems[at : at + count] if t in known)))
                at += count
        return pieces

    @contextmanager
    def without(self, article_ids: frozenset[int]) -> Iterator[None]:
        """Read and score as if these articles were not in the archive: the words they
        print are that much less frequent, and a word only they print is one the archive
        does not know (a story the archive does not hold has words of its own that match
        nothing, and are no part of what a match covers). `again` reads a passage so."""
        if not article_ids:
            yield
            return
        self._load_profiles(list(article_ids))
        printed = Counter(t for a in article_ids for t in self.article_terms[a])
        fewer = {t: self.frequencies[t] - n for t, n in printed.items() if t in self.frequencies}
        kept = (self.frequencies, self.term_weight, self.name_weights)
        self.frequencies = ChainMap(fewer, kept[0])
        self.term_weight = ChainMap({t: self.weight(f) for t, f in fewer.items() if f}, kept[1])
        self.name_weights = {}
        try:
            yield
        finally:
            self.frequencies, self.term_weight, self.name_weights = kept

    def again(self, reading: Reading) -> Reading:
        """The passage read anew (inside `without`: with its articles' words unknown)."""
        return self._reading(
            reading.passage, reading.stems, distinct_telling(reading.stems, self.stopwords)
        )

    def candidates(
        self, reading: Reading, exclude: frozenset[int] = frozenset()
    ) -> dict[int, float]:
        """The articles that share the passage's words (BM25's best while the archive is
        small); with a dense model, fused by reciprocal rank with the articles whose
        sentences are nearest in meaning. `exclude`: articles to act as if absent. Each
        with its retrieval score, best first."""
        wanted = self.wanted + len(exclude)
        found = self._lexical(reading.telling, wanted * 2)
        if self.dense is not None:
            fused: dict[int, float] = defaultdict(float)
            for ranking in (list(found), self._nearest(reading.passage.text, wanted * 2)):
                for position, article_id in enumerate(ranking, 1):
                    fused[article_id] += 1 / (RRF_K + position)
            found = dict(sorted(fused.items(), key=lambda item: -item[1]))
        kept = [a for a in found if a not in exclude][: self.wanted]
        return {a: found[a] for a in kept}

    def _nearest(self, text: str, wanted: int) -> list[int]:
        """The dense ranking of a text, embedded once however often it is looked up (with
        one article left out, or not)."""
        if text not in self.nearest or len(self.nearest[text]) < wanted:
            self.nearest[text] = self.dense.rank(text, max(wanted, 2 * (self.wanted + 1)))
        return self.nearest[text][:wanted]

    def _lexical(self, telling: list[str], wanted: int) -> dict[int, float]:
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
            return dict(self.index.search_articles(said, wanted))
        rarest = sorted(telling, key=lambda t: self.frequencies.get(t, 0))[:QUERY_TERMS]
        held: dict[int, float] = defaultdict(float)
        unread = {self.said.get(t, t): t for t in rarest if t not in self.postings}
        for word, articles in self.index.articles_with(list(unread)).items():
            self.postings[unread[word]] = articles
        for term in rarest:
            weight = self.weight(self.frequencies[term])
            for article_id in self.postings[term]:
                held[article_id] += weight
        return {a: held[a] for a in heapq.nsmallest(wanted, held, key=lambda a: (-held[a], a))}

    def chapter_candidates(self, readings: list[Reading]) -> dict[int, float]:
        """The articles a whole chapter's telling words point to (its CHAPTER_TERMS
        rarest, so that a long chapter queries as fast as a passage), with their
        retrieval scores."""
        telling = list(dict.fromkeys(t for r in readings for t in r.telling))
        rarest = sorted(telling, key=lambda t: self.frequencies[t])[:CHAPTER_TERMS]
        return self._lexical(rarest, self.wanted) if len(readings) > 1 else {}

    def score(
        self,
        reading: Reading,
        offered: Mapping[int, float] | None = None,
        exclude: frozenset[int] = frozenset(),
    ) -> list[Candidate]:
        """The articles found for the passage (and those `offered`, by its chapter, with
        the chapter's retrieval scores) that share at least MIN_SHARED telling words with
        it, each with its best stretch of sentences and what the runner-up scores on that
        stretch."""
        own = self.candidates(reading, exclude)
        offered = {a: r for a, r in (offered or {}).items() if a not in own and a not in exclude}
        ids = [*own, *offered]
        self._load_profiles(ids)
        stretches = _stretches(len(reading.sentences))
        found = []
        for article_id in ids:
            held = self.article_terms[article_id]
            shared = [t for t in reading.telling if t in held]
            if len(shared) >= MIN_SHARED:
                named = name_matches(reading.names, self.article_names[article_id])
                scores, words = self._stretch_scores(reading, held, named, stretches)
                found.append(
                    (article_id, shared, scores, words, tuple(dict.fromkeys(named.values())))
                )
        # each stretch's two best scores: the runner-up of the best is the second
        leaders = [
            heapq.nlargest(2, ((other[s], a) for a, _, other, _, _ in found))
            for s in range(len(stretches))
        ]
        candidates = []
        for article_id, shared, scores, words, names in found:
            best, runner_up = _furthest_ahead(article_id, scores, leaders)
            first, last = stretches[best]
            said = frozenset().union(*reading.sentences[first:last])
            strength = MatchStrength(
                score=scores[best],
                runner_up=runner_up,
                telling=self._words_weight(said),
                words=words[best],
                cosine=self._cosine(article_id, said),
                # an article its chapter offered is judged by the chapter's retrieval
                **_retrieval(article_id, own if article_id in own else offered),
            )
            candidates.append(
                Candidate(
                    article_id=article_id,
                    score=self._strength(shared, names, reading.stem_of),
                    shared=tuple(sorted(shared, key=lambda t: self._evidence_order(t, reading))),
                    names=names,
                    strength=strength,
                )
            )
        return candidates

    def _stretch_scores(
        self,
        reading: Reading,
        held: Mapping[str, int],
        named: dict[str, str],
        stretches: list[tuple[int, int]],
    ) -> tuple[list[float], list[float]]:
        """An article's score (`held`: its terms; `named`: the names said that it prints,
        as matched) on each stretch of the passage's sentences, and the part of it that
        its words make (names aside)."""
        shared = [terms & held.keys() for terms in reading.sentences]
        names = [
            {named[n]: self._name_weight(named[n], reading.stem_of) for n, _ in said if n in named}
            for said in reading.sentence_names
        ]
        scores, word_scores = [], []
        for first, last in stretches:
            words = shared[first] if last == first + 1 else set().union(*shared[first:last])
            in_stretch = (
                names[first]
                if last == first + 1
                else dict(p for ns in names[first:last] for p in ns.items())
            )
            word_scores.append(self._words_weight(words))
            scores.append(word_scores[-1] + self.name_weight * math.fsum(in_stretch.values()))
        return scores, word_scores

    def _strength(self, shared, names: Sequence[str], stem_of: dict[str, str]) -> float:
        """What words and names in common score: their weights, each name's times
        name_weight."""
        name_weights = [self._name_weight(n, stem_of) for n in names]
        return self._words_weight(shared) + self.name_weight * math.fsum(name_weights)

    def telling_weight(self, reading: Reading) -> float:
        """The weight of all the passage's telling words."""
        return self._words_weight(reading.telling)

    def _words_weight(self, terms) -> float:
        return math.fsum(map(self.term_weight.__getitem__, terms))  # in any order alike

    def _cosine(self, article_id: int, said: frozenset[str]) -> float:
        """The cosine between the stretch's telling words (each weighted by its rarity)
        and the article's (each by how often it is printed): whether the stretch says
        what the article is about, not only words it happens to print once (a surname
        shared with a story about someone else)."""
        length = self.article_norms[article_id] * math.sqrt(
            math.fsum(self.term_weight[t] ** 2 for t in said)
        )
        if not length:
            return 0.0
        held = self.article_terms[article_id]
        return (
            math.fsum(tf_weight(held[t]) * self.term_weight[t] for t in said if t in held) / length
        )

    def _evidence_order(self, term: str, reading: Reading) -> tuple:
        """Rarest first; among equals, names (capitalized as said), then longer words."""
        said = reading.said.get(term, term)
        return (self.frequencies[term], not said[:1].isupper(), -len(term), term)

    def _name_weight(self, name: str, stem_of: dict[str, str]) -> float:
        """A shared name counts as much as its rarest word: the outlet's town, in every
        article, adds next to nothing; a minister named in two adds almost a whole point."""
        if name not in self.name_weights:
            # the name's words as the passage's tokenizing stemmed them (else ask the index)
            stems = [stem_of.get(word) for word in WORD.findall(name)]
            if None in stems:
                stems = self.index.tokenize(name)
            frequencies = [self.frequencies[t] for t in stems if t in self.frequencies]
            self.name_weights[name] = self.weight(min(frequencies)) if frequencies else 0.0
        return self.name_weights[name]

    def _load_profiles(self, article_ids: list[int]) -> None:
        """The candidates' terms and names, read from the index in one query (tokenizing
        whole articles while linking would be most of its cost)."""
        missing = [a for a in article_ids if a not in self.article_terms]
        stored = self.index.article_profiles(missing) if missing else {}
        for article_id in missing:
            profile = stored.get(article_id) or make_profile(self.index, article_id, self.stopwords)
            self.article_terms[article_id] = dict(zip(profile.terms, profile.counts, strict=True))
            self.article_norms[article_id] = profile.norm
            names = profile.names
            # " name one | name two |": a said name's part is printed when " part " is in it
            self.article_names[article_id] = "".join(f" {n.lower()} |" for n in names)


def _says(text: str, name: str) -> bool:
    """Whether the text says the name as words ("Ann" is not in "Annual")."""
    return name in text and _as_words(name).search(text) is not None


@functools.lru_cache(maxsize=4096)
def _as_words(name: str) -> re.Pattern[str]:
    # compiled once a name: a passage's names are looked for in each of its sentences, and
    # re's own cache of 512 patterns is soon full at 100,000 articles (a third of the time)
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")


def _stretches(sentences: int) -> list[tuple[int, int]]:
    """(first, past the last) of every run of 1 to STRETCH_SENTENCES sentences, and of the
    whole passage."""
    runs = [
        (first, first + size)
        for first in range(sentences)
        for size in range(1, STRETCH_SENTENCES + 1)
        if first + size <= sentences
    ]
    return [*runs, (0, sentences)] if sentences > STRETCH_SENTENCES else runs or [(0, 0)]


def _furthest_ahead(
    article_id: int, scores: list[float], leaders: list[list[tuple[float, int]]]
) -> tuple[int, float]:
    """The stretch on which the article stands furthest above the best other article
    (`leaders`: each stretch's two best (score, article)), and that other's score there."""
    runner_ups = [next((score for score, a in two if a != article_id), 0.0) for two in leaders]
    best = max(range(len(scores)), key=lambda s: scores[s] - runner_ups[s])
    return best, runner_ups[best]


def _retrieval(article_id: int, found: Mapping[int, float]) -> dict[str, float]:
    """An article's retrieval score over the best of its query's, and, in logs within
    +-3, over the best other one (each smoothed by a hundredth of the best)."""
    best = max(found.values(), default=0.0) or 1.0
    score = found.get(article_id, 0.0)
    other = max((r for a, r in found.items() if a != article_id), default=0.0)
    smooth = best / 100
    margin = max(-3.0, min(3.0, math.log((score + smooth) / (other + smooth))))
    return {"retrieved": score / best, "retrieval_margin": margin}


def _idf(document_frequency: int, total: int) -> float:
    return math.log(1 + (total - document_frequency + 0.5) / (document_frequency + 0.5))
