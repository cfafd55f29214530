"""Cluster benchmark: the speech stage here, and on a local Ray at 1 and 2 workers of 1 CPU.

    .venv/bin/python bench/cluster.py                 # 8 episodes of 5 min of real calls
    .venv/bin/python bench/cluster.py --minutes 1     # a quick look (8 x 1 min)
    .venv/bin/python bench/cluster.py --gpu           # on a GPU machine: adds 1 GPU worker
    .venv/bin/python bench/cluster.py --cli --workers # the batch job beside the whisper CLI

The episodes are cut from the real earnings calls of ../shared/data/speech/longform, served
on 127.0.0.1 as a feed and fetched once by `transcribe fetch`; each configuration then runs
`transcribe speech` (the job's speech stage, speakers off) in a fresh process on a copy of
that catalog, one after another. Printed: wall time (Ray's start included), throughput in
audio minutes per minute, Ray's overhead against the local path, the driver's peak memory
and the whole process tree's (Ray's daemons and workers), and whether every transcript is
identical to the local path's. Then Ray's fixed costs (start; a task's round trip carrying
an episode's bytes), the catalog's writes per second (the driver's ceiling), and, on paper,
the hours 10,000 hours of audio take on N workers. With --cli, the anchor of the batch job's
speed: the openai-whisper CLI on the same files in one process (`whisper FILE... --model
tiny.en.pt --fp16 False`, on the same weights converted), in turn with the configurations.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CALLS = ROOT.parent / "shared" / "data" / "speech" / "longform"
BIN = Path(sys.executable).parent
# (file, pieces): 8 pieces in all, from three calls
PIECES = (
    ("earningscall_3m_2017q1_prepared.mp3", 3),
    ("earningscall_twitter_2016q4.mp3", 3),
    ("earningscall_3m_2017q1_answers.mp3", 2),
)
# the GPU figure this project measured (docs/benchmarks.md, H200): the job's settings,
# 12.8 min of audio in 11.0 s of compute
GPU_AUDIO_PER_SECOND = 12.8 * 60 / 11.0


def cut_episodes(folder: Path, minutes: float) -> list[Path]:
    from transcribe.demo import ffmpeg

    pieces = []
    for name, count in PIECES:
        for i in range(count):
            piece = folder / f"{Path(name).stem}-{i + 1}.mp3"
            if not piece.exists():
                start = str(i * minutes * 60)
                ffmpeg(
                    "-ss",
                    start,
                    "-t",
                    str(minutes * 60),
                    "-i",
                    str(CALLS / name),
                    "-c",
                    "copy",
                    str(piece),
                )
            pieces.append(piece)
    return pieces


def feed_of(folder: Path, base_url: str, pieces: list[Path]) -> str:
    from transcribe.demo import FeedEntry, write_feed

    entries = [
        FeedEntry(p.stem, p.stem, f"2026-11-{i + 1:02d}T10:00:00Z", enclosure=p.name)
        for i, p in enumerate(pieces)
    ]
    write_feed(folder / "feed.xml", "Calls", base_url, entries)
    return f"{base_url}feed.xml"


class TreeMemory:
    """The peak resident memory of a process, and of it with all its descendants (Ray's
    daemons and workers), sampled every 0.2 s from /proc."""

    def __init__(self, pid: int):
        self.pid, self.driver, self.tree = pid, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while not self.stop.is_set():
            rss = _rss_by_pid()
            self.driver = max(self.driver, rss.get(self.pid, (0, 0))[0])
            self.tree = max(
                self.tree, sum(r for pid, (r, _) in rss.items() if _descends(pid, self.pid, rss))
            )
            time.sleep(0.2)

    def close(self) -> tuple[float, float]:
        self.stop.set()
        self.thread.join()
        return self.driver / 1024, self.tree / 1024  # MiB


def _rss_by_pid() -> dict[int, tuple[int, int]]:
    """pid -> (resident KiB, parent pid)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            status = (proc / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        found[int(proc.name)] = (rss, int(fields.get("PPid", "0")))
    return found


def _descends(pid: int, root: int, rss: dict[int, tuple[int, int]]) -> bool:
    for _ in range(32):
        if pid == root:
            return True
        pid = rss.get(pid, (0, 0))[1]
        if not pid:
            return False
    return False


def run_speech(template: Path, folder: Path, name: str, feed: str, cluster: str) -> dict:
    """`transcribe speech` on a copy of the fetched catalog, in a fresh process."""
    data = folder / name
    shutil.copytree(template, data)
    config = folder / f"{name}.toml"
    config.write_text(f'data = "{data}"\n[[sources]]\nurl = "{feed}"\n{cluster}')
    command = [
        str(BIN / "transcribe"),
        "-q",
        "--config",
        str(config),
        "speech",
        "--speakers",
        "off",
    ]
    return {"name": name, **timed(name, command), "data": str(data)}


def timed(name: str, command: list[str]) -> dict:
    """The command's wall time and the peaks of its process and of its whole tree."""
    started = time.monotonic()
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(job.pid)
    out, err = job.communicate()
    wall = time.monotonic() - started
    driver, tree = memory.close()
    if job.returncode:
        raise SystemExit(f"{name}: exit {job.returncode}\n{out}\n{err[-3000:]}")
    return {"wall": wall, "driver_mib": driver, "tree_mib": tree}


CLI = "the whisper CLI"  # a configuration that is not the job's


def run_cli(pieces: list[Path], out: Path) -> dict:
    """The openai-whisper CLI on the episodes' files, one process, as a user runs it."""
    from transcribe.speech.models import resolve_openai_model

    checkpoint = resolve_openai_model("tiny.en").path
    command = [str(BIN / "whisper"), *map(str, pieces), "--model", str(checkpoint)]
    command += ["--fp16", "False", "--device", "cpu", "--output_format", "txt"]
    command += ["--output_dir", str(out)]  # on the CPU, as the job it is beside
    return timed("whisper CLI", command)


def transcripts(data: Path) -> dict:
    from transcribe.catalog import Catalog

    with Catalog(data / "catalog.sqlite", exclusive=False) as catalog:
        return {e.id: catalog.transcript(e.id) for e in catalog.episodes()}


def ray_fixed_costs(episode: Path, tasks: int = 20) -> dict:
    """Ray's start (a local instance and one actor ready) and a task's round trip carrying
    one episode's bytes to an actor that only counts them."""
    import ray

    started = time.monotonic()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)

    @ray.remote(num_cpus=1)
    class Echo:
        def size(self, media: bytes) -> int:
            return len(media)

    echo = Echo.remote()
    ray.get(echo.size.remote(b""))
    start = time.monotonic() - started
    media = episode.read_bytes()
    started = time.monotonic()
    for _ in range(tasks):
        ray.get(echo.size.remote(media))
    per_task = (time.monotonic() - started) / tasks
    ray.shutdown()
    return {"start_s": start, "task_s": per_task, "bytes": len(media)}


def catalog_writes(data: Path, rounds: int = 5) -> dict:
    """Transcripts the driver can record a second: the benchmark's own, saved again."""
    from transcribe.catalog import Catalog

    found = transcripts(data)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "catalog.sqlite"
        shutil.copy(data / "catalog.sqlite", copy)
        with Catalog(copy) as catalog:
            started = time.monotonic()
            for _ in range(rounds):
                for episode_id, transcript in found.items():
                    catalog.save_transcript(episode_id, transcript)
            seconds = time.monotonic() - started
    saved = rounds * len(found)
    audio = sum(t.duration for t in found.values()) * rounds
    return {"per_s": saved / seconds, "audio_h_per_s": audio / 3600 / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="length of each episode")
    parser.add_argument("--gpu", action="store_true", help="also 1 worker of 1 GPU")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="*",
        default=[1, 2],
        help="Ray configurations: workers of 1 CPU (none: no Ray configuration)",
    )
    parser.add_argument(
        "--cli", action="store_true", help="also the whisper CLI on the same files (the anchor)"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="run every configuration this many times, in turn"
    )
    parser.add_argument("--save", type=Path, help="write the raw figures here (JSON)")
    args = parser.parse_args()
    from transcribe.demo import serve

    cache = ROOT / "bench" / ".cache" / f"cluster-{args.minutes:g}min"
    cache.mkdir(parents=True, exist_ok=True)
    pieces = cut_episodes(cache, args.minutes)
    configs = [("here (no Ray: 2 episodes at once, 1 thread each)", "")] + [
        (
            f"Ray local, {n} worker{'s' if n > 1 else ''} of 1 CPU",
            f'[cluster]\naddress = "local"\nworkers = {n}\n',
        )
        for n in args.workers
    ]
    if args.cli:
        configs.append(("openai-whisper CLI, the same files in one process", CLI))
    if args.gpu:
        configs.append(
            (
                "Ray local, 1 worker of 1 GPU",
                '[cluster]\naddress = "local"\nworkers = 1\ngpus_per_worker = 1\n',
            )
        )
    with serve(cache) as base_url, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        feed = feed_of(cache, base_url, pieces)
        template = folder / "fetched"
        config = folder / "fetch.toml"
        config.write_text(f'data = "{template}"\n[[sources]]\nurl = "{feed}"\n')
        subprocess.run(
            [str(BIN / "transcribe"), "-q", "--config", str(config), "fetch"], check=True
        )
        runs = []
        for repeat in range(1, args.repeats + 1):
            for name, cluster in configs:
                name += f" (run {repeat})" if args.repeats > 1 else ""
                print(f"running: {name}", file=sys.stderr, flush=True)
                if cluster == CLI:
                    run = run_cli(pieces, folder / f"run{len(runs)}")
                else:
                    run = run_speech(template, folder, f"run{len(runs)}", feed, cluster)
                runs.append(run | {"name": name, "local": len(runs) // len(configs) * len(configs)})
        local = transcripts(Path(runs[0]["data"]))
        audio_min = sum(t.duration for t in local.values()) / 60
        for run in runs:
            data = run.pop("data", None)
            run["identical"] = transcripts(Path(data)) == local if data else None
        costs = ray_fixed_costs(pieces[0]) if args.workers or args.gpu else None
        writes = catalog_writes(template.parent / "run0")
    report(runs, audio_min, costs, writes, len(pieces))
    if args.save:
        args.save.write_text(
            json.dumps(
                {"runs": runs, "audio_min": audio_min, "costs": costs, "writes": writes}, indent=1
            )
        )


def report(
    runs: list[dict], audio_min: float, costs: dict | None, writes: dict, episodes: int
) -> None:
    print(f"\n{episodes} episodes, {audio_min:.1f} min of real speech, tiny.en, speakers off\n")
    print(
        "| configuration | wall | audio min per min | vs the local path | driver peak | all processes' peak | transcripts identical |"
    )
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        overhead = (run["wall"] / runs[run["local"]]["wall"] - 1) * 100  # that repeat's
        print(
            f"| {run['name']} | {run['wall']:.1f} s | {audio_min / (run['wall'] / 60):.2f} | "
            f"{overhead:+.1f}% | {run['driver_mib']:.0f} MiB | {run['tree_mib']:.0f} MiB | "
            f"{ {True: 'yes', False: 'NO', None: '-'}[run['identical']] } |"
        )
    for run in runs:
        if run["identical"] is None:  # the CLI: the batch job beside it, in that repeat
            job = runs[run["local"]]
            print(
                f"\nthe batch job against the whisper CLI: {run['wall'] / job['wall']:.2f}x its "
                f"speed at {job['tree_mib'] / run['tree_mib']:.2f} of its memory "
                f"({job['wall']:.1f} s, {job['tree_mib']:.0f} MiB against {run['wall']:.1f} s, "
                f"{run['tree_mib']:.0f} MiB)"
            )
    if costs:  # Ray ran
        print(
            f"\nRay's fixed costs: start (local instance, one actor ready) {costs['start_s']:.1f} s;"
            f" a task's round trip with one episode ({costs['bytes'] / 1e6:.1f} MB) {costs['task_s'] * 1000:.0f} ms"
        )
    print(
        f"the catalog records {writes['per_s']:.0f} transcripts a second"
        f" ({writes['audio_h_per_s']:.1f} hours of audio a second)"
    )
    one_cpu = next((r for r in runs if r["name"].startswith("Ray local, 1 worker of 1 CPU")), None)
    if one_cpu is None:
        return
    cpu_rate = audio_min / (one_cpu["wall"] / 60)  # audio minutes a minute, one 1-CPU worker
    print("\nOn paper, 10,000 hours of audio:")
    print("| workers | 1-CPU workers (tiny.en, as measured) | GPU workers (H200, job settings) |")
    print("|---|---|---|")
    for n in (1, 10, 100, 1000):
        cpu_hours = 10_000 / (n * cpu_rate)
        gpu_hours = 10_000 * 3600 / (n * GPU_AUDIO_PER_SECOND) / 3600
        print(f"| {n} | {cpu_hours:,.0f} h | {gpu_hours:,.1f} h |")
    ceiling = writes["audio_h_per_s"] * 3600 / cpu_rate  # a worker: cpu_rate audio s a second
    gpu_ceiling = writes["audio_h_per_s"] * 3600 / GPU_AUDIO_PER_SECOND
    print(
        f"\nThe driver records {writes['audio_h_per_s']:.1f} h of audio a second: it would be the"
        f" bottleneck past about {ceiling:,.0f} CPU workers or {gpu_ceiling:,.0f} GPU workers"
    )


if __name__ == "__main__":
    main()
