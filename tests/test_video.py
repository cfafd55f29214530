"""Videos, offline: a direct .mp4 URL, and a YouTube-shaped info dict processed by yt-dlp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transcribe.catalog import Catalog
from transcribe.demo import ffmpeg
from transcribe.fetch import download, list_source
from transcribe.speech import SpeechOptions, transcribe_audio

pytestmark = pytest.mark.slow


def video_with_speech(audio: Path, target: Path, audio_track: bool = True) -> Path:
    """A small H.264 video, with the audio file as its sound track or with no audio track."""
    inputs = ["-f", "lavfi", "-i", "color=c=navy:s=160x120:r=10"]
    sound = ["-i", str(audio), "-shortest", "-c:a", "aac"] if audio_track else ["-t", "3"]
    ffmpeg(*inputs, *sound, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(target))
    return target


def test_direct_mp4_url_is_listed_downloaded_and_transcribed(site, base_url, spoken, tmp_path):
    audio = spoken("Explainer video. The Ashby River flood warning is still in force.", "video.wav")
    (site / "video").mkdir(exist_ok=True)
    video_with_speech(audio, site / "video" / "explainer.mp4")
    episodes = list_source(base_url + "video/explainer.mp4")
    assert len(episodes) == 1 and episodes[0].id == "explainer"
    path, duration = download(episodes[0], tmp_path)
    assert path == tmp_path / "explainer.mp4" and duration > 2
    transcript = transcribe_audio(path, SpeechOptions())
    assert "flood warning" in transcript.text.lower()


def test_video_without_audio_track_is_refused_at_download(site, base_url, spoken, tmp_path):
    from transcribe.errors import MediaError

    (site / "video").mkdir(exist_ok=True)
    video_with_speech(Path("/dev/null"), site / "video" / "mute.mp4", audio_track=False)
    episode = list_source(base_url + "video/mute.mp4")[0]
    with pytest.raises(MediaError, match="no audio"):
        download(episode, tmp_path)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def youtube_info(base_url: str) -> dict:
    """The fields yt-dlp's YouTube extractor returns, with URLs on the local server."""
    return {
        "id": "Kx3vTq9LmZ0",
        "title": "Why the front line moved: explained",
        "channel": "The Kyiv Independent",
        "channel_id": "UC0000000000000000000000",
        "uploader": "The Kyiv Independent",
        "upload_date": "20261020",
        "timestamp": 1792497600,
        "duration": 5,
        "description": "An explainer. Chapters below.",
        "webpage_url": "https://www.youtube.com/watch?v=Kx3vTq9LmZ0",
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "thumbnail": base_url + "yt/thumb.jpg",
        "chapters": [
            {"start_time": 0.0, "end_time": 2.0, "title": "Intro"},
            {"start_time": 2.0, "end_time": 5.0, "title": "The map"},
        ],
        "subtitles": {
            "en": [
                {"ext": "json3", "url": base_url + "yt/subs.json3"},
                {"ext": "vtt", "url": base_url + "yt/subs.en.vtt", "name": "English"},
            ]
        },
        "automatic_captions": {"en": [{"ext": "vtt", "url": base_url + "yt/auto.vtt"}]},
        "formats": [
            {
                "format_id": "140",
                "url": base_url + "yt/audio.m4a",
                "ext": "m4a",
                "acodec": "mp4a.40.2",
                "vcodec": "none",
                "abr": 129.5,
                "protocol": "https",
            },
            {
                "format_id": "18",
                "url": base_url + "yt/video.mp4",
                "ext": "mp4",
                "acodec": "mp4a.40.2",
                "vcodec": "avc1.42001E",
                "width": 160,
                "height": 120,
                "protocol": "https",
            },
        ],
    }


def test_youtube_info_dict_goes_through_yt_dlp_with_chapters_and_manual_subtitles(
    site, base_url, spoken, tmp_path
):
    folder = site / "yt"
    folder.mkdir(exist_ok=True)
    wav = spoken("Here is the map of the front line near the river.", "yt.wav")
    ffmpeg("-i", str(wav), "-c:a", "aac", str(folder / "audio.m4a"))
    (folder / "subs.en.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHere is the map\n")
    info = tmp_path / "Kx3vTq9LmZ0.info.json"
    info.write_text(json.dumps(youtube_info(base_url)))

    [episode] = list_source(str(info))
    assert episode.id == "Kx3vTq9LmZ0"
    assert episode.show == "The Kyiv Independent"
    assert episode.published == "2026-10-20T12:00:00+00:00"
    assert [(c.start, c.title) for c in episode.chapters] == [(0.0, "Intro"), (2.0, "The map")]
    assert episode.subtitles == {"en": base_url + "yt/subs.en.vtt"}  # manual, VTT preferred
    assert episode.kind == "video"

    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.record_episode(episode)
        stored = catalog.episode("Kx3vTq9LmZ0")
    assert stored.chapters == episode.chapters and stored.subtitles == episode.subtitles

    path, duration = download(episode, tmp_path / "media")
    assert path.name == "Kx3vTq9LmZ0.m4a" and duration > 1  # bestaudio: the m4a format
    assert "map" in transcribe_audio(path, SpeechOptions()).text.lower()
