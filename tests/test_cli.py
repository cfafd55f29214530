"""The command line through click's CliRunner, against real files and a real catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SHARED

from transcribe.cli import cli
from transcribe.config import ConfigError, load_config


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("data = 3", "data"),
        ('[speech]\nengine = "whisper.cpp"', "speech.engine"),
        ("[speech]\nbeam_size = 0", "speech.beam_size"),
        ('[speech]\nbeam_size = "five"', "speech.beam_size"),
        ("[speech]\ncolour = 1", "speech.colour"),
        ('[[sources]]\nname = "no url"', "sources[0].url"),
        ('[[sources]]\nurl = "file:///tmp/feed.xml"', "sources[0].url"),
        ('[render]\nmedia = "stream"', "render.media"),
        ("[linking]\ntop = 0", "linking.top"),
        ("[linking]\nmin_confidence = 1.5", "linking.min_confidence"),
        ("[speech]\nbatch_size = 4\nvad = false", "speech.batch_size"),
        ("[speech]\nvad_threshold = 1.5", "speech.vad_threshold"),
        ("[chapters]\nmin_seconds = 5", "chapters"),
        ("sources = [", "not valid TOML"),
        ('[sources]\nurl = "https://x.example/feed"', "[[sources]]"),
        ('[speech]\ncompute_type = "int3"', "speech.compute_type"),
        ('[speech]\nmodel = "huge"', "speech.model"),
        ('[speech]\nlanguage = "english"', "speech.language"),
        ('[speech]\nlanguage = "de"', "speech.language"),  # the default model is tiny.en
        (
            '[speech]\nmodel = "base"\n[[sources]]\nurl = "https://x.example"\nlanguage = "xx"',
            "sources[0].language",
        ),
        ('[linking]\ndense_model = "bert"', "linking.dense_model"),
        ('[render]\nbase_url = "example.org"', "render.base_url"),
    ],
)
def test_bad_config_is_one_line_naming_the_key_and_exit_code_2(tmp_path, text, key):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(config)
    result = invoke("--config", str(config), "status")
    assert result.exit_code == 2
    assert key in result.output and len(result.output.strip().splitlines()) == 1


def test_global_options_are_taken_after_the_command_too(tmp_path):
    config = tmp_path / "sources.toml"
    config.write_text('data = "d"\n[speech]\nbeam_size = 0\n')
    for args in (["--config", str(config), "run"], ["run", "--config", str(config)]):
        result = invoke(*args)
        assert result.exit_code == 2 and "speech.beam_size" in result.output, args
    empty = tmp_path / "empty"
    before, after = invoke("--data", str(empty), "status"), invoke("status", "--data", str(empty))
    assert f"no catalog at {empty / 'catalog.sqlite'}" in after.output
    assert before.output == after.output
    assert invoke("articles", "add", "--help").output.count("--data") == 1


def test_run_with_no_sources_is_a_usage_error_that_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("run")
    assert result.exit_code == 2
    assert "no sources: pass --config FILE" in result.output
    config = tmp_path / "none.toml"
    config.write_text('output = "site"\n[speech]\nbeam_size = 1\n')
    assert "none.toml has none" in invoke("run", "--config", str(config)).output
    (tmp_path / "articles.toml").write_text('articles = ["news.jsonl"]\n')
    assert "has none" in invoke("fetch", "--config", str(tmp_path / "articles.toml")).output
    # (a config of articles alone runs: it ingests them and renders what the catalog holds)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles.toml", "none.toml"]


def test_commands_that_read_a_catalog_never_create_one_nor_empty_a_site(tmp_path):
    data, output = tmp_path / "data", tmp_path / "site"
    query = tmp_path / "episode.txt"
    query.write_text("The ferry strike at Kessling pier is over, the union says.")
    related = invoke("related", str(query), "--data", str(data))
    assert related.exit_code == 1
    assert f"no catalog at {data / 'catalog.sqlite'} yet" in related.output
    rendered = invoke("render", "--data", str(data), "--output", str(output))
    assert rendered.exit_code == 1 and not data.exists() and not output.exists()

    # a catalog with articles but no episode, beside a site already written
    articles = tmp_path / "news.jsonl"
    articles.write_text(
        json.dumps({"url": "https://n.example/a", "text": "The ferry strike ended. " * 20}) + "\n"
    )
    assert invoke("articles", "add", str(articles), "--data", str(data)).exit_code == 0
    output.mkdir()
    (output / "index.html").write_text("<p>the site of last week</p>")
    refused = invoke("render", "--data", str(data), "--output", str(output))
    assert refused.exit_code == 1 and "holds no transcribed episode" in refused.output
    assert (output / "index.html").read_text() == "<p>the site of last week</p>"


def test_articles_add_reads_a_saved_page_and_refuses_a_folder_in_one_line(tmp_path):
    page = Path(__file__).parents[1] / "examples" / "demo" / "articles"
    first = sorted(page.glob("*.html"))[0]
    data = str(tmp_path / "data")
    added = invoke("articles", "add", str(first), "--data", data)
    assert added.exit_code == 0, added.output
    assert "1 added" in added.output and "not an article record" not in added.output
    folder = invoke("articles", "add", str(page), "--data", data)
    assert folder.exit_code == 1
    errors = [line for line in folder.output.splitlines() if str(page) in line]
    assert len(errors) == 1 and "a folder" in errors[0]


def test_a_missing_optional_engine_names_its_install(tmp_path, monkeypatch):
    from transcribe import speech

    # as on a machine without `make openai-whisper`: a module it needs is not there
    needs, install = speech.OPTIONAL_ENGINES["openai-whisper"]
    absent = {"openai-whisper": (("torch", "no_such_module_here"), install)}
    monkeypatch.setattr(speech, "OPTIONAL_ENGINES", absent)
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    result = invoke("speech", str(clip), "--engine", "openai-whisper")
    assert result.exit_code == 2
    assert "make openai-whisper" in result.output and "ModuleNotFoundError" not in result.output


def test_an_old_config_with_the_retired_thresholds_still_loads_and_says_so(tmp_path, caplog):
    config = tmp_path / "old.toml"
    config.write_text("[linking]\nmin_score = 8.0\nmin_shared_terms = 2\ntop = 3\n")
    loaded = load_config(config)
    assert loaded.linking.top == 3
    assert "linking.min_score: no longer used" in caplog.text
    assert "linking.min_shared_terms" in caplog.text


def test_config_paths_are_relative_to_the_config_file(tmp_path):
    config = tmp_path / "conf" / "sources.toml"
    config.parent.mkdir()
    config.write_text(
        'data = "d"\noutput = "o"\narticles = ["news.jsonl", "https://x.example/rss"]'
    )
    loaded = load_config(config)
    assert loaded.data == config.parent / "d" and loaded.output == config.parent / "o"
    assert loaded.articles == (str(config.parent / "news.jsonl"), "https://x.example/rss")


def test_example_configs_are_valid():
    from pathlib import Path

    for example in sorted(Path(__file__).parents[1].glob("examples/*.toml")):
        assert load_config(example).sources, example


def test_every_command_is_documented_in_help_and_readme():
    readme = Path(__file__).parents[1] / "README.md"
    readme_text = readme.read_text() if readme.exists() else ""
    top = invoke("--help")
    assert top.exit_code == 0
    for name, command in cli.commands.items():
        assert command.help, name
        assert name in top.output
        assert f"transcribe {name}" in readme_text, f"README does not show `transcribe {name}`"
        assert invoke(name, "--help").exit_code == 0
        for sub in getattr(command, "commands", {}):
            assert f"transcribe {name} {sub}" in readme_text, f"README lacks {name} {sub}"
            assert invoke(name, sub, "--help").exit_code == 0


def test_every_config_in_the_readme_loads(tmp_path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```toml")[1:]]
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        config = tmp_path / f"readme-{number}.toml"
        config.write_text(block)
        load_config(config)  # raises ConfigError naming the key


def test_every_config_key_is_in_the_readmes_config():
    """The README's config block shows every key the config reads, in its own table."""
    import dataclasses
    import re
    import typing

    from transcribe.config import Config, SourceConfig

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("## The config file", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    shown: dict[str, set[str]] = {}
    table = ""
    for line in block.splitlines():
        if heading := re.match(r"\[\[?(\w+)\]\]?", line):
            table = heading.group(1)
        elif key := re.match(r"(\w+) *=", line):
            shown.setdefault(table, set()).add(key.group(1))
    sections = typing.get_type_hints(Config).items()
    tables = {"": Config, "sources": SourceConfig}
    tables.update((name, kind) for name, kind in sections if dataclasses.is_dataclass(kind))
    for table, kind in tables.items():
        keys = {f.name for f in dataclasses.fields(kind)} - set(tables)
        assert keys <= shown.get(table, set()), (table, keys - shown.get(table, set()))


def test_episodes_lists_a_feed_as_json_lines(site, base_url):
    (site / "cli").mkdir(exist_ok=True)
    (site / "cli" / "feed.xml").write_bytes((SHARED / "feeds" / "homegrown-hits.xml").read_bytes())
    result = invoke("episodes", "--json", base_url + "cli/feed.xml")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == 4
    assert set(records[0]) == {"id", "title", "published", "media_url", "duration"}
    plain = invoke("episodes", "--limit", "1", base_url + "cli/feed.xml")
    assert plain.exit_code == 0 and len(plain.output.splitlines()) == 1
    assert records[0]["media_url"] in plain.output
    # a feed file named on the command line is read without fetch.allow_file_urls
    local = invoke("episodes", "--json", str(site / "cli" / "feed.xml"))
    assert local.exit_code == 0, local.output
    assert [json.loads(line)["id"] for line in local.output.splitlines()] == [
        r["id"] for r in records
    ]


def test_articles_add_skips_known_and_bad_records_and_related_finds_the_article(tmp_path):
    articles = tmp_path / "news.jsonl"
    articles.write_text(
        json.dumps(
            {
                "url": "https://n.example/a",
                "title": "Ferry strike ends",
                "published": "2026-01-01",
                "text": "The ferry strike at Kessling pier ended "
                "after the Dockworkers Union accepted the offer from Nordlys Lines. " * 3,
            }
        )
        + "\n"
        + json.dumps(
            {
                "url": "https://n.example/b",
                "title": "Museum reopens",
                "text": "The Hallam museum reopened its Viking gallery with a longship "
                "model built by volunteers from Torvik. " * 3,
            }
        )
        + "\nnot json\n"
    )
    data = tmp_path / "data"
    added = invoke("--data", str(data), "articles", "add", str(articles))
    assert added.exit_code == 1  # the broken line is reported
    assert "2 added" in added.output and "not an article record" in added.output
    again = invoke("--data", str(data), "articles", "add", str(articles))
    assert "0 added, 2 already known" in again.output
    linked = invoke("--data", str(data), "link")  # no episodes yet: nothing to do, said
    assert linked.exit_code == 0
    assert "linking: 0 episodes linked" in linked.output and "chapters: 0 episodes" in linked.output

    query = tmp_path / "episode.txt"
    query.write_text(
        "Good news from Kessling pier this morning: the ferry strike is over. The Dockworkers "
        "Union voted to accept the offer Nordlys Lines put on the table, so the ferries run "
        "again and the strike that kept the pier closed has ended."
    )
    related = invoke("--data", str(data), "related", "--json", str(query))
    assert related.exit_code == 0, related.output
    ranked = [json.loads(line) for line in related.output.splitlines()]
    assert [r["url"] for r in ranked] == ["https://n.example/a"]
    assert {"url", "title", "score", "confidence", "linked"} <= set(ranked[0])
    assert ranked[0]["linked"] and 0.5 <= ranked[0]["confidence"] <= 1
    strict = invoke("--data", str(data), "related", "--min-confidence", "1", str(query))
    assert "linked" not in strict.output.split("\n")[0] and "Ferry strike ends" in strict.output

    status = invoke("--data", str(data), "status")
    assert "articles" in status.output and " 2" in status.output


@pytest.mark.slow
def test_speech_command_writes_each_format(tmp_path, spoken):
    clip = spoken("The quick brown fox jumps over the lazy dog.", "cli-fox.mp3")
    formats = [arg for name in ("txt", "vtt", "srt", "json") for arg in ("--format", name)]
    result = invoke("speech", str(clip), *formats, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli-fox.vtt").read_text().startswith("WEBVTT")
    assert "quick brown fox" in (tmp_path / "cli-fox.txt").read_text().lower()
    assert "-->" in (tmp_path / "cli-fox.srt").read_text().splitlines()[1]
    body = json.loads((tmp_path / "cli-fox.json").read_text())["segments"][0]["body"].lower()
    assert "quick brown fox" in body
    assert f"wrote {tmp_path / 'cli-fox.vtt'}" in result.output
    printed = invoke("speech", str(clip))
    assert "quick brown fox" in printed.output.lower()
    glued = invoke("speech", str(clip), "--format", "vtt", "--format", "srt")
    assert glued.exit_code == 2 and "-o DIR" in glued.output
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3 not really an mp3" * 50)
    failed = invoke("speech", str(broken), str(clip), "-o", str(tmp_path))
    assert failed.exit_code == 1
    assert failed.output.count("broken.mp3") == 1 and "cli-fox.txt" in failed.output
    missing_model = invoke("speech", str(clip), "--model", "no-such-model-xyz")
    assert missing_model.exit_code != 0


def test_an_unreadable_transcript_is_one_line_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = invoke("--data", str(tmp_path), "related", str(bad))
    assert result.exit_code == 1
    assert "not a readable .json transcript" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_models_list_and_convert_and_the_openai_engine_offline(tmp_path, spoken, monkeypatch):
    from transcribe.speech.models import resolve_ct2_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    listed = invoke("models", "list")
    assert listed.exit_code == 0
    rows = [line.split()[:2] for line in listed.output.splitlines()]
    assert ["tiny.en", "faster-whisper"] in rows and ["tiny.en", "openai-whisper"] in rows
    assert ["base", "faster-whisper"] in rows  # the two-part package, assembled once

    target = tmp_path / "tiny.en.pt"
    converted = invoke("models", "convert", str(resolve_ct2_model("tiny.en").path), str(target))
    assert converted.exit_code == 0 and target.stat().st_size > 100 * 2**20
    assert invoke("models", "convert", str(tmp_path), str(target)).exit_code == 2

    clip = spoken("The quick brown fox jumps over the lazy dog.", "cli-fox.mp3")
    result = invoke("speech", str(clip), "--engine", "openai-whisper", "--model", "tiny.en")
    assert result.exit_code == 0, result.output
    assert "quick brown fox" in result.output.lower()
    from_file = invoke("speech", str(clip), "--engine", "openai-whisper", "--model", str(target))
    assert from_file.output == result.output  # the same weights, by name or by file
