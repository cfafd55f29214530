"""Transcript file formats: WebVTT, SRT, plain text and the Podcasting 2.0 JSON transcript.

Each format is a small writer class with an `extension` and one `write(transcript, file)`,
found through FORMATS, so each can be tested against a StringIO.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from typing import ClassVar, TextIO

from .records import Segment, Transcript


def timestamp(seconds: float, decimal: str = ".", always_hours: bool = True) -> str:
    """12.5 -> 00:00:12.500 (VTT) or 00:00:12,500 (SRT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    head = f"{hours:02d}:" if always_hours or hours else ""
    return f"{head}{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def clock(seconds: float) -> str:
    """A time as people read it: 1:02:03 or 2:03."""
    total = int(seconds) if math.isfinite(seconds) and seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _cues(transcript: Transcript) -> list[Segment]:
    return [s for s in transcript.segments if s.text.strip()]


def _cue_text(text: str) -> str:
    """Cue text may not hold a blank line or the "-->" arrow."""
    return " ".join(text.split()).replace("-->", "->")


class Writer:
    extension: ClassVar[str]
    media_type: ClassVar[str]

    def write(self, transcript: Transcript, file: TextIO) -> None:
        raise NotImplementedError

    def render(self, transcript: Transcript) -> str:
        buffer = io.StringIO()
        self.write(transcript, buffer)
        return buffer.getvalue()


class VttWriter(Writer):
    extension = "vtt"
    media_type = "text/vtt"

    def write(self, transcript: Transcript, file: TextIO) -> None:
        file.write("WEBVTT\n\n")
        for cue in _cues(transcript):
            file.write(f"{timestamp(cue.start)} --> {timestamp(cue.end)}\n")
            file.write(_cue_text(cue.text).replace("&", "&amp;").replace("<", "&lt;") + "\n\n")


class SrtWriter(Writer):
    extension = "srt"
    media_type = "application/x-subrip"

    def write(self, transcript: Transcript, file: TextIO) -> None:
        for number, cue in enumerate(_cues(transcript), 1):
            file.write(f"{number}\n{timestamp(cue.start, ',')} --> {timestamp(cue.end, ',')}\n")
            file.write(_cue_text(cue.text) + "\n\n")


class TextWriter(Writer):
    extension = "txt"
    media_type = "text/plain"

    def write(self, transcript: Transcript, file: TextIO) -> None:
        for cue in _cues(transcript):
            file.write(cue.text.strip() + "\n")


class JsonWriter(Writer):
    """Podcasting 2.0 JSON transcript: {"version": "1.0.0", "segments": [...]}."""

    extension = "json"
    media_type = "application/json"

    def write(self, transcript: Transcript, file: TextIO) -> None:
        segments = [
            {
                "startTime": round(cue.start, 3),
                "endTime": round(cue.end, 3),
                "body": cue.text.strip(),
            }
            for cue in _cues(transcript)
        ]
        json.dump({"version": "1.0.0", "segments": segments}, file, ensure_ascii=False, indent=1)
        file.write("\n")


FORMATS: dict[str, Writer] = {
    w.extension: w for w in (VttWriter(), SrtWriter(), TextWriter(), JsonWriter())
}


# -- reading transcripts back (for `transcribe related FILE`) -------------------------------

_CUE_TIME = re.compile(
    r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})\s*-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})"
)


def read_transcript(text: str, extension: str) -> Transcript:
    """Read a .vtt, .srt, Podcasting 2.0 .json or plain .txt transcript."""
    extension = extension.lower().lstrip(".")
    if extension == "json":
        data = json.loads(text)
        segments = [
            Segment(
                float(s.get("startTime", 0)), float(s.get("endTime", 0)), str(s.get("body", ""))
            )
            for s in data.get("segments", [])
        ]
    elif extension in ("vtt", "srt"):
        segments = _read_cues(text)
    else:
        segments = [Segment(0.0, 0.0, line) for line in text.splitlines() if line.strip()]
    return Transcript(segments=segments, language="", origin="file")


def _read_cues(text: str) -> list[Segment]:
    segments = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = block.strip().splitlines()
        for i, line in enumerate(lines):
            found = _CUE_TIME.search(line)
            if found:
                g = [int(x or 0) for x in found.groups()]
                start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
                end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
                body = re.sub(r"<[^>]+>", "", " ".join(lines[i + 1 :]))
                segments.append(Segment(start, end, html.unescape(body).strip()))
                break
    return segments
