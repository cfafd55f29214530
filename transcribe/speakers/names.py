"""Names for the speakers, given only with evidence; otherwise "Speaker 1", "Speaker 2".

Evidence, strongest first:
- a speaker introduces themself ("I'm your host, Carla Jennings", "my name is ..."; not
  "this is ...", which introduces a show as often as a person);
- a speaker introduces the next one ("joining me is ...", "my guest today is ...",
  "welcome, ...");
- the feed names the people (`<podcast:person>`) or the description does ("with ...",
  "joined by ..."): a name heard in the talk is taken in the feed's spelling, and when the
  talk has named all of them but one, and one speaker is left, that speaker is the one left
  (also when a lone speaker is the feed's only person);
- a voice the show's other episodes named: next week's host is named with no word said.
A name heard in the talk that the feed does not list is taken only when it is a full name
("my name is Ada Lovelace"), never from a single word.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import numpy as np

from ..records import Naming, Person, Segment, Turn
from .cluster import MERGE_COSINE

# a name: capitalized words (and the particles of surnames); the phrases before it are
# matched in any case, the name itself only capitalized
_NAME = r"(?P<name>[A-Z][\w'’-]+(?:\s+(?:[A-Z][\w'’-]+|de|van|von|da|di|del|la|le)){0,5})"
INTRODUCES_SELF = re.compile(r"\b(?i:I'm|I’m|I am|my name is)\s+(?i:your hosts?,?\s+)?" + _NAME)
INTRODUCES_NEXT = re.compile(
    r"\b(?i:joining (?:me|us)(?: today| now| this week)? (?:is|are)|with me(?: today| now)? is"
    r"|my guest(?: today| this week)? is|our guest(?: today| this week)? is|please welcome"
    r"|welcome(?: to the show| back)?,)\s+" + _NAME
)
IN_DESCRIPTION = re.compile(
    r"\b(?i:with|joined by|guests?|featuring|interview with|talks to|speaks with)\s+"
    r"(?:[a-z.]+,?\s+){0,3}" + _NAME
)
# capitalized words a sentence or a title begins with, never a name
_NOT_NAMES = frozenset(
    ["The", "A", "An", "This", "That", "It", "We", "You", "He", "She", "They", "Here", "There",
     "Now", "Today", "Not", "Just", "So", "Sorry", "Glad", "Happy", "Back", "Going", "Joined",
     "Welcome", "Thanks", "Thank", "And", "But", "Also", "I"]
)  # fmt: skip
LONGEST_NAME = 3  # words; a longer run of capitals is a title and a name: its last two


def people_in_description(text: str) -> list[Person]:
    """Guests a description names ("with Dana Whitcomb", "joined by ..."): full names only."""
    found = []
    for match in IN_DESCRIPTION.finditer(text):
        name = _trimmed(match.group("name"))
        if len(name.split()) >= 2 and name[0].isupper():
            found.append(Person(name, "guest"))
    return list(dict.fromkeys(found))


def _trimmed(name: str) -> str:
    words = name.split()
    while words and words[0] in _NOT_NAMES:
        words.pop(0)
    while words and words[-1][0].islower():
        words.pop()
    if len(words) > LONGEST_NAME:  # "Public Works Director Dana Whitcomb"
        words = words[-2:]
    return " ".join(words)


def _as_listed(heard: str, people: list[Person]) -> str:
    """The feed's spelling of a name heard: the person whose full name, or whose first or
    last name alone, it is (when only one is); "" when none or several are."""
    heard_words = heard.lower().split()
    matches = []
    for person in people:
        words = person.name.lower().split()
        if words[: len(heard_words)] == heard_words or (
            len(heard_words) == 1 and heard_words[0] in words
        ):
            matches.append(person.name)
    return matches[0] if len(set(matches)) == 1 else ""


def _heard(raw: str, people: list[Person]) -> str:
    """The name a phrase introduces: as the feed spells it, else a full name (two words or
    more) as heard; "" for a lone word the feed does not list."""
    name = _trimmed(raw)
    if not name:
        return ""
    listed = _as_listed(name, people) or _as_listed(" ".join(name.split()[:2]), people)
    if listed:
        return listed
    return name if len(name.split()) >= 2 else ""


def name_speakers(
    segments: list[Segment], people: list[Person], mentioned: list[Person] = ()
) -> dict[str, Naming]:
    """Speaker label -> its name and the evidence for it, for the speakers that have some.
    `people`: whom the feed names; `mentioned`: whom the description names (their spelling
    is taken for a name heard, but they are never given by elimination: a description's
    capitals may be a place or a title)."""
    listed = [*people, *mentioned]
    votes: dict[str, Counter[str]] = {}
    why: dict[tuple[str, str], str] = {}

    def vote(speaker: str, name: str, evidence: str) -> None:
        if speaker and name:
            votes.setdefault(speaker, Counter())[name] += 1
            why.setdefault((speaker, name), evidence)

    spoken = [s for s in segments if s.text.strip()]
    for n, segment in enumerate(spoken):
        for match in INTRODUCES_SELF.finditer(segment.text):
            name = _heard(match.group("name"), listed)
            vote(segment.speaker, name, f'introduced themself: "{match.group(0).strip()}"')
        for match in INTRODUCES_NEXT.finditer(segment.text):
            name = _heard(match.group("name"), listed)
            following = next(
                (s.speaker for s in spoken[n + 1 :] if s.speaker != segment.speaker), ""
            )
            vote(following, name, f'introduced by the speaker before: "{match.group(0).strip()}"')
    named: dict[str, Naming] = {}
    # strongest claims first: a name goes to one speaker, a speaker gets one name
    claims = sorted(
        (
            (count, speaker, name)
            for speaker, names in votes.items()
            for name, count in names.items()
        ),
        key=lambda claim: -claim[0],
    )
    taken: set[str] = set()
    for _, speaker, name in claims:
        if speaker not in named and name not in taken:
            named[speaker] = Naming(name, why[(speaker, name)])
            taken.add(name)
    speakers = list(dict.fromkeys(s.speaker for s in spoken if s.speaker))
    left = [p.name for p in dict.fromkeys(people) if p.name not in taken]
    unnamed = [s for s in speakers if s not in named]
    if len(left) == 1 and len(unnamed) == 1 and len(speakers) == len(set(p.name for p in people)):
        evidence = (
            "the only person the feed names"
            if len(speakers) == 1
            else "the feed names these people, and the others are named in the talk"
        )
        named[unnamed[0]] = Naming(left[0], evidence)
    return named


VOICE_EVIDENCE = "the voice of"


def name_by_voice(
    voiceprints: dict[str, np.ndarray], named: dict[str, Naming], known: dict[str, np.ndarray]
) -> dict[str, Naming]:
    """`named`, and each speaker still unnamed whose voice is a known one's (the show's
    other episodes): cosine at least MERGE_COSINE, the bar at which clustering takes two
    voices for one. The surest match first; a name goes to one speaker."""
    taken = {naming.name for naming in named.values()}
    matches = sorted(
        (
            (float(vector @ voice), label, name)
            for label, vector in voiceprints.items()
            if label not in named
            for name, voice in known.items()
            if name not in taken
        ),
        reverse=True,
    )
    result = dict(named)
    for similarity, label, name in matches:
        if similarity < MERGE_COSINE:
            break
        if label not in result and name not in taken:
            evidence = (
                f"{VOICE_EVIDENCE} {name} in the show's other episodes (cosine {similarity:.2f})"
            )
            result[label] = Naming(name, evidence)
            taken.add(name)
    return result


def known_voices(
    named: list[tuple[dict[str, Naming], dict[str, list[float]]]],
) -> dict[str, np.ndarray]:
    """Each name's voice (its mean voiceprint, unit length) from other episodes' (names,
    voiceprints), by label; only names the talk or the feed gave, so that one voice taken
    for another is not passed on."""
    vectors: dict[str, list[np.ndarray]] = {}
    for names, voiceprints in named:
        for label, naming in names.items():
            if label in voiceprints and not naming.evidence.startswith(VOICE_EVIDENCE):
                vectors.setdefault(naming.name, []).append(np.asarray(voiceprints[label]))
    voices = {}
    for name, found in vectors.items():
        mean = np.mean(found, axis=0)
        voices[name] = mean / max(float(np.linalg.norm(mean)), 1e-9)
    return voices


def named_again_by_voice(
    names: dict[str, Naming], voiceprints: dict[str, list[float]], voices: dict[str, np.ndarray]
) -> dict[str, Naming]:
    """An episode's names once its show's known voices changed: those the talk or the feed
    gave stay, those given by voice are given again from `voices`. A name given again to
    the same speaker keeps its evidence as it was, so that each new episode of a show does
    not rewrite the others for a cosine's second decimal."""
    kept = {label: n for label, n in names.items() if not n.evidence.startswith(VOICE_EVIDENCE)}
    vectors = {label: np.asarray(vector) for label, vector in voiceprints.items()}
    again = name_by_voice(vectors, kept, voices)
    return {
        label: names[label] if label in names and names[label].name == naming.name else naming
        for label, naming in again.items()
    }


def with_names(
    segments: list[Segment], turns: list[Turn], names: dict[str, Naming]
) -> tuple[list[Segment], list[Turn]]:
    """The segments and turns with each named speaker's label replaced by the name."""

    def renamed(label: str) -> str:
        return names[label].name if label in names else label

    return (
        [replace(s, speaker=renamed(s.speaker)) for s in segments],
        [replace(t, speaker=renamed(t.speaker)) for t in turns],
    )
