"""Article scale benchmark: ingest and index N articles, then link episodes against them.

    .venv/bin/python bench/articles_scale.py                 # 100,000 articles
    .venv/bin/python bench/articles_scale.py --articles 20000

The articles are generated from the real ones in ../shared/data/news/ukraine-war-dev.jsonl:
each is 8 to 30 sentences drawn (seeded) from the whole corpus, with a date spread over two
years, so the common vocabulary and its frequencies are real news. Real news also has a long
tail that 224 articles cannot supply at 100,000: each article's names (capitalized words
inside a sentence) and numbers are replaced by its own, drawn from a pool of made-up names
and random numbers, so that, as in a real archive, a story's names are rare and a sentence
is not printed in hundreds of articles. They go through the real JSONL ingestion (twin
check, FTS5 index) and the link stage's profiling. Then episodes of 30 one-minute passages
(each reads sentences of one generated article, as a host would, among small talk) are
linked against the catalog; printed: the time per episode (cold: the first; warm: the
median of the others) and the catalog's size on disk.
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
from transcribe.chapters import ChapterOptions, chapter_spans  # noqa: E402
from transcribe.linking import LinkingOptions, link_transcript, split_sentences  # noqa: E402
from transcribe.linking.prepare import prepare_index  # noqa: E402
from transcribe.records import Link, Segment, Transcript  # noqa: E402

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
    parser.add_argument("--keep", type=Path, help="keep the catalog here, and reuse it if there")
    args = parser.parse_args()
    rng = random.Random(7)
    sentences = [
        s
        for line in CORPUS.read_text().splitlines()
        for s in split_sentences(json.loads(line)["body"])
        if len(s.split()) >= 6
    ]
    pool = made_up_names(rng, 60_000)
    kept: list[str] = []  # some generated bodies, for the episodes to read from
    with tempfile.TemporaryDirectory() as scratch:
        if args.keep:
            scratch = str(args.keep)
            args.keep.mkdir(parents=True, exist_ok=True)
        jsonl = Path(scratch) / "generated.jsonl"
        with open(jsonl, "w") as out:
            for n in range(args.articles):
                body = own_names(" ".join(rng.sample(sentences, rng.randint(8, 30))), rng, pool)
                if n % 1000 == 0:
                    kept.append((f"urn:{jsonl.name}:g{n}", body))
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
            # the link stage's first step: each article's terms, the confidence model
            index = prepare_index(catalog, LinkingOptions())
            seconds = time.monotonic() - started
            size = sum(p.stat().st_size for p in Path(scratch).glob("catalog.sqlite*"))
            print(
                f"ingest: {report.added} articles ({words / 1e6:.1f} M words) in {seconds:.0f} s "
                f"({ingested:.0f} s to store and index, {seconds - ingested:.0f} s to profile and "
                f"calibrate; "
                f"{report.added / seconds:.0f} a second); catalog {size / 2**20:.0f} MiB"
            )
            times, found, read = [], 0, 0
            for e in range(args.episodes):
                transcript, readings = episode(rng, kept)
                started = time.monotonic()  # what the job's link stage does for an episode
                chapters = chapter_spans(transcript, catalog, ChapterOptions())
                links = link_transcript(
                    f"e{e}", transcript, index, LinkingOptions(), chapters=chapters
                )
                times.append(time.monotonic() - started)
                # did the linker find what was read? (all its links, not just the top 5)
                every = link_transcript(
                    f"e{e}", transcript, index, LinkingOptions(top=1000), chapters=chapters
                )
                hits = sum(_linked_there(every, reading) for reading in readings)
                found, read = found + hits, read + len(readings)
                print(
                    f"  episode {e}: {sum(x.linked for x in links)} links in {times[-1] * 1000:.0f} ms; "
                    f"{hits} of {len(readings)} readings linked to their article there"
                )
            print(
                f"linking a 30-minute episode: cold {times[0] * 1000:.0f} ms, warm "
                f"{statistics.median(times[1:]) * 1000:.0f} ms (median of {len(times) - 1}); "
                f"{found} of {read} readings ({found / read:.0%}) linked to the article read, "
                "at the minute it was read"
            )


def _linked_there(links: list[Link], reading: tuple[float, float, str]) -> bool:
    start, end, url = reading
    return any(
        link.article.url == url
        and any(m.linked and m.start < end and m.end > start for m in link.evidence)
        for link in links
    )


def made_up_names(rng: random.Random, count: int) -> list[str]:
    syllables = [
        "ka",
        "ro",
        "vin",
        "sel",
        "mar",
        "to",
        "bek",
        "lia",
        "dru",
        "nos",
        "tam",
        "fer",
        "gol",
        "ish",
        "pra",
        "ven",
        "zu",
        "hol",
    ]
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize())
    return sorted(names)


def own_names(body: str, rng: random.Random, pool: list[str]) -> str:
    """The body with its own names and numbers: each capitalized word inside a sentence
    and each number is replaced, the same way throughout the article."""
    mapping: dict[str, str] = {}
    words = body.split()
    for i, word in enumerate(words):
        core = word.strip(".,;:!?\"'()")
        starts = i == 0 or words[i - 1].endswith((".", "!", "?"))
        if core[:1].isupper() and not starts or core.isdigit():
            if core not in mapping:
                mapping[core] = str(rng.randint(2, 99_999)) if core.isdigit() else rng.choice(pool)
            words[i] = word.replace(core, mapping[core])
    return " ".join(words)


def episode(
    rng: random.Random, bodies: list[tuple[str, str]]
) -> tuple[Transcript, list[tuple[float, float, str]]]:
    """30 passages of about a minute, each reading from one article, with small talk; and
    the readings: (start, end, the URL of the article read)."""
    segments, readings, t = [], [], 0.0
    for _ in range(30):
        url, body = rng.choice(bodies)
        read = split_sentences(body)
        first = rng.randrange(max(1, len(read) - 5))
        started = t
        for text in [*read[first : first + 5], rng.choice(SMALL_TALK)]:
            seconds = len(text.split()) / 2.6  # a host's pace
            segments.append(Segment(t, t + seconds, text))
            t += seconds
        readings.append((started, t, url))
    return Transcript(segments=segments, language="en", duration=t), readings


if __name__ == "__main__":
    main()
