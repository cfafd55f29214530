"""Atomic file writes: a reader never sees a half-written file where a finished one belongs."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


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
    with _replacing(path) as file:
        file.write(data)
    return True


def copy_atomic(source: Path, target: Path) -> None:
    """Copy a (large) file the same way: a killed copy leaves only a temporary that
    sweep_temporaries clears, never a part of the file under its name or beside it."""
    with open(source, "rb") as original, _replacing(target) as file:
        shutil.copyfileobj(original, file, 1 << 20)


@contextmanager
def _replacing(path: Path) -> Iterator[BinaryIO]:
    """A file to write that becomes `path` (by a rename) once the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a web server must read it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
