"""The failures a user can act on, one type each. The CLI prints them as one line."""

import errno
import sqlite3


class TranscribeError(Exception):
    """Base of the errors the job reports per episode or per command."""


class FetchError(TranscribeError):
    """A source could not be listed or an episode's media could not be downloaded."""


class ParseError(TranscribeError):
    """A document is not what it should be: a feed, a transcript, a chapters or an info
    file that does not parse (it was fetched; it cannot be read)."""


class NotAFeedError(ParseError):
    """The document is not an RSS or Atom feed (or sitemap, where one is expected)."""


class ConfigError(TranscribeError):
    """The config (or a command-line override) is not usable; the message names the key."""


class ClusterError(ConfigError):
    """The configured Ray cluster cannot be reached or joined (exit code 2, as for config)."""


class ConversionError(TranscribeError):
    """A model folder cannot be converted for the other engine."""


class MediaError(TranscribeError):
    """A media file is missing, empty, corrupt or has no audio."""


class NoSpeechError(TranscribeError):
    """Whisper found no speech in the audio (silence or music)."""


class ModelNotFoundError(TranscribeError):
    """No Whisper model could be found locally or downloaded."""


class ArticleError(TranscribeError):
    """An article source could not be fetched or its text could not be extracted."""


class CatalogError(TranscribeError):
    """The catalog file cannot be opened or is not a catalog."""


class CatalogBusyError(CatalogError):
    """Another run holds the catalog's lock."""


def disk_full(error: BaseException) -> bool:
    """No space left, as the OS says it (ENOSPC) or as SQLite does: the run's end, not an
    episode's failure."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error)
