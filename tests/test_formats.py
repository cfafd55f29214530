"""Transcript writers and readers, against StringIO and against each other."""

from __future__ import annotations

import json

from transcribe.formats import FORMATS, clock, read_transcript, timestamp
from transcribe.records import Segment, Transcript

TRANSCRIPT = Transcript(
    segments=[
        Segment(0.0, 2.5, " Hello and welcome."),
        Segment(2.5, 3661.25, "A cue with --> an arrow & <b>tags</b>"),
        Segment(3661.25, 3662.0, "   "),  # empty: no cue
    ],
    language="en",
)


def test_timestamps():
    assert timestamp(3661.25) == "01:01:01.250"
    assert timestamp(3661.25, ",") == "01:01:01,250"
    assert timestamp(-1) == "00:00:00.000"
    assert clock(65.9) == "1:05" and clock(3725) == "1:02:05"


def test_vtt():
    text = FORMATS["vtt"].render(TRANSCRIPT)
    assert text == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello and welcome.\n\n"
        "00:00:02.500 --> 01:01:01.250\nA cue with -&gt; an arrow &amp; &lt;b&gt;tags&lt;/b&gt;\n\n"
    )


def test_srt():
    text = FORMATS["srt"].render(TRANSCRIPT)
    assert text.startswith("1\n00:00:00,000 --> 00:00:02,500\nHello and welcome.\n\n2\n")
    assert text.count("-->") == 2


def test_json_is_podcasting_2_0():
    data = json.loads(FORMATS["json"].render(TRANSCRIPT))
    assert data["version"] == "1.0.0"
    assert data["segments"][0] == {"startTime": 0.0, "endTime": 2.5, "body": "Hello and welcome."}
    assert len(data["segments"]) == 2


def test_each_written_format_reads_back():
    for extension in ("vtt", "srt", "json"):
        back = read_transcript(FORMATS[extension].render(TRANSCRIPT), extension)
        assert [(s.start, s.end) for s in back.segments] == [(0.0, 2.5), (2.5, 3661.25)]
        assert back.segments[0].text == "Hello and welcome."
    assert read_transcript(FORMATS["txt"].render(TRANSCRIPT), "txt").text.startswith("Hello")


def test_the_podcasting_2_0_examples_read():
    from conftest import SHARED

    folder = SHARED / "podcast-namespace" / "transcripts"
    expected = {"json": (5, "I"), "srt": (222, "Travis: When you first"), "vtt": (7, "In today's")}
    for extension, (count, start) in expected.items():
        transcript = read_transcript((folder / f"example.{extension}").read_text(), extension)
        assert len(transcript.segments) == count
        assert transcript.segments[0].text.startswith(start)
        assert all(s.end >= s.start for s in transcript.segments)
    vtt = read_transcript((folder / "example.vtt").read_text(), "vtt")
    assert "Podcasting Q&A" in vtt.text


def test_speakers_survive_vtt_and_json():
    spoken = Transcript([Segment(0.0, 1.0, "Hello.", speaker="Carla <Host>")], language="en")
    for extension in ("vtt", "json"):
        back = read_transcript(FORMATS[extension].render(spoken), extension)
        assert [(s.speaker, s.text) for s in back.segments] == [("Carla <Host>", "Hello.")]
    assert '"speaker": "Carla <Host>"' in FORMATS["json"].render(spoken)
