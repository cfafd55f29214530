"""Names benchmark: does the outlet's vocabulary help Whisper spell the names in the news?

    .venv/bin/python bench/names.py

From ../shared/data/news/ukraine-war-dev.jsonl, 40 sentences that name people, places or
organisations that are not household words (in fewer than a tenth of the articles) are
spoken with espeak-ng, then transcribed by the bundled tiny.en twice: as is, and with the
glossary the job gives an episode of that date (the names of the articles published within
two weeks of it, most widespread first, at most --limit). Printed: the share of the names
spelled exactly as the article spells them, each way, and the names the glossary fixed or
broke. Audio is cached in bench/.cache/names.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transcribe.articles import ingest_articles, names_in_the_news  # noqa: E402
from transcribe.catalog import Catalog  # noqa: E402
from transcribe.demo import speak  # noqa: E402
from transcribe.linking import proper_names, split_sentences  # noqa: E402
from transcribe.speech import SpeechOptions, transcribe_audio  # noqa: E402

CORPUS = ROOT.parent / "shared" / "data" / "news" / "ukraine-war-dev.jsonl"
CACHE = ROOT / "bench" / ".cache" / "names"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sentences", type=int, default=40)
    parser.add_argument("--limit", type=int, default=SpeechOptions().article_names)
    args = parser.parse_args()
    records = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    spread = Counter(n for r in records for n in set(proper_names(r["body"])))
    rare = {n for n, c in spread.items() if c < len(records) / 10 and len(n) > 3}
    rng = random.Random(3)
    candidates = []
    for record in records:
        for sentence in split_sentences(record["body"]):
            named = [n for n in proper_names(sentence) if n in rare]
            if named and 10 <= len(sentence.split()) <= 35:
                candidates.append((record, sentence, named))
    chosen = rng.sample(candidates, min(args.sentences, len(candidates)))
    options = SpeechOptions(model="tiny.en", language="en")
    totals = {"without": 0, "with": 0}
    fixed, broken, names = [], [], 0
    with tempfile.TemporaryDirectory() as scratch, Catalog(Path(scratch) / "c.sqlite") as catalog:
        ingest_articles(catalog, [str(CORPUS)])
        for n, (record, sentence, named) in enumerate(chosen):
            audio = speak(sentence, CACHE / f"{n:02d}-{record['id']}.wav", speed=160)
            glossary = names_in_the_news(catalog, record["published"], args.limit)
            plain = transcribe_audio(audio, options).text.lower()
            helped = transcribe_audio(audio, options, glossary=glossary).text.lower()
            for name in named:
                names += 1
                before, after = name.lower() in plain, name.lower() in helped
                totals["without"] += before
                totals["with"] += after
                if after and not before:
                    fixed.append(name)
                elif before and not after:
                    broken.append(name)
    print(
        f"{len(chosen)} sentences naming {names} names (each in under a tenth of the "
        f"articles); glossary of at most {args.limit} names from the articles of +-2 weeks\n"
    )
    print("| transcribed | names spelled as the article spells them |")
    print("|---|---|")
    for way, right in totals.items():
        print(f"| {way} the glossary | {right}/{names} = {right / names:.2f} |")
    print(f"\nfixed by the glossary: {', '.join(fixed) or '-'}")
    print(f"broken by the glossary: {', '.join(broken) or '-'}")


if __name__ == "__main__":
    main()
