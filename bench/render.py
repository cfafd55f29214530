"""Render benchmark: the whole site for N episodes, then a rerun, then a rerun after one
new episode.

    .venv/bin/python bench/render.py                  # 1,000 episodes of 30 minutes
    .venv/bin/python bench/render.py --episodes 200

The catalog is filled with generated episodes over three shows: 30 minutes each, a segment
every 4.5 seconds (400 a episode, as Whisper cuts speech), the text drawn (seeded) from the
sentences of ../shared/data/news/ukraine-war-dev.jsonl; 5 related articles with evidence
and 4 chapters each. Printed: seconds for the first render (every page, transcript file and
search file written), for a rerun with nothing changed, and for a rerun after one episode
was added; files written each time; the site's size.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcribe.catalog import Catalog  # noqa: E402
from transcribe.linking import split_sentences  # noqa: E402
from transcribe.records import (  # noqa: E402
    Article,
    Chapter,
    Episode,
    Link,
    PassageMatch,
    Segment,
    Transcript,
)
from transcribe.render import RenderOptions, render_site  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "news" / "ukraine-war-dev.jsonl"
SHOWS = ["The Morning Briefing", "Ukraine Explained", "Weekend Long Read"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    rng = random.Random(3)
    records = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    sentences = [s for r in records for s in split_sentences(r["body"]) if len(s.split()) >= 5]
    with tempfile.TemporaryDirectory() as scratch:
        catalog = Catalog(Path(scratch) / "catalog.sqlite")
        started = time.monotonic()
        articles = []
        for record in records[:100]:
            article = Article(
                url=f"https://news.example/{record['id']}",
                title=record.get("title") or record["body"][:80],
                text=record["body"],
                published=(record.get("published") or "")[:10],
            )
            article.id = catalog.add_article(article)
            articles.append(article)
        with catalog.atomic():
            for n in range(args.episodes):
                add_episode(catalog, n, rng, sentences, articles, args.minutes)
        print(
            f"catalog: {args.episodes} episodes of {args.minutes:g} minutes made in "
            f"{time.monotonic() - started:.0f} s"
        )
        output = Path(scratch) / "site"
        options = RenderOptions(title="Bench", base_url="https://shows.example/")
        first = timed(lambda: render_site(catalog, output, options))
        size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
        print(
            f"first render: {first[0]:.1f} s, {first[1].written} files written "
            f"({first[1].pages} pages; site {size / 2**20:.0f} MiB)"
        )
        again = timed(lambda: render_site(catalog, output, options))
        print(
            f"rerun, nothing changed: {again[0]:.1f} s, {again[1].written} files written, "
            f"{again[1].unchanged} episodes up to date"
        )
        add_episode(catalog, args.episodes, rng, sentences, articles, args.minutes)
        one = timed(lambda: render_site(catalog, output, options))
        print(
            f"rerun after one new episode: {one[0]:.1f} s, {one[1].written} files written, "
            f"{one[1].unchanged} episodes up to date"
        )
        catalog.close()


def timed(render):  # noqa: ANN001, ANN201
    started = time.monotonic()
    report = render()
    return time.monotonic() - started, report


def add_episode(
    catalog: Catalog,
    n: int,
    rng: random.Random,
    sentences: list[str],
    articles: list[Article],
    minutes: float,
) -> None:
    day = 1 + n % 28
    episode = Episode(
        id=f"bench-{n:05d}",
        source=f"https://shows.example/{n % len(SHOWS)}.xml",
        show=SHOWS[n % len(SHOWS)],
        title=f"{rng.choice(sentences)[:70]}",
        media_url=f"https://shows.example/audio/{n}.mp3",
        published=f"2026-{1 + n % 12:02d}-{day:02d}T06:00:00+00:00",
        description=f"<p>{rng.choice(sentences)}</p>",
        duration=minutes * 60,
    )
    catalog.record_episode(episode)
    count = int(minutes * 60 / 4.5)
    segments = [Segment(i * 4.5, i * 4.5 + 4.4, rng.choice(sentences)) for i in range(count)]
    catalog.save_transcript(
        episode.id, Transcript(segments, language="en", duration=minutes * 60, producer="bench")
    )
    linked = rng.sample(articles, 5)
    catalog.save_links(
        episode.id,
        [
            Link(
                episode.id,
                article,
                30.0 - rank,
                [PassageMatch(60.0 * rank, 60.0 * rank + 60, 9.0, ("bridge", "river"), ("Kyiv",))],
            )
            for rank, article in enumerate(linked)
        ],
        "bench",
    )
    chapters = [
        Chapter(start=i * minutes * 15, title=linked[i].title, url=linked[i].url) for i in range(4)
    ]
    catalog.save_chapters(episode.id, chapters, "bench", "found")


if __name__ == "__main__":
    main()
