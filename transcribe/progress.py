"""Progress bars on stderr (tqdm), silenced by --quiet or when stderr is not a terminal
and TRANSCRIBE_PROGRESS is not set."""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm import tqdm

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


def bar(total: float | None, desc: str, unit: str = "it", **kwargs: Any) -> tqdm:
    show = not _quiet and (sys.stderr.isatty() or bool(os.environ.get("TRANSCRIBE_PROGRESS")))
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not show,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        **kwargs,
    )


def advance(progress: tqdm, done: float, total: float) -> None:
    """Move a bar to `done` of `total` (a total that firms up as the work goes)."""
    if progress.total != round(total, 1):
        progress.total = round(total, 1)
    progress.update(round(done, 1) - progress.n)


class DownloadBar:
    """A yt-dlp progress hook that drives one bar in bytes."""

    def __init__(self, desc: str):
        self.bar = bar(None, desc, unit="B", unit_scale=True, unit_divisor=1024)

    def __call__(self, status: dict[str, Any]) -> None:
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        if total and self.bar.total != total:
            self.bar.total = total
        done = status.get("downloaded_bytes")
        if done is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> DownloadBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
