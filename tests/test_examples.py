"""Every example command of the README's code blocks and of `transcribe --help`, run as
written: in a folder holding what they name (the README's config as my-sources.toml, the
demo's catalog in data/demo). An example whose config reaches other hosts than this one
cannot run here (no internet): its config loads and its command line parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner

from transcribe.cli import cli
from transcribe.config import load_config

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def examples() -> list[str]:
    found = [
        line.split("  #")[0].strip()
        for block in re.findall(r"```\w*\n(.*?)```", README, re.S)
        for line in block.splitlines()
        if line.startswith("transcribe ")
    ]
    help_text = CliRunner().invoke(cli, ["--help"]).output
    found += re.findall(
        r"(transcribe [^\n(]+?)\s*(?:\(|$)", help_text.split("Start with:")[1], re.M
    )
    return list(dict.fromkeys(found))


def test_the_examples_are_found():
    found = examples()
    assert "transcribe demo" in found and "transcribe run --config my-sources.toml" in found
    assert "transcribe status --data data/demo" in found and len(found) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("example", examples())
def test_every_example_runs_as_written(example, demo_run, tmp_path, monkeypatch):
    result, demo = demo_run
    if example == "transcribe demo":  # what the demo_run fixture ran
        assert result.exit_code == 0, result.output
        return
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(demo / "data")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    readme_config = README.split("```toml", 1)[1].split("```", 1)[0]
    (tmp_path / "my-sources.toml").write_text(readme_config)
    args = shlex.split(example)[1:]
    config = args[args.index("--config") + 1] if "--config" in args else None
    hosts = {
        urlparse(url).hostname
        for url in ([s.url for s in load_config(Path(config)).sources] if config else [])
        + (list(load_config(Path(config)).articles) if config else [])
        if "://" in url
    }
    if hosts - {"127.0.0.1", "localhost", None}:  # every option taken, nothing run
        parsed = CliRunner().invoke(cli, [*args, "--help"])
        assert parsed.exit_code == 0 and parsed.output.startswith("Usage:"), parsed.output
        return
    ran = CliRunner().invoke(cli, args)
    assert ran.exit_code == 0 and "no catalog" not in ran.output, (example, ran.output)


def test_a_missing_catalog_points_to_the_demos(demo_run, tmp_path, monkeypatch):
    """After `make run`, `transcribe status` (data/) says where the demo's catalog is."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(demo_run[1] / "data")
    status = CliRunner().invoke(cli, ["status"])
    assert "no catalog at data/catalog.sqlite yet" in status.output
    assert "the demo's is data/demo/catalog.sqlite: transcribe --data data/demo" in status.output
    related = CliRunner().invoke(cli, ["related", str(ROOT / "README.md")])
    assert related.exit_code == 1 and "the demo's is data/demo" in related.output
    assert not (tmp_path / "data" / "catalog.sqlite").exists()
