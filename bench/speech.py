"""Speech benchmark: openai-whisper against faster-whisper, on the same weights and audio.

    .venv/bin/python bench/speech.py                      # tiny.en and base, 2 repeats
    .venv/bin/python bench/speech.py --models tiny.en --repeats 1 --long-minutes 3
    python bench/speech.py --device cuda --models PATH --save raw.json   # on a GPU machine
    .venv/bin/python bench/speech.py --report raw.json                 # its table, here
    .venv/bin/python bench/speech.py --longform --models tiny.en --repeats 1   # real calls

Each configuration runs in a fresh process (so its peak memory is its own), back to back,
repeated. Audio: the 12 clips of ../shared/data/speech (with references) and one long piece,
built once by joining those clips and the demo's spoken episodes until it lasts
--long-minutes. Printed per model and configuration: the realtime factor on the long piece
(seconds of compute per second of audio), the speed ratio to openai-whisper, the peak
memory of the process, and the word error rate on the clips and on the long piece (both
sides normalized by openai-whisper's EnglishTextNormalizer). On CUDA the configurations are
the GPU's own (float16; openai-whisper fp16) and the memory column adds the GPU's peak, read
from NVML while the configuration runs.

--longform runs the real earnings calls of ../shared/data/speech/longform instead, each whole
file through the tools as users run them, one process each, in turn: the openai-whisper CLI
(the anchor, on the same weights converted), plain faster-whisper at its defaults, and
`transcribe speech FILE`; wall time, the process's peak memory and WER per file and pooled.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache"
THREADS = 2

# name -> (engine, settings); "threads" is per process
CONFIGS: dict[str, dict] = {
    "openai-whisper (CLI defaults: beam 5, best_of 5, fallback)": {"engine": "openai"},
    "faster-whisper int8, beam 5 (its defaults)": {"engine": "faster"},
    "faster-whisper int8, batched 8, beam 5": {"engine": "faster", "batch": 8},
    "faster-whisper int8, batched 4, beam 1": {"engine": "faster", "batch": 4, "beam": 1},
    "faster-whisper int8, beam 5, 2 episodes at once (1 thread each)": {
        "engine": "faster",
        "parallel": 2,
    },
    "transcribe's job settings, one episode at a time": {"engine": "job"},
    "transcribe's job settings, 2 episodes at once (its default here)": {
        "engine": "job",
        "parallel": 2,
    },
    "transcribe's job settings, batched 4, beam 1, one episode at a time": {
        "engine": "job",
        "batch": 4,
        "beam": 1,
    },
    "transcribe's job settings, batched 2, beam 1, one episode at a time": {
        "engine": "job",
        "batch": 2,
        "beam": 1,
    },
}
CUDA_CONFIGS: dict[str, dict] = {
    "openai-whisper fp16 (CLI defaults: beam 5, best_of 5, fallback)": {"engine": "openai"},
    "faster-whisper float16, beam 5": {"engine": "faster"},
    "faster-whisper float16, batched 16, beam 5": {"engine": "faster", "batch": 16},
    "transcribe's job settings (its default on CUDA: float16, beam 5)": {
        "engine": "job",
        "batch": 1,
    },
    "transcribe's job settings, batched 16, beam 5": {"engine": "job", "batch": 16},
    "transcribe's job settings, batched 16, beam 1": {"engine": "job", "batch": 16, "beam": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--only", nargs="*", default=None, help="substrings of config names")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--clips", type=Path, default=SHARED / "speech", help="clip folder")
    parser.add_argument(
        "--save", type=Path, help="also write the raw runs as JSON (--longform: one model)"
    )
    parser.add_argument("--report", type=Path, help="print the tables of a --save file")
    parser.add_argument(
        "--longform",
        nargs="?",
        type=Path,
        const=SHARED / "speech" / "longform",
        help="instead: the long-form recordings (default folder: %(const)s), whole files, "
        "as users run the tools: the whisper CLI, plain faster-whisper, `transcribe speech`",
    )
    parser.add_argument(
        "--files", nargs="*", default=None, help="with --longform: substrings of file names"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--plain-faster", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.plain_faster:
        plain_faster(*args.plain_faster)
        return
    if args.longform:
        for model in args.models:
            longform(model, args.longform, args.repeats, args.files, args.save)
        return
    if args.report:
        saved = json.loads(args.report.read_text())
        if isinstance(saved, dict):  # a --longform run
            longform_report(saved)
            return
        for table in saved:
            report(**table)
        return
    clips = clip_manifest(args.clips)
    long_audio, long_reference = long_piece(clips, args.long_minutes * 60)
    choices = CUDA_CONFIGS if args.device == "cuda" else CONFIGS
    configs = {k: v for k, v in choices.items() if not args.only or any(o in k for o in args.only)}
    header = (
        f"machine: {machine(args.device)}; long piece {duration(long_audio) / 60:.1f} min; "
        f"{len(clips)} clips; {args.repeats} repeats"
    )
    print(header + "\n")
    tables = []
    for model in args.models:
        rows = []
        for name, settings in configs.items():
            settings = {**settings, "device": args.device}
            runs = [run(model, settings, clips, long_audio) for _ in range(args.repeats)]
            rows.append((name, runs))
            print(
                f"  {model}: {name}: {[round(r['long_seconds'], 1) for r in runs]} s",
                file=sys.stderr,
            )
        table = {
            "model": model,
            "rows": rows,
            "references": [c["reference"] for c in clips],
            "long_seconds": duration(long_audio),
            "long_reference": long_reference,
            "header": header,
        }
        tables.append(table)
        if args.save:
            args.save.write_text(json.dumps(tables))
        try:
            report(**table)
        except ImportError as e:  # jiwer is a test extra: the GPU machine may lack it
            print(f"no table here ({e}); print it with --report {args.save}")


def machine(device: str) -> str:
    if device == "cuda":
        import subprocess

        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return f"{gpu}, {os.cpu_count()} cores"
    return f"{os.cpu_count()} cores; {THREADS} threads per run"


def run(model: str, settings: dict, clips: list[dict], long_audio: Path) -> dict:
    """One configuration in a fresh process, so that its peak memory is its own."""
    parallel = settings.get("parallel", 1)
    job = {
        "model": model,
        **settings,
        "clips": [c["path"] for c in clips],
        # side by side, the episodes are the long piece's equal parts
        "long": [str(p) for p in ([long_audio] if parallel == 1 else split(long_audio, parallel))],
    }
    output = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output)


def worker(job: dict) -> dict:
    """Load the model once, transcribe the clips, then time the long piece (its parts side
    by side in threads when the configuration runs episodes in parallel)."""
    gpu_peak = GpuPeak() if job.get("device") == "cuda" else None
    transcribe = load(job)
    clip_texts = [transcribe(path) for path in job["clips"]]
    parts = job["long"]
    texts = [""] * len(parts)

    def one(i: int) -> None:
        texts[i] = transcribe(parts[i])

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "long_seconds": time.monotonic() - started,
        "long_text": " ".join(texts),
        "clip_texts": clip_texts,
        "peak_mib": own_peak_mib(),
        "gpu_peak_mib": gpu_peak.stop() if gpu_peak else None,
    }


class GpuPeak:
    """The GPU's peak memory in use while the worker runs, sampled from NVML."""

    def __init__(self) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        self.baseline = self.used()
        self.peak = self.baseline
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def used(self) -> float:
        import pynvml

        return pynvml.nvmlDeviceGetMemoryInfo(self.handle).used / 2**20

    def sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.used())
            time.sleep(0.05)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak - self.baseline


def load(job: dict):  # noqa: ANN201 - returns path -> text
    parallel = job.get("parallel", 1)
    threads, beam = THREADS // parallel, job.get("beam", 5)
    device = job.get("device", "cpu")
    if job["engine"] == "openai":
        import shutil

        import torch
        import whisper
        from faster_whisper import decode_audio

        from transcribe.speech.models import resolve_openai_model

        torch.set_num_threads(threads)
        model = whisper.load_model(str(resolve_openai_model(job["model"]).path), device=device)
        # openai-whisper reads files through the ffmpeg program; where there is none (the
        # GPU machine), it is given the samples, decoded the way faster-whisper decodes them
        read = (lambda path: path) if shutil.which("ffmpeg") else decode_audio
        fp16 = device == "cuda"
        return lambda path: model.transcribe(read(path), beam_size=beam, best_of=5, fp16=fp16)[
            "text"
        ]
    if job["engine"] == "job":
        from transcribe.speech import SpeechOptions, share_malloc_arena, transcribe_audio

        options = SpeechOptions(
            model=job["model"],
            beam_size=beam,
            batch_size=job.get("batch", 1),
            threads=threads,
            parallel=parallel,
            device=device,
        )
        if parallel > 1:  # as the pipeline does before its episodes run side by side
            share_malloc_arena()
        return lambda path: transcribe_audio(Path(path), options).text
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from transcribe.speech.models import resolve_ct2_model

    model = WhisperModel(
        str(resolve_ct2_model(job["model"]).path),
        device=device,
        compute_type="float16" if device == "cuda" else "int8",
        cpu_threads=threads,
        num_workers=parallel,  # one model, shared by the episodes transcribed side by side
    )
    if job.get("batch"):
        batched = BatchedInferencePipeline(model)
        return lambda path: " ".join(
            s.text for s in batched.transcribe(path, batch_size=job["batch"], beam_size=beam)[0]
        )
    return lambda path: " ".join(s.text for s in model.transcribe(path, beam_size=beam)[0])


def longform(
    model: str,
    folder: Path,
    repeats: int,
    only: list[str] | None = None,
    save: Path | None = None,
) -> None:
    """Each long-form file through each tool as its own process, the tools in turn (A B C A
    B C), timed whole (loading included: what a user waits for) with the process's own peak
    memory, and scored against the human transcript. `save` keeps each tool's text and times
    (JSON), to read where the words differ."""
    import csv

    from transcribe.speech.models import resolve_ct2_model, resolve_openai_model

    checkpoint = resolve_openai_model(model).path
    ct2 = resolve_ct2_model(model).path
    bin_dir = Path(sys.executable).parent
    tools = {
        f"openai-whisper CLI (whisper FILE --model {checkpoint.name} --fp16 False)": lambda f, o: [
            str(bin_dir / "whisper"), str(f), "--model", str(checkpoint), "--fp16", "False",
            "--output_format", "txt", "--output_dir", str(o),
        ],
        "faster-whisper, its defaults (int8, beam 5)": lambda f, o: [
            sys.executable, __file__, "--plain-faster", str(ct2), str(f), str(o / f"{f.stem}.txt"),
        ],
        # words only, as the anchors give them (speakers are bench/speakers.py's to measure)
        f"transcribe speech FILE --model {model} --speakers off": lambda f, o: [
            str(bin_dir / "transcribe"), "speech", str(f), "--model", model, "-o", str(o),
            "--speakers", "off",
        ],
    }  # fmt: skip
    with open(folder / "manifest.tsv") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    files = [
        (folder / r["file"], r["reference"])
        for r in rows
        if not only or any(o in r["file"] for o in only)
    ]
    found: dict[str, dict] = {name: {"seconds": {}, "peak": 0.0, "texts": {}} for name in tools}
    run = {
        "model": model,
        "references": {p.name: r for p, r in files},
        "audio_seconds": sum(duration(p) for p, _ in files),
        "repeats": repeats,
        "tools": found,
    }
    for path, _ in files:
        for _ in range(repeats):
            for name, command in tools.items():
                with tempfile.TemporaryDirectory() as out:
                    seconds, peak = timed(command(path, Path(out)))
                    text = (Path(out) / f"{path.stem}.txt").read_text()
                row = found[name]
                row["seconds"].setdefault(path.name, []).append(seconds)
                row["peak"] = max(row["peak"], peak)
                row["texts"][path.name] = text
                print(
                    f"  {model}: {path.name}: {name}: {seconds:.1f} s, {peak:.0f} MiB",
                    file=sys.stderr,
                )
                if save:  # after every run: a long bench stopped halfway keeps what it did
                    save.write_text(json.dumps(run))
    longform_report(run)


def longform_report(saved: dict) -> None:
    """The long-form table of a run (`saved`, as --save writes it): per tool the wall time,
    speed and memory against the first tool (the CLI), word error pooled and per file; then
    the job's (the last tool's) word error against each anchor's, with its interval."""
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    normalize = EnglishTextNormalizer()
    model, audio, repeats = saved["model"], saved["audio_seconds"], saved["repeats"]
    references = saved["references"]
    found = saved["tools"]
    print(f"\n### {model}, long-form ({len(references)} files, {audio / 60:.1f} min)\n")
    print(f"machine: {os.cpu_count()} cores, each tool on its own defaults; {repeats} repeats\n")
    names = [n.removeprefix("earningscall_").removesuffix(".mp3") for n in references]
    print(
        "| tool | wall s (sum of medians) | speed vs CLI | peak memory | vs CLI | WER all | "
        + " | ".join(f"WER {n}" for n in names)
        + " |"
    )
    print("|---|---|---|---|---|---|" + "---|" * len(references))
    refs = [normalize(r) for r in references.values()]

    def heard(tool: str) -> list[str]:
        return [normalize(found[tool]["texts"][name]) for name in references]

    anchor = None
    for name, row in found.items():
        wall = sum(statistics.median(s) for s in row["seconds"].values())
        anchor = anchor or (wall, row["peak"])
        hyps = heard(name)
        per_file = " | ".join(f"{jiwer.wer(r, h):.4f}" for r, h in zip(refs, hyps, strict=True))
        print(
            f"| {name} | {wall:.1f} | {anchor[0] / wall:.2f}x | {row['peak']:.0f} MiB "
            f"| {row['peak'] / anchor[1]:.2f} | {jiwer.wer(refs, hyps):.4f} | {per_file} |"
        )
    *anchors, job = found
    print(
        f"\nThe job's word error minus each anchor's, pooled, with a 95% interval (the "
        f"reference cut into blocks of {BLOCK_WORDS} words, {DRAWS} draws of the blocks, the "
        "same draws for both tools):\n"
    )
    job_errors = errors_by_word(refs, heard(job))
    for name in anchors:
        difference, low, high, above = paired_difference(
            job_errors, errors_by_word(refs, heard(name))
        )
        print(
            f"- against {name}: {difference:+.4f} ({low:+.4f} to {high:+.4f}; "
            f"the job above in {above:.0%} of the draws)"
        )


# A block is a few sentences: errors inside one are not independent (a misheard name is
# misheard again), so whole blocks are drawn
BLOCK_WORDS = 100
DRAWS = 10000


def errors_by_word(references: list[str], hypotheses: list[str]) -> np.ndarray:
    """Each reference word's errors, the files one after another: 1 for a word heard wrong
    or dropped, and each word added charged to the reference word after it (or the last)."""
    import jiwer

    charged = []
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        errors = np.zeros(len(reference.split()) + 1)
        for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
            if chunk.type in ("substitute", "delete"):
                errors[chunk.ref_start_idx : chunk.ref_end_idx] += 1
            elif chunk.type == "insert":
                errors[chunk.ref_start_idx] += chunk.hyp_end_idx - chunk.hyp_start_idx
        errors[-2] += errors[-1]
        charged.append(errors[:-1])
    return np.concatenate(charged)


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """Word error of `a` minus `b` over the same reference words (errors_by_word), its 95%
    paired block-bootstrap interval, and the share of draws in which `a` is above `b`."""
    blocks = len(a) // BLOCK_WORDS
    used = blocks * BLOCK_WORDS
    per_block = (a[:used] - b[:used]).reshape(blocks, BLOCK_WORDS).sum(axis=1)
    draws = np.random.default_rng(0).integers(0, blocks, (DRAWS, blocks))
    differences = per_block[draws].sum(axis=1) / used
    low, high = np.percentile(differences, [2.5, 97.5])
    return (a.sum() - b.sum()) / len(a), float(low), float(high), float(np.mean(differences > 0))


# Starts the command in a process of its own (forked from this small one) and reports its
# peak. A command started straight from the bench (Python's subprocess uses vfork) carries
# the bench's own peak into its ru_maxrss, which Linux copies at exec, and the bench holds
# torch (the normalizer, a checkpoint converted): tiny.en's job read 536 MiB so, once the
# bench had converted tiny.en, against 393 to 434 MiB on its own.
LAUNCH = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def own_peak_mib() -> float:
    """This process's peak resident memory (MiB) since its program started: VmHWM, not
    ru_maxrss, which also holds the peak of the process that started it (see LAUNCH)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of one command, its own (see LAUNCH)."""
    # files, not pipes: progress bars fill pipes
    with tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile("r") as peak:
        started = time.monotonic()
        process = subprocess.run(
            [sys.executable, "-I", "-S", "-c", LAUNCH, peak.name, *command],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        seconds = time.monotonic() - started
        if process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{command[0]} failed: {errors.read().decode()[-2000:]}")
        return seconds, int(peak.read()) / 1024


def plain_faster(model_dir: str, audio: str, out: str) -> None:
    """faster-whisper as its README shows it: a WhisperModel, transcribe, the segments' text."""
    from faster_whisper import WhisperModel

    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    segments, _ = model.transcribe(audio, beam_size=5)
    Path(out).write_text(" ".join(s.text.strip() for s in segments))


def report(
    model: str,
    rows: list,
    references: list[str],
    long_seconds: float,
    long_reference: str,
    header: str = "",
) -> None:
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    normalize = EnglishTextNormalizer()
    references = [normalize(r) for r in references]
    long_ref = normalize(long_reference)
    seconds = long_seconds
    baseline = statistics.median(r["long_seconds"] for r in rows[0][1])
    base_memory = max(r["peak_mib"] for r in rows[0][1])
    print(f"\n### {model}\n\n{header}\n")
    print(
        "| configuration | long piece: compute s (median) | realtime factor | speed vs openai-whisper "
        "| peak memory | vs openai-whisper | WER clips | WER long |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in rows:
        median = statistics.median(r["long_seconds"] for r in runs)
        memory = max(r["peak_mib"] for r in runs)
        gpu = [r["gpu_peak_mib"] for r in runs if r.get("gpu_peak_mib") is not None]
        gpu_note = f" (+ GPU {max(gpu):.0f} MiB)" if gpu else ""
        texts = runs[0]["clip_texts"]
        clip_wer = f"{jiwer.wer(references, [normalize(t) for t in texts]):.3f}" if texts else "-"
        long_wer = jiwer.wer(long_ref, normalize(runs[0]["long_text"]))
        print(
            f"| {name} | {median:.1f} | {median / seconds:.3f} | {baseline / median:.1f}x "
            f"| {memory:.0f} MiB{gpu_note} | {memory / base_memory:.2f} | {clip_wer} | {long_wer:.3f} |"
        )


def clip_manifest(folder: Path) -> list[dict]:
    import csv

    with open(folder / "manifest.tsv") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    return [{"path": str(folder / r["file"]), "reference": r["reference"]} for r in rows]


def long_piece(clips: list[dict], seconds: float) -> tuple[Path, str]:
    """Join the clips and the demo's spoken episodes (16 kHz mono WAV) until long enough."""
    from transcribe.demo import EXAMPLES, demo_script, ffmpeg, speak

    target = CACHE / f"long-{int(seconds)}s.wav"
    reference_file = target.with_suffix(".txt")
    if target.exists() and reference_file.exists():
        return target, reference_file.read_text()
    episodes = json.loads((EXAMPLES / "episodes.json").read_text())["episodes"]
    parts = [(Path(c["path"]), c["reference"]) for c in clips]
    for episode in episodes:
        parts.append(
            (speak(demo_script(episode), CACHE / f"{episode['guid']}.wav"), demo_script(episode))
        )
    uniform = []  # the concat demuxer wants one format: 16 kHz mono PCM
    for i, (path, reference) in enumerate(parts):
        wav = CACHE / "parts" / f"{i:02d}.wav"
        if not wav.exists():
            wav.parent.mkdir(parents=True, exist_ok=True)
            ffmpeg("-i", str(path), "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(wav))
        uniform.append((wav, reference))
    playlist, references, total = [], [], 0.0
    while total < seconds:
        for path, reference in uniform:
            playlist.append(path)
            references.append(reference)
            total += duration(path)
    listing = CACHE / "concat.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in playlist))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(target))
    reference_file.write_text(" ".join(references))
    return target, " ".join(references)


def split(path: Path, parts: int) -> list[Path]:
    """The long piece cut in equal parts: stand-ins for episodes transcribed side by side."""
    from transcribe.demo import ffmpeg

    length = duration(path) / parts
    pieces = []
    for i in range(parts):
        piece = CACHE / f"{path.stem}-part{i + 1}of{parts}.wav"
        if not piece.exists():
            ffmpeg("-ss", str(i * length), "-t", str(length), "-i", str(path), str(piece))
        pieces.append(piece)
    return pieces


def duration(path: Path) -> float:
    from transcribe.fetch import probe_media

    return probe_media(Path(path))


if __name__ == "__main__":
    main()
