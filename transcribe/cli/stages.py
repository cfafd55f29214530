"""The commands that run the job, or one of its stages, and report on it."""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..catalog import Catalog
from ..errors import TranscribeError
from ..speech import SPEAKERS
from .app import (
    DEMO_DATA,
    Context,
    UsageProblem,
    cli,
    cluster_option,
    demo_hint,
    finish,
    log,
    no_catalog,
    on_cluster,
    pass_context,
    run_and_report,
    speech_options,
    speech_overrides,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..pipeline import RunReport


@cli.command()
@cluster_option
@pass_context
def run(context: Context, cluster: str | None) -> None:
    """Run every stage: fetch, articles, speech, speakers, link, chapters, render."""
    from ..pipeline import run_job

    config = on_cluster(sourced(context, articles_will_do=True), cluster)

    def job() -> RunReport:
        with Catalog(config.catalog_path) as catalog:
            return run_job(config, catalog)

    run_and_report(job)


def sourced(context: Context, articles_will_do: bool = False) -> Config:
    """The config, for a command that fetches: one with no sources (nor, for `run`, any
    articles to ingest) is a usage error: it would make folders and write an empty site."""
    config = context.config
    if not config.sources and not (articles_will_do and config.articles):
        where = f"{context.config_path} has none" if context.config_path else "pass --config FILE"
        raise UsageProblem(f"no sources: {where} (see the README's config file)")
    return config


@cli.command()
@pass_context
def fetch(context: Context) -> None:
    """List the config's sources and download new episodes' audio."""
    from ..pipeline import RunReport, fetch_episodes

    config = sourced(context)
    with context.catalog() as catalog:
        report = RunReport()
        fetch_episodes(config, catalog, report)
    finish([report.fetch_line()], report.failures)


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
@click.option(
    "--speakers",
    type=click.Choice(SPEAKERS),
    help="Find who speaks when and name the speakers in every format (auto, the default: "
    "the config's speech.speakers), or not (off).",
)
@cluster_option
@pass_context
def speech(
    context: Context,
    files: tuple[Path, ...],
    model: str | None,
    engine: str | None,
    language: str | None,
    formats: tuple[str, ...],
    output_dir: Path | None,
    speakers: str | None,
    cluster: str | None,
) -> None:
    """Transcribe local audio or video FILES, without a catalog (like the whisper CLI).

    With no FILES, transcribe the catalog's fetched episodes (the speech stage of `run`).
    """
    from ..files import write_atomic
    from ..formats import FORMATS
    from ..speakers import label_speakers, speaker_options
    from ..speech import transcribe_files

    options = speech_overrides(context, model, engine, language)
    if speakers:
        options = replace(options, speakers=speakers)
    config = replace(on_cluster(context.config, cluster), speech=options)
    if files and len(formats) > 1 and not output_dir:
        raise UsageProblem("several --format need -o DIR: each format is a file of its own")
    if not files:
        from ..pipeline import RunReport, transcribe_episodes

        with context.catalog() as catalog:
            report = RunReport()
            transcribe_episodes(config, catalog, report)
        finish([report.speech_line()], report.failures)
        return
    if config.cluster.address:
        from ..speech.ray_pool import transcribe_files_on_ray

        transcribed = transcribe_files_on_ray(files, options, config.cluster)
    else:
        transcribed = transcribe_files(files, options)
    failed = False
    for done in transcribed:
        transcript, error = done.transcript, done.error
        if transcript is not None and options.finds_speakers:
            try:
                transcript = label_speakers(
                    done.path, transcript, speaker_options(options)
                ).transcript
            except TranscribeError as e:
                transcript, error = None, str(e)
        if transcript is None:
            click.echo(f"{done.path}: {error}", err=True)  # the error does not name it
            failed = True
            continue
        for extension in formats or ("txt",):
            text = FORMATS[extension].render(transcript)
            if output_dir:
                written = output_dir / f"{done.path.stem}.{extension}"
                write_atomic(written, text)
                click.echo(f"wrote {written}")
            else:
                click.echo(text, nl=False)
        log.info(
            "%s: %.0f s of %s audio",
            done.path.name,
            transcript.duration,
            transcript.language,
        )
    if failed:
        sys.exit(1)


@cli.command()
@pass_context
def link(context: Context) -> None:
    """Link transcribed episodes to related articles, and cut them into chapters (only
    those whose transcript, articles or settings changed)."""
    from ..pipeline import RunReport, chapter_episodes, link_episodes, outline_chapters

    with context.catalog() as catalog:
        report = RunReport()
        outline_chapters(context.config, catalog, report)
        link_episodes(context.config, catalog, report)
        chapter_episodes(context.config, catalog, report)
    finish([report.linking_line(), report.chapters_line()], report.failures)


@cli.command()
@pass_context
def render(context: Context) -> None:
    """Write the show notes site from the catalog (no media needed)."""
    from ..pipeline import render as render_stage

    output = context.config.output
    with context.existing_catalog() as catalog:
        path = context.config.catalog_path
        if not catalog.summary().transcribed and (output / "index.html").exists():
            raise click.ClickException(
                f"the catalog {path} holds no transcribed episode yet, so the site in "
                f"{output} is left as it is{demo_hint(path)}"
            )
        report = render_stage(context.config, catalog)
    click.echo(f"render: {report.summary()} in {context.config.output}")


@cli.command()
@pass_context
def status(context: Context) -> None:
    """Show what the catalog holds: episodes by state, articles, links, failures."""
    path = context.config.catalog_path
    if not path.exists():
        click.echo(no_catalog(path))  # a report: exit code 0
        return
    with context.catalog(exclusive=False) as catalog:  # a report may read during a run
        counts = catalog.summary()
        failures = catalog.failures()
    click.echo(f"catalog: {path}")
    for line in counts.lines():
        click.echo(f"  {line}")
    for failure in failures:
        click.echo(
            f"  failing: {failure.title[:50]} [{failure.stage}] {failure.error}"
            f" (attempts: {failure.attempts})"
        )


@cli.command()
@click.option("--keep-serving", is_flag=True, hidden=True)
@pass_context
def demo(context: Context, keep_serving: bool) -> None:
    """Run the whole job on the bundled demo: episodes spoken with espeak-ng, served with
    their feeds on 127.0.0.1, fetched by yt-dlp, transcribed, linked and rendered."""
    from ..demo import DEMO_SITE_URL, run_demo

    data = context.data or DEMO_DATA
    output = context.output or Path("output")
    run_and_report(partial(run_demo, data, output), exit_on_failure=False)
    click.echo(f"show notes: {(output / 'index.html').resolve()}")
    click.echo(
        f"catalog: {data / 'catalog.sqlite'} (transcribe --data {data} status, or related, render)"
    )
    click.echo(
        f"(the feeds and sitemap.xml expect the site at {DEMO_SITE_URL}: "
        f"python3 -m http.server -d {output} 8000)"
    )
