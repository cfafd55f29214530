"""The fault matrix: each fault provoked for real (a misbehaving server on 127.0.0.1, a
killed process, a full disk, bad media and feeds), and each time the job must say what went
wrong, finish everything else, leave nothing half-written, record nothing as done that is
not, and complete the work on the next run.

The job runs as the console script in a subprocess, as cron would run it."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults import faulty_server, refused_url

from transcribe.demo import FeedEntry, ffmpeg, write_feed

pytestmark = pytest.mark.slow

SPEECH = (
    "The harbour dredging starts on Monday. Harbourmaster Ingrid Solberg says the barges "
    "of Baltic Marine will work through the night for two weeks."
)
TRANSCRIBE = [sys.executable, "-m", "transcribe"]


def run_job(config: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TRANSCRIBE, "-q", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(folder: Path, feed_url: str, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'data = "data"\noutput = "site"\n[[sources]]\nurl = "{feed_url}"\n'
        '[speech]\nmodel = "tiny.en"\n'
        "[fetch]\ntimeout = 3.0\nretries = 1\n" + extra
    )
    return config


def states(folder: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(folder / "data" / "catalog.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {
            row[0]: (row[1], row[2]) for row in db.execute("SELECT id, state, error FROM episodes")
        }


def leftovers(folder: Path) -> list[Path]:
    """Half-written files where finished ones belong: partial downloads, temporary pages."""
    return [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and (
            ".partial" in p.parts or p.suffix in (".part", ".tmp", ".ytdl") or ".partial" in p.name
        )
    ]


@pytest.fixture(scope="module")
def media(tmp_path_factory, spoken) -> Path:
    """The served folder: a spoken episode, and the bad media made from it."""
    folder = tmp_path_factory.mktemp("faulty")
    good = spoken(SPEECH, "fault-speech.mp3")
    (folder / "good.mp3").write_bytes(good.read_bytes())
    data = good.read_bytes()
    (folder / "truncated.mp3").write_bytes(data[: len(data) // 3])
    (folder / "empty.mp3").write_bytes(b"")
    (folder / "noise.mp3").write_bytes(os.urandom(30_000))
    # music: a chord that moves, no words (Whisper must not invent any)
    ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=220:duration=12",
        "-f", "lavfi", "-i", "sine=frequency=277:duration=12",
        "-f", "lavfi", "-i", "sine=frequency=330:duration=12",
        "-filter_complex", "amix=inputs=3,tremolo=f=4", str(folder / "music.mp3"),
    )  # fmt: skip
    return folder


def test_network_faults_are_clear_errors_on_their_episodes_and_retried(media, tmp_path):
    with faulty_server(media) as base:
        entries = {
            "ok": base + "good.mp3",
            "refused": refused_url("good.mp3"),
            "stall": base + "fault/stall/good.mp3",
            "short": base + "fault/short/good.mp3",
            "loop": base + "fault/loop/good.mp3",
            "missing": base + "fault/status/404/good.mp3",
            "broken": base + "fault/status/500/good.mp3",
            "busy": base + "fault/busy/good.mp3",
        }
        write_feed(
            media / "network.xml",
            "Faults",
            base,
            [
                FeedEntry(name, name, f"2026-10-{n + 1:02d}T08:00:00Z", enclosure=url)
                for n, (name, url) in enumerate(entries.items())
            ],
        )
        config = write_config(tmp_path, base + "network.xml")
        started = time.monotonic()
        first = run_job(config)
        took = time.monotonic() - started
        assert first.returncode == 1, first.stdout + first.stderr
        found = states(tmp_path)
        assert found["ok"][0] == "transcribed" and found["busy"][0] == "transcribed"
        reasons = {
            "refused": "refused",
            "stall": "timed out",
            "short": "",
            "loop": "redirect",
            "missing": "404",
            "broken": "500",
        }
        for name, reason in reasons.items():
            state, error = found[name]
            assert state != "transcribed", name
            assert error and reason.lower() in error.lower(), (name, error)
            assert f"FAILED fetch: {name}:" in first.stdout
        assert ", 6 failed" in first.stdout.splitlines()[0]  # the fetch line counts them
        said = [line for line in (first.stdout + first.stderr).splitlines() if "404" in line]
        assert len(said) == 1 and "could not download the audio" in said[0], said  # once
        assert took < 120  # the stall was cut by the timeout, not waited out
        assert leftovers(tmp_path) == []
        again = run_job(config)
        assert "1 downloaded" not in again.stdout  # nothing fixed itself...
        assert states(tmp_path)["stall"][0] != "transcribed"
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        attempts = dict(db.execute("SELECT id, attempts FROM episodes"))
        transcripts = db.execute("SELECT count(*) FROM transcripts").fetchone()[0]
    assert all(attempts[name] == 2 for name in reasons), attempts  # ...but each was tried again
    assert attempts["ok"] == 0
    assert transcripts == 2  # and nothing was done twice


def test_bad_media_is_refused_or_yields_no_invented_words(media, tmp_path):
    with faulty_server(media) as base:
        names = ["good", "truncated", "empty", "noise", "music"]
        write_feed(
            media / "media.xml",
            "Bad media",
            base,
            [
                FeedEntry(name, name, f"2026-10-{n + 1:02d}T08:00:00Z", enclosure=f"{name}.mp3")
                for n, name in enumerate(names)
            ],
        )
        config = write_config(tmp_path, base + "media.xml")
        result = run_job(config)
    found = states(tmp_path)
    assert found["good"][0] == "transcribed"
    assert found["empty"][0] != "transcribed" and "empty" in found["empty"][1]
    assert found["noise"][0] != "transcribed" and "decode" in found["noise"][1]
    # music is no speech: refused as such, never transcribed into invented words
    assert found["music"][0] != "transcribed" and "speech" in found["music"][1].lower(), found
    # a truncated file is what the server sent: its first third is transcribed
    assert found["truncated"][0] == "transcribed", found["truncated"]
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        said = " ".join(
            r[0] for r in db.execute("SELECT text FROM segments WHERE episode_id = 'truncated'")
        )
    assert "monday" in said.lower() and "night" not in said.lower()  # the first third only
    assert result.returncode == 1 and leftovers(tmp_path) == []


def test_a_run_killed_at_any_moment_loses_nothing_and_the_next_completes(media, tmp_path):
    """SIGKILL while downloading (a slow server), while transcribing and while rendering;
    after each kill the catalog is intact and nothing is half-written; the next run takes
    up the work, and in the end every episode is done exactly once."""
    with faulty_server(media) as base:
        names = [f"slow-{n}" for n in range(3)]
        write_feed(
            media / "slow.xml",
            "Slow",
            base,
            [
                FeedEntry(
                    name,
                    name,
                    f"2026-10-{n + 1:02d}T08:00:00Z",
                    enclosure=f"fault/slow/good.mp3?{name}",
                )
                for n, name in enumerate(names)
            ],
        )
        config = write_config(tmp_path, base + "slow.xml", '[render]\nmedia = "copy"\n')
        kills = []
        for moment in ("download", "speech", "render"):
            process = subprocess.Popen(
                [*TRANSCRIBE, "-q", "--config", str(config), "run"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for(moment, tmp_path, process)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait()
            kills.append(moment)
            assert _only_scratch(tmp_path), leftovers(tmp_path)
            states(tmp_path)  # integrity_check passes
        final = run_job(config)
    assert final.returncode == 0, final.stdout + final.stderr
    assert leftovers(tmp_path) == []
    found = states(tmp_path)
    assert all(found[name][0] == "transcribed" for name in names), found
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM transcripts").fetchone()[0] == 3
    for name in names:
        assert (tmp_path / "site" / "episodes" / f"{name}.html").is_file()
    assert kills == ["download", "speech", "render"]


def _wait_for(moment: str, folder: Path, process: subprocess.Popen, limit: float = 300) -> None:
    """Until the run is in the middle of `moment`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the run ended before {moment}"
        scratch = folder / "data" / "media" / ".partial"
        if moment == "download" and any(p.is_file() for p in scratch.rglob("*")):
            return
        if moment == "speech" and _in_state(folder, "fetched") and not _in_state(folder, "listed"):
            time.sleep(1.0)  # the model loads, the first windows decode
            return
        if moment == "render" and (folder / "site" / "episodes").is_dir():
            return
        time.sleep(0.05)
    raise AssertionError(f"never reached {moment}")


def _in_state(folder: Path, state: str) -> bool:
    path = folder / "data" / "catalog.sqlite"
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return bool(db.execute("SELECT 1 FROM episodes WHERE state = ?", (state,)).fetchone())
    except sqlite3.Error:
        return False


def _only_scratch(folder: Path) -> bool:
    """A download killed midway leaves its scratch folder (media/.partial), and a write
    killed between its write and its rename leaves its hidden temporary (.NAME.xxxxxxxx.tmp,
    beside the file it was to replace); the next run clears both. Never a file where a
    finished one belongs."""
    return all(
        ".partial" in p.parts or re.fullmatch(r"\..+\.[a-z0-9_]{8}\.tmp", p.name)
        for p in leftovers(folder)
    )


@pytest.fixture()
def small_disk(tmp_path):
    """A 12 MiB file system of our own (tmpfs; the tests run as root, as CI does)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk but for `leave` bytes; returns the filler, to delete to free them."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    filler = disk / "filler"
    with open(filler, "wb") as file:
        file.truncate(max(0, free - leave))
        file.seek(0)
        file.write(b"\0" * max(0, free - leave))  # tmpfs counts written pages only
    return filler


def test_a_full_disk_is_a_clear_error_and_the_next_run_with_space_completes(media, small_disk):
    long_speech = media / "long.mp3"  # 2.5 MB: speech, then a long quiet tail at 320 kb/s
    ffmpeg(
        "-i", str(media / "good.mp3"), "-af", "apad=pad_dur=50", "-b:a", "320k", str(long_speech),
    )  # fmt: skip
    with faulty_server(media) as base:
        write_feed(
            media / "disk.xml",
            "Disk",
            base,
            [
                FeedEntry("small", "small", "2026-10-01T08:00:00Z", enclosure="good.mp3"),
                FeedEntry("large", "large", "2026-10-02T08:00:00Z", enclosure="long.mp3"),
            ],
        )
        config = write_config(small_disk, base + "disk.xml")
        filler = fill(small_disk, leave=1_500_000)  # the catalog and one small file fit
        first = run_job(config)
        assert first.returncode == 1
        found = states(small_disk)
        assert found["small"][0] == "transcribed"
        assert found["large"][0] != "transcribed" and "space" in found["large"][1].lower()
        assert leftovers(small_disk) == []

        filler.unlink()
        filler = fill(small_disk, leave=0)  # now not even the catalog can grow
        full = run_job(config)
        assert full.returncode == 1
        assert "the disk is full" in full.stderr and "Traceback" not in full.stderr

        filler.unlink()
        # Read only once there is room again: a reader of a WAL catalog must make its shared
        # memory file, which a full disk refuses. Intact means nothing recorded was lost.
        again = states(small_disk)
        assert again["small"] == found["small"] and again["large"][0] != "transcribed"
        final = run_job(config)
    assert final.returncode == 0, final.stdout + final.stderr
    found = states(small_disk)
    assert found["large"] == ("transcribed", "")
    assert (small_disk / "site" / "episodes" / "large.html").is_file()
    assert leftovers(small_disk) == []


def test_bad_feeds_are_read_leniently_or_refused_and_each_bad_article_is_an_error(media, tmp_path):
    from conftest import SHARED, article_page

    huge = [  # the newest is item-9999
        FeedEntry(
            f"item-{n}",
            f"Item {n}",
            f"{2000 + n // 1000}-01-01T00:{n % 1000 // 60:02d}:{n % 60:02d}Z",
            enclosure="good.mp3",
        )
        for n in range(10_000)
    ]
    (media / "no-guid.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Odd items</title>'
        '<item><title>No guid</title><enclosure url="good.mp3" type="audio/mpeg"/></item>'
        "<item><title>No enclosure</title><guid>text-only</guid></item>"
        "</channel></rss>"
    )
    (media / "page.html").write_text("<html><body><p>Not a feed</p></body></html>")
    malformed = ("no-agenda.xml", "sentimental-garbage.xml")  # real, and not well-formed
    for name in malformed:
        (media / name).write_bytes((SHARED / "feeds" / name).read_bytes())
    articles = media / "articles"
    articles.mkdir(exist_ok=True)
    story = ["The harbour dredging starts on Monday, says harbourmaster Ingrid Solberg."] * 3
    (articles / "good.html").write_text(article_page("Dredging starts", story))
    (articles / "latin1.html").write_bytes(
        article_page("Café crème in Zürich", ["Le café est très bon à Zürich."] * 3)
        .replace('<meta charset="utf-8">', '<meta charset="iso-8859-1">')
        .encode("latin-1")
    )
    (articles / "empty.html").write_text("<html><body></body></html>")
    (articles / "enormous.html").write_bytes(b"<html><body><p>" + b"a " * 27_000_000 + b"</p>")
    with faulty_server(media) as base:
        write_feed(media / "huge.xml", "Huge", base, huge)
        sources = "".join(
            f'[[sources]]\nurl = "{base}{name}"\nlimit = 1\n'
            for name in ("huge.xml", "no-guid.xml", "page.html", *malformed)
        )
        pages = [f"{base}articles/{name}.html" for name in ("good", "latin1", "empty", "enormous")]
        listed = ", ".join(f'"{url}"' for url in [*pages, pages[0]])  # one twice
        config = tmp_path / "config.toml"
        config.write_text(
            f'data = "data"\noutput = "site"\narticles = [{listed}]\n{sources}'
            '[speech]\nmodel = "tiny.en"\n[fetch]\ntimeout = 5.0\nretries = 1\n'
        )
        started = time.monotonic()
        result = run_job(config)
        took = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 1
    assert f"FAILED list: {base}page.html:" in out  # an HTML page is no feed: said so
    found = states(tmp_path)
    assert found["item-9999"][0] == "transcribed"  # the huge feed listed, its newest taken
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        sources_listed = {r[0] for r in db.execute("SELECT source FROM episodes")}
    for name in malformed:  # read leniently; their media is on the internet, out of reach
        assert base + name in sources_listed
    assert "text-only" not in found  # no enclosure: nothing to play, not an episode
    assert any("good.mp3" in episode_id for episode_id in found)  # no guid: its enclosure
    with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
        titles = [r[0] for r in db.execute("SELECT title FROM articles")]
    assert sorted(titles) == ["Café crème in Zürich", "Dredging starts"]  # once each
    assert "enormous.html: larger than 50 MiB" in out and "empty.html" in out
    assert took < 300


PEAK_MEMORY = (  # the job as the console script, reporting its peak memory (KiB) at exit
    "import atexit, resource, sys\n"
    "atexit.register(lambda: print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
    " file=sys.stderr))\n"
    "from transcribe.cli import main\n"
    "sys.argv = ['transcribe', *sys.argv[1:]]\n"
    "main()\n"
)


def peak_kib(config: Path) -> tuple[int, subprocess.CompletedProcess]:
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, "-q", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    peaks = [line for line in result.stderr.splitlines() if line.startswith("peak ")]
    assert peaks, result.stderr
    return int(peaks[-1].split()[1]), result


def test_a_three_hour_episode_keeps_memory_flat(media, tmp_path):
    """Memory is that of the windows being decoded and transcribed, not of the episode:
    three hours (a minute of speech, then quiet) peak within 150 MiB of three minutes."""
    for name, seconds in (("three-minutes", 180), ("three-hours", 10_800)):
        ffmpeg(
            "-i", str(media / "good.mp3"), "-af", f"apad=whole_dur={seconds}",
            "-ac", "1", "-ar", "16000", "-b:a", "16k", str(media / f"{name}.mp3"),
        )  # fmt: skip
    peaks = {}
    with faulty_server(media) as base:
        for name in ("three-minutes", "three-hours"):
            write_feed(
                media / f"{name}.xml",
                name,
                base,
                [FeedEntry(name, name, "2026-10-01T08:00:00Z", enclosure=f"{name}.mp3")],
            )
            folder = tmp_path / name
            folder.mkdir()
            peaks[name], result = peak_kib(write_config(folder, f"{base}{name}.xml"))
            assert result.returncode == 0, result.stdout + result.stderr
            assert states(folder)[name][0] == "transcribed"
    print("peak KiB", peaks)
    assert peaks["three-hours"] - peaks["three-minutes"] < 150 * 1024, peaks


def test_a_full_disk_under_the_site_stops_the_render_cleanly(media, tmp_path, small_disk):
    with faulty_server(media) as base:
        write_feed(
            media / "pages.xml",
            "Pages",
            base,
            [FeedEntry("paged", "paged", "2026-10-01T08:00:00Z", enclosure="good.mp3")],
        )
        config = write_config(tmp_path, base + "pages.xml")
        config.write_text(config.read_text().replace('output = "site"', f'output = "{small_disk}"'))
        filler = fill(small_disk, leave=0)
        full = run_job(config)
        assert full.returncode == 1 and "the disk is full" in full.stderr
        assert states(tmp_path)["paged"][0] == "transcribed"  # the work before it is kept
        assert leftovers(small_disk) == [] and not (small_disk / "episodes" / "paged.html").exists()
        filler.unlink()
        final = run_job(config)
    assert final.returncode == 0, final.stdout + final.stderr
    assert (small_disk / "episodes" / "paged.html").is_file() and leftovers(small_disk) == []
