"""The command line's group, its global options, and its errors: each one line (exit code 1,
or 2 for bad usage or config), with the traceback under --verbose."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import progress
from ..catalog import Catalog
from ..config import Config, ConfigError, load_config, validate, with_overrides
from ..errors import TranscribeError, disk_full

if TYPE_CHECKING:
    from ..pipeline import RunReport

log = logging.getLogger("transcribe")


@dataclass
class Context:
    """What the global options set (before the command or after it)."""

    config_path: Path | None = None
    data: Path | None = None
    output: Path | None = None
    quiet: bool = False
    verbose: bool = False  # tracebacks on unexpected errors
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = with_overrides(
                load_config(self.config_path), data=self.data, output=self.output
            )
        return self._config

    def catalog(self, exclusive: bool = True) -> Catalog:
        return Catalog(self.config.catalog_path, exclusive=exclusive)

    def existing_catalog(self, exclusive: bool = True) -> Catalog:
        """The catalog, for a command that reads one: a missing one is an error that says
        where it was looked for, and none is created."""
        path = self.config.catalog_path
        if not path.exists():
            raise click.ClickException(no_catalog(path))
        return Catalog(path, exclusive=exclusive)


DEMO_DATA = Path("data/demo")  # where `transcribe demo` keeps its catalog, unless --data


def no_catalog(path: Path) -> str:
    """What a command that reads the catalog says when there is none at `path`."""
    return f"no catalog at {path} yet: transcribe run creates it{demo_hint(path)}"


def demo_hint(path: Path) -> str:
    """Where the demo's catalog is, when there is one and `path` is another."""
    demo = DEMO_DATA / "catalog.sqlite"
    if demo.exists() and demo.resolve() != path.resolve():
        return f" (the demo's is {demo}: transcribe --data {DEMO_DATA} ...)"
    return ""


class UsageProblem(click.ClickException):
    """Bad usage or config: exit code 2."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


pass_context = click.make_pass_decorator(Context)


class Commands(click.Group):
    """The command line's groups. Every command takes the global options after its name
    too. Every error ends a command as one line: bad config exit code 2, the others 1;
    those a user can act on (TranscribeError) as they are, a full disk as such, anything
    unforeseen with its type (and, under --verbose, its traceback)."""

    group_class = type  # its groups (`articles`, `models`) are Commands too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, click.Group):
            cmd.params.extend(global_options())
        super().add_command(cmd, name)

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


def cluster_option(command):  # noqa: ANN001, ANN201
    """--cluster, for the commands that transcribe."""
    return click.option(
        "--cluster",
        metavar="ADDRESS",
        help='Transcribe on Ray: "local" starts Ray on this machine; "auto", host:port or '
        "ray://host:10001 joins a running cluster. Default: the config's cluster.address "
        "(none: here, without Ray).",
    )(command)


def on_cluster(config: Config, address: str | None) -> Config:
    """The config with --cluster put over cluster.address, validated."""
    if address is None:
        return config
    config = replace(config, cluster=replace(config.cluster, address=address))
    validate(config)  # a ConfigError is exit code 2 (Commands)
    return config


def _set_global(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """A global option's value, onto the one Context of the command line (given before
    the command or after it: `transcribe run --config FILE` as `transcribe --config FILE
    run`)."""
    if value is None or value is False:
        return
    context = ctx.ensure_object(Context)  # the command line's one, or made here
    setattr(context, param.name, value)
    if param.name in ("quiet", "verbose"):
        configure_logging(context)


def global_options() -> list[click.Option]:
    """The options every command takes, before or after its name (fresh objects each:
    click keeps state on them)."""
    folder = click.Path(file_okay=False, path_type=Path)
    shared = {"expose_value": False, "callback": _set_global, "is_eager": True}
    return [
        click.Option(
            ["--config", "config_path"],
            type=click.Path(dir_okay=False, path_type=Path),
            help="TOML config naming the sources, articles, model and folders.",
            **shared,
        ),
        click.Option(
            ["--data"],
            type=folder,
            help="Folder for the catalog and the media (default: data).",
            **shared,
        ),
        click.Option(
            ["--output"],
            type=folder,
            help="Folder for the show notes site (default: output).",
            **shared,
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            help="No progress bars, only errors and the summary.",
            **shared,
        ),
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            help="Log details, and show tracebacks on errors.",
            **shared,
        ),
    ]


def configure_logging(context: Context) -> None:
    level = logging.DEBUG if context.verbose else logging.WARNING if context.quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(levelname)s %(name)s: %(message)s" if context.verbose else "%(message)s",
        stream=sys.stderr,
    )
    logging.getLogger().setLevel(level)
    for noisy in ("faster_whisper", "httpx", "urllib3", "trafilatura", "htmldate", "courlan"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if context.verbose else logging.ERROR)
    progress.set_quiet(context.quiet)


@click.group(
    cls=Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    params=global_options(),
)
@click.version_option(package_name="transcribe")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """transcribe: podcast and video transcripts, linked to the outlet's articles.

    Fetches episodes from podcast feeds and video sources with yt-dlp, transcribes them with
    Whisper, links each to the related articles with evidence, and writes show notes
    (HTML, WebVTT, SRT, Podcasting 2.0 JSON). Runs are incremental: nothing is downloaded
    or transcribed twice. The global options go before the command or after it.

    \b
    Start with:  transcribe demo                          (the bundled demo, offline)
                 transcribe run --config my-sources.toml  (see the README's config)
    """
    configure_logging(ctx.ensure_object(Context))


def run_and_report(job: Callable[[], RunReport], exit_on_failure: bool = True) -> None:
    started = time.monotonic()
    report = job()
    for line in report.lines():
        click.echo(line)
    click.echo(f"done in {time.monotonic() - started:.1f} s")
    if report.failures and exit_on_failure:
        sys.exit(1)


def finish(lines: list[str], failures: list) -> None:
    for line in lines:
        click.echo(line)
    for failure in failures:
        click.echo(failure.line(), err=True)
    if failures:
        sys.exit(1)


def speech_overrides(context: Context, model: str | None, engine: str | None, language: str | None):  # noqa: ANN202
    config = context.config
    options = replace(
        config.speech,
        **{k: v for k, v in {"model": model, "engine": engine, "language": language}.items() if v},
    )
    validate(replace(config, speech=options))  # a ConfigError is exit code 2 (Commands)
    return options


def main() -> None:
    """The console script."""
    from ..speech import share_malloc_arena

    share_malloc_arena()  # before any thread of ours (a progress bar's is the first)
    cli(standalone_mode=True)
