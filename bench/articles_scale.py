"""Article scale benchmark: ingest and index N articles, then link episodes against them.

    .venv/bin/python bench/articles_scale.py                 # 100,000 articles
    .venv/bin/python bench/articles_scale.py --articles 20000

The articles are generated from the real ones in ../shared/data/news/ukraine-war-dev.jsonl:
each is 8 to 30 sentences drawn (seeded) from the whole corpus, with a date spread over two
years, so the vocabulary and its frequencies are real news and every body is different. They
go through the real JSONL ingestion (twin check, FTS5 index). Then episodes of 30 one-minute
passages (sentences of the corpus, as a host would read them, plus small talk) are linked
against the catalog, and the time per episode is printed (cold: first episode; warm: the
median of the others), with the catalog's size on disk.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcribe.articles import ingest_articles  # noqa: E402
from transcribe.catalog import Catalog  # noqa: E402
from transcribe.linking import (  # noqa: E402
    LinkingOptions,
    link_transcript,
    profile_articles,
    split_sentences,
)  # noqa: E402
from transcribe.records import Segment, Transcript  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "news" / "ukraine-war-dev.jsonl"
SMALL_TALK = [
    "Welcome back to the programme, it is good to have you with us again this week.",
    "Before we go on, a quick reminder that you can send us your questions.",
    "That is a really interesting point, and I want to come back to it later.",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--episodes", type=int, default=6)
    args = parser.parse_args()
    rng = random.Random(7)
    sentences = [
        s
        for line in CORPUS.read_text().splitlines()
        for s in split_sentences(json.loads(line)["body"])
        if len(s.split()) >= 6
    ]
    with tempfile.TemporaryDirectory() as scratch:
        jsonl = Path(scratch) / "generated.jsonl"
        with open(jsonl, "w") as out:
            for n in range(args.articles):
                body = " ".join(rng.sample(sentences, rng.randint(8, 30)))
                day = 1 + n * 730 // args.articles
                out.write(
                    json.dumps(
                        {
                            "id": f"g{n}",
                            "title": body.split(".")[0][:90],
                            "published": f"2022-{1 + day // 61 % 12:02d}-{1 + day % 28:02d}",
                            "body": body,
                        }
                    )
                    + "\n"
                )
        words = len(jsonl.read_text().split())
        catalog_path = Path(scratch) / "catalog.sqlite"
        with Catalog(catalog_path) as catalog:
            started = time.monotonic()
            report = ingest_articles(catalog, [str(jsonl)])
            ingested = time.monotonic() - started
            profile_articles(catalog)  # the link stage's first step: each article's terms
            seconds = time.monotonic() - started
            size = sum(p.stat().st_size for p in Path(scratch).glob("catalog.sqlite*"))
            print(
                f"ingest: {report.added} articles ({words / 1e6:.1f} M words) in {seconds:.0f} s "
                f"({ingested:.0f} s to store and index, {seconds - ingested:.0f} s to profile; "
                f"{report.added / seconds:.0f} a second); catalog {size / 2**20:.0f} MiB"
            )
            times = []
            for e in range(args.episodes):
                transcript = episode(rng, sentences)
                started = time.monotonic()
                links = link_transcript(f"e{e}", transcript, catalog, LinkingOptions())
                times.append(time.monotonic() - started)
                print(f"  episode {e}: {len(links)} links in {times[-1] * 1000:.0f} ms")
            print(
                f"linking a 30-minute episode: cold {times[0] * 1000:.0f} ms, warm "
                f"{statistics.median(times[1:]) * 1000:.0f} ms (median of {len(times) - 1})"
            )


def episode(rng: random.Random, sentences: list[str]) -> Transcript:
    """30 passages of about a minute: four stories read in part, with small talk between."""
    segments, t = [], 0.0
    for _ in range(30):
        for text in [*rng.sample(sentences, 6), rng.choice(SMALL_TALK)]:
            seconds = len(text.split()) / 2.6  # a host's pace
            segments.append(Segment(t, t + seconds, text))
            t += seconds
    return Transcript(segments=segments, language="en", duration=t)


if __name__ == "__main__":
    main()
