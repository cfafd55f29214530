"""Speakers benchmark: diarization error, speaker counts and cost, next to the targets.

    .venv/bin/python bench/speakers.py              # AMI excerpts + spoken conversations
    .venv/bin/python bench/speakers.py --minutes 45 # also time one long conversation

Data: the nine 30-second AMI meeting excerpts of ../shared/data/diarization (real far-field
meeting speech, 1 to 4 speakers, overlap kept in the reference), and conversations spoken by
espeak-ng voices from the demo's scripts (two voices, two other voices, three voices, one
voice alone), whose reference turns are what was spoken. DER is pyannote.metrics', over the
whole file, at collar 0 and at +-0.25 s (collar=0.5, its total width). Real recordings of
one speaker: the four earnings calls of ../shared/data/speech/longform (8 to 17 min, one
executive each): how many speakers are found (one is right). Names: the demo's three
episodes as the job names them, and the same audio with no evidence (no name may be
given). Cost: the speakers stage's time against the speech stage's on the same file
(tiny.en, the job's settings: speech.plan's decoders on both cores), one after the other in
this process, as the job runs them, and the process's peak memory: on a two-voice
conversation, or (--cost-only FILE) on a real recording.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyannote.core import Annotation, Segment, Timeline  # noqa: E402
from pyannote.metrics.diarization import DiarizationErrorRate  # noqa: E402

from transcribe.demo import converse, demo_script  # noqa: E402
from transcribe.records import Turn, is_unnamed  # noqa: E402
from transcribe.speakers import find_turns, label_speakers, speaker_at  # noqa: E402

AMI = ROOT.parent / "shared" / "data" / "diarization"
CALLS = ROOT.parent / "shared" / "data" / "speech" / "longform"
CACHE = ROOT / "bench" / ".cache" / "speakers"
CONVERSATIONS = {  # name -> the espeak-ng voices taking turns
    "two voices (en-us, en-us+f3)": ["en-us", "en-us+f3"],
    "two voices (en-us, en-us+klatt4)": ["en-us", "en-us+klatt4"],
    "three voices": ["en-us", "en-us+f3", "en-us+klatt4"],
    "one voice": ["en-us"],
}
TARGETS = "targets: DER <= 0.12 at +-0.25 s on AMI; speaker count right on >= 80% of clips; " \
    "names right on >= 95% of turns with evidence, no wrong name; " \
    "diarization <= 25% of transcription time"  # fmt: skip


def annotation(turns: list[Turn]) -> Annotation:
    found = Annotation()
    for n, turn in enumerate(turns):
        found[Segment(turn.start, turn.end), n] = turn.speaker
    return found


def ami_references() -> dict[str, list[Turn]]:
    turns: dict[str, list[Turn]] = defaultdict(list)
    for line in (AMI / "ami-train.rttm").read_text().splitlines():
        field = line.split()
        start, length = float(field[3]), float(field[4])
        turns[field[1]].append(Turn(start, start + length, field[7]))
    return dict(sorted(turns.items()))


def score(name: str, path: Path, reference: list[Turn], end: float, metrics: list) -> dict:
    started = time.perf_counter()
    found = find_turns(path)
    seconds = time.perf_counter() - started
    whole = Timeline([Segment(0, end)])
    errors = [m(annotation(reference), annotation(found.turns), uem=whole) for m in metrics]
    speakers = (len({t.speaker for t in reference}), len(found.voiceprints))
    print(f"  {name:34} DER {errors[0]:.3f} / {errors[1]:.3f}   speakers {speakers[0]} found "
          f"{speakers[1]}   {seconds:.1f} s", flush=True)  # fmt: skip
    return {"seconds": seconds, "right_count": speakers[0] == speakers[1]}


def conversation(voices: list[str], minutes: float = 0.0) -> tuple[Path, list[Turn]]:
    episodes = json.loads((ROOT / "examples" / "demo" / "episodes.json").read_text())["episodes"]
    sentences = [
        s for e in episodes for s in re.split(r"(?<=[.!?])\s+", demo_script(e)) if len(s) > 20
    ]
    if minutes:  # as long as asked: the scripts again, each voice taking two sentences
        sentences = sentences * int(minutes * 60 / (len(sentences) * 4.5) + 1)
    else:
        sentences = sentences[:24]
    lines = [(voices[(n // 2) % len(voices)], s) for n, s in enumerate(sentences)]
    key = "+".join(voices) + (f"-{minutes:g}min" if minutes else "")
    path = CACHE / f"{re.sub(r'[^A-Za-z0-9+.-]', '_', key)}.mp3"
    return path, converse(lines, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--minutes", type=float, default=0.0, help="also one conversation this long"
    )
    parser.add_argument("--cost-only", type=Path, help="only the cost, on this recording")
    args = parser.parse_args()
    if args.cost_only:
        from transcribe.speech.audio import windows

        cost(args.cost_only, sum(w.seconds for w in windows(args.cost_only)))
        return
    print(TARGETS)
    for title, cases in (
        ("AMI meeting excerpts (real, 30 s each)", "ami"),
        ("spoken conversations (espeak-ng)", "spoken"),
    ):
        metrics = [DiarizationErrorRate(collar=0.0), DiarizationErrorRate(collar=0.5)]
        print(f"{title}: DER collar 0 / +-0.25 s")
        results = []
        if cases == "ami":
            for name, reference in ami_references().items():
                results.append(score(name, AMI / f"{name}.wav", reference, 30.0, metrics))
        else:
            for name, voices in CONVERSATIONS.items():
                path, reference = conversation(voices)
                results.append(score(name, path, reference, reference[-1].end, metrics))
        right = sum(r["right_count"] for r in results)
        print(f"  {'all':34} DER {abs(metrics[0]):.3f} / {abs(metrics[1]):.3f}   "
              f"speaker count right {right}/{len(results)}")  # fmt: skip
    one_speaker_calls()
    naming()
    path, reference = conversation(CONVERSATIONS["two voices (en-us, en-us+f3)"][:2], args.minutes)
    cost(path, reference[-1].end)


def one_speaker_calls() -> None:
    """Each real call is one executive speaking (the source's labels): one speaker is right."""
    print("real calls, one speaker each (../shared/data/speech/longform)")
    right, calls = 0, sorted(CALLS.glob("*.mp3"))
    for path in calls:
        started = time.perf_counter()
        found = find_turns(path)
        seconds = time.perf_counter() - started
        count = len(found.voiceprints)
        right += count == 1
        print(f"  {path.stem:34} speakers found {count}   {seconds:.1f} s", flush=True)
    print(f"  {'all':34} speaker count right {right}/{len(calls)}")


def naming() -> None:
    """Names on the demo's three episodes as the job gives them (introductions, the feed's
    people, the voices of the earlier episodes), and on the same audio with no evidence at
    all: the share of spoken turns named right, and the turns given a wrong name."""
    from transcribe.records import Person
    from transcribe.speakers.names import known_voices
    from transcribe.speech import SpeechOptions, plan, transcribe_audio

    show = json.loads((ROOT / "examples" / "demo" / "episodes.json").read_text())
    voices = show["show"]["voices"]
    options = plan(SpeechOptions())
    for evidence in ("the feed and the talk", "none (no feed, talk read as if silent)"):
        right = wrong = total = 0
        earlier = []
        for episode in sorted(show["episodes"], key=lambda e: e["published"]):
            people = {role: name for name, role in episode["people"]}
            people.setdefault("guest", "Sam Ortiz")  # the third's reporter, whom it does not name
            lines = [(voices[t["speaker"]], t["text"]) for t in episode["turns"]]
            path = CACHE / f"demo-{episode['guid']}.mp3"
            reference = converse(lines, path)
            transcript = transcribe_audio(path, options)
            if evidence.startswith("none"):  # no introduction heard, no person listed
                transcript.segments = [
                    replace(s, text=" ...", words=tuple(replace(w, text=" ...") for w in s.words))
                    for s in transcript.segments
                ]
                found = label_speakers(path, transcript)
            else:
                listed = [Person(n, r) for n, r in episode["people"]]
                found = label_speakers(
                    path, transcript, people=listed, voices=known_voices(earlier)
                )
                earlier.append((found.names, {k: v.tolist() for k, v in found.voiceprints.items()}))
            truth = {voice: people[role] for role, voice in voices.items()}
            for turn in reference:
                given = speaker_at(found.turns, turn.start, turn.end)
                total += 1
                right += given == truth[turn.speaker]
                wrong += given != truth[turn.speaker] and not is_unnamed(given)
        print(f"naming, evidence: {evidence}: {right}/{total} turns named right, "
              f"{wrong} given a wrong name")  # fmt: skip


def cost(path: Path, seconds: float) -> None:
    from transcribe.speech import SpeechOptions, plan, transcribe_audio

    options = plan(SpeechOptions())
    started = time.perf_counter()
    transcribe_audio(path, options, keep_audio=True)  # for the speakers stage, as the job does
    speech = time.perf_counter() - started
    started = time.perf_counter()
    find_turns(path)
    speakers = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"cost on {seconds / 60:.1f} min of {path.name}: speech (tiny.en) "
          f"{speech:.1f} s, speakers {speakers:.1f} s = {speakers / speech:.0%} of it "
          f"(realtime factor {speakers / seconds:.4f}); process peak {peak:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
