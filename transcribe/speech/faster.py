"""The faster-whisper engine (CTranslate2): the default, several times faster on a CPU."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import MediaError, ModelNotFoundError
from ..records import Segment, Word
from . import SpeechInfo, SpeechOptions
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
def load_model(path: str, device: str, compute_type: str, threads: int):  # noqa: ANN201
    """Load once per process and settings: loading costs more than a short clip."""
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads or os.cpu_count() or 1,
        )
    except (RuntimeError, ValueError, OSError) as e:  # a broken folder, no CUDA, a bad type
        raise ModelNotFoundError(
            f"cannot load the model in {path} on {device}/{compute_type}: {e}"
        ) from e


def transcribe(path: Path, options: SpeechOptions) -> tuple[Iterator[Segment], SpeechInfo]:
    model_dir = resolve_ct2_model(options.model)
    device, compute_type = pick_device(options.device, options.compute_type)
    model = load_model(str(model_dir.path), device, compute_type, options.threads)
    try:
        raw_segments, info = model.transcribe(
            str(path),
            language=options.language or None,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            vad_filter=options.vad,
            initial_prompt=options.initial_prompt or None,
            hotwords=options.hotwords or None,
            condition_on_previous_text=False,  # keeps one misheard passage from repeating
        )
    except Exception as e:  # PyAV raises its own errors on corrupt or audio-less files
        raise MediaError(f"{path.name}: could not decode the audio ({e})") from e
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
    return segments, SpeechInfo(info.language, info.language_probability, info.duration)
