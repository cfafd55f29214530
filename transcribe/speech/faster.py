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
    if options.batch_size > 1:
        # cut at pauses (VAD), the cuts decoded together; each starts afresh (no conditioning)
        from faster_whisper import BatchedInferencePipeline

        # one per window: the pipeline keeps state between calls, and windows of episodes
        # run side by side in threads
        raw_segments, info = BatchedInferencePipeline(model).transcribe(
            samples, batch_size=options.batch_size, **settings
        )
    else:
        raw_segments, info = model.transcribe(samples, **settings)
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
