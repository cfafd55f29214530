"""The TOML config, read into frozen dataclasses and validated at the boundary.

Every mistake raises ConfigError with one line that names the key, so the CLI can print it
and exit with code 2. Relative paths in a config file are taken from the file's folder, so a
cron job finds the same folders whatever its working directory.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

from .chapters import ChapterOptions
from .errors import ClusterError, ConfigError
from .http import is_web
from .linking import LinkingOptions
from .render import RenderOptions
from .speech import ENGINES, SPEAKERS, SpeechOptions, missing_engine
from .speech.models import english_only, unknown_model
from .speech.ray_pool import ClusterOptions, head_of

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
# CTranslate2's (openai-whisper reads float32 or float16 from the device)
COMPUTE_TYPES = (
    "auto",
    "default",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)


@dataclass(frozen=True)
class SourceConfig:
    url: str  # a podcast feed, a channel, a playlist or one video
    name: str = ""  # shown in the site instead of the feed's title
    limit: int = 0  # newest episodes to take from the source; 0 takes all
    language: str = ""  # force a language for Whisper; "" detects it
    initial_prompt: str = ""  # for this source: the show's names and spellings
    hotwords: str = ""  # for this source: words Whisper should favour


@dataclass(frozen=True)
class FetchConfig:
    allow_file_urls: bool = False  # file:// sources are refused unless this is set
    timeout: float = 30.0  # seconds before a stalled connection counts as failed
    retries: int = 3


@dataclass(frozen=True)
class Config:
    sources: tuple[SourceConfig, ...] = ()
    articles: tuple[str, ...] = ()  # article feeds, pages or .jsonl files
    data: Path = Path("data")  # the catalog and the downloaded media
    output: Path = Path("output")  # the generated site
    speech: SpeechOptions = field(default_factory=SpeechOptions)
    linking: LinkingOptions = field(default_factory=LinkingOptions)
    chapters: ChapterOptions = field(default_factory=ChapterOptions)
    render: RenderOptions = field(default_factory=RenderOptions)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    cluster: ClusterOptions = field(default_factory=ClusterOptions)  # where the speech runs

    def speech_for(self, source_url: str) -> SpeechOptions:
        """The speech options, with what the source sets over them."""
        source = next((s for s in self.sources if s.url == source_url), None)
        if source is None:
            return self.speech
        overrides = {
            "language": source.language,
            "initial_prompt": source.initial_prompt,
            "hotwords": source.hotwords,
        }
        return replace(self.speech, **{k: v for k, v in overrides.items() if v})

    @property
    def catalog_path(self) -> Path:
        return self.data / "catalog.sqlite"

    @property
    def media_dir(self) -> Path:
        return self.data / "media"


def load_config(path: Path | None) -> Config:
    """Read a config file; with no file, the defaults."""
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    return parse_config(raw, base=Path(path).resolve().parent)


def parse_config(raw: dict[str, Any], base: Path = Path(".")) -> Config:
    known = {
        "sources",
        "articles",
        "data",
        "output",
        "speech",
        "linking",
        "chapters",
        "render",
        "fetch",
        "cluster",
    }
    _no_unknown_keys(raw, known, "")
    if isinstance(raw.get("sources"), dict):
        raise ConfigError(
            "sources: write each source as [[sources]] (a list of tables), not [sources]"
        )
    sources = tuple(
        _section(SourceConfig, item, f"sources[{i}]")
        for i, item in enumerate(_list(raw.get("sources", []), "sources"))
    )
    for i, source in enumerate(sources):
        if not source.url:
            raise ConfigError(f"sources[{i}].url: a source needs a url")
    articles = tuple(_list(raw.get("articles", []), "articles"))
    for i, item in enumerate(articles):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"articles[{i}]: expected a URL or a file path, got {item!r}")
    config = Config(
        sources=sources,
        articles=tuple(_resolve_source(a, base) for a in articles),
        data=base / _str(raw.get("data", "data"), "data"),
        output=base / _str(raw.get("output", "output"), "output"),
        speech=_section(SpeechOptions, raw.get("speech", {}), "speech"),
        linking=_section(LinkingOptions, _without_retired(raw.get("linking", {})), "linking"),
        chapters=_section(ChapterOptions, raw.get("chapters", {}), "chapters"),
        render=_section(RenderOptions, raw.get("render", {}), "render"),
        fetch=_section(FetchConfig, raw.get("fetch", {}), "fetch"),
        cluster=_section(ClusterOptions, raw.get("cluster", {}), "cluster"),
    )
    validate(config)
    return config


def validate(config: Config) -> None:
    """Checks of values (not types), shared by the file and command-line overrides."""
    speech = config.speech
    _choice(speech.engine, tuple(ENGINES), "speech.engine")
    if problem := missing_engine(speech.engine):
        raise ConfigError(f"speech.engine: {problem}")
    _choice(speech.device, DEVICES, "speech.device")
    _choice(speech.compute_type, COMPUTE_TYPES, "speech.compute_type")
    _choice(speech.speakers, SPEAKERS, "speech.speakers")
    if problem := unknown_model(speech.model):
        raise ConfigError(f"speech.model: {problem}")
    _check_language(speech.language, speech.model, "speech.language")
    for i, source in enumerate(config.sources):
        _check_language(source.language, speech.model, f"sources[{i}].language")
    dense = config.linking.dense_model
    if dense not in ("", "minilm") and not Path(dense).expanduser().is_dir():
        raise ConfigError(
            f'linking.dense_model: {dense!r} is neither "" (BM25 alone), "minilm" (make dense) '
            "nor a model folder"
        )
    base_url = config.render.base_url
    if base_url and not is_web(base_url):
        raise ConfigError(
            f"render.base_url: {base_url!r} needs its scheme, e.g. https://{base_url.split('://')[-1]}"
        )
    _choice(config.render.media, ("remote", "copy"), "render.media")
    if speech.beam_size < 1:
        raise ConfigError(f"speech.beam_size: must be at least 1, got {speech.beam_size}")
    if speech.batch_size < 1:
        raise ConfigError(f"speech.batch_size: must be at least 1, got {speech.batch_size}")
    if speech.batch_size > 1 and not (speech.vad and speech.chunks):
        raise ConfigError(
            "speech.batch_size: batching decodes the chunks VAD cuts the speech into;"
            " set vad = true and chunks = true"
        )
    if not 0 < speech.vad_threshold < 1:
        raise ConfigError(
            f"speech.vad_threshold: a probability between 0 and 1, got {speech.vad_threshold}"
        )
    if speech.threads < 0:
        raise ConfigError(f"speech.threads: must be 0 (all cores) or more, got {speech.threads}")
    if config.linking.top < 1:
        raise ConfigError(f"linking.top: must be at least 1, got {config.linking.top}")
    if not 0 <= config.linking.min_confidence <= 1:
        raise ConfigError(
            f"linking.min_confidence: a probability, from 0 to 1, got {config.linking.min_confidence}"
        )
    if config.linking.passage_seconds < 10:
        raise ConfigError("linking.passage_seconds: must be at least 10")
    chapters = config.chapters
    if not 10 <= chapters.block_seconds <= chapters.min_seconds <= chapters.max_seconds:
        raise ConfigError(
            "chapters: needs 10 <= block_seconds <= min_seconds <= max_seconds, got "
            f"{chapters.block_seconds}, {chapters.min_seconds}, {chapters.max_seconds}"
        )
    _check_cluster(config.cluster)
    for i, source in enumerate(config.sources):
        if source.limit < 0:
            raise ConfigError(f"sources[{i}].limit: must be 0 (all) or more, got {source.limit}")
        if source.url.startswith("file:") and not config.fetch.allow_file_urls:
            raise ConfigError(
                f"sources[{i}].url: file:// URLs are refused unless fetch.allow_file_urls = true"
            )


def _check_cluster(cluster: ClusterOptions) -> None:
    try:
        head_of(cluster.address)
    except ClusterError as e:
        raise ConfigError(f"cluster.address: {e}") from e
    if cluster.address:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ConfigError("cluster.address: Ray is not installed: make ray")
    for key in ("workers", "retries", "gpus_per_worker"):
        if getattr(cluster, key) < 0:
            raise ConfigError(f"cluster.{key}: must be 0 or more, got {getattr(cluster, key)}")
    if cluster.cpus_per_worker < 1:
        raise ConfigError(
            f"cluster.cpus_per_worker: must be at least 1, got {cluster.cpus_per_worker}"
        )


def with_overrides(config: Config, **paths: Path | None) -> Config:
    """The config with command-line folders (--data, --output) put over the file's."""
    return replace(config, **{k: Path(v) for k, v in paths.items() if v is not None})


def _section(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table, got {type(raw).__name__}")
    types = get_type_hints(cls)
    _no_unknown_keys(raw, {f.name for f in fields(cls)}, where + ".")
    values = {}
    for key, value in raw.items():
        expected = types[key]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(
                f"{where}.{key}: expected {expected.__name__}, got {type(value).__name__} {value!r}"
            )
        values[key] = value
    if cls is SourceConfig and "url" not in values:
        raise ConfigError(f"{where}.url: a source needs a url")
    return cls(**values)


# settings the linker no longer reads: its decision is min_confidence, learnt per archive
RETIRED_LINKING_KEYS = ("min_score", "min_coverage", "min_covered_score", "min_shared_terms")


def _without_retired(raw: Any) -> Any:
    """The [linking] table less the retired thresholds, each named in a warning (an old
    config keeps working)."""
    if not isinstance(raw, dict):
        return raw
    for key in RETIRED_LINKING_KEYS:
        if key in raw:
            log.warning(
                "linking.%s: no longer used (links are decided by linking.min_confidence, "
                "learnt per archive); ignored",
                key,
            )
    return {k: v for k, v in raw.items() if k not in RETIRED_LINKING_KEYS}


def _no_unknown_keys(raw: dict[str, Any], known: set[str], prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a folder path, got {value!r}")
    return value


def _choice(value: str, choices: tuple[str, ...], key: str) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")


def _check_language(language: str, model: str, key: str) -> None:
    if not language:
        return
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if language not in _LANGUAGE_CODES:
        raise ConfigError(
            f"{key}: {language!r} is not a Whisper language code (en, de, fr, es, uk, ...), "
            'or "" to detect it'
        )
    if language != "en" and english_only(model):
        raise ConfigError(
            f"{key}: {language!r} cannot be heard by {model}, which knows English only: "
            "use a multilingual model (base, small, ...)"
        )


def _resolve_source(item: str, base: Path) -> str:
    """Local article files are taken relative to the config file; URLs are left alone."""
    if "://" in item:
        return item
    return str(base / item)
