"""The speech stage: audio in, a Transcript out, whichever Whisper engine runs it.

The audio is decoded here, a window of a few minutes at a time (audio.py), and each engine
module has two functions: `load` (the model, resolved and loaded once) and
`transcribe_window`, that turns one window into segments. The pipeline only calls
`load_model` and `transcribe_audio`, so a new engine slots in by adding a module and a line
to ENGINES.
"""

from __future__ import annotations

import importlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

from ..errors import MediaError, ModelNotFoundError, NoSpeechError, TranscribeError
from ..records import Segment, Transcript

# engine name -> module that implements it (imported on first use: the imports are heavy)
ENGINES = {
    "faster-whisper": "transcribe.speech.faster",
    "openai-whisper": "transcribe.speech.openai",
}
# engine name -> (the modules it needs, how to install them): an optional engine
OPTIONAL_ENGINES = {
    "openai-whisper": (("torch", "whisper"), "make openai-whisper (torch CPU and openai-whisper)"),
}


def missing_engine(name: str) -> str:
    """How to install the engine when a module it needs is missing ("" when none is)."""
    import importlib.util

    needs, install = OPTIONAL_ENGINES.get(name, ((), ""))
    if any(importlib.util.find_spec(module) is None for module in needs):
        return f"{name} is not installed: {install}"
    return ""


SPEAKERS = ("auto", "off")  # find the speakers, or not

# Marks a setting that changes the words Whisper writes: those are the transcript's stamp
# (a transcript made with other such settings is made again); the others (where it runs,
# how fast) are not.
SHAPES_WORDS = {"shapes_words": True}


@dataclass(frozen=True)
class SpeechOptions:
    model: str = field(default="tiny.en", metadata=SHAPES_WORDS)  # a model name or folder
    engine: str = field(default="faster-whisper", metadata=SHAPES_WORDS)
    language: str = field(default="", metadata=SHAPES_WORDS)  # "" detects it
    beam_size: int = field(default=5, metadata=SHAPES_WORDS)
    # faster-whisper: each window's speech is cut at pauses (VAD) into chunks of up to 30 s,
    # each decoded on its own (its batched pipeline), instead of in 30-s seeks across the
    # window: on four real calls (54.5 min, tiny.en) word error 0.070 against 0.076, and
    # 15% faster (docs/benchmarks.md)
    chunks: bool = field(default=True, metadata=SHAPES_WORDS)
    # how many of those chunks decode at once: more is faster on a GPU, not on 2 CPU cores
    batch_size: int = field(default=1, metadata=SHAPES_WORDS)
    device: str = "auto"  # "auto", "cpu" or "cuda"
    compute_type: str = "auto"  # "auto": int8 on the CPU, float16 on CUDA
    threads: int = 0  # CPU threads per decode; 0 divides the cores among the decodes
    parallel: int = 0  # chunks (and episodes) decoded at once on one model; 0 picks (see plan)
    # Silero voice-activity filter: no words invented in silence or music
    vad: bool = field(default=True, metadata=SHAPES_WORDS)
    # Silero's speech probability from which a frame counts as speech (audio is cut where it
    # stays low for 2 s). Its usual 0.5 cut 160 s of a real 17-min call whose soft-spoken
    # speech Silero scores near 0.5 (158 words lost, word error 0.101 against the whisper
    # CLI's 0.051); tones, a melody and white, pink and brown noise stay under 0.11 in 99% of
    # frames. 0.2 lies between: 3 s of that call cut, word error 0.058, the noise still cut.
    # Chosen on that call and those sounds; the other calls and the clips are the check
    # (docs/benchmarks.md).
    vad_threshold: float = field(default=0.2, metadata=SHAPES_WORDS)
    word_timestamps: bool = field(default=True, metadata=SHAPES_WORDS)
    # each 30 s of audio reads the text before it: the engines' default, but with word
    # timings on, tiny.en then drops whole passages (measured, 12.8 min of speech: word
    # error 0.40 with it, 0.13 without), so it is off here
    condition_on_previous_text: bool = field(default=False, metadata=SHAPES_WORDS)
    # text Whisper reads as what came before: names, spellings
    initial_prompt: str = field(default="", metadata=SHAPES_WORDS)
    # words to favour (faster-whisper; openai-whisper adds them to the prompt)
    hotwords: str = field(default="", metadata=SHAPES_WORDS)
    # names from the outlet's articles of the weeks around the episode go into the prompt,
    # so Whisper spells them as the newsroom does: at most this many (0: none)
    article_names: int = field(default=60, metadata=SHAPES_WORDS)
    publisher_transcripts: bool = True  # import the feed's own transcript instead of Whisper
    # who speaks when (the speakers stage, after the words): one of SPEAKERS
    speakers: str = "auto"

    @property
    def finds_speakers(self) -> bool:
        """The speakers stage runs after these words (and hears the audio they kept)."""
        return self.speakers != "off"

    def vad_settings(self) -> dict[str, float]:
        """Silero's settings (faster_whisper.vad.VadOptions), the same for both engines."""
        return {"threshold": self.vad_threshold}

    def producer(self) -> str:
        """A stamp of every setting that shapes the words, stored beside the transcript."""
        shaping = {
            f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("shapes_words")
        }
        if self.batch_size == 1:  # unbatched: the stamp transcripts have always carried
            shaping.pop("batch_size")
        if self.engine != "faster-whisper":  # the other engine decodes the window whole
            shaping.pop("chunks")
        return ";".join(f"{k}={v}" for k, v in shaping.items())


def usable_cores() -> int:
    """The cores this process may run on: fewer than the machine's in a container or under
    taskset, where os.cpu_count() still counts them all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity outside Linux
        return os.cpu_count() or 1


def plan(options: SpeechOptions, cores: int | None = None) -> SpeechOptions:
    """Settle `parallel` and `threads`. On a CPU of 2 cores or more, faster-whisper decodes
    two chunks at once on one thread each, sharing one model: the chunks of one file (one
    read ahead of the other) or of two episodes. Measured on 2 cores (3M's prepared remarks,
    17.1 min, tiny.en, the same words every way, in process): 59 s so, 72 s one decode on
    two threads, 104 s on one thread; an hour later, paired, the two ways were as fast
    (docs/benchmarks.md), at the same peak. openai-whisper and CUDA decode one at a time."""
    cores = cores or usable_cores()
    parallel = options.parallel
    if not parallel:
        on_cpu = options.device in ("auto", "cpu") and not _cuda_visible(options)
        parallel = 2 if options.engine == "faster-whisper" and on_cpu and cores >= 2 else 1
    threads = options.threads or max(1, cores // parallel)
    return replace(options, parallel=parallel, threads=threads)


def share_malloc_arena() -> None:
    """Before decodes run side by side in threads: glibc gives each thread its own malloc
    arena, and their leftovers add up (measured, two episodes at once on tiny.en: peak 781
    MiB with per-thread arenas, 592 MiB with one). It holds only for threads that have not
    allocated yet: the console script sets it first thing (one file's chunks two at once,
    17.1 min: 385 to 395 MiB against 412 to 422 when set as the model loads, after the
    progress bar's thread), load_model again for other callers. One arena costs no
    measurable speed here (0.99x, 4 pairs). Elsewhere than glibc, nothing to do."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 1)  # M_ARENA_MAX = 1
    except (OSError, AttributeError):
        pass


def _cuda_visible(options: SpeechOptions) -> bool:
    if options.device == "cpu":
        return False
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except ImportError:
        return False


class Engine(Protocol):
    """One engine module: load the options' model; transcribe one window of 16 kHz mono
    audio with it, times relative to the window (`language` "" asks it to detect one),
    returning the segments (lazily: the work may go on after the call returns, and when
    they have a close(), it is called if they are never read), the language and its
    probability."""

    def load(self, options: SpeechOptions) -> Any: ...

    def transcribe_window(
        self, model: Any, samples: np.ndarray, options: SpeechOptions, language: str, prompt: str
    ) -> tuple[Iterable[Segment], str, float]: ...


def engine(name: str) -> Engine:
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
    if problem := missing_engine(name):
        raise ModelNotFoundError(problem)
    return importlib.import_module(ENGINES[name])  # type: ignore[return-value]


def load_model(options: SpeechOptions) -> Any:
    """The options' model, resolved and loaded, to give every transcribe_audio of a run
    (each engine also keeps what it loaded for the process, per settings). Raises
    ModelNotFoundError when it cannot be had."""
    if options.parallel > 1:  # before the model starts its threads
        share_malloc_arena()
    return engine(options.engine).load(options)


def transcribe_audio(
    path: Path,
    options: SpeechOptions,
    on_progress: Callable[[float, float], None] | None = None,
    glossary: list[str] | None = None,
    model: Any = None,
    keep_audio: bool = False,
) -> Transcript:
    """Transcribe one audio or video file, a window of a few minutes at a time (memory stays
    flat however long the episode): the language found in the first window with speech
    holds for the rest (a silent window or one of music guesses none: a guess from no
    speech would hold for the whole episode), and each window reads the end of the one
    before as its prompt.
    `on_progress(seconds_done, seconds_total)` is called as segments arrive. `glossary`:
    names to spell as given (they join the prompt of every window); `model`: the loaded
    model (load_model), else loaded here; `keep_audio`: keep the decoded audio for the
    speakers stage (audio.kept_audio). Raises MediaError for unreadable media, NoSpeechError
    when there is no speech."""
    from .audio import estimated_duration, forget_kept_audio, windows

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file")
    runner = engine(options.engine)
    model = load_model(options) if model is None else model
    total = estimated_duration(path)
    segments: list[Segment] = []
    language, probability, heard = options.language, 1.0, 0.0
    # a window is read (and its chunks begin to decode) while the one before decodes, so
    # that the decoders never wait at a window's end; not when a window's prompt is the
    # text of the one before
    ahead = 0 if options.condition_on_previous_text else 1
    pending: deque[tuple[Iterable[Segment], float]] = deque()

    def take_oldest() -> None:
        found, offset = pending[0]
        for segment in found:
            segments.append(_shifted(segment, offset))
            if on_progress:
                on_progress(min(segments[-1].end, total or segments[-1].end), total)
        pending.popleft()

    try:
        for window in windows(path, keep=keep_audio):
            found, heard_in, detected = runner.transcribe_window(
                model, window.samples, options, language, _prompt(options, segments, glossary or [])
            )
            if not language and heard_in:
                language, probability = heard_in, detected
            pending.append((found, window.offset))
            while len(pending) > ahead:
                take_oldest()
            heard = window.offset + window.seconds
        while pending:
            take_oldest()
        if on_progress:
            on_progress(heard, heard)
        if not any(s.text.strip() for s in segments):
            raise NoSpeechError(f"no speech found in {heard:.0f} s of audio")
    except BaseException:  # no speakers stage will read what was kept
        if keep_audio:
            forget_kept_audio(path)
        raise
    finally:  # a failure or a stop: what was read ahead is not decoded
        for found, _ in pending:
            if close := getattr(found, "close", None):
                close()
    return Transcript(
        segments=segments,
        language=language,
        language_probability=probability,
        duration=heard,
        origin="whisper",
        producer=options.producer(),
    )


@dataclass(frozen=True)
class FileTranscript:
    """One file given to `transcribe speech`: its transcript, or why there is none."""

    path: Path
    transcript: Transcript | None
    error: str = ""  # without the file's name, which the caller shows beside it

    @classmethod
    def failed(cls, path: Path, error: Exception) -> FileTranscript:
        message = str(error).removeprefix(f"{path}: ").removeprefix(f"{path.name}: ")
        return cls(path, None, message)


def transcribe_files(paths: Iterable[Path], options: SpeechOptions) -> Iterator[FileTranscript]:
    """Transcribe local files one after another, each with its progress bar (as the
    whisper CLI does, without a catalog), each file's chunks decoding `parallel` at once (plan);
    a file that cannot be transcribed gives its error and the others go on."""
    from .. import progress

    options = plan(options)

    for path in paths:
        bar = progress.bar(None, f"transcribe {path.name}", unit="s")
        try:
            found = FileTranscript(
                path,
                transcribe_audio(
                    path,
                    options,
                    on_progress=partial(progress.advance, bar),
                    keep_audio=options.finds_speakers,
                ),
            )
        except TranscribeError as e:
            found = FileTranscript.failed(path, e)
        finally:
            bar.close()
        yield found


def _prompt(
    options: SpeechOptions, before: list[Segment], glossary: list[str], words: int = 60
) -> str:
    """The glossary, the user's prompt, then (when conditioning) the last words already
    transcribed. Both engines keep the end of a long prompt (223 tokens), so what must
    stay comes last: the glossary runs from its least widespread name to its most."""
    tail = ""
    if options.condition_on_previous_text and before:
        tail = " ".join(" ".join(s.text for s in before[-8:]).split()[-words:])
    names = ", ".join(reversed(glossary)) + "." if glossary else ""
    return " ".join(part for part in (names, options.initial_prompt, tail) if part)


def _shifted(segment: Segment, offset: float) -> Segment:
    if not offset:
        return segment
    return replace(
        segment,
        start=round(segment.start + offset, 3),
        end=round(segment.end + offset, 3),
        words=tuple(
            replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3))
            for w in segment.words
        ),
    )
