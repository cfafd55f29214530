"""What the speaker model hears: Kaldi's log mel filterbank, 80 bins, in numpy.

CAM++ was trained on Kaldi fbank features (25 ms frames every 10 ms, a Povey window,
pre-emphasis 0.97, 80 mel bins from 20 Hz), each piece's features minus their mean. This
reproduces that computation so that no torch or Kaldi is needed when the job runs.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512  # the frame padded to a power of two
BINS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97
_FLOOR = np.finfo(np.float32).eps


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


@functools.cache
def _mel_banks() -> np.ndarray:
    """(FFT // 2 + 1, BINS) triangular weights, laid out evenly on Kaldi's mel scale; the
    Nyquist bin gets no weight, as in Kaldi."""
    edges = np.linspace(_mel(LOW_HZ), _mel(SAMPLE_RATE / 2), BINS + 2)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    mel = _mel(np.arange(FFT // 2) * SAMPLE_RATE / FFT)[:, None]
    rising = (mel - left) / (centre - left)
    falling = (right - mel) / (right - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    return np.vstack([weights, np.zeros((1, BINS))]).astype(np.float32)


@functools.cache
def _povey_window() -> np.ndarray:
    n = np.arange(FRAME)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) log mel energies of 16 kHz mono samples, mean-normalized over the piece
    (what the model was trained on); at least one frame (a short piece is padded)."""
    samples = np.asarray(samples, dtype=np.float32)
    if len(samples) < FRAME:
        samples = np.pad(samples, (0, FRAME - len(samples)))
    count = 1 + (len(samples) - FRAME) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(samples, FRAME)[::HOP][:count]
    frames = frames - frames.mean(axis=1, keepdims=True)
    # x[i] - 0.97 x[i-1], the first sample against itself (Kaldi's convention)
    previous = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = (frames - PREEMPHASIS * previous) * _povey_window()
    power = np.abs(np.fft.rfft(frames, n=FFT, axis=1)) ** 2
    energies = np.log(np.maximum(power.astype(np.float32) @ _mel_banks(), _FLOOR))
    return energies - energies.mean(axis=0, keepdims=True)
