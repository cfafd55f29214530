"""Fixtures: real audio spoken by espeak-ng, real pages and feeds served on 127.0.0.1.

The Whisper model is loaded once per test run (the engine caches it by settings), so each
test that transcribes pays only for its own audio.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path

# Ray reads its authentication mode once, when imported: tokens, as `ray start --head` (Ray
# 2.60) starts the test cluster with. The token is the run's own, in the environment that
# the test head, the job and their workers all inherit: a new machine has no ~/.ray/auth_token,
# and `ray start` will not make one
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))

import pytest
from gazette import first_run, outlet  # noqa: F401 - the shared job run, as fixtures

from transcribe.demo import ffmpeg, serve, speak

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# The audio the speech stage keeps for the speakers stage goes to the run's own folder, not
# the user's cache: a test may transcribe without a speakers stage to read it back
os.environ["TRANSCRIBE_DECODED_CACHE"] = tempfile.mkdtemp(prefix="transcribe-decoded-")
atexit.register(shutil.rmtree, os.environ["TRANSCRIBE_DECODED_CACHE"], True)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder served over HTTP for the whole run; tests write into subfolders of it."""
    return tmp_path_factory.mktemp("site")


@pytest.fixture(scope="session")
def base_url(site: Path):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="session")
def spoken(site: Path):
    """speak(text, name) -> the path of an audio file in the served site."""

    def make(text: str, name: str) -> Path:
        return speak(text, site / "audio" / name)

    return make


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    """The bundled demo, run once (what `make run` runs): (the CLI's result, its folder with
    data/ and out/, the site)."""
    from click.testing import CliRunner

    from transcribe.cli import cli

    folder = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(
        cli, ["-q", "--data", str(folder / "data"), "--output", str(folder / "out"), "demo"]
    )
    return result, folder


def silence(path: Path, seconds: float = 6.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", str(seconds), str(path))
    return path


def article_page(
    title: str, paragraphs: list[str], canonical: str = "", author: str = "Staff"
) -> str:
    """A realistic article page: boilerplate around the story, for trafilatura to strip."""
    from html import escape

    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="author" content="{escape(author)}">{link}</head>
<body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<article><h1>{escape(title)}</h1><p class="byline">By {escape(author)}</p>{body}</article>
<footer><p>Copyright 2026 The Test Gazette. All rights reserved.</p></footer></body></html>"""
