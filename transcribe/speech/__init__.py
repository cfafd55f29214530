"""The speech stage: audio in, a Transcript out, whichever Whisper engine runs it.

Each engine is a module with one function, `transcribe(path, options)`, that returns a lazy
iterator of Segments and a SpeechInfo. The pipeline only calls `transcribe_audio`, so a new
engine slots in by adding a module and a line to ENGINES.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from ..errors import MediaError, NoSpeechError
from ..records import Segment, Transcript

# engine name -> module that implements it (imported on first use: the imports are heavy)
ENGINES = {
    "faster-whisper": "transcribe.speech.faster",
    "openai-whisper": "transcribe.speech.openai",
}


@dataclass(frozen=True)
class SpeechOptions:
    model: str = "tiny.en"  # a model name or folder
    engine: str = "faster-whisper"
    language: str = ""  # "" detects it
    beam_size: int = 5
    device: str = "auto"  # "auto", "cpu" or "cuda"
    compute_type: str = "auto"  # "auto": int8 on the CPU, float16 on CUDA
    threads: int = 0  # CPU threads; 0 uses every core
    vad: bool = True  # Silero voice-activity filter: no words invented in silence or music
    word_timestamps: bool = True
    initial_prompt: str = ""  # text Whisper reads as what came before: names, spellings
    hotwords: str = ""  # words to favour (faster-whisper; openai-whisper adds them to the prompt)
    publisher_transcripts: bool = True  # import the feed's own transcript instead of Whisper

    def producer(self) -> str:
        """A stamp of everything that shapes the words, stored beside the transcript."""
        shaping = asdict(self)
        for not_shaping in ("device", "compute_type", "threads", "publisher_transcripts"):
            shaping.pop(not_shaping)
        return ";".join(f"{k}={v}" for k, v in shaping.items())


@dataclass(frozen=True)
class SpeechInfo:
    language: str
    language_probability: float
    duration: float  # seconds of audio


class Engine(Protocol):
    def transcribe(
        self, path: Path, options: SpeechOptions
    ) -> tuple[Iterator[Segment], SpeechInfo]: ...


def engine(name: str) -> Engine:
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
    return importlib.import_module(ENGINES[name])  # type: ignore[return-value]


def transcribe_audio(
    path: Path,
    options: SpeechOptions,
    on_progress: Callable[[float, float], None] | None = None,
) -> Transcript:
    """Transcribe one audio or video file. `on_progress(seconds_done, seconds_total)` is
    called as segments arrive. Raises MediaError for unreadable media and NoSpeechError
    when the voice-activity filter finds nothing to transcribe."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file")
    segments_iter, info = engine(options.engine).transcribe(path, options)
    segments = []
    try:
        for segment in segments_iter:
            segments.append(segment)
            if on_progress:
                on_progress(min(segment.end, info.duration), info.duration)
    except MediaError:
        raise
    except Exception as e:  # the decoder fails lazily, while segments are read
        raise MediaError(f"{path.name}: could not decode the audio ({e})") from e
    if on_progress:
        on_progress(info.duration, info.duration)
    if not any(s.text.strip() for s in segments):
        raise NoSpeechError(f"no speech found in {info.duration:.0f} s of audio")
    return Transcript(
        segments=segments,
        language=info.language,
        language_probability=info.language_probability,
        duration=info.duration,
        origin="whisper",
        producer=options.producer(),
    )
