"""How sure a match is: the probability that a stretch of speech is about the article it
matched best, learnt from the catalog's own articles.

A raw match score means different things in different archives: a big archive holds more
stories that share a few words with any sentence, a small one has fewer words in common
with anything, and a long passage shares more than a short one. So no fixed threshold
on it transfers. Instead, each archive is asked what its scores mean (`calibrate`):

- mentions of stories it holds: a few sentences of one of its articles, with a random part
  of their words lost (as a host's paraphrase or a misheard word loses them), looked up
  as the linker looks up a passage; right when the article found first is that one;
- mentions of stories it does not hold: the same sentences looked up with their own
  article taken out of the index (its words no longer counted, a word only it prints
  unknown), so the best match is always wrong.

A logistic model over quantities that mean the same in any archive (how much the best
match shares, how far it stands above the runner-up, what share of the passage's telling
words it covers) is fitted to those, and turns a match into a probability. The two kinds
are sampled equally often, so the probability assumes even odds that a mention has its
story in the archive.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# What a match is judged by, each a quantity that means the same in any archive.
FEATURES = (
    "intercept",
    "log score",
    "signed log margin",
    "coverage",
    "retrieval share",
    "retrieval margin",
    "cosine",
)
SAMPLES = 300  # mentions looked up per kind (held, not held) to fit the model
MODEL_VERSION = 7  # bump when the sampling or the features change: stored models are redone
# A sampled mention keeps each of its words with a probability drawn from here to 1: a
# host's paraphrase keeps little but the names, a sentence read aloud nearly all (chosen
# on the war-news corpus, 0.1 against 0.3: calibration error 0.058 against 0.080)
KEEP_AT_LEAST = 0.1
# ...and a lost word is replaced by a word from elsewhere in the archive this often (chosen
# on the war-news corpus: paraphrases linked 0.80 against 0.55-0.78 without, steady over
# seeds and sample sizes)
REPLACED = 0.5
# ...and this share of the mentions is told two to a passage (chosen on the war-news
# corpus: episode recall 0.78 against 0.60 with every mention alone, precision 0.94-0.97
# against 0.96; see docs/linking.md)
PAIRED = 0.5


@dataclass(frozen=True)
class MatchStrength:
    """One stretch of speech against its best article."""

    score: float  # the weight of the words and names they share
    runner_up: float  # the same for the next best article on the same words
    telling: float  # the weight of all the stretch's telling words
    retrieved: float = 1.0  # its retrieval score over the passage's best one (0: not retrieved)
    retrieval_margin: float = 0.0  # log of its retrieval score over the best other one's
    words: float = 0.0  # the part of `score` its words make, names aside
    cosine: float = 0.0  # between the stretch's telling words and the article's


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic coefficients over FEATURES, fitted to one archive (`calibrate`)."""

    coefficients: tuple[float, ...]
    samples: int = 0  # how many looked-up mentions it was fitted to
    accuracy: float = 0.0  # how often it was right on them, at 0.5

    def confidence(self, match: MatchStrength) -> float:
        z = sum(c * x for c, x in zip(self.coefficients, features(match), strict=True))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def features(match: MatchStrength) -> tuple[float, ...]:
    gap = match.score - match.runner_up
    margin = math.log1p(gap) if gap >= 0 else -math.log1p(-gap)
    coverage = match.words / match.telling if match.telling > 0 else 0.0
    return (
        1.0,
        math.log1p(match.score),
        margin,
        min(coverage, 1.0),
        match.retrieved,
        match.retrieval_margin,
        match.cosine,
    )


@dataclass(frozen=True)
class Mention:
    """A sampled mention: its text, and the article it was taken from."""

    article_id: int
    text: str


@dataclass(frozen=True)
class Told:
    """A passage made of sampled mentions, and the articles whose stories it tells."""

    text: str
    article_ids: tuple[int, ...]


def passages_told(mentions: Sequence[Mention]) -> list[Told]:
    """The first mentions each a passage of its own; the last PAIRED of them two to a
    passage (of neighbouring articles, as an episode tells the day's stories one after
    another), since a minute of an episode often ends one story and starts another: a
    story's match is then also learnt beside another story's words."""
    alone = int(len(mentions) * (1 - PAIRED))
    told = [Told(m.text, (m.article_id,)) for m in mentions[:alone]]
    pairs = zip(mentions[alone::2], mentions[alone + 1 :: 2], strict=False)
    told += [
        Told(f"{a.text} {b.text}", (a.article_id, b.article_id))
        for a, b in pairs
        if a.article_id != b.article_id
    ]
    return told


def sample_mentions(
    article_ids: Sequence[int],
    text_of: Callable[[int], list[str]],
    samples: int = SAMPLES,
    seed: int = 0,
) -> list[Mention]:
    """`samples` mentions spread evenly over the archive (a small archive gives several
    per article): one to four consecutive sentences of an article (`text_of` gives its
    sentences), of which each word is kept with a probability drawn from KEEP_AT_LEAST to 1,
    and a word lost is, half the time, replaced by one from elsewhere in the archive (a
    host tells a story in words of their own, and Whisper mishears some)."""
    mentions: list[Mention] = []
    if not article_ids:
        return mentions
    elsewhere = _other_words(article_ids, text_of, random.Random(f"{seed}:elsewhere"))
    for n in range(samples):
        article_id = article_ids[n * len(article_ids) // samples]
        sentences = [s for s in text_of(article_id) if len(s.split()) >= 5]
        if not sentences:
            continue
        draw = random.Random(f"{seed}:{n}")
        size = min(1 + n % 4, len(sentences))
        first = draw.randrange(len(sentences) - size + 1)
        keep = draw.uniform(KEEP_AT_LEAST, 1.0)
        said = []
        for word in " ".join(sentences[first : first + size]).split():
            if draw.random() < keep:
                said.append(word)
            elif draw.random() < REPLACED:
                said.append(draw.choice(elsewhere))
        if len(said) >= 3:
            mentions.append(Mention(article_id, " ".join(said)))
    return mentions


def _other_words(
    article_ids: Sequence[int], text_of: Callable[[int], list[str]], draw: random.Random
) -> list[str]:
    """The words of up to 60 articles drawn at random: from so many that a replaced word
    points to no one article in particular."""
    chosen = draw.sample(list(article_ids), min(60, len(article_ids)))
    return [w for article_id in chosen for s in text_of(article_id) for w in s.split()] or ["-"]


def fit(rows: list[tuple[MatchStrength, bool]], ridge: float = 1.0) -> ConfidenceModel:
    """Logistic regression by Newton's method, with a small ridge so that an archive whose
    held and missing stories never overlap (a handful of articles) still gets finite,
    cautious coefficients."""
    import numpy as np

    if not rows or len({right for _, right in rows}) < 2:
        return UNFITTED
    x = np.array([features(m) for m, _ in rows])
    y = np.array([float(right) for _, right in rows])
    penalty = np.eye(x.shape[1]) * ridge
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
        gradient = x.T @ (y - p) - penalty @ beta
        hessian = (x.T * (p * (1 - p))) @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    if not np.isfinite(beta).all():
        return UNFITTED
    p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
    return ConfidenceModel(
        coefficients=tuple(round(float(b), 6) for b in beta),
        samples=len(rows),
        accuracy=round(float(((p >= 0.5) == (y == 1)).mean()), 4),
    )


# An archive too small to sample (no article with a sentence of five words) links nothing.
UNFITTED = ConfidenceModel(coefficients=(-30.0, *[0.0] * (len(FEATURES) - 1)))
