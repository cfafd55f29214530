"""Audio for the engines, decoded a window at a time so that memory stays flat.

Whisper wants 16 kHz mono floats. Decoding a 90-minute episode at once holds 345 MB of them;
here the file is decoded as a stream and handed out in windows of a few minutes, each cut at
the quietest moment near its end, so no word is split between two windows.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import MediaError

SAMPLE_RATE = 16000
# What one window holds. The engines' feature extraction costs memory in proportion to it:
# measured with tiny.en on 12.8 min of speech, peak 680 MiB with 300 s windows, 434 MiB with
# 120 s, 406 MiB with 60 s; word error 0.128, 0.131 and 0.140.
WINDOW_SECONDS = 120.0
SEARCH_SECONDS = 10.0  # how far back from a window's end to look for a quiet cut
FRAME = SAMPLE_RATE // 50  # 20 ms, the unit of "quiet"


@dataclass(frozen=True)
class Window:
    offset: float  # seconds from the start of the file
    samples: np.ndarray  # float32, 16 kHz mono
    last: bool

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def windows(
    path: Path, seconds: float = WINDOW_SECONDS, search: float = SEARCH_SECONDS, keep: bool = False
) -> Iterator[Window]:
    """The file's audio in consecutive windows of about `seconds`; raises MediaError when it
    does not decode or holds no audio. Audio kept by an earlier call with `keep` (see
    kept_audio) is read back instead of decoded: the same windows, sample for sample."""
    size, reach = int(seconds * SAMPLE_RATE), int(search * SAMPLE_RATE)
    kept = kept_audio(path)
    chunks = _read_back(kept)
    if chunks is None:
        chunks = _keeping(_decoded(path), kept) if keep else _decoded(path)
    pending: list[np.ndarray] = []
    buffered, offset = 0, 0
    try:
        for chunk in chunks:
            pending.append(chunk)
            buffered += len(chunk)
            while buffered >= size + reach:
                audio = np.concatenate(pending)
                cut = _quiet_cut(audio, size - reach, size)
                yield Window(offset / SAMPLE_RATE, audio[:cut], last=False)
                offset += cut
                pending, buffered = [audio[cut:]], len(audio) - cut
    finally:  # stopped early: the decoder (and the keeping) stop now, not when collected
        chunks.close()
    rest = np.concatenate(pending) if pending else np.zeros(0, dtype=np.float32)
    if offset == 0 and len(rest) == 0:
        raise MediaError(f"{Path(path).name}: no audio frames")
    yield Window(offset / SAMPLE_RATE, rest.astype(np.float32, copy=False), last=True)


def _decoded(path: Path) -> Iterator[np.ndarray]:
    """The file's audio as 16 kHz mono float32, as it decodes."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{Path(path).name}: no audio track")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1)
            for out in resampler.resample(None):  # what the resampler still holds
                yield out.to_ndarray().reshape(-1)
    except MediaError:
        raise
    except Exception as e:  # PyAV's errors: InvalidDataError, DecoderNotFoundError, ...
        # PyAV's message ends with the file's path, which this one starts with
        reason = getattr(e, "strerror", None) or str(e)
        raise MediaError(f"{Path(path).name}: could not decode the audio ({reason})") from e


# The speakers stage hears each episode again after the speech stage: the speech stage keeps
# the decoded audio on disk for it (float32, 3.8 MB a minute), up to this much in all, the
# oldest dropped first (a dropped one is decoded again). Decoding was 0.55 s of 12.2 min of
# a call, and the stage ran about 1 s (a sixth) faster without it, its threads not sharing
# the cores with the decoder
KEPT_BYTES = 2 * 1024**3
READ_BACK_SAMPLES = 10 * SAMPLE_RATE
STALE_PARTIAL_S = 24 * 3600  # a partial file this old was left by a killed process


def kept_folder() -> Path:
    """Where decoded audio is kept: `decoded/` beside the model cache, or
    $TRANSCRIBE_DECODED_CACHE."""
    from .models import model_cache_dir

    default = model_cache_dir().parent / "decoded"
    return Path(os.environ.get("TRANSCRIBE_DECODED_CACHE", default))


def kept_audio(path: Path) -> Path:
    """Where `windows(path, keep=True)` keeps the file's decoded audio: named by the file's
    identity (path, inode, size, times), so that a changed file is decoded again."""
    try:
        stat = Path(path).stat()
        identity = (
            f"{Path(path).resolve()}|{stat.st_ino}|{stat.st_size}|"
            f"{stat.st_mtime_ns}|{stat.st_ctime_ns}"
        )
    except OSError:  # no such file: nothing kept for it either
        identity = f"{path}|missing"
    name = hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()
    return kept_folder() / f"{name}.f32"


def forget_kept_audio(path: Path) -> None:
    """Drop the file's kept audio (its last reader is done with it, or it failed)."""
    with contextlib.suppress(OSError):
        kept_audio(path).unlink(missing_ok=True)


def _read_back(kept: Path) -> Iterator[np.ndarray] | None:
    """The kept audio's chunks, or None when there is none (dropped meanwhile, too)."""
    try:
        audio = open(kept, "rb")  # noqa: SIM115 - the generator below closes it
    except OSError:
        return None

    def chunks() -> Iterator[np.ndarray]:
        with audio:
            while len(chunk := np.fromfile(audio, dtype=np.float32, count=READ_BACK_SAMPLES)):
                yield chunk

    return chunks()


def _keeping(chunks: Iterator[np.ndarray], kept: Path) -> Iterator[np.ndarray]:
    """The chunks, written to `kept` as they pass; the file appears whole once the last has
    passed, or not at all. Keeping is a saving, never a failure: a full disk or a folder
    that cannot be written only stops it."""
    out = partial = None
    with contextlib.suppress(OSError):
        kept.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=kept.parent, prefix=f".{kept.stem}.", suffix=".partial")
        out, partial = os.fdopen(handle, "wb"), Path(name)
    written = 0
    try:
        for chunk in chunks:
            if out is not None:
                try:
                    chunk.astype(np.float32, copy=False).tofile(out)
                    written += len(chunk)
                except OSError:  # a full disk: stop keeping, go on decoding
                    _closed(out)
                    out = None
            yield chunk
        if out is not None and written:
            _closed(out)
            out = None
            with contextlib.suppress(OSError):
                partial.replace(kept)
                _drop_oldest_kept(kept.parent, kept)
    finally:
        _closed(out)
        if partial is not None:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)


def _closed(out: BinaryIO | None) -> None:
    """Close a kept file being written, come what may (its flush may meet a full disk)."""
    if out is not None:
        with contextlib.suppress(OSError):
            out.close()


def _drop_oldest_kept(folder: Path, newest: Path) -> None:
    """Keep the folder's kept audio under KEPT_BYTES, dropping the oldest first (never
    `newest`, just kept), and the partial files killed processes left."""
    found, stale = [], time.time() - STALE_PARTIAL_S
    for entry in folder.iterdir():
        with contextlib.suppress(OSError):  # dropped meanwhile
            stat = entry.stat()
            if entry.suffix == ".f32":
                found.append((stat.st_mtime, stat.st_size, entry))
            elif stat.st_mtime < stale:
                entry.unlink()
    total = sum(size for _, size, _ in found)
    for _, size, entry in sorted(found, key=lambda f: f[0]):
        if total <= KEPT_BYTES:
            break
        if entry != newest:
            with contextlib.suppress(OSError):
                entry.unlink()
            total -= size


def _quiet_cut(audio: np.ndarray, start: int, end: int, span: int = 15) -> int:
    """A cut in the middle of the quietest 300 ms (`span` 20 ms frames) between two sample
    positions: inside a pause, not at the edge of a word."""
    frames = audio[start:end][: (end - start) // FRAME * FRAME].reshape(-1, FRAME)
    energy = (frames**2).mean(axis=1)
    span = min(span, len(energy))
    smoothed = np.convolve(energy, np.ones(span) / span, mode="valid")
    return start + (int(np.argmin(smoothed)) + span // 2) * FRAME


def estimated_duration(path: Path) -> float:
    """The container's own idea of the length (cheap; exact once decoded), 0 when unknown."""
    import av

    try:
        with av.open(str(path)) as container:
            return max(0.0, (container.duration or 0) / 1_000_000)
    except Exception:  # unreadable: the decoder will say why
        return 0.0


# Silero reads this many 32-ms frames a call (10 s), carrying its state from call to call.
VAD_FRAMES_A_CALL = 320
# Silero's probabilities kept for audio heard again: 12 hours' worth, 5.4 MB
HELD_FRAMES = 12 * 3600 * SAMPLE_RATE // 512


def speech_stretches(samples: np.ndarray, **vad: float) -> list[dict[str, int]]:
    """Where Silero hears speech in `samples` (faster_whisper.vad.VadOptions `vad`): the
    stretches as `start`/`end` sample indices, the same for both engines."""
    from faster_whisper import vad as silero

    silero.get_vad_model = _silero_in_steps
    return silero.get_speech_timestamps(samples, silero.VadOptions(**vad))


class _SileroInSteps:
    """faster-whisper's Silero model, its speech probabilities computed 10 s at a time where
    the library computes up to 320 s in one call: the same probabilities (on real calls, a
    frame in a thousand or none differs, in the sixth decimal; a test compares them), and 12 MiB of scratch for a 2-minute window instead of
    66, which was held while the window before decodes. faster-whisper finds the model
    through `get_vad_model`, which speech_stretches points here once.

    The probabilities of the windows heard last are kept (HELD_FRAMES of them, 4 bytes a
    frame), by the audio's digest: the speakers stage hears the same windows again, at its
    own threshold, and Silero was a sixth of its time (3M's answers: 1.6 of 10.4 s)."""

    def __init__(self) -> None:
        from faster_whisper.utils import get_assets_path
        from faster_whisper.vad import SileroVADModel

        self.model = SileroVADModel(str(Path(get_assets_path()) / "silero_vad_v6.onnx"))
        self.heard: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.held = 0  # frames in `heard`
        self.lock = threading.Lock()  # the decoders hear stretches again from their threads

    def clear(self) -> None:
        """Forget every probability kept."""
        with self.lock:
            self.heard.clear()
            self.held = 0

    def __call__(
        self, audio: np.ndarray, num_samples: int = 512, context_size_samples: int = 64
    ) -> np.ndarray:
        key = hashlib.blake2b(audio.tobytes(), digest_size=16).digest() + bytes(
            f"{audio.shape}/{num_samples}/{context_size_samples}", "ascii"
        )
        with self.lock:
            if key in self.heard:
                self.heard.move_to_end(key)
                return self.heard[key]
        probabilities = self._probabilities(audio, num_samples, context_size_samples)
        probabilities.flags.writeable = False  # shared by every caller that hears this audio
        with self.lock:
            if key not in self.heard:  # another thread may have heard it meanwhile
                self.held += len(probabilities)
            self.heard[key] = probabilities
            while self.held > HELD_FRAMES:
                self.held -= len(self.heard.popitem(last=False)[1])
        return probabilities

    def _probabilities(
        self, audio: np.ndarray, num_samples: int, context_size_samples: int
    ) -> np.ndarray:
        frames = audio.reshape(-1, num_samples)
        # each frame is read with the end of the one before it (the first with silence)
        context = np.roll(frames[:, -context_size_samples:], 1, axis=0)
        context[0] = 0
        framed = np.concatenate([context, frames], axis=1)
        state = np.zeros((1, 1, 128), dtype=np.float32)
        hidden, cell, probabilities = state, state, []
        for start in range(0, len(framed), VAD_FRAMES_A_CALL):
            found, hidden, cell = self.model.session.run(
                None,
                {"input": framed[start : start + VAD_FRAMES_A_CALL], "h": hidden, "c": cell},
            )
            probabilities.append(found)
        return np.concatenate(probabilities, axis=0)


_silero_in_steps = functools.cache(_SileroInSteps)  # one model for the process
