"""The SQLite store: one file holding all of Learnplace's state except the search index.

The domain modules (:mod:`aggregator.store.sql`) over :class:`~.connection.Connection`,
which owns the file, its migrations (:mod:`.schema`) and the store boundary (sqlite errors
leave as :class:`~aggregator.errors.StoreError`). Every write runs in one ``BEGIN
IMMEDIATE`` transaction: a crash or ``kill -9`` leaves either the old or the new state,
never half of a fetch or half of a digest.
"""

from __future__ import annotations

from aggregator.store.sql import Domains
from aggregator.store.sqlite.connection import BUSY_TIMEOUT_MS, Connection
from aggregator.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "SCHEMA_VERSION", "SqliteStore"]


class SqliteStore(Domains, Connection):
    """:class:`aggregator.store.Store` over one SQLite file (see :mod:`.connection`)."""
