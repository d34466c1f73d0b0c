"""The SQLite store: one file holding all of Learnplace's state except the search index.

One module per domain, each a mixin over :class:`~.connection.Connection`, which owns
the file, its migrations (:mod:`.schema`) and the store boundary (sqlite errors leave as
:class:`~aggregator.errors.StoreError`). Every write runs in one ``BEGIN IMMEDIATE``
transaction: a crash or ``kill -9`` leaves either the old or the new state, never half
of a fetch or half of a digest.
"""

from __future__ import annotations

from aggregator.store.sqlite.connection import BUSY_TIMEOUT_MS
from aggregator.store.sqlite.digests import DigestsMixin
from aggregator.store.sqlite.entries import EntriesMixin
from aggregator.store.sqlite.feedback import FeedbackMixin
from aggregator.store.sqlite.index_queue import IndexQueueMixin
from aggregator.store.sqlite.items import ItemsMixin
from aggregator.store.sqlite.learning import LearningMixin
from aggregator.store.sqlite.mailings import MailingsMixin
from aggregator.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from aggregator.store.sqlite.shares import SharesMixin
from aggregator.store.sqlite.sources import SourcesMixin

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "SCHEMA_VERSION", "SqliteStore"]


class SqliteStore(
    SourcesMixin,
    EntriesMixin,
    ItemsMixin,
    IndexQueueMixin,
    DigestsMixin,
    FeedbackMixin,
    SharesMixin,
    MailingsMixin,
    LearningMixin,
):
    """:class:`aggregator.store.Store` over one SQLite file (see :mod:`.connection`)."""
