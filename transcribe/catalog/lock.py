"""The run lock: one writing run at a time per catalog."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import BinaryIO

from ..errors import CatalogBusyError


def take_lock(path: Path) -> BinaryIO:
    """Hold an exclusive flock on `path` (it holds the holder's pid, for the message a
    second run gets); the lock is released when the returned file is closed, or when its
    process dies."""
    lock = open(path, "a+b")  # noqa: SIM115 (held open for the catalog's lifetime)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().decode(errors="replace").strip() or "?"
        lock.close()
        raise CatalogBusyError(
            f"another transcribe run (pid {holder}) is using {path.parent}; try again when it ends"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()).encode())
    lock.flush()
    return lock
