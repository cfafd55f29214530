"""The catalog: one SQLite file, the single record of what the job has done.

This package is the only code that speaks SQL. Every stage reads what earlier stages wrote
here and writes its own results in a transaction, with a stamp of what produced them, so a
rerun skips work whose inputs and settings have not changed, and a killed run loses at
most the episode in flight. `Catalog` is one object over the tables of every concern
(each module holds one); what it returns are records, never database rows.
"""

from __future__ import annotations

from ..records import ArticleProfile
from .connection import body_hash, now
from .episodes import (
    FETCHED,
    LISTED,
    TRANSCRIBED,
    CatalogSummary,
    EpisodeFailure,
    EpisodeProgress,
    EpisodeTables,
)
from .index import ArticleIndexTables
from .results import ResultTables
from .site import SiteTables
from .transcripts import TranscriptTables

__all__ = [
    "FETCHED",
    "LISTED",
    "TRANSCRIBED",
    "ArticleProfile",
    "Catalog",
    "CatalogSummary",
    "EpisodeFailure",
    "EpisodeProgress",
    "body_hash",
    "now",
]


class Catalog(EpisodeTables, TranscriptTables, ArticleIndexTables, ResultTables, SiteTables):
    """A connection to the catalog file, created and migrated on first open (see
    connection.Connection)."""

    def __enter__(self) -> Catalog:
        return self
