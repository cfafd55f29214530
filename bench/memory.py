"""Peak memory against episode length: it should stay flat, since audio is decoded a window
at a time and only the transcript grows.

    .venv/bin/python bench/memory.py                      # 5, 15 and 45 minutes, tiny.en
    .venv/bin/python bench/memory.py --minutes 5 30 90 --model base

Each length runs in a fresh process with the job's settings (transcribe_audio, faster-whisper
int8); the audio is speech looped to length (the clips of ../shared/data/speech and the
demo's spoken episodes), as a 16 kHz mono WAV.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speech import CACHE, clip_manifest, long_piece, own_peak_mib  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", nargs="+", type=float, default=[5, 15, 45])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker[0]), args.worker[1])))
        return
    base, _ = long_piece(clip_manifest(), 600)
    print("| audio | peak memory | compute | realtime factor | segments |\n|---|---|---|---|---|")
    for minutes in args.minutes:
        audio = looped(base, minutes * 60)
        result = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--worker", str(audio), args.model],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        print(
            f"| {minutes:.0f} min | {result['peak_mib']:.0f} MiB | {result['seconds']:.0f} s "
            f"| {result['seconds'] / (minutes * 60):.3f} | {result['segments']} |",
            flush=True,
        )


def worker(audio: Path, model: str) -> dict:
    from transcribe.speech import SpeechOptions, transcribe_audio

    started = time.monotonic()
    transcript = transcribe_audio(audio, SpeechOptions(model=model))
    return {
        "seconds": time.monotonic() - started,
        "segments": len(transcript.segments),
        "peak_mib": own_peak_mib(),
    }


def looped(base: Path, seconds: float) -> Path:
    from transcribe.demo import ffmpeg

    target = CACHE / f"looped-{int(seconds)}s.wav"
    if not target.exists():
        ffmpeg("-stream_loop", "-1", "-i", str(base), "-t", str(seconds), "-c", "copy", str(target))
    return target


if __name__ == "__main__":
    main()
