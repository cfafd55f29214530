"""The catalog's connection: opening (lock, pragmas, migrations), transactions, and the two
query helpers every table's code uses."""

from __future__ import annotations

import errno
import hashlib
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CatalogError, disk_full
from .lock import take_lock
from .migrations import migrate

BOUND_VALUES = 500  # values bound in one query: SQLite's limit is 999 in older builds


def body_hash(text: str) -> str:
    """Identity of an article's body: equal up to case and spacing."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()


def now() -> str:
    # to the microsecond: the render stamps tell a change within the second from the one before
    return datetime.now(UTC).isoformat()


def _no_space_left(path: Path, margin: int = 2**20) -> bool:
    """Whether the catalog's file system has less than `margin` bytes free."""
    try:
        return shutil.disk_usage(path.parent if str(path) != ":memory:" else ".").free < margin
    except OSError:
        return False


class Connection:
    """A connection to the catalog file, created and migrated on first open."""

    def __init__(self, path: Path | str, exclusive: bool = True):
        """Open (and create or migrate) the catalog. `exclusive` takes the run lock: one
        writing run at a time per catalog; the lock dies with its process, so a killed run
        never leaves it stuck."""
        self.path = Path(path)
        self._lock: BinaryIO | None = None
        self._savepoints = 0  # made so far: each nested atomic() names its own
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                self._lock = take_lock(self.path.with_name(self.path.name + ".lock"))
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.create_function("body_hash", 1, body_hash, deterministic=True)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")
            migrate(self.db, self.atomic, now)
            self._connected()
        except sqlite3.DatabaseError as e:
            self._release()
            if disk_full(e) or _no_space_left(self.path):
                # on a full disk SQLite may say only "disk I/O error" (its shared-memory
                # file for the WAL cannot be made): a full disk, not a broken catalog
                raise OSError(errno.ENOSPC, f"no space left for {path} ({e})") from e
            raise CatalogError(f"{path}: not a usable catalog ({e})") from e

    def _connected(self) -> None:
        """What a concern needs made on each new connection (temporary tables)."""

    def close(self) -> None:
        self.db.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction: all of the block's writes land, or none do. Inside another, a
        savepoint: a failure caught around the inner block takes back its writes alone."""
        if self.db.in_transaction:
            self._savepoints += 1
            name = f"inner_{self._savepoints}"
            self.db.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
                raise
            self.db.execute(f"RELEASE {name}")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def value(self, query: str, *parameters: object) -> Any:
        """The first column of the query's first row; None when there is no row."""
        row = self.db.execute(query, parameters).fetchone()
        return row[0] if row else None

    def rows_in(self, query: str, values: Iterable[object]) -> Iterator[sqlite3.Row]:
        """The rows of a query whose `IN ({})` is filled with the values (once each), asked
        in chunks of BOUND_VALUES."""
        wanted = sorted(set(values))
        for start in range(0, len(wanted), BOUND_VALUES):
            chunk = wanted[start : start + BOUND_VALUES]
            yield from self.db.execute(query.format(",".join("?" * len(chunk))), chunk)
