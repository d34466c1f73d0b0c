"""The store's domains in SQL that SQLite and PostgreSQL both run, over a backend's connection.

    base         what a backend's connection provides, and the store boundary (guarded)
    codec        how values are written and read back: datetimes, details, whole items
    sources      sources and their fetch state, a run's outcomes
    entries      a feed's entries written as items
    items        reading, correcting and pruning items
    index_queue  the change-tracking contract with the search index
    digests, feedback, shares, mailings
    learning     learning records, digest sections, source usefulness, xAPI sends

Each domain is a mixin over :class:`~.base.Connection`; :mod:`aggregator.store.sqlite` and
:mod:`aggregator.store.postgres` compose them with their own connection and migrations.
"""

from aggregator.store.sql.digests import DigestsMixin
from aggregator.store.sql.entries import EntriesMixin
from aggregator.store.sql.feedback import FeedbackMixin
from aggregator.store.sql.index_queue import IndexQueueMixin
from aggregator.store.sql.items import ItemsMixin
from aggregator.store.sql.learning import LearningMixin
from aggregator.store.sql.mailings import MailingsMixin
from aggregator.store.sql.shares import SharesMixin
from aggregator.store.sql.sources import SourcesMixin

__all__ = ["Domains"]


class Domains(
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
    """Every domain of the :class:`~aggregator.store.Store` protocol, over a backend's
    connection: a backend's store is this and its :class:`~.base.Connection` subclass."""
