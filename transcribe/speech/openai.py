"""The openai-whisper engine (PyTorch), on the same weights as faster-whisper.

Optional: it needs torch and openai-whisper (`make test` installs them). openai-whisper has
no voice-activity filter, so the speech stretches come from faster-whisper's Silero VAD and
the times are mapped back, so both engines hear the same audio.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelNotFoundError
from ..records import Segment, Word
from . import SpeechOptions, usable_cores
from .audio import SAMPLE_RATE, speech_stretches
from .models import resolve_openai_model, whisper_cache_dir


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@functools.lru_cache(maxsize=2)
def load_model(name_or_path: str, device: str, threads: int):  # noqa: ANN201
    import torch
    import whisper

    if threads:
        torch.set_num_threads(threads)
    resolved = resolve_openai_model(name_or_path)
    try:
        if resolved.origin == "download":
            model = whisper.load_model(
                name_or_path, device=device, download_root=str(whisper_cache_dir())
            )
        else:
            model = whisper.load_model(str(resolved.path), device=device)
    except (RuntimeError, OSError) as e:
        raise ModelNotFoundError(f"openai-whisper model {name_or_path!r}: {e}") from e
    heads = _alignment_heads(resolved.path) if resolved.origin != "download" else None
    if heads is not None:  # word timings from the same heads faster-whisper uses
        model.set_alignment_heads(heads)
    return model


def _alignment_heads(checkpoint: Path) -> bytes | None:
    import torch

    return torch.load(checkpoint, map_location="cpu", weights_only=True).get("alignment_heads")


def load(options: SpeechOptions) -> Any:
    """The options' model, resolved and loaded (a whisper.Whisper)."""
    device = pick_device(options.device)
    return load_model(options.model, device, options.threads or usable_cores())


def transcribe_window(
    model: Any,
    samples: np.ndarray,
    options: SpeechOptions,
    language: str,
    prompt: str,
) -> tuple[Iterator[Segment], str, float]:
    audio, speech_map = _speech_only(samples, options) if options.vad else (samples, None)
    if len(audio) == 0:  # no speech: the language stays to be found in a later window
        return iter(()), language, 0.0
    probability = 1.0
    if not language:
        language, probability = _language(model, audio)
    result = model.transcribe(
        audio,
        language=language,
        beam_size=options.beam_size if options.beam_size > 1 else None,
        best_of=5,  # as faster-whisper, for the temperature fallback
        word_timestamps=options.word_timestamps,
        initial_prompt=" ".join(filter(None, [options.hotwords, prompt])) or None,
        condition_on_previous_text=options.condition_on_previous_text,
        fp16=model.device.type == "cuda",
        verbose=None,
    )
    return (_segment(s, speech_map) for s in result["segments"]), language, probability


def _segment(raw: dict, speech_map) -> Segment:  # noqa: ANN001
    """openai-whisper's segment dict as a Segment, its times mapped back past the silence the
    VAD cut (a word's two ends placed by the stretch its middle falls in, as faster-whisper)."""

    def original(t: float, chunk: int | None = None, is_end: bool = False) -> float:
        if speech_map is None:
            return round(float(t), 3)
        return round(float(speech_map.get_original_time(t, chunk, is_end)), 3)

    words = []
    for w in raw.get("words", ()):
        chunk = speech_map.get_chunk_index((w["start"] + w["end"]) / 2) if speech_map else None
        words.append(
            Word(
                original(w["start"], chunk),
                original(w["end"], chunk),
                w["word"],
                round(float(w["probability"]), 4),
            )
        )
    if words:
        start, end = words[0].start, words[-1].end
    else:
        start, end = original(raw["start"]), original(raw["end"], is_end=True)
    return Segment(start=start, end=end, text=raw["text"].strip(), words=tuple(words))


def _speech_only(audio, options: SpeechOptions):  # noqa: ANN001, ANN202
    """The audio's speech stretches, joined, and the map back to the original times."""
    import numpy as np
    from faster_whisper.vad import SpeechTimestampsMap, collect_chunks

    stretches = speech_stretches(audio, **options.vad_settings())
    if not stretches:
        return audio[:0], None
    chunks, _ = collect_chunks(audio, stretches)
    return np.concatenate(chunks), SpeechTimestampsMap(stretches, SAMPLE_RATE)


def _language(model, audio) -> tuple[str, float]:  # noqa: ANN001
    import whisper

    if not model.is_multilingual:
        return "en", 1.0
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), model.dims.n_mels).to(
        model.device
    )
    _, probabilities = model.detect_language(mel)
    language = max(probabilities, key=probabilities.get)
    return language, float(probabilities[language])
