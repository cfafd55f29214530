"""Atomic writes, and the sweep of what a killed one leaves."""

from __future__ import annotations

import tempfile

from transcribe.files import sweep_temporaries, write_atomic


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
