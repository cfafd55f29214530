"""Many files through Ray actors: the speech stage on a cluster, the driver the catalog's
only writer.

Each actor (a worker) loads the model once and transcribes one episode at a time. A task
carries the episode's media bytes (through Ray's object store, so a worker needs no shared
disk), its options and glossary, and returns the Transcript, which pool.transcribe_jobs'
caller records as it arrives: a killed driver loses only what was in flight. A worker that
dies mid-episode is replaced, and the episode tried again, `retries` times at most. Ray is
imported only here, and only when a cluster is configured.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import ClusterError, MediaError, TranscribeError
from ..records import Transcript
from . import FileTranscript, SpeechOptions, plan, transcribe_audio
from .pool import MinutesBar, SpeechJob, SpeechResult

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # a head that does not answer in this long is unreachable


@dataclass(frozen=True)
class ClusterOptions:
    # "": no Ray, the speech runs here; "local": start a Ray instance on this machine;
    # "auto", "host:6379" or "ray://host:10001": join a running cluster
    address: str = ""
    workers: int = 0  # speech actors; 0: as many as the cluster's CPUs (or GPUs) hold
    cpus_per_worker: int = 1  # each worker's decoding threads
    gpus_per_worker: float = 0.0  # a worker with a GPU decodes on CUDA in float16 by itself
    retries: int = 2  # times an episode is tried again after its worker died


class SpeechWorker:
    """One Ray actor: one model, loaded with its first episode and kept for the others (the
    engines cache it per process and settings)."""

    def transcribe(
        self, media: bytes, suffix: str, options: SpeechOptions, glossary: tuple[str, ...]
    ) -> Transcript:
        # the bytes came through the object store: a file again, for ffmpeg to read
        with tempfile.NamedTemporaryFile(suffix=suffix) as file:
            file.write(media)
            file.flush()
            return transcribe_audio(Path(file.name), options, glossary=list(glossary))


def transcribe_on_ray(jobs: Sequence[SpeechJob], cluster: ClusterOptions) -> Iterator[SpeechResult]:
    """Each job's transcript or error, in the order they finish, transcribed by Ray actors;
    a local Ray started here is stopped at the end. Raises ClusterError when the cluster
    cannot be reached."""
    import ray

    started = connect(cluster)
    actor = ray.remote(num_cpus=cluster.cpus_per_worker, num_gpus=cluster.gpus_per_worker)(
        SpeechWorker
    )
    workers: list[Any] = []
    minutes = MinutesBar(sum(job.seconds for job in jobs))
    try:
        workers += [actor.remote() for _ in range(min(len(jobs), worker_count(cluster)))]
        idle = deque(workers)
        waiting = deque((job, 0) for job in jobs)
        running: dict[Any, tuple[SpeechJob, int, Any]] = {}  # task -> (job, tries, worker)
        while waiting or running:
            while waiting and idle:
                job, tries = waiting.popleft()
                try:
                    media = job.media.read_bytes()
                except OSError as e:
                    yield SpeechResult(job, None, MediaError(f"{job.media}: {e.strerror}"))
                    continue
                worker = idle.popleft()
                task = worker.transcribe.remote(
                    media,
                    job.media.suffix,
                    on_worker(job.options, cluster),
                    job.glossary,
                )
                running[task] = (job, tries, worker)
            [task], _ = ray.wait(list(running), num_returns=1)
            job, tries, worker = running.pop(task)
            try:
                transcript = ray.get(task)
            except ray.exceptions.RayActorError as e:  # the worker's process or node died
                log.warning("%s: its worker died (%s)", job.name, type(e).__name__)
                workers.remove(worker)
                workers.append(actor.remote())
                idle.append(workers[-1])
                if tries < cluster.retries:
                    waiting.appendleft((job, tries + 1))
                else:
                    yield SpeechResult(job, None, died(tries + 1))
                continue
            except ray.exceptions.RayTaskError as e:  # the episode's own failure, not retried
                idle.append(worker)
                yield SpeechResult(job, None, _cause(e))
                continue
            idle.append(worker)
            minutes.finish(job)
            yield SpeechResult(job, transcript)
    finally:  # done, or Ctrl-C, or the caller stopped early: episodes in flight are dropped
        for worker in workers:
            ray.kill(worker)
        if started:
            ray.shutdown()
        minutes.close()


def transcribe_files_on_ray(
    paths: Sequence[Path], options: SpeechOptions, cluster: ClusterOptions
) -> Iterator[FileTranscript]:
    """`transcribe speech FILE...` on the cluster: each file's transcript or error, in the
    order they finish."""
    jobs = [SpeechJob(str(path), Path(path), options) for path in paths]
    for result in transcribe_on_ray(jobs, cluster):
        path = result.job.media
        if result.transcript is None:
            yield FileTranscript.failed(path, result.error or TranscribeError("no transcript"))
        else:
            yield FileTranscript(path, result.transcript)


def on_worker(options: SpeechOptions, cluster: ClusterOptions) -> SpeechOptions:
    """The job's options as one worker runs them: one episode at a time, on its own CPUs,
    its chunks decoding as plan() divides those CPUs (a worker given a GPU sees only its
    own, and "auto" picks CUDA from that; it decodes one chunk at a time)."""
    if cluster.gpus_per_worker:
        return replace(options, parallel=1, threads=cluster.cpus_per_worker)
    return plan(replace(options, device="cpu", parallel=0, threads=0), cluster.cpus_per_worker)


def died(tries: int) -> TranscribeError:
    return TranscribeError(
        f"its Ray worker died {tries} time{'s' if tries > 1 else ''} while transcribing it"
        " (out of memory, or killed); the next run tries again"
    )


def _cause(error: Any) -> Exception:
    """The worker's own exception (a MediaError, NoSpeechError...) rather than Ray's
    wrapper, so that the episode's failure reads as it does without a cluster."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, Exception) else TranscribeError(str(error))


def worker_count(cluster: ClusterOptions) -> int:
    """The configured number of workers, or as many as the cluster's resources hold; never
    more than those (an actor that finds no room would wait, and its episodes with it).
    Raises ClusterError when not one worker fits."""
    import ray

    resources = ray.cluster_resources()
    fits = int(resources.get("CPU", 0) // cluster.cpus_per_worker)
    if cluster.gpus_per_worker:
        fits = min(fits, int(resources.get("GPU", 0) // cluster.gpus_per_worker))
    if fits < 1:
        raise ClusterError(
            f"the Ray cluster has no room for one worker of {cluster.cpus_per_worker} CPU"
            f" and {cluster.gpus_per_worker:g} GPU (it has {resources.get('CPU', 0):g} CPU,"
            f" {resources.get('GPU', 0):g} GPU)"
        )
    if cluster.workers > fits:
        log.warning("the Ray cluster has room for %d speech workers, not %d", fits, cluster.workers)
    return min(cluster.workers or fits, fits)


def connect(cluster: ClusterOptions) -> bool:
    """Join the configured cluster, or start a local one; True when started here (and so
    to be stopped by the caller). A Ray already initialized in this process is used as
    it is. Raises ClusterError, within seconds, when the cluster cannot be reached."""
    import ray

    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    if cluster.address == "local":
        cpus = max(os.cpu_count() or 1, cluster.workers * cluster.cpus_per_worker)
        ray.init(address="local", num_cpus=cpus, **quiet)
        return True
    check_reachable(cluster.address)
    try:
        ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, ValueError, RuntimeError) as e:
        hint = ""
        if "authentication" in repr(e.__cause__).lower():  # Ray 2.59 on: token auth is on
            hint = (
                ": the cluster wants its token; set RAY_AUTH_MODE=token here, with the token"
                " (ray get-auth-token, on the head) in ~/.ray/auth_token or RAY_AUTH_TOKEN"
            )
        raise ClusterError(f"cluster.address {cluster.address!r}: {e}{hint}") from e
    return False


def head_of(address: str) -> tuple[str, int] | None:
    """The (host, port) of a head address ("host:port" or "ray://host:port"); None for "",
    "local" and "auto", which name no head. Raises ClusterError for anything else."""
    if address in ("", "local", "auto"):
        return None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f'{address!r} is not "local", "auto", host:port nor ray://host:port')
    return host, int(port)


def check_reachable(address: str) -> None:
    """Raise ClusterError when the head at `address` takes no connection: Ray itself would
    retry for minutes. "", "local" and "auto" (which Ray resolves, and fails at once when
    no cluster runs here) are not checked."""
    head = head_of(address)
    if head is None:
        return
    try:
        socket.create_connection(head, timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise ClusterError(
            f"cannot reach the Ray cluster at {address} ({e.strerror or e}); is its head"
            " started (ray start --head)?"
        ) from e
