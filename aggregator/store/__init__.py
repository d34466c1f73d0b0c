"""The store: everything Learnplace keeps except the search index, behind one protocol.

:mod:`aggregator.store.protocol` says what a backend does (:class:`Store`, one protocol
per domain inside it, and the index queue's change-tracking contract);
:mod:`aggregator.store.sqlite` (one file, the default) and :mod:`aggregator.store.postgres`
(a database many machines share) are the backends, both over the domain SQL of
:mod:`aggregator.store.sql`. The rest of Learnplace opens a store with :func:`open_store`
from a *location* (a file's path, or a ``postgresql://`` URL) and uses it only through the
protocol.
"""

from __future__ import annotations

from pathlib import Path

from aggregator.store.postgres.connection import describe, is_url
from aggregator.store.protocol import (
    AddResult,
    DigestStore,
    FeedbackStore,
    FetchRecord,
    IndexQueue,
    ItemStore,
    LearningStore,
    MailingStore,
    ShareStore,
    SourceStore,
    Store,
)
from aggregator.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AddResult",
    "DigestStore",
    "FeedbackStore",
    "FetchRecord",
    "IndexQueue",
    "ItemStore",
    "LearningStore",
    "MailingStore",
    "ShareStore",
    "SourceStore",
    "SqliteStore",
    "Store",
    "describe_location",
    "is_url",
    "open_store",
    "store_exists",
]


def open_store(location: str | Path, *, read_only: bool = False) -> Store:
    """The store at ``location`` (a SQLite file's path, or a ``postgresql://`` URL), migrated
    unless ``read_only``.

    ``read_only``: for readers beside a running ``learnplace run`` (search, the web app,
    ranking workers): it never migrates nor takes the write lock.
    """
    if is_url(location):
        from aggregator.store.postgres import PostgresStore  # psycopg only where it is used

        return PostgresStore(str(location), read_only=read_only)
    return SqliteStore(Path(location), read_only=read_only)


def store_exists(location: str | Path) -> bool:
    """Whether a run has created the store: a SQLite file that exists, or a database
    holding Learnplace's tables (one that cannot be reached is a StoreError)."""
    if not is_url(location):
        return Path(location).exists()
    from aggregator.store.postgres.connection import stored_version

    return stored_version(str(location)) > 0


def describe_location(location: str | Path) -> str:
    """The store for a message: a path as it is, a URL without its password."""
    return describe(str(location)) if is_url(location) else str(location)
