"""Transcripts: an episode's segments and word timings, and what produced them."""

from __future__ import annotations

import json
from dataclasses import asdict

from ..records import Naming, Segment, Transcript, Turn, Word
from .connection import Connection, now
from .episodes import TRANSCRIBED


class TranscriptTables(Connection):
    def save_transcript(self, episode_id: str, transcript: Transcript) -> None:
        """Replace the episode's transcript and move it to the transcribed state."""
        with self.atomic():
            self.db.execute("DELETE FROM transcripts WHERE episode_id = ?", (episode_id,))
            self.db.execute("DELETE FROM speaker_turns WHERE episode_id = ?", (episode_id,))
            self.db.execute(
                "INSERT INTO transcripts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    episode_id,
                    transcript.language,
                    transcript.language_probability,
                    transcript.duration,
                    transcript.origin,
                    transcript.producer,
                    now(),
                ),
            )
            self._write_segments(episode_id, transcript.segments)
            self.db.execute(
                "UPDATE episodes SET state = ?, error = '', error_stage = '' WHERE id = ?",
                (TRANSCRIBED, episode_id),
            )

    def _write_segments(self, episode_id: str, segments: list[Segment]) -> None:
        self.db.execute("DELETE FROM segments WHERE episode_id = ?", (episode_id,))
        self.db.executemany(
            "INSERT INTO segments (episode_id, idx, start, end, text, words, speaker)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    episode_id,
                    i,
                    s.start,
                    s.end,
                    s.text,
                    json.dumps([asdict(w) for w in s.words]),
                    s.speaker,
                )
                for i, s in enumerate(segments)
            ),
        )

    def save_speakers(
        self,
        episode_id: str,
        transcript: Transcript,
        turns: list[Turn],
        voiceprints: dict[str, list[float]],
        names: dict[str, Naming],
        producer: str,
    ) -> None:
        """The speakers stage's finding: the turns, voiceprints and names (by the label the
        clustering gave), and the transcript's segments as split by speaker (its words, text
        and stamp unchanged)."""
        with self.atomic():
            self._write_segments(episode_id, transcript.segments)
            self.db.execute(
                "INSERT OR REPLACE INTO speaker_turns"
                " (episode_id, turns, voiceprints, producer, made_at, names)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    episode_id,
                    json.dumps([asdict(t) for t in turns]),
                    json.dumps(voiceprints),
                    producer,
                    now(),
                    json.dumps({label: asdict(n) for label, n in names.items()}),
                ),
            )
            self.db.execute(  # a failure of this stage, recorded before, is over
                "UPDATE episodes SET error = '', error_stage = ''"
                " WHERE id = ? AND error_stage = 'speakers'",
                (episode_id,),
            )

    def speaker_names(self, episode_id: str) -> dict[str, Naming]:
        """Label -> the name given and its evidence, for the speakers that were named."""
        found = self.value("SELECT names FROM speaker_turns WHERE episode_id = ?", episode_id)
        return {k: Naming(**v) for k, v in json.loads(found).items()} if found else {}

    def show_voices(
        self, source: str, besides: str
    ) -> list[tuple[dict[str, Naming], dict[str, list[float]]]]:
        """(names, voiceprints) of the source's other episodes whose speakers were named."""
        return [
            (names, voiceprints)
            for episode_id, names, voiceprints in self.show_speakers(source)
            if episode_id != besides and names
        ]

    def show_speakers(
        self, source: str
    ) -> list[tuple[str, dict[str, Naming], dict[str, list[float]]]]:
        """(episode id, names, voiceprints) of each of the source's episodes whose speakers
        were found, named or not."""
        rows = self.db.execute(
            "SELECT s.episode_id, s.names, s.voiceprints FROM speaker_turns s JOIN episodes e"
            " ON e.id = s.episode_id WHERE e.source = ?",
            (source,),
        )
        return [
            (
                episode_id,
                {k: Naming(**v) for k, v in json.loads(names).items()},
                json.loads(voiceprints),
            )
            for episode_id, names, voiceprints in rows
        ]

    def turns(self, episode_id: str) -> list[Turn]:
        found = self.value("SELECT turns FROM speaker_turns WHERE episode_id = ?", episode_id)
        return [Turn(**t) for t in json.loads(found)] if found else []

    def speakers_producer(self, episode_id: str) -> str | None:
        return self.value("SELECT producer FROM speaker_turns WHERE episode_id = ?", episode_id)

    def transcript(self, episode_id: str, words: bool = True) -> Transcript | None:
        """The episode's transcript; `words=False` leaves out the word timings (reading
        them is most of the cost, and pages do not need them)."""
        head = self.db.execute(
            "SELECT * FROM transcripts WHERE episode_id = ?", (episode_id,)
        ).fetchone()
        if head is None:
            return None
        columns = "start, end, text, speaker" + (", words" if words else "")
        segments = [
            Segment(
                start=row["start"],
                end=row["end"],
                text=row["text"],
                words=tuple(Word(**w) for w in json.loads(row["words"])) if words else (),
                speaker=row["speaker"],
            )
            for row in self.db.execute(
                f"SELECT {columns} FROM segments WHERE episode_id = ? ORDER BY idx", (episode_id,)
            )
        ]
        return Transcript(
            segments=segments,
            language=head["language"],
            language_probability=head["language_probability"],
            duration=head["duration"],
            origin=head["origin"],
            producer=head["producer"],
        )

    def transcript_languages(self) -> dict[str, str]:
        """episode id -> its transcript's language, for every transcribed episode."""
        return dict(self.db.execute("SELECT episode_id, language FROM transcripts"))

    def transcript_duration(self, episode_id: str) -> float:
        """The seconds of audio the transcript covers (0 when there is none), without
        reading its segments."""
        return (
            self.value("SELECT duration FROM transcripts WHERE episode_id = ?", episode_id) or 0.0
        )

    def transcript_producer(self, episode_id: str) -> str | None:
        return self.value("SELECT producer FROM transcripts WHERE episode_id = ?", episode_id)
