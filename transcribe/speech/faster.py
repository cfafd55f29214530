"""The faster-whisper engine (CTranslate2): the default, several times faster on a CPU."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ModelNotFoundError
from ..records import Segment, Word
from . import SpeechOptions
from .audio import SAMPLE_RATE
from .models import resolve_ct2_model


def pick_device(device: str, compute_type: str) -> tuple[str, str]:
    """ "auto" means CUDA with float16 when a GPU is visible, else the CPU with int8."""
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


@functools.lru_cache(maxsize=4)
def load_model(path: str, device: str, compute_type: str, threads: int, workers: int = 1):  # noqa: ANN201
    """Load once per process and settings: loading costs more than a short clip. With
    `workers`, that many transcriptions run at once (from threads) on the one model."""
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads or os.cpu_count() or 1,
            num_workers=max(1, workers),
        )
    except (RuntimeError, ValueError, OSError) as e:  # a broken folder, no CUDA, a bad type
        raise ModelNotFoundError(
            f"cannot load the model in {path} on {device}/{compute_type}: {e}"
        ) from e


def load(options: SpeechOptions) -> Any:
    """The options' model, resolved and loaded (a WhisperModel)."""
    model_dir = resolve_ct2_model(options.model)
    device, compute_type = pick_device(options.device, options.compute_type)
    return load_model(
        str(model_dir.path), device, compute_type, options.threads, options.parallel or 1
    )


# A chunk heard at under this share of the window's usual words a second (and at least
# MIN_SPARSE_S long) is decoded again on its own. Chosen on the 12.8-min piece, where the
# chunk after an abrupt change of voice came back with 17 of its 64 words: the four real
# calls have no chunk under it, and 0.5 is far from their slowest talkers.
SPARSE = 0.5
MIN_SPARSE_S = 4.0


def _in_chunks(
    model: Any, samples: np.ndarray, options: SpeechOptions, settings: dict
) -> tuple[list[Any], Any | None]:
    """The window's speech (VAD) cut at pauses into chunks of up to 30 s, each decoded on
    its own, options.batch_size at once (faster-whisper's batched pipeline): measured on
    four real calls, fewer words lost than decoding the window in 30-s seeks, and faster.
    A chunk whose words come back too sparse is decoded again alone (see SPARSE). No
    segments and no info when the VAD hears no speech."""
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    speech = get_speech_timestamps(
        samples, VadOptions(**options.vad_settings(), max_speech_duration_s=30)
    )
    chunks = [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in speech]
    if not chunks:  # nothing to hear, and no language to guess from it
        return [], None
    # one pipeline per window: it keeps state between calls, and windows of episodes run
    # side by side in threads
    segments, info = BatchedInferencePipeline(model).transcribe(
        samples,
        batch_size=options.batch_size,
        clip_timestamps=[{"start": a, "end": b} for a, b in chunks],
        **settings,
    )
    return _sparse_chunks_again(model, samples, list(segments), chunks, settings, info), info


def _sparse_chunks_again(
    model: Any,
    samples: np.ndarray,
    segments: list[Any],
    chunks: list[tuple[float, float]],
    settings: dict,
    info: Any,
) -> list[Any]:
    """Whisper, given a chunk whose voice changes abruptly, can stop after the first
    voice: the chunk's words then come back far sparser than the window's. Such a chunk
    is decoded again on its own, and its new words replace the old when there are more."""
    import dataclasses
    import statistics

    def within(segment: Any, start: float, end: float) -> bool:
        return start <= (segment.start + segment.end) / 2 < end

    def words_in(found: list[Any]) -> int:
        return sum(len(s.words or ()) or len(s.text.split()) for s in found)

    heard = {
        (a, b): words_in([s for s in segments if within(s, a, b)])
        for a, b in chunks
        if b - a >= MIN_SPARSE_S
    }
    if not heard:
        return segments
    usual = statistics.median(n / (b - a) for (a, b), n in heard.items())
    for (start, end), count in heard.items():
        if count / (end - start) >= SPARSE * usual:
            continue
        piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        found, _ = model.transcribe(piece, **{**settings, "language": info.language})
        again = [
            dataclasses.replace(
                s,
                start=s.start + start,
                end=s.end + start,
                words=[
                    dataclasses.replace(w, start=w.start + start, end=w.end + start)
                    for w in s.words or ()
                ]
                or None,
            )
            for s in found
        ]
        if words_in(again) > count:
            segments = [s for s in segments if not within(s, start, end)] + again
    return sorted(segments, key=lambda s: s.start)


def transcribe_window(
    model: Any,
    samples: np.ndarray,
    options: SpeechOptions,
    language: str,
    prompt: str,
) -> tuple[Iterator[Segment], str, float]:
    settings = dict(
        language=language or None,
        beam_size=options.beam_size,
        word_timestamps=options.word_timestamps,
        vad_filter=options.vad,
        vad_parameters=options.vad_settings(),
        initial_prompt=prompt or None,
        hotwords=options.hotwords or None,
        condition_on_previous_text=options.condition_on_previous_text,
    )
    if options.chunks and options.vad:
        raw_segments, info = _in_chunks(model, samples, options, settings)
        if info is None:  # no speech: the language stays to be found in a later window
            return iter(()), language, 0.0
    else:
        raw_segments, info = model.transcribe(samples, **settings)
        if options.vad and not info.duration_after_vad:  # as above
            return iter(()), language, 0.0
    segments = (
        Segment(
            start=round(float(s.start), 3),
            end=round(float(s.end), 3),
            text=s.text.strip(),
            words=tuple(
                Word(
                    round(float(w.start), 3),
                    round(float(w.end), 3),
                    w.word,
                    round(float(w.probability), 4),
                )
                for w in (s.words or ())
            ),
        )
        for s in raw_segments
    )
    return segments, info.language, info.language_probability
