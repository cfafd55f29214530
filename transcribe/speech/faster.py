"""The faster-whisper engine (CTranslate2): the default, several times faster on a CPU."""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..errors import ModelNotFoundError
from ..records import Segment, Word
from . import SpeechOptions, usable_cores
from .audio import SAMPLE_RATE, speech_stretches
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
        model = WhisperModel(
            path,
            device=device,
            compute_type=compute_type,
            cpu_threads=threads or usable_cores(),
            num_workers=max(1, workers),
        )
    except (RuntimeError, ValueError, OSError) as e:  # a broken folder, no CUDA, a bad type
        raise ModelNotFoundError(
            f"cannot load the model in {path} on {device}/{compute_type}: {e}"
        ) from e
    if workers > 1 and device == "cpu":
        model.encode = _one_at_a_time(model.encode)
    return model


def _one_at_a_time(encode: Callable) -> Callable:
    """The encoder, run by one decoder at a time. Its attention over 30 s (1,500 frames a
    head) takes about 90 MiB while it runs, and two at once held both (tiny.en, 2 cores:
    two chunks decoding side by side peaked 346 MiB, 303 with this, one alone 267); the
    encoder is a fifth of a chunk's time, so the decoders still overlap."""
    lock = threading.Lock()

    def encode_alone(features: np.ndarray) -> Any:
        with lock:
            return encode(features)

    return encode_alone


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


@functools.cache
def decoders(count: int) -> ThreadPoolExecutor:
    """The process's `count` decoders, shared by every episode: chunks from one file or
    from several decode at once on the one model (loaded with `count` workers); speech.plan
    says how many."""
    return ThreadPoolExecutor(max_workers=count, thread_name_prefix="decode")


class Decoding:
    """A window's chunks, decoding on the process's decoders. The decoder that finishes the
    last chunk also finishes the window (`finish`: what the chunks missed, decoded again),
    not the thread that collects the window, which would be a third decode on two cores
    (base, 3M's answers: 0.92x the time, 2 pairs). Iterating waits for the window's
    segments; close() drops the chunks not started (a run stopped or failed does not
    decode the windows it read ahead)."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        parts: list[Callable[[], list[Any]]],
        finish: Callable[[list[Any]], list[Segment]],
    ):
        self.finish = finish
        self.found: list[list[Any]] = [[] for _ in parts]
        self.left = len(parts)
        self.lock = threading.Lock()
        self.done: Future = Future()
        self.futures = [pool.submit(self._decode, i, part) for i, part in enumerate(parts)]

    def _decode(self, i: int, part: Callable[[], list[Any]]) -> None:
        try:
            found = part()
            with self.lock:
                self.found[i] = found
                self.left -= 1
                last = not self.left
            if last:
                self.done.set_result(self.finish([s for f in self.found for s in f]))
        except BaseException as e:  # the window's failure, for the reader
            with self.lock:
                if not self.done.done():
                    self.done.set_exception(e)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.done.result())

    def close(self) -> None:
        for future in self.futures:
            future.cancel()


def _in_chunks(
    model: Any, samples: np.ndarray, options: SpeechOptions, settings: dict
) -> tuple[Decoding, str, float] | None:
    """The window's speech (VAD) cut at pauses into chunks of up to 30 s, each decoded on
    its own (faster-whisper's batched pipeline, options.batch_size chunks a call), on the
    process's decoders: measured on four real calls, fewer words lost than decoding the
    window in 30-s seeks, and faster. A chunk whose words come back too sparse is decoded
    again alone (see SPARSE). Returns the decoding, begun, and the language (found here
    when not given, from the first 30 s of speech, so that every chunk is read in it); None
    when the VAD hears no speech."""
    from faster_whisper import BatchedInferencePipeline

    speech = speech_stretches(samples, **options.vad_settings(), max_speech_duration_s=30)
    chunks = [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in speech]
    if not chunks:  # nothing to hear, and no language to guess from it
        return None
    language, probability = settings["language"], 1.0
    if not language:
        language, probability = _language(model, samples, chunks)
    settings = {**settings, "language": language}

    def decode(group: list[tuple[float, float]]) -> list[Any]:
        # a pipeline per call: it keeps state between calls
        segments, _ = BatchedInferencePipeline(model).transcribe(
            samples,
            batch_size=options.batch_size,
            clip_timestamps=[{"start": a, "end": b} for a, b in group],
            **settings,
        )
        return list(segments)

    size = max(1, options.batch_size)
    pool = decoders(max(1, options.parallel))
    groups = [chunks[i : i + size] for i in range(0, len(chunks), size)]
    return (
        Decoding(
            pool,
            [functools.partial(decode, group) for group in groups],
            lambda found: [
                _segment(s) for s in _heard_again(model, samples, found, chunks, settings)
            ],
        ),
        language,
        probability,
    )


def _language(
    model: Any, samples: np.ndarray, chunks: list[tuple[float, float]]
) -> tuple[str, float]:
    """The language of the window's first 30 s of speech, as the batched pipeline finds it."""
    if not model.model.is_multilingual:
        return "en", 1.0
    features, heard = [], 0.0
    for start, end in chunks:
        piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        features.append(model.feature_extractor(piece)[..., :-1])
        heard += end - start
        if heard >= 30:
            break
    language, probability, _ = model.detect_language(features=np.concatenate(features, axis=1))
    return language, probability


def _heard_again(
    model: Any,
    samples: np.ndarray,
    segments: list[Any],
    chunks: list[tuple[float, float]],
    settings: dict,
) -> list[Any]:
    """What the chunks' one decode missed, decoded again: chunks heard too sparsely, then
    stretches of speech with no word."""

    def alone(start: float, end: float) -> list[Any]:
        return _decoded_alone(model, samples, start, end, settings)

    segments = _sparse_chunks_again(segments, chunks, alone)
    return _skipped_speech_again(segments, chunks, alone)


def _sparse_chunks_again(
    segments: list[Any],
    chunks: list[tuple[float, float]],
    decode_alone: Callable[[float, float], list[Any]],
) -> list[Any]:
    """Whisper, given a chunk whose voice changes abruptly, can stop after the first
    voice: the chunk's words then come back far sparser than the window's. Such a chunk
    is decoded again on its own, and its new words replace the old when there are more."""
    import statistics

    def words_in(found: list[Any]) -> int:
        return sum(len(s.words or ()) or len(s.text.split()) for s in found)

    heard = {
        (a, b): words_in([s for s in segments if _within(s, a, b)])
        for a, b in chunks
        if b - a >= MIN_SPARSE_S
    }
    if not heard:
        return segments
    usual = statistics.median(n / (b - a) for (a, b), n in heard.items())
    for (start, end), count in heard.items():
        if count / (end - start) >= SPARSE * usual:
            continue
        again = decode_alone(start, end)
        if words_in(again) > count:
            segments = [s for s in segments if not _within(s, start, end)] + again
    return sorted(segments, key=lambda s: s.start)


def _skipped_speech_again(
    segments: list[Any],
    chunks: list[tuple[float, float]],
    decode_alone: Callable[[float, float], list[Any]],
) -> list[Any]:
    """Whisper, decoding a chunk without timestamps, sometimes ends early or skips a
    sentence: "... the timing of pension contributions" and not the "full year 2017" that
    ends the chunk. The VAD cuts the window at pauses of QUIET seconds, so a stretch that
    long with no word, between words or between a word and a cut the VAD made inside
    speech (chunks less than QUIET apart), is speech the VAD heard and Whisper did not
    write. Each such stretch is decoded again with CONTEXT seconds either side and the
    words it finds inside the stretch are added. (A chunk's edge at a real pause is not
    such a stretch: there, sound that Whisper wrote nothing for is left unwritten, as the
    anchors leave it.)"""
    words = sorted((w for s in segments for w in s.words or ()), key=lambda w: w.start)
    added = []
    for quiet_from, quiet_to, before in _wordless_stretches(chunks, words):
        again = decode_alone(quiet_from - CONTEXT, quiet_to + CONTEXT)
        new = [w for s in again for w in s.words or () if quiet_from <= w.start < quiet_to]
        # the words either side, heard again in the context and timed a little into the
        # stretch, are not new
        if new and before >= 0 and _same_word(new[0], words[before]):
            new = new[1:]
        if new and before + 1 < len(words) and _same_word(new[-1], words[before + 1]):
            new = new[:-1]
        if new:
            added.append(_with_words(again[0], new))
    return sorted(segments + added, key=lambda s: s.start)


def _wordless_stretches(
    chunks: list[tuple[float, float]], words: list[Any]
) -> Iterator[tuple[float, float, int]]:
    """The stretches of at least QUIET seconds with no word, bounded on each side by a
    word or by a cut inside speech: (from, to, the index in `words` of the word before).
    Chunks with no word at all are the sparse pass's to judge."""
    for i, (start, end) in enumerate(chunks):
        inside = [k for k, w in enumerate(words) if start <= (w.start + w.end) / 2 < end]
        if not inside:
            continue
        cut_before = i > 0 and start - chunks[i - 1][1] < QUIET
        cut_after = i + 1 < len(chunks) and chunks[i + 1][0] - end < QUIET
        lefts = [start if cut_before else None] + [words[k].end for k in inside]
        rights = [words[k].start for k in inside] + [end if cut_after else None]
        for before, left, right in zip([inside[0] - 1, *inside], lefts, rights, strict=True):
            if left is not None and right is not None and right - left >= QUIET:
                yield left, right, before


# faster-whisper's VAD default (VadOptions.min_silence_duration_ms): a pause it cuts at
QUIET = 2.0
# seconds of audio either side of a stretch decoded again: a few words alone are heard
# worse than in their sentence (tiny.en wrote "This is full year 2017" for the stretch
# alone). Chosen on 3M's prepared remarks: 5 s against none, word error 0.0566 against
# 0.0576 on tiny.en, 0.0566 against 0.0561 on base (docs/benchmarks.md)
CONTEXT = 5.0


def _same_word(a: Any, b: Any) -> bool:
    def bare(w: Any) -> str:
        return "".join(c for c in w.word.lower() if c.isalnum())

    return bare(a) == bare(b)


def _within(segment: Any, start: float, end: float) -> bool:
    return start <= (segment.start + segment.end) / 2 < end


def _decoded_alone(
    model: Any, samples: np.ndarray, start: float, end: float, settings: dict
) -> list[Any]:
    """The stretch from start to end (seconds in the window) decoded on its own, in
    Whisper's 30-s seeks with timestamps, its times in the window's (the stretch is cut
    to the window). At one temperature, as the chunks are: the anchors' fallback to higher
    temperatures (five sampled hypotheses, their words aligned) held 120 to 145 MiB more
    while it ran, beside the other decoder (base, 3M's answers: peak 594 to 612 MiB, 473
    without it), and it wrote no word more on the four calls (docs/benchmarks.md)."""
    start = max(0.0, start)
    piece = samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
    found, _ = model.transcribe(piece, **{**settings, "temperature": 0.0})
    return [
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


def _with_words(segment: Any, words: list[Any]) -> Any:
    """The segment (faster-whisper's) cut down to some of its words."""
    text = "".join(w.word for w in words)
    return dataclasses.replace(
        segment, start=words[0].start, end=words[-1].end, text=text, words=words
    )


def transcribe_window(
    model: Any,
    samples: np.ndarray,
    options: SpeechOptions,
    language: str,
    prompt: str,
) -> tuple[Iterable[Segment], str, float]:
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
        decoding = _in_chunks(model, samples, options, settings)
        if decoding is None:  # no speech: the language stays to be found in a later window
            return (), language, 0.0
        return decoding
    raw_segments, info = model.transcribe(samples, **settings)
    if options.vad and not info.duration_after_vad:  # as above
        return (), language, 0.0
    return map(_segment, raw_segments), info.language, info.language_probability


def _segment(raw: Any) -> Segment:
    """faster-whisper's segment as ours."""
    return Segment(
        start=round(float(raw.start), 3),
        end=round(float(raw.end), 3),
        text=raw.text.strip(),
        words=tuple(
            Word(
                round(float(w.start), 3),
                round(float(w.end), 3),
                w.word,
                round(float(w.probability), 4),
            )
            for w in (raw.words or ())
        ),
    )
