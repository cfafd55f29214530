"""The speech stage on a real Ray: a local instance started by the job, and a head started
with `ray start --head` that the job joins (as it would a real cluster's). Workers are real
processes, killed here with SIGKILL."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHARED

from transcribe.catalog import Catalog
from transcribe.cli import cli
from transcribe.demo import FeedEntry, ffmpeg, write_feed
from transcribe.speech import SpeechOptions
from transcribe.speech.pool import SpeechJob
from transcribe.speech.ray_pool import ClusterOptions, transcribe_on_ray

ray = pytest.importorskip("ray", reason="make ray installs it (make test does)")

BIN = Path(sys.executable).parent
CALL = SHARED / "speech" / "longform" / "earningscall_amazon_2016q4.mp3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory):
    """A Ray head on this machine, as `ray start --head` starts one on a cluster: its
    address, to join."""
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    subprocess.run(
        [BIN / "ray", "start", "--head", f"--port={port}", "--num-cpus=2"]
        + ["--include-dashboard=false", "--node-ip-address=127.0.0.1"],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([BIN / "ray", "stop", "--force"], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two minutes of a real earnings call, as two one-minute files."""
    folder = tmp_path_factory.mktemp("calls")
    clips = [folder / "first.mp3", folder / "second.mp3"]
    for start, clip in zip((0, 60), clips, strict=True):
        ffmpeg("-ss", str(start), "-t", "60", "-i", str(CALL), "-c", "copy", str(clip))
    return clips


def workers_transcribing(under: int | None = None) -> list[int]:
    """The process ids of the speech actors that are transcribing now (Ray titles an actor's
    process with its class and the method it runs); `under`: only those descended from that
    process (a local Ray's workers are its driver's grandchildren)."""
    found, parents = [], {}
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes()
            parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if title.startswith(b"ray::SpeechWorker.transcribe"):
            found.append(int(proc.name))

    def descends(pid: int) -> bool:
        while pid > 1:
            if pid == under:
                return True
            pid = parents.get(pid, 0)
        return False

    return [pid for pid in found if under is None or descends(pid)]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_a_worker_mid_episode(killed: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        if busy := workers_transcribing():
            time.sleep(1.0)  # well into the episode
            os.kill(busy[0], signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.05)


def run_killing_one_worker(jobs: list[SpeechJob], cluster: ClusterOptions):
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_a_worker_mid_episode, args=(killed, stop))
    killer.start()
    try:
        results = {r.job.name: r for r in transcribe_on_ray(jobs, cluster)}
    finally:
        stop.set()
        killer.join()
    return results, killed


# A Ray worker's BLAS has as many threads as the worker has CPUs (Ray sets OMP_NUM_THREADS),
# and on some CPUs (this AMD EPYC, not the Intel machine before it) OpenBLAS rounds the
# log-mel features by one ulp differently with one thread than with two, which can move a
# comma: so what runs "here" to compare with the cluster runs with a worker's BLAS
AS_A_WORKER = {**os.environ, "OMP_NUM_THREADS": "1"}  # ClusterOptions().cpus_per_worker


def transcribed_as_a_worker_is(clip: Path, options: SpeechOptions):
    """The clip's transcript from this machine's speech stage, in a process of its own."""
    script = (
        "import pickle, sys; from pathlib import Path; from transcribe.speech import"
        " transcribe_audio; options = pickle.loads(sys.stdin.buffer.read());"
        f" sys.stdout.buffer.write(pickle.dumps(transcribe_audio(Path({str(clip)!r}), options)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(options),
        capture_output=True,
        check=True,
        env=AS_A_WORKER,
        timeout=300,
    )
    return pickle.loads(done.stdout)


def test_a_killed_worker_s_episode_is_retried_on_another_and_then_given_up(head, calls):
    options = SpeechOptions(speakers="off")
    jobs = [SpeechJob(clip.stem, clip, options, (), 60.0) for clip in calls]
    here = {clip.stem: transcribed_as_a_worker_is(clip, options) for clip in calls}
    ray.init(address=head, log_to_driver=False)
    try:
        results, killed = run_killing_one_worker(
            jobs, ClusterOptions(address=head, workers=2, retries=1)
        )
        assert len(killed) == 1
        # each episode once, as it comes out of this machine's speech stage: the killed
        # one's from its second worker
        assert sorted(results) == ["first", "second"]
        for name, result in results.items():
            assert result.error is None
            assert result.transcript.segments == here[name].segments

        results, killed = run_killing_one_worker(
            jobs, ClusterOptions(address=head, workers=2, retries=0)
        )
        assert len(killed) == 1
        failed = [r for r in results.values() if r.transcript is None]
        assert len(failed) == 1, "the killed worker's episode, and it only"
        assert "Ray worker died 1 time" in str(failed[0].error)
        done = next(r for r in results.values() if r.transcript is not None)
        assert done.transcript.segments == here[done.job.name].segments
    finally:
        ray.shutdown()


def test_an_episode_that_fails_on_a_worker_fails_as_it_does_here(head, tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 100)
    ray.init(address=head, log_to_driver=False)
    try:
        options = SpeechOptions(speakers="off")
        [result] = transcribe_on_ray(
            [SpeechJob("broken", broken, options)], ClusterOptions(address=head)
        )
    finally:
        ray.shutdown()
    from transcribe.errors import MediaError

    assert isinstance(result.error, MediaError), result.error  # not retried: not the worker's


def served_show(site: Path, base_url: str, calls: list[Path]) -> str:
    folder = site / "cluster-show"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, clip in enumerate(calls, 1):
        (folder / clip.name).write_bytes(clip.read_bytes())
        entries.append(
            FeedEntry(
                f"call-{i}",
                f"Earnings call, part {i}",
                f"2026-11-0{i}T10:00:00Z",
                enclosure=f"cluster-show/{clip.name}",
            )
        )
    write_feed(folder / "feed.xml", "Calls", base_url, entries)
    return f"{base_url}cluster-show/feed.xml"


def test_a_run_on_a_local_ray_gives_the_same_catalog_and_site(site, base_url, calls, tmp_path):
    feed = served_show(site, base_url, calls)
    catalogs, sites = [], []
    for where, cluster in (("here", ""), ("ray", '[cluster]\naddress = "local"\n')):
        config = tmp_path / f"{where}.toml"
        config.write_text(
            f'data = "{where}-data"\noutput = "{where}-site"\n'
            f'[[sources]]\nurl = "{feed}"\n{cluster}'
        )
        if where == "here":  # in a process with a worker's BLAS (above)
            done = subprocess.run(
                [BIN / "transcribe", "-q", "--config", str(config), "run"],
                capture_output=True,
                text=True,
                env=AS_A_WORKER,
                timeout=600,
            )
            exit_code, output = done.returncode, done.stdout + done.stderr
        else:
            result = CliRunner().invoke(cli, ["-q", "--config", str(config), "run"])
            exit_code, output = result.exit_code, result.output
            assert not ray.is_initialized(), "the local Ray the run started is stopped"
        assert exit_code == 0, output
        assert "2 episodes transcribed" in output
        catalogs.append(tmp_path / f"{where}-data" / "catalog.sqlite")
        sites.append(tmp_path / f"{where}-site")
    here, on_ray = (Catalog(path, exclusive=False) for path in catalogs)
    with here, on_ray:
        episodes = here.episodes()
        assert len(episodes) == 2
        for episode in episodes:
            assert on_ray.transcript(episode.id) == here.transcript(episode.id)
            assert on_ray.turns(episode.id) == here.turns(episode.id)
    pages = sorted(p.relative_to(sites[0]) for p in sites[0].rglob("*") if p.is_file())
    assert pages == sorted(p.relative_to(sites[1]) for p in sites[1].rglob("*") if p.is_file())
    for page in pages:
        if page.name == "index.stamp":  # a digest of the inputs, the data folder among them
            continue
        assert (sites[1] / page).read_bytes() == (sites[0] / page).read_bytes(), page


@pytest.mark.parametrize("address", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
def test_an_unreachable_cluster_is_one_line_and_exit_code_2(tmp_path, calls, address):
    address = address.format(port=free_port())  # nothing listens there
    started = time.monotonic()
    result = subprocess.run(
        [BIN / "transcribe", "-q", "speech", str(calls[0]), "--cluster", address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - started < 30  # the bound: an error, not a hang
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach the Ray cluster at {address}" in lines[0], lines


def test_a_cluster_without_room_for_one_worker_is_a_clear_error_not_a_wait(head, calls):
    from transcribe.errors import ClusterError

    ray.init(address=head, log_to_driver=False)
    try:
        jobs = [SpeechJob("first", calls[0], SpeechOptions(speakers="off"))]
        with pytest.raises(ClusterError, match="no room for one worker of 1 CPU and 1 GPU"):
            list(transcribe_on_ray(jobs, ClusterOptions(address=head, gpus_per_worker=1)))
    finally:
        ray.shutdown()


@pytest.mark.parametrize(
    ("cluster", "error"),
    [
        ({"workers": -1}, "cluster.workers: must be 0 or more"),
        ({"cpus_per_worker": 0}, "cluster.cpus_per_worker: must be at least 1"),
        ({"address": "head.example"}, "cluster.address: 'head.example' is not"),
        ({"nodes": 3}, "cluster.nodes"),
    ],
)
def test_cluster_settings_are_checked_where_they_are_read(cluster, error):
    from transcribe.config import parse_config
    from transcribe.errors import ConfigError

    with pytest.raises(ConfigError, match=error):
        parse_config({"cluster": cluster})


def test_a_cluster_address_that_is_no_address_is_a_config_error(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[[sources]]\nurl = "https://example.org/feed.xml"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "run", "--cluster", "my-head"])
    assert result.exit_code == 2
    assert "cluster.address: 'my-head' is not" in result.output


def test_ctrl_c_stops_the_cluster_work_and_a_rerun_finishes_it(site, base_url, calls, tmp_path):
    feed = served_show(site, base_url, calls)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[sources]]\nurl = "{feed}"\n[speech]\nspeakers = "off"\n'
        '[cluster]\naddress = "local"\nworkers = 1\n'
    )
    command = [BIN / "transcribe", "-q", "--config", str(config), "run"]
    job = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a terminal delivers Ctrl-C: a suite started in the background (`&`) ignores
        # SIGINT, and the ignoring is inherited
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (busy := workers_transcribing(under=job.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert busy, "a worker of this run started on the first episode"
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=60)
    assert job.returncode != 0, err
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in busy) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in busy), "no worker goes on with the episode"
    with Catalog(tmp_path / "data" / "catalog.sqlite", exclusive=False) as catalog:
        assert catalog.episodes("transcribed") == []
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 episodes transcribed" in rerun.stdout
