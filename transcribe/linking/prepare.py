"""Preparing the article index for linking: what the linker reads instead of working out
while it links (each article's terms and names, the term counts, the confidence model,
sentence vectors), made once after the articles change and kept in the catalog."""

from __future__ import annotations

import json
import logging
from itertools import combinations
from typing import TYPE_CHECKING

from . import LinkIndex, LinkingOptions
from .confidence import (
    FEATURES,
    MODEL_VERSION,
    SAMPLES,
    ConfidenceModel,
    MatchStrength,
    fit,
    passages_told,
    sample_mentions,
)
from .index import ArticleIndex, Passage, make_profile
from .scorer import ALL_TERMS_UP_TO, Scorer
from .words import split_sentences, stopword_terms

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..records import ArticleProfile
    from .dense import DenseIndex

log = logging.getLogger(__name__)

REFIT_CHANGE = 0.01  # the confidence model is fitted again once the archive changed by 1%


def prepare_index(catalog: Catalog, options: LinkingOptions) -> LinkIndex:
    """Profiles, term counts, the confidence model (and vectors, with a dense model) up
    to date with the catalog's articles, ready for the linker to read."""
    profile_articles(catalog)
    dense = None
    if options.dense_model:
        from .dense import DenseIndex

        dense = DenseIndex(catalog, options.dense_model)
    return LinkIndex(catalog, confidence_model(catalog, options, dense), dense)


def profile_articles(catalog: Catalog, batch: int = 500) -> int:
    """Make the terms-and-names profile of every article that has none (the linker reads
    them instead of tokenizing whole articles while it links), then the term counts.
    Returns how many it made."""
    from .. import progress

    missing = catalog.articles_without_profile()
    stopwords = stopword_terms(catalog)
    bar = progress.bar(len(missing), "index articles", unit="article") if missing else None
    for start in range(0, len(missing), batch):
        with catalog.atomic():
            for article_id in missing[start : start + batch]:
                catalog.save_article_profile(
                    article_id, make_profile(catalog, article_id, stopwords)
                )
        if bar:
            bar.update(len(missing[start : start + batch]))
    if bar:
        bar.close()
    catalog.refresh_term_stats()  # the counts (and merged index) linking will read
    return len(missing)


def article_profile(catalog: Catalog, article_id: int) -> ArticleProfile:
    """An article's profile: as stored, or made (and stored) now."""
    stored = catalog.article_profiles([article_id]).get(article_id)
    if stored is None:
        stored = make_profile(catalog, article_id)
        catalog.save_article_profile(article_id, stored)
    return stored


def confidence_model(
    catalog: Catalog, options: LinkingOptions, dense: DenseIndex | None = None
) -> ConfidenceModel:
    """The stored model when it was fitted with these settings and the archive has grown
    or shrunk by less than REFIT_CHANGE since (what a score means moves with the archive's
    size and vocabulary, not with its day's new stories: refitting takes 12 s at 100,000
    articles), else one fitted now (and stored)."""
    made_for = json.dumps(
        {
            "version": MODEL_VERSION,
            "candidates": options.candidates,
            "name_weight": options.name_weight,
            "dense_model": options.dense_model,
            # past this many articles, retrieval reads postings instead of asking BM25
            "postings": catalog.article_count() > ALL_TERMS_UP_TO,
        },
        sort_keys=True,
    )
    articles = catalog.article_count()
    stored = catalog.link_calibration()
    if (
        stored
        and stored.get("made_for") == made_for
        and abs(articles - stored["articles"]) <= REFIT_CHANGE * stored["articles"]
    ):
        return ConfidenceModel(tuple(stored["coefficients"]), stored["samples"], stored["accuracy"])
    model = calibrate(catalog, options, dense=dense)
    catalog.save_link_calibration(
        {
            "made_for": made_for,
            "articles": articles,
            "features": FEATURES,
            "coefficients": model.coefficients,
            "samples": model.samples,
            "accuracy": model.accuracy,
        }
    )
    if articles and not model.samples:
        log.warning(
            "linking: no article has a sentence of five words to learn from: nothing is "
            "linked until articles with text are added"
        )
    else:
        log.info(
            "linking: confidence fitted to %d sampled candidates (%.0f%% right at 0.5)",
            model.samples,
            100 * model.accuracy,
        )
    return model


def calibrate(
    index: ArticleIndex,
    options: LinkingOptions,
    samples: int = SAMPLES,
    dense: DenseIndex | None = None,
) -> ConfidenceModel:
    """Fit the confidence model to mentions sampled from the index's own articles, alone
    or two to a passage (`passages_told`): each passage looked up with each of its
    stories held or left out of the archive (a story the archive does not hold); every
    candidate the linker would judge is a row, right when it is the article of a story
    held (found as the linker finds them: with the dense ranking when it is on). Reads
    only."""
    scorer = Scorer(index, options.candidates, options.name_weight, dense)

    def sentences(article_id: int) -> list[str]:
        # lines joined first: some archives wrap their text at a fixed width
        article = index.article(article_id)
        return split_sentences(" ".join(f"{article.title}. {article.text}".split()))

    rows: list[tuple[MatchStrength, bool]] = []
    told = passages_told(sample_mentions(index.article_ids(), sentences, samples))
    readings = scorer.read_all([Passage(0.0, 0.0, t.text) for t in told])
    for passage, reading in zip(told, readings, strict=True):
        # each of its stories held in the archive or not, in every combination
        for leaving_out in range(len(passage.article_ids) + 1):
            for absent in map(frozenset, combinations(passage.article_ids, leaving_out)):
                held = set(passage.article_ids) - absent
                with scorer.without(absent):
                    seen = scorer.again(reading) if absent else reading
                    found = scorer.score(seen, exclude=absent)
                    telling = scorer.telling_weight(seen)
                rows.extend((c.strength, c.article_id in held) for c in found)
                if not held and not found:  # a story not held matches nothing: a score too
                    rows.append((MatchStrength(0.0, 0.0, telling, 0.0), False))
    return fit(rows)
