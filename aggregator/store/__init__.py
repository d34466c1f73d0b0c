"""The store: everything Learnplace keeps except the search index, behind one protocol.

:mod:`aggregator.store.protocol` says what a backend does (:class:`Store`, one protocol
per domain inside it, and the index queue's change-tracking contract);
:mod:`aggregator.store.sqlite` is the backend. The rest of Learnplace opens a store with
:func:`open_store` and uses it only through the protocol, so a new backend is a new
package here and a branch in :func:`open_store`.
"""

from __future__ import annotations

from pathlib import Path

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
    "open_store",
]


def open_store(location: str | Path, *, read_only: bool = False) -> Store:
    """The store at ``location`` (today a SQLite file's path), migrated unless ``read_only``.

    ``read_only``: for readers beside a running ``learnplace run`` (search, the web app,
    ranking workers): it never migrates nor takes the write lock.
    """
    return SqliteStore(Path(location), read_only=read_only)
