"""The words of a passage or an article as linking reads them: sentences, names, and the
telling words (no function words) that the article index knows."""

from __future__ import annotations

import re
from typing import Protocol


class Tokenizer(Protocol):
    def tokenize(self, text: str) -> list[str]: ...


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

WORD = re.compile(r"[^\W_]+")
# a sentence ends at . ! or ? (and closing quotes) before a space and a capital or digit
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")


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


def query_words(text: str, index: Tokenizer) -> list[str]:
    """The text's telling words as written (what the index's search takes: it stems them
    itself), once each by term, in order: no function words, no single letters."""
    stems = index.tokenize(text)
    said = first_said(stems_of_words(text, stems))
    return [said.get(term, term) for term in distinct_telling(stems, stopword_terms(index))]


def telling_terms(terms: list[str], stopwords: frozenset[str]) -> list[str]:
    """The terms that carry the topic, in order, repeats kept: no function words, no single
    letters."""
    return [t for t in terms if t not in stopwords and len(t) > 1]


def distinct_telling(terms: list[str], stopwords: frozenset[str]) -> list[str]:
    return telling_terms(list(dict.fromkeys(terms)), stopwords)


def stopword_terms(index: Tokenizer) -> frozenset[str]:
    return frozenset(index.tokenize(" ".join(STOPWORDS))) | STOPWORDS


def name_runs(name: str) -> list[str]:
    """A name and its parts, longest first, lowercased: "Harbourmaster Ingrid Solberg" is
    also "Ingrid Solberg" and "Solberg", so a name said with a title still meets its
    printed form."""
    words = name.lower().split()[:6]
    return [
        " ".join(words[i : i + size])
        for size in range(len(words), 0, -1)
        for i in range(len(words) - size + 1)
    ]


def name_matches(said: list[tuple[str, list[str]]], printed: str) -> dict[str, str]:
    """For each name said (with its name_runs), its longest part that is, or is part of, a
    name the article prints (`printed`: " name | name |", lowercased), as said: name said
    -> that part."""
    matches: dict[str, str] = {}
    for name, runs in said:
        for run in runs:
            if f" {run} " in printed and run not in STOPWORDS:
                matches[name] = _part(name, run.split())
                break
    return matches


def _part(name: str, run: list[str]) -> str:
    """The words of `name` that `run` (lowercased, one of its name_runs) is, as said."""
    words = name.split()
    lowered = [w.lower() for w in words]
    size = len(run)
    start = next(i for i in range(len(words)) if lowered[i : i + size] == run)
    return " ".join(words[start : start + size])


def stems_of_words(text: str, stems: list[str]) -> dict[str, str]:
    """word as said -> its index term, in the order said, for showing evidence as said
    ("bridge", not "bridg") and weighing names; empty when the tokenizer split the text
    otherwise than words."""
    words = WORD.findall(text)
    if len(words) != len(stems):
        return {}
    return dict(zip(words, stems, strict=True))


def first_said(stem_of: dict[str, str]) -> dict[str, str]:
    """index term -> the first word said that the index reads as it."""
    return {stem: word for word, stem in reversed(stem_of.items())}
