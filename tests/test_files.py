"""Atomic writes, and the sweep of what a killed one leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

from transcribe.files import copy_atomic, sweep_temporaries, write_atomic


def test_a_killed_atomic_write_leaves_only_its_temporary_and_the_sweep_takes_just_that(tmp_path):
    site = tmp_path / "site" / "search"
    assert write_atomic(site / "index.js", "old") and not write_atomic(site / "index.js", "old")
    # killed between write and rename: mkstemp's file, named as write_atomic names it
    _, left = tempfile.mkstemp(dir=site, prefix=".index.js.", suffix=".tmp")
    kept = [site / "notes.tmp", site / ".hidden.tmp", site / ".index.js.toolong123.tmp"]
    for path in kept:
        path.write_text("someone else's")
    assert sweep_temporaries(tmp_path / "site") == 1
    assert not (site / left).exists()
    assert all(path.exists() for path in kept)
    assert (site / "index.js").read_text() == "old"
    assert sweep_temporaries(tmp_path / "absent") == 0


def test_a_media_copy_killed_midway_leaves_no_part_of_the_file_and_the_next_copy_completes(
    tmp_path,
):
    """The site's copy of an episode's media (render.media = "copy"): killed halfway (the
    source a pipe that has given half), it leaves only a temporary the sweep takes."""
    source, target = tmp_path / "feed.fifo", tmp_path / "site" / "media" / "ep.mp3"
    os.mkfifo(source)
    copier = subprocess.Popen(
        [sys.executable, "-c", f"from pathlib import Path; from transcribe.files import copy_atomic; copy_atomic(Path({str(source)!r}), Path({str(target)!r}))"]
    )  # fmt: skip
    with open(source, "wb") as pipe:
        pipe.write(b"x" * 3_000_000)
        pipe.flush()
        deadline = time.monotonic() + 30
        while not _written(target.parent, 1_000_000) and time.monotonic() < deadline:
            time.sleep(0.05)
        copier.send_signal(signal.SIGKILL)
        copier.wait()
    assert _written(target.parent, 1_000_000), "the copy had begun before the kill"
    assert not target.exists()
    assert sweep_temporaries(tmp_path / "site") == 1
    assert list(target.parent.iterdir()) == []
    whole = tmp_path / "ep.mp3"
    whole.write_bytes(os.urandom(2_000_000))
    copy_atomic(whole, target)
    assert target.read_bytes() == whole.read_bytes() and list(target.parent.iterdir()) == [target]


def _written(folder, at_least: int) -> bool:
    return folder.is_dir() and any(p.stat().st_size >= at_least for p in folder.iterdir())
