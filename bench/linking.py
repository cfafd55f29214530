"""Linking benchmark: find the article a spoken query is about, among the outlet's articles.

    .venv/bin/python bench/linking.py                 # BM25, dense and hybrid
    .venv/bin/python bench/linking.py --no-dense      # BM25 alone (no embedding model)

Corpus: ../shared/data/news/ukraine-war-dev.jsonl (224 real articles), ingested through the
articles stage into a fresh catalog (twins, the same body under two ids, become one
article). Queries, for each article of bench/linking_paraphrases.json (40, spread over the
file): (a) two or three sentences read from the middle of the article, (b) one sentence from
there, (c) a paraphrase written by hand (2-4 sentences, names and numbers kept, no phrase of
four words copied). Each query is spoken with espeak-ng and transcribed with the bundled
tiny.en, as a host's words would be; the transcripts are cached in bench/.cache/linking.
Each ranker orders the whole corpus for each query; printed: R@1, R@5, MRR, and the time per
query. Then the linker itself (what the job runs: candidates, evidence, threshold) at several
thresholds: how often its first link is the query's article, and how many texts about
something else (the demo's local news, the 12 speech clips) get a link they should not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcribe.articles import ingest_articles  # noqa: E402
from transcribe.catalog import Catalog  # noqa: E402
from transcribe.linking import query_words, split_sentences  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "news" / "ukraine-war-dev.jsonl"
PARAPHRASES = ROOT / "bench" / "linking_paraphrases.json"
CACHE = ROOT / "bench" / ".cache" / "linking"
KINDS = {
    "a": "2-3 sentences read from the article",
    "b": "1 sentence read from the article",
    "c": "a paraphrase in other words",
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-dense", action="store_true", help="BM25 alone")
    parser.add_argument("--dense-model", default="minilm")
    parser.add_argument("--written", action="store_true", help="the query texts, not spoken")
    args = parser.parse_args()

    records = {r["id"]: r for r in map(json.loads, CORPUS.read_text().splitlines())}
    paraphrases = json.loads(PARAPHRASES.read_text())
    with tempfile.TemporaryDirectory() as scratch:
        catalog = Catalog(Path(scratch) / "catalog.sqlite")
        started = time.monotonic()
        report = ingest_articles(catalog, [str(CORPUS)])
        print(
            f"corpus: {len(records)} records -> {catalog.article_count()} articles "
            f"({report.twins} twins collapsed) in {time.monotonic() - started:.1f} s"
        )
        target = {i: catalog.find_article(f"urn:{CORPUS.name}:{i}") for i in paraphrases}
        queries = {
            kind: {i: query_text(kind, records[i]["body"], paraphrases[i]) for i in paraphrases}
            for kind in KINDS
        }
        if not args.written:
            queries = {kind: spoken(kind, texts) for kind, texts in queries.items()}
        rankers = {"BM25": Bm25(catalog)}
        if not args.no_dense:
            rankers["dense (per sentence)"] = Dense(catalog, args.dense_model)
            rankers["hybrid (RRF)"] = Hybrid(rankers["BM25"], rankers["dense (per sentence)"])
        print(
            f"\n{len(paraphrases)} queries of each kind; "
            f"{'written' if args.written else 'spoken with espeak-ng, transcribed by tiny.en'}\n"
        )
        print("| query | ranker | R@1 | R@5 | MRR | ms per query |")
        print("|---|---|---|---|---|---|")
        for kind, texts in queries.items():
            for name, ranker in rankers.items():
                ranks, times = [], []
                for article, text in texts.items():
                    started = time.perf_counter()
                    order = ranker.rank(text)
                    times.append(time.perf_counter() - started)
                    ranks.append(
                        order.index(target[article]) + 1 if target[article] in order else 0
                    )
                found = [r for r in ranks if r]
                print(
                    f"| ({kind}) {KINDS[kind]} | {name} "
                    f"| {sum(r == 1 for r in found) / len(ranks):.2f} "
                    f"| {sum(r <= 5 for r in found) / len(ranks):.2f} "
                    f"| {sum(1 / r for r in found) / len(ranks):.3f} "
                    f"| {statistics.median(times) * 1000:.1f} |"
                )
        calibrate(catalog, queries, target)
        catalog.close()


def calibrate(catalog: Catalog, queries: dict[str, dict[str, str]], target: dict) -> None:
    """The job's linker on the queries (each one passage) and on unrelated texts."""
    import csv

    from transcribe.demo import EXAMPLES
    from transcribe.linking import LinkingOptions, link_text

    unrelated = [
        e["script"] for e in json.loads((EXAMPLES / "episodes.json").read_text())["episodes"]
    ]
    with open(ROOT.parent / "shared" / "data" / "speech" / "manifest.tsv") as manifest:
        unrelated += [r["reference"] for r in csv.DictReader(manifest, delimiter="\t")]
    print(
        f"\nthe linker (BM25 candidates, shared words and names, threshold) on each query as "
        f"one passage, and on {len(unrelated)} unrelated texts (the demo's scripts, the speech "
        "clips)\n"
    )
    print(
        "| min_score (min_covered_score at min_coverage 0.5) | first link right (a) | (b) | (c) "
        "| unrelated texts given a link |"
    )
    print("|---|---|---|---|---|")
    default = LinkingOptions().min_score
    for threshold in sorted({4.0, 6.0, default, 10.0, 12.0, 16.0}):
        options = LinkingOptions(min_score=threshold, min_covered_score=threshold / 2)
        right = {}
        for kind, texts in queries.items():
            hits = 0
            for article, text in texts.items():
                links = link_text(text, catalog, options, words=400)
                hits += bool(links) and links[0].article.id == target[article]
            right[kind] = hits / len(texts)
        false = sum(bool(link_text(t, catalog, options, words=400)) for t in unrelated)
        mark = " (default)" if threshold == default else ""
        print(
            f"| {threshold:g} ({threshold / 2:g}){mark} | {right['a']:.2f} | {right['b']:.2f} "
            f"| {right['c']:.2f} "
            f"| {false}/{len(unrelated)} |"
        )


def query_text(kind: str, body: str, paraphrase: str) -> str:
    """(a) two or three sentences from the middle, (b) the longest sentence near the
    middle, (c) the paraphrase."""
    if kind == "c":
        return paraphrase
    sentences = [s for s in split_sentences(body) if len(s.split()) >= 6]
    middle = len(sentences) // 2
    if kind == "a":
        chosen = sentences[max(0, middle - 1) : middle + 2]
        while len(chosen) > 2 and len(" ".join(chosen).split()) > 70:
            chosen.pop()
        return " ".join(chosen)
    near = sentences[max(0, middle - 2) : middle + 3]
    return max(near, key=lambda s: min(len(s.split()), 40))


def spoken(kind: str, texts: dict[str, str]) -> dict[str, str]:
    """Each text spoken (espeak-ng) and transcribed (tiny.en, the job's settings); cached."""
    from transcribe.demo import speak
    from transcribe.speech import SpeechOptions, transcribe_audio

    options = SpeechOptions(model="tiny.en", language="en")
    heard = {}
    for article, text in texts.items():
        cached = CACHE / f"{kind}-{article}.txt"
        source = cached.with_suffix(".source")
        if not (cached.exists() and source.exists() and source.read_text() == text):
            audio = speak(text, CACHE / "audio" / f"{kind}-{article}.wav", speed=160)
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(transcribe_audio(audio, options).text)
            source.write_text(text)
        heard[article] = cached.read_text()
    return heard


class Bm25:
    """SQLite FTS5's BM25 over title and body, the query's telling words OR-ed."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def rank(self, text: str) -> list[int]:
        terms = query_words(text, self.catalog)
        return [article for article, _ in self.catalog.search_articles(terms, limit=100_000)]


class Dense:
    """One vector per article sentence; an article scores its best sentence."""

    def __init__(self, catalog: Catalog, model: str):
        from transcribe.embeddings import load

        self.embedder = load(model)
        owners, sentences = [], []
        for article in catalog.articles():
            for sentence in split_sentences(article.text):
                owners.append(article.id)
                sentences.append(sentence)
        digest = hashlib.sha1("\n".join(sentences).encode()).hexdigest()[:16]
        cached = CACHE / f"vectors-{self.embedder.name}-{digest}.npy"
        if cached.exists():
            self.vectors = np.load(cached)
        else:
            started = time.monotonic()
            self.vectors = self.embedder.embed(sentences)
            print(
                f"dense: {len(sentences)} sentences embedded in "
                f"{time.monotonic() - started:.0f} s ({len(sentences) / (time.monotonic() - started):.0f} a second)"
            )
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, self.vectors)
        self.owners = np.array(owners)

    def rank(self, text: str) -> list[int]:
        similarity = self.vectors @ self.embedder.embed([text])[0]
        best: dict[int, float] = {}
        for owner, score in zip(self.owners.tolist(), similarity.tolist(), strict=True):
            if score > best.get(owner, -2.0):
                best[owner] = score
        return sorted(best, key=lambda a: -best[a])


class Hybrid:
    """Reciprocal rank fusion: each ranker gives 1 / (60 + rank)."""

    def __init__(self, *rankers: Bm25 | Dense, k: int = 60):
        self.rankers = rankers
        self.k = k

    def rank(self, text: str) -> list[int]:
        fused: dict[int, float] = {}
        for ranker in self.rankers:
            for position, article in enumerate(ranker.rank(text), 1):
                fused[article] = fused.get(article, 0.0) + 1 / (self.k + position)
        return sorted(fused, key=lambda a: -fused[a])


if __name__ == "__main__":
    main()
