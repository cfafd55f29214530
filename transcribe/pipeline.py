"""The job: fetch -> articles -> speech -> speakers -> linking -> chapters -> render, over the catalog.

Each stage function does its work for every episode that needs it and records the outcome
in the catalog. A failure on one episode is recorded on that episode (and retried by the
next run), never the end of the run.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import http, progress
from .articles import IngestReport, ingest_articles, names_in_the_news
from .catalog import FETCHED, LISTED, TRANSCRIBED, Catalog
from .chapters import outline, parse_json_chapters, spans_of, with_articles
from .config import Config, SourceConfig
from .errors import FetchError, MediaError, ParseError, TranscribeError, disk_full
from .fetch import download, list_source
from .linking import link_transcript, published_links
from .linking.prepare import prepare_index, profile_articles
from .records import Chapter, Episode, Person, Transcript
from .render import RenderReport, render_site
from .render.html import plain_text
from .speakers import label_speakers, renamed, speaker_options
from .speakers.names import known_voices, named_again_by_voice, people_in_description
from .speech import plan
from .speech.pool import SpeechJob, transcribe_jobs
from .speech.publisher import current_producers, publisher_transcript
from .speech.ray_pool import check_reachable

log = logging.getLogger(__name__)


@dataclass
class Failure:
    what: str  # an episode id or a source URL
    stage: str
    message: str

    def line(self) -> str:
        """FAILED stage: what: why (a message that starts by naming it does not name it
        again)."""
        return f"FAILED {self.stage}: {self.what}: {self.message.removeprefix(self.what + ': ')}"


@dataclass
class RunReport:
    listed: int = 0
    new: int = 0
    downloaded: int = 0
    already_fetched: int = 0
    transcribed: int = 0
    imported: int = 0  # of those, the publisher's own transcripts
    already_transcribed: int = 0
    audio_seconds: float = 0.0
    diarized: int = 0  # episodes whose speakers were found
    articles: IngestReport = field(default_factory=IngestReport)
    linked: int = 0
    links: int = 0
    chaptered: int = 0
    rendered: RenderReport | None = None
    failures: list[Failure] = field(default_factory=list)

    def fail(self, what: str, stage: str, error: Exception) -> None:
        self.failures.append(Failure(what, stage, str(error)))
        # said once, in the run's summary (FAILED ...); here only under --verbose
        log.debug("%s: %s failed: %s", what, stage, error)

    def lines(self) -> list[str]:
        """The summary a user reads after a run."""
        # in the order the stages run
        lines = [self.fetch_line(), f"articles: {self.articles.summary()}", self.speech_line()]
        if self.diarized:
            lines.append(f"speakers: {self.diarized} episodes")
        lines.append(self.linking_line())
        if self.chaptered:
            lines.append(self.chapters_line())
        if self.rendered:
            lines.append(f"render: {self.rendered.summary()}")
        for failure in self.failures:
            lines.append(failure.line())
        return lines

    @property
    def fetch_failures(self) -> int:
        """Sources that could not be listed and episodes whose media could not be had."""
        return sum(f.stage in ("list", "fetch") for f in self.failures)

    def fetch_line(self) -> str:
        return (
            f"fetch: {self.listed} episodes listed, {self.new} new, {self.downloaded} downloaded"
            + (f", {self.fetch_failures} failed" if self.fetch_failures else "")
            + (
                f" ({self.already_fetched} already fetched, not downloaded again)"
                if self.already_fetched
                else ""
            )
        )

    def speech_line(self) -> str:
        if not self.transcribed:
            return f"speech: nothing to transcribe ({self.already_transcribed} already transcribed)"
        return (
            f"speech: {self.transcribed} episodes transcribed ({self.audio_seconds / 60:.1f} min of audio"
            + (f"; {self.imported} publisher transcripts imported)" if self.imported else ")")
            + (f", {self.already_transcribed} already done" if self.already_transcribed else "")
        )

    def linking_line(self) -> str:
        return f"linking: {self.linked} episodes linked, {self.links} links"

    def chapters_line(self) -> str:
        return f"chapters: {self.chaptered} episodes"


def run_job(config: Config, catalog: Catalog) -> RunReport:
    """Every stage, in order."""
    check_reachable(config.cluster.address)  # now, not after an hour of downloads
    report = RunReport()
    fetch_episodes(config, catalog, report)
    # articles before speech: their names help Whisper spell the episode's
    report.articles = ingest_articles(
        catalog,
        list(config.articles),
        timeout=config.fetch.timeout,
        allow_file_urls=config.fetch.allow_file_urls,
    )
    for error in report.articles.errors:
        report.failures.append(Failure("articles", "articles", error))
    profile_articles(catalog)  # the glossary and the linker read the articles' names from these
    transcribe_episodes(config, catalog, report)
    find_speakers(config, catalog, report)
    outline_chapters(config, catalog, report)  # the linker retrieves per chapter
    link_episodes(config, catalog, report)
    chapter_episodes(config, catalog, report)  # each chapter given its article
    with _recorded(report, "site", "render"):
        report.rendered = render(config, catalog)
    return report


def fetch_episodes(config: Config, catalog: Catalog, report: RunReport) -> None:
    """List every source, record its episodes, download the media of those not yet fetched."""
    # what a killed run was downloading (one run at a time holds the catalog's lock)
    shutil.rmtree(config.media_dir / ".partial", ignore_errors=True)
    for source in config.sources:
        with _recorded(report, source.url, "list"):
            episodes = list_source(
                source.url,
                limit=source.limit,
                timeout=config.fetch.timeout,
                allow_file_urls=config.fetch.allow_file_urls,
                keep_feed=lambda body, url=source.url: catalog.save_source_feed(url, body),
            )
            for episode in episodes:
                _record(catalog, report, episode, source)
    for episode in _in_config(config, catalog.episodes(LISTED)):
        bar = progress.DownloadBar(f"download {episode.title[:40]}")
        with _recorded(report, episode.id, "fetch", catalog), bar:
            path, duration = download(
                episode,
                config.media_dir,
                timeout=config.fetch.timeout,
                retries=config.fetch.retries,
                allow_file_urls=config.fetch.allow_file_urls,
                progress=bar,
            )
            catalog.mark_fetched(episode.id, path, duration)
            report.downloaded += 1


def _record(catalog: Catalog, report: RunReport, episode: Episode, source: SourceConfig) -> None:
    episode = replace(episode, id=catalog.listed_id(episode), show=source.name or episode.show)
    report.listed += 1
    report.new += catalog.record_episode(episode)
    report.already_fetched += catalog.progress(episode.id).state != LISTED


def transcribe_episodes(config: Config, catalog: Catalog, report: RunReport) -> None:
    """Transcribe every fetched episode (or import the publisher's transcript), and redo
    those made with other settings; `speech.parallel` episodes at once, one model shared,
    or on the configured Ray cluster's workers. Only episodes of the config's sources: a
    source taken out of it is left as it was."""
    done = _in_config(config, catalog.episodes(TRANSCRIBED))
    current = {e.id: current_producers(e, config.speech_for(e.source)) for e in done}
    stale = [e for e in done if catalog.transcript_producer(e.id) not in current[e.id]]
    report.already_transcribed = len(done) - len(stale)
    pending = _in_config(config, catalog.episodes(FETCHED)) + stale
    if not pending:
        return
    config = replace(config, speech=plan(config.speech))
    jobs = []
    for episode in pending:
        with _recorded(report, episode.id, "speech", catalog):
            job = _speech_job(config, catalog, episode, report)
            if job is not None:
                jobs.append(job)
    for result in transcribe_jobs(jobs, config.speech, config.cluster):
        with _recorded(report, result.job.name, "speech", catalog):
            if result.transcript is None:
                raise result.error or TranscribeError("no transcript")
            report.audio_seconds += result.transcript.duration
            _save(catalog, report, result.job.name, result.transcript)


def _speech_job(
    config: Config, catalog: Catalog, episode: Episode, report: RunReport
) -> SpeechJob | None:
    """What Whisper is to do for the episode; None when the publisher's transcript was
    imported instead."""
    options = config.speech_for(episode.source)
    timeout, allow_file_urls = config.fetch.timeout, config.fetch.allow_file_urls
    transcript = publisher_transcript(episode, options, timeout, allow_file_urls)
    if transcript is not None:
        report.imported += 1
        _save(catalog, report, episode.id, transcript)
        return None
    media = Path(catalog.progress(episode.id).media_path)
    if not media.is_file():  # pruned or lost: fetch it again on the next run
        catalog.mark_listed(episode.id, f"{media} is missing; downloading it again")
        raise MediaError(f"{media} is missing; the next run downloads it again")
    glossary = (
        names_in_the_news(catalog, episode.published, options.article_names)
        if options.article_names
        else []
    )
    return SpeechJob(episode.id, media, options, tuple(glossary), episode.duration or 0.0)


def _save(catalog: Catalog, report: RunReport, episode_id: str, transcript: Transcript) -> None:
    catalog.save_transcript(episode_id, transcript)
    report.transcribed += 1


def find_speakers(config: Config, catalog: Catalog, report: RunReport) -> None:
    """Who speaks when in each episode Whisper transcribed (a publisher's transcript keeps
    its own speakers), found from its media and given to its words; only those whose
    transcript or settings changed."""
    due = []
    for episode in _in_config(config, catalog.episodes(TRANSCRIBED)):
        options = speaker_options(config.speech_for(episode.source))
        mentioned = _mentioned(episode)
        evidence = "|".join(f"{p.name}:{p.role}" for p in [*episode.people, *mentioned])
        producer = (
            f"{options.producer()};transcript={catalog.transcript_producer(episode.id)};"
            f"people={hashlib.sha256(evidence.encode()).hexdigest()[:12]}"
        )
        if options.speakers != "off" and catalog.speakers_producer(episode.id) != producer:
            due.append((episode, options, producer, mentioned))
    if not due:
        return
    due.reverse()  # oldest first: a voice named in one episode names it in the next
    minutes = progress.bar(
        round(sum(e.duration or 0 for e, *_ in due) / 60, 1), "speakers", unit="min"
    )
    with minutes:
        for episode, options, producer, mentioned in due:
            with _recorded(report, episode.id, "speakers", catalog):
                transcript = catalog.transcript(episode.id)
                assert transcript is not None  # the episode is in the transcribed state
                if transcript.origin != "whisper":
                    continue
                media = Path(catalog.progress(episode.id).media_path)
                if not media.is_file():
                    raise MediaError(f"{media} is missing; the speakers are found when it is back")
                done = minutes.n
                found = label_speakers(
                    media,
                    transcript,
                    options,
                    episode.people,
                    mentioned,
                    progress=lambda s, at=done: minutes.update(at + s / 60 - minutes.n),
                    voices=known_voices(catalog.show_voices(episode.source, episode.id)),
                )
                voiceprints = {
                    label: [round(float(x), 5) for x in vector]
                    for label, vector in found.voiceprints.items()
                }
                catalog.save_speakers(
                    episode.id, found.transcript, found.turns, voiceprints, found.names, producer
                )
                report.diarized += 1
    for source in {episode.source for episode, *_ in due}:
        with _recorded(report, source, "speakers"):
            name_earlier_episodes_by_voice(catalog, source)


def name_earlier_episodes_by_voice(catalog: Catalog, source: str) -> None:
    """A voice first named in a newer episode names it in the show's older ones too: the
    stage walks episodes oldest first, so those were done before the name was known. Only
    names change: the turns and words stay."""
    found = catalog.show_speakers(source)
    voices = known_voices([(names, voiceprints) for _, names, voiceprints in found])
    for episode_id, names, voiceprints in found:
        again = named_again_by_voice(names, voiceprints, voices)
        if again == names:
            continue
        transcript = catalog.transcript(episode_id)
        assert transcript is not None  # its speakers were found from it
        transcript, turns = renamed(transcript, catalog.turns(episode_id), names, again)
        producer = catalog.speakers_producer(episode_id) or ""
        catalog.save_speakers(episode_id, transcript, turns, voiceprints, again, producer)


def _mentioned(episode: Episode) -> list[Person]:
    """The guests the episode's description names."""
    return people_in_description(plain_text(episode.content_html or episode.description))


def outline_chapters(config: Config, catalog: Catalog, report: RunReport) -> None:
    """Each transcribed episode's chapters, made before linking (the linker retrieves per
    chapter): the publisher's when given (in the feed or video, or a JSON chapters file),
    else found in the transcript and titled by key phrase; only those whose transcript or
    settings changed."""
    for episode in _in_config(config, catalog.episodes(TRANSCRIBED)):
        given = f"{episode.chapters_url}|{len(episode.chapters)}"
        producer = (
            f"{config.chapters.producer()};transcript={catalog.transcript_producer(episode.id)};"
            f"{given}"
        )
        if catalog.outline_producer(episode.id) == producer:
            continue
        with _recorded(report, episode.id, "chapters"):
            chapters, origin = _publisher_chapters(config, episode), "publisher"
            if not chapters:
                transcript = catalog.transcript(episode.id, words=False)
                assert transcript is not None  # the episode is in the transcribed state
                chapters, origin = outline(transcript, catalog, config.chapters), "found"
                if episode.chapters_url:  # the publisher's file could not be had: next run
                    producer += ";publisher chapters unavailable"
            catalog.save_outline(episode.id, chapters, origin, producer)


def link_episodes(config: Config, catalog: Catalog, report: RunReport) -> None:
    """Link every transcribed episode whose transcript, chapters, articles or settings
    changed."""
    stamp = f"{config.linking.producer()};articles={catalog.articles_stamp()}"
    episodes = _in_config(config, catalog.episodes(TRANSCRIBED))
    producers = {e.id: f"{stamp};outline={catalog.outline_producer(e.id)}" for e in episodes}
    due = [e for e in episodes if catalog.link_producer(e.id) != producers[e.id]]
    if not due:
        return
    index = None
    with _recorded(report, "articles", "linking"):  # one failure, not one an episode
        index = prepare_index(catalog, config.linking)
    if index is None:
        return
    for episode in due:
        with _recorded(report, episode.id, "linking"):
            transcript = catalog.transcript(episode.id)
            assert transcript is not None  # the episode is in the transcribed state
            chapters, _ = catalog.outline(episode.id)
            links = link_transcript(
                episode.id,
                transcript,
                index,
                config.linking,
                published=episode.published,
                chapters=spans_of(chapters, transcript.duration),
            )
            published = published_links(links)
            catalog.save_links(episode.id, published, producers[episode.id])
            report.linked += 1
            report.links += len(published)


def chapter_episodes(config: Config, catalog: Catalog, report: RunReport) -> None:
    """Give each linked episode's chapters their related articles (the article whose
    evidence lies mostly in a chapter is its URL, and a found chapter's title), for those
    whose chapters or links changed."""
    for episode in _in_config(config, catalog.episodes(TRANSCRIBED)):
        producer = f"{catalog.outline_producer(episode.id)};{catalog.link_producer(episode.id)}"
        if catalog.chapter_producer(episode.id) == producer:
            continue
        with _recorded(report, episode.id, "chapters"):
            chapters, origin = catalog.outline(episode.id)
            duration = catalog.transcript_duration(episode.id)
            links = catalog.links(episode.id)
            titled = with_articles(chapters, links, duration, retitle=origin == "found")
            catalog.save_chapters(episode.id, titled, producer, origin or "found")
            report.chaptered += 1


def _publisher_chapters(config: Config, episode: Episode) -> list[Chapter]:
    if episode.chapters:
        return episode.chapters
    if not episode.chapters_url:
        return []
    try:
        response = http.get(
            episode.chapters_url,
            timeout=config.fetch.timeout,
            allow_file=config.fetch.allow_file_urls,
        )
        return parse_json_chapters(response.body, episode.chapters_url)
    except (FetchError, ParseError) as e:  # the chapters the stage finds serve instead
        log.warning("%s: the publisher's chapters: %s", episode.id, e)
        return []


def render(config: Config, catalog: Catalog) -> RenderReport:
    return render_site(catalog, config.output, config.render)


@contextmanager
def _recorded(
    report: RunReport, what: str, stage: str, catalog: Catalog | None = None
) -> Iterator[None]:
    """Run one item's step; a failure is recorded (on the episode, when a catalog is given)
    and reported, and the run goes on with the next item."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - one item's failure, whatever it is, is not the run's
        if stage == "render" and disk_full(e):
            raise  # nothing more can be written: the run's end, said as such by the CLI
        if not isinstance(e, TranscribeError):
            log.debug("unexpected failure", exc_info=True)
            e = TranscribeError(f"{type(e).__name__}: {e}")
        if catalog is not None:
            catalog.mark_failed(what, stage, str(e))
        report.fail(what, stage, e)


def _in_config(config: Config, episodes: list[Episode]) -> list[Episode]:
    sources = {s.url for s in config.sources}
    return [e for e in episodes if e.source in sources]
