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
from dataclasses import dataclass
from typing import ClassVar, TextIO

from .feeds import parse_duration
from .records import Chapter, Segment, Transcript


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


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
            voice = f"<v {_escape_vtt(_cue_text(cue.speaker))}>" if cue.speaker else ""
            file.write(voice + _escape_vtt(_cue_text(cue.text)) + "\n\n")


class SrtWriter(Writer):
    """SubRip captions (see `captions`)."""

    extension = "srt"
    media_type = "application/x-subrip"

    def write(self, transcript: Transcript, file: TextIO) -> None:
        for number, caption in enumerate(captions(transcript), 1):
            file.write(f"{number}\n{timestamp(caption.start, ',')} --> ")
            file.write(f"{timestamp(caption.end, ',')}\n" + "\n".join(caption.lines) + "\n\n")


# The Podcasting 2.0 advice for captions: at most two lines of 32 characters a cue; and the
# usual captioning minimum: a cue stays on screen at least a second (a shorter one flashes)
CAPTION_LINE = 32
CAPTION_LINES = 2
MIN_CAPTION_S = 1.0


@dataclass(frozen=True)
class Caption:
    start: float
    end: float
    lines: list[str]


@dataclass(frozen=True)
class _Said:
    """A word of a caption, with its time (the segment's share of it without word timings)."""

    text: str
    start: float
    end: float


def captions(transcript: Transcript) -> list[Caption]:
    """The transcript as captions: each segment's words in as few cues of at most
    CAPTION_LINES lines of CAPTION_LINE characters as will hold them, evened out so that no
    cue is a short tail, each timed by its words. A cue that would flash (under
    MIN_CAPTION_S) joins its neighbour when both fit one cue, else it stays on screen
    longer, as far as its neighbours leave room."""
    cues = []
    for segment, named in _named(_cues(transcript)):
        # the speaker's name opens the first caption of a turn, packed as its first word
        said = _said(segment)
        if named and said:
            said.insert(0, _Said(f"{_cue_text(segment.speaker)}:", said[0].start, said[0].start))
        segment_cues = _segment_cues(said)
        cues += [(segment.speaker, cue) for cue in segment_cues]
    cues = _joined_when_short(cues)
    timed = []
    for n, (_, cue) in enumerate(cues):
        start, end = cue[0].start, max(cue[-1].end, cue[0].start)
        if end - start < MIN_CAPTION_S:
            after = cues[n + 1][1][0].start if n + 1 < len(cues) else math.inf
            end = max(end, min(start + MIN_CAPTION_S, after))
            before = timed[-1].end if timed else 0.0
            start = min(start, max(end - MIN_CAPTION_S, before))
        timed.append(Caption(start, end, _lines(" ".join(w.text for w in cue))))
    return timed


def _named(cues: list[Segment]) -> list[tuple[Segment, bool]]:
    """Each cue, and whether it opens a speaker's turn (its speaker's name goes before it)."""
    found, previous = [], ""
    for cue in cues:
        found.append((cue, bool(cue.speaker) and cue.speaker != previous))
        previous = cue.speaker
    return found


def _said(segment: Segment) -> list[_Said]:
    words = [w for w in segment.words if w.text.strip()]
    if words and " ".join(w.text.strip() for w in words) == _cue_text(segment.text):
        return [_Said(w.text.strip(), w.start, w.end) for w in words]
    tokens = _cue_text(segment.text).split()  # no word timings: times by characters
    total, at, said = sum(len(t) + 1 for t in tokens) or 1, 0, []
    for token in tokens:
        start = segment.start + (segment.end - segment.start) * at / total
        at += len(token) + 1
        said.append(_Said(token, start, segment.start + (segment.end - segment.start) * at / total))
    return said


def _segment_cues(words: list[_Said]) -> list[list[_Said]]:
    """The fewest cues that hold the words, the characters spread evenly over them: the
    smallest width per cue that still needs no more cues than packing them full."""
    fullest = _packed(words, CAPTION_LINE * CAPTION_LINES)
    needed = len(fullest)
    if needed <= 1:
        return fullest
    length = len(" ".join(w.text for w in words))
    for width in range(length // needed, CAPTION_LINE * CAPTION_LINES):
        cues = _packed(words, width)
        if len(cues) <= needed:
            return cues
    return fullest


def _packed(words: list[_Said], width: int) -> list[list[_Said]]:
    """Words into cues in order, each as full as `width` characters and its lines allow."""
    cues: list[list[_Said]] = []
    for word in words:
        if cues and _fits(cues[-1] + [word], width):
            cues[-1].append(word)
        else:
            cues.append([word])
    return cues


def _fits(cue: list[_Said], width: int = CAPTION_LINE * CAPTION_LINES) -> bool:
    text = " ".join(w.text for w in cue)
    return len(text) <= width and len(_lines(text)) <= CAPTION_LINES


def _joined_when_short(
    cues: list[tuple[str, list[_Said]]],
) -> list[tuple[str, list[_Said]]]:
    """A cue heard in under MIN_CAPTION_S joins the one before it, or else the one after
    it, when the two fit one cue and one speaker says both."""
    joined: list[tuple[str, list[_Said]]] = []
    for speaker, cue in cues:
        if (
            joined
            and joined[-1][0] == speaker
            and (_short(cue) or _short(joined[-1][1]))
            and _fits(joined[-1][1] + cue)
        ):
            joined[-1] = (speaker, joined[-1][1] + cue)
        else:
            joined.append((speaker, cue))
    return joined


def _short(cue: list[_Said]) -> bool:
    return cue[-1].end - cue[0].start < MIN_CAPTION_S


def _lines(text: str) -> list[str]:
    """Text broken between words into lines of CAPTION_LINE characters (a word longer
    than a line is cut)."""
    lines: list[str] = []
    rest = _cue_text(text)
    while rest:
        if len(rest) <= CAPTION_LINE:
            lines.append(rest)
            break
        cut = rest.rfind(" ", 0, CAPTION_LINE + 1)
        if cut <= 0:  # one word longer than a line
            lines.append(rest[:CAPTION_LINE])
            rest = rest[CAPTION_LINE:].lstrip()
        else:
            lines.append(rest[:cut])
            rest = rest[cut + 1 :]
    return lines


class TextWriter(Writer):
    extension = "txt"
    media_type = "text/plain"

    def write(self, transcript: Transcript, file: TextIO) -> None:
        for n, (cue, named) in enumerate(_named(_cues(transcript))):
            if named:  # a turn: a blank line, then the speaker's name
                file.write(("\n" if n else "") + f"{_cue_text(cue.speaker)}: ")
            file.write(cue.text.strip() + "\n")


class JsonWriter(Writer):
    """Podcasting 2.0 JSON transcript: {"version": "1.0.0", "segments": [...]}."""

    extension = "json"
    media_type = "application/json"

    def write(self, transcript: Transcript, file: TextIO) -> None:
        segments = [
            {
                **({"speaker": cue.speaker} if cue.speaker else {}),
                "startTime": round(cue.start, 3),
                "endTime": round(cue.end, 3),
                "body": cue.text.strip(),
            }
            for cue in _cues(transcript)
        ]
        # one segment a line: readable, and written by json's fast (C) encoder
        file.write('{"version": "1.0.0", "segments": [\n')
        file.write(",\n".join(json.dumps(segment, ensure_ascii=False) for segment in segments))
        file.write("\n]}\n")


FORMATS: dict[str, Writer] = {
    w.extension: w for w in (VttWriter(), SrtWriter(), TextWriter(), JsonWriter())
}


def json_chapters(chapters: list[Chapter], title: str = "") -> str:
    """Podcasting 2.0 JSON chapters, version 1.2: `startTime`, `title`, and `url` (here the
    chapter's top related article) and `endTime` when known."""
    entries = [
        {
            "startTime": round(c.start, 3),
            **({"endTime": round(c.end, 3)} if c.end is not None else {}),
            "title": c.title,
            **({"url": c.url} if c.url else {}),
        }
        for c in chapters
    ]
    document = {"version": "1.2.0", **({"title": title} if title else {}), "chapters": entries}
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


# -- reading transcripts back (for `transcribe related FILE`) -------------------------------

_CUE_TIME = re.compile(
    r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})\s*-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})"
)


def read_transcript(text: str, extension: str) -> Transcript:
    """Read a .vtt, .srt, Podcasting 2.0 .json or .html, or plain .txt transcript."""
    extension = extension.lower().lstrip(".")
    if extension == "json":
        data = json.loads(text)
        segments = [
            Segment(
                float(s.get("startTime", 0)),
                float(s.get("endTime", 0)),
                str(s.get("body", "")),
                speaker=str(s.get("speaker", "")),
            )
            for s in data.get("segments", [])
        ]
    elif extension in ("vtt", "srt"):
        segments = _read_cues(text)
    elif extension in ("html", "htm"):
        segments = _read_html(text)
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
                cue = " ".join(lines[i + 1 :])
                voice = re.match(r"<v(?:\.[\w.-]+)?\s+([^>]+)>", cue)
                body = html.unescape(re.sub(r"<[^>]+>", "", cue)).strip()
                speaker = html.unescape(voice[1]).strip() if voice else ""
                segments.append(Segment(start, end, body, speaker=speaker))
                break
    return segments


def _read_html(text: str) -> list[Segment]:
    """The Podcasting 2.0 HTML transcript: <cite>speaker:</cite> <time>m:ss</time> <p>text</p>.
    A paragraph runs until the next one starts."""
    from lxml import html as lxml_html

    root = lxml_html.fromstring(f"<div>{text}</div>")
    speaker, start, found = "", 0.0, []
    for element in root.iter("cite", "time", "p"):
        content = " ".join(element.text_content().split())
        if element.tag == "cite":
            speaker = content.rstrip(":").strip()
        elif element.tag == "time":
            start = _clock_seconds(content)
        elif content:
            found.append((start, content, speaker))
    ends = [s for s, _, _ in found[1:]] + [found[-1][0] if found else 0.0]
    return [
        Segment(start, max(end, start), body, speaker=who)
        for (start, body, who), end in zip(found, ends, strict=True)
    ]


def _clock_seconds(value: str) -> float:
    seconds = parse_duration(value)
    if seconds is None:
        raise ValueError(f"not a time: {value!r}")
    return seconds
