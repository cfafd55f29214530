"""Atomic file writes: a reader never sees a half-written file where a finished one belongs."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# what write_atomic leaves if it is killed between the write and the rename: mkstemp's
# ".NAME." + 8 random characters + ".tmp"
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def sweep_temporaries(folder: Path) -> int:
    """Remove the temporary files that killed atomic writes left in `folder` (a folder
    the job owns); returns how many."""
    swept = 0
    if folder.is_dir():
        for path in folder.rglob(".*.tmp"):
            if path.is_file() and _TEMPORARY.fullmatch(path.name):
                path.unlink(missing_ok=True)
                swept += 1
    return swept


def write_atomic(path: Path, content: str | bytes) -> bool:
    """Write through a temporary file in the same folder and a rename. Skips the write when
    the file already holds exactly this content; returns whether it wrote."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a web server must read it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True
