"""Many files through one model: `parallel` at a time in threads, sharing the one model (the
engines release the GIL while they decode), with one progress bar in audio minutes. Results
come back as each file finishes, for the caller to record (the catalog is written from one
thread only)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import progress
from ..records import Transcript
from . import SpeechOptions, load_model, transcribe_audio

if TYPE_CHECKING:
    from .ray_pool import ClusterOptions


@dataclass(frozen=True)
class SpeechJob:
    name: str  # what its result and the bar call it (an episode id)
    media: Path
    options: SpeechOptions  # the run's, with what the episode's source sets over them
    glossary: tuple[str, ...] = ()  # names to spell as given
    seconds: float = 0.0  # its expected length, for the bar


@dataclass(frozen=True)
class SpeechResult:
    job: SpeechJob
    transcript: Transcript | None  # None when it failed
    error: Exception | None = None


def transcribe_jobs(
    jobs: Sequence[SpeechJob], options: SpeechOptions, cluster: ClusterOptions
) -> Iterator[SpeechResult]:
    """Each job's transcript or error, as they finish: here (transcribe_all), or on the
    Ray cluster that `cluster` names."""
    if cluster.address:
        from .ray_pool import transcribe_on_ray

        return transcribe_on_ray(jobs, cluster)
    return transcribe_all(jobs, options)


def transcribe_all(jobs: Sequence[SpeechJob], options: SpeechOptions) -> Iterator[SpeechResult]:
    """Each job's transcript or error, in the order they finish; `options`: the run's,
    planned (speech.plan), whose model every job shares. The model is loaded with the first
    job: one that cannot be loaded is each job's error."""
    model = functools.cache(functools.partial(load_model, options))
    minutes = MinutesBar(sum(job.seconds for job in jobs))
    running: dict[Future, SpeechJob] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, options.parallel)) as pool:
            for job in jobs:
                try:
                    loaded = model()
                except Exception as e:  # noqa: BLE001 - reported as each job's failure
                    yield SpeechResult(job, None, e)
                    continue
                follow = minutes.follow(job.name)
                running[
                    pool.submit(
                        transcribe_audio,
                        job.media,
                        job.options,
                        follow,
                        list(job.glossary),
                        loaded,
                        keep_audio=job.options.finds_speakers,
                    )
                ] = job
            for future in as_completed(running):
                job = running[future]
                try:
                    transcript = future.result()
                except Exception as e:  # noqa: BLE001 - one file's failure, not the others'
                    yield SpeechResult(job, None, e)
                    continue
                minutes.finish(job)
                yield SpeechResult(job, transcript)
    finally:
        minutes.close()


class MinutesBar:
    """One progress bar in audio minutes over files transcribed side by side."""

    def __init__(self, seconds: float):
        self.bar = progress.bar(round(seconds / 60, 1), "transcribe", unit="min")
        self.done: dict[str, float] = {}
        self.lock = threading.Lock()

    def follow(self, name: str) -> Callable[[float, float], None]:
        def advance(seconds: float, _total: float) -> None:
            with self.lock:
                self.done[name] = seconds
                self.bar.update(round(sum(self.done.values()) / 60, 2) - self.bar.n)

        return advance

    def finish(self, job: SpeechJob) -> None:
        self.follow(job.name)(job.seconds or self.done.get(job.name, 0.0), 0.0)

    def close(self) -> None:
        self.bar.close()
