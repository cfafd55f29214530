"""Episodes: what the feeds list, and how far each has come through the job."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..records import Chapter, Episode, FeedLink, Person
from .connection import Connection, now

# Episode states, in the order an episode moves through them. An error on a stage leaves
# the state where it was and sets `error`, so the next run retries that stage.
LISTED, FETCHED, TRANSCRIBED = "listed", "fetched", "transcribed"

# Episode fields stored as JSON lists of records: field -> (column, record)
_RECORD_LISTS = {
    "transcripts": ("feed_transcripts", FeedLink),
    "chapters": ("chapters", Chapter),
    "people": ("people", Person),
}


@dataclass(frozen=True)
class EpisodeProgress:
    state: str
    media_path: str  # "" until its media is downloaded
    fetched_at: str
    error: str  # the last stage's error, "" when it went well
    error_stage: str
    attempts: int


@dataclass(frozen=True)
class EpisodeFailure:
    episode_id: str
    title: str
    stage: str
    error: str
    attempts: int


@dataclass(frozen=True)
class CatalogSummary:
    """Counts for `transcribe status`."""

    listed: int  # recorded, the media not downloaded yet
    fetched: int  # downloaded, not transcribed yet
    transcribed: int  # by Whisper or imported from the publisher
    failing: int
    episodes: int
    articles: int
    links: int
    linked_episodes: int
    by_publisher: int = 0  # of the transcribed: the publisher's own transcripts

    def lines(self) -> list[str]:
        """The counts as `transcribe status` shows them."""
        whisper = self.transcribed - self.by_publisher
        return [
            f"episodes         {self.episodes}",
            f"  to download    {self.listed}",
            f"  to transcribe  {self.fetched}",
            f"  transcribed    {self.transcribed}"
            + (
                f" (Whisper {whisper}, the publisher's {self.by_publisher})"
                if self.transcribed
                else ""
            ),
            f"  failing        {self.failing}",
            f"articles         {self.articles}",
            f"links            {self.links}"
            + (f" (in {self.linked_episodes} episodes)" if self.links else ""),
        ]


class EpisodeTables(Connection):
    def record_episode(self, episode: Episode) -> bool:
        """Insert a newly listed episode, or refresh the feed's metadata of a known one
        (its progress is kept). Returns True when the episode is new."""
        values = _columns(episode)
        with self.atomic():
            if self.value("SELECT 1 FROM episodes WHERE id = ?", episode.id):
                # once the media is downloaded, its measured duration beats the feed's
                assignments = ", ".join(
                    f"{k} = CASE WHEN state = '{LISTED}' THEN COALESCE(:{k}, {k}) ELSE {k} END"
                    if k == "duration"
                    else f"{k} = :{k}"
                    for k in values
                    if k not in ("id", "key")
                )
                self.db.execute(f"UPDATE episodes SET {assignments} WHERE id = :id", values)
                return False
            values["listed_at"] = now()
            columns = ", ".join(values)
            params = ", ".join(f":{k}" for k in values)
            self.db.execute(f"INSERT INTO episodes ({columns}) VALUES ({params})", values)
            return True

    def listed_id(self, episode: Episode) -> str:
        """The id a listed episode is kept under: its guid, unless another show already
        uses that guid ("1", "2", ...) for another episode: then `source#guid`, so both
        are kept, apart."""
        known = self.find_episode(episode.id)
        if known and known.source != episode.source and known.title != episode.title:
            return f"{episode.source}#{episode.id}"
        return episode.id

    def episode(self, episode_id: str) -> Episode:
        found = self.find_episode(episode_id)
        if found is None:
            raise KeyError(episode_id)
        return found

    def find_episode(self, episode_id: str) -> Episode | None:
        row = self.db.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()
        return _episode(row) if row else None

    def episodes(self, state: str | None = None) -> list[Episode]:
        """Episodes, newest first; with a state, only those in it."""
        query = "SELECT * FROM episodes"
        params: tuple[str, ...] = ()
        if state:
            query += " WHERE state = ?"
            params = (state,)
        query += " ORDER BY published DESC, listed_at DESC, id"
        return [_episode(row) for row in self.db.execute(query, params)]

    def progress(self, episode_id: str) -> EpisodeProgress:
        """The state, media path and last error of an episode."""
        row = self.db.execute(
            "SELECT state, media_path, fetched_at, error, error_stage, attempts"
            " FROM episodes WHERE id = ?",
            (episode_id,),
        ).fetchone()
        if row is None:
            raise KeyError(episode_id)
        return EpisodeProgress(*row)

    def media_paths(self) -> dict[str, str]:
        """episode id -> the path of its downloaded media, for every episode that has one."""
        return dict(self.db.execute("SELECT id, media_path FROM episodes WHERE media_path != ''"))

    def mark_fetched(self, episode_id: str, media_path: Path, duration: float) -> None:
        self.db.execute(
            "UPDATE episodes SET state = ?, media_path = ?, duration = ?, fetched_at = ?,"
            " error = '', error_stage = '' WHERE id = ?",
            (FETCHED, str(media_path), duration, now(), episode_id),
        )

    def mark_listed(self, episode_id: str, reason: str) -> None:
        """Back to the start: its media is gone, so the next fetch downloads it again."""
        self.db.execute(
            "UPDATE episodes SET state = ?, media_path = '', error = ?, error_stage = 'fetch',"
            " attempts = attempts + 1 WHERE id = ?",
            (LISTED, reason, episode_id),
        )

    def mark_failed(self, episode_id: str, stage: str, message: str) -> None:
        self.db.execute(
            "UPDATE episodes SET error = ?, error_stage = ?, attempts = attempts + 1 WHERE id = ?",
            (message, stage, episode_id),
        )

    def failures(self) -> list[EpisodeFailure]:
        rows = self.db.execute(
            "SELECT id, title, error_stage, error, attempts FROM episodes"
            " WHERE error != '' ORDER BY id"
        )
        return [EpisodeFailure(*row) for row in rows]

    def summary(self) -> CatalogSummary:
        """Counts for `transcribe status`."""
        states = {LISTED: 0, FETCHED: 0, TRANSCRIBED: 0}
        states.update(self.db.execute("SELECT state, count(*) FROM episodes GROUP BY state"))
        return CatalogSummary(
            **states,
            failing=self.value("SELECT count(*) FROM episodes WHERE error != ''"),
            episodes=self.value("SELECT count(*) FROM episodes"),
            articles=self.value("SELECT count(*) FROM articles"),
            links=self.value("SELECT count(*) FROM links"),
            linked_episodes=self.value("SELECT count(DISTINCT episode_id) FROM links"),
            by_publisher=self.value("SELECT count(*) FROM transcripts WHERE origin = 'publisher'"),
        )


def _columns(episode: Episode) -> dict[str, object]:
    """The episode as the episodes table's columns (its progress left out)."""
    values: dict[str, object] = {"key": episode.key}
    for f in fields(Episode):
        value = getattr(episode, f.name)
        if f.name in _RECORD_LISTS:
            values[_RECORD_LISTS[f.name][0]] = json.dumps([asdict(item) for item in value])
        elif f.name == "subtitles":
            values[f.name] = json.dumps(value)
        else:
            values[f.name] = value
    return values


def _episode(row: sqlite3.Row) -> Episode:
    values = {}
    for f in fields(Episode):
        if f.name in _RECORD_LISTS:
            column, record = _RECORD_LISTS[f.name]
            values[f.name] = [record(**item) for item in json.loads(row[column])]
        elif f.name == "subtitles":
            values[f.name] = json.loads(row[f.name])
        else:
            values[f.name] = row[f.name]
    return Episode(**values)
