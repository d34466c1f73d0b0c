"""The PostgreSQL store: Learnplace's state in a database that many machines reach at once.

The domain modules (:mod:`aggregator.store.sql`) over :class:`~.connection.Connection`
(psycopg 3; a pool for readers), with the migrations in :mod:`.schema`. Each store call
that writes is one transaction, as in SQLite; unlike SQLite, several writers (queue
workers on other machines) commit side by side, so the index queue here remembers when
each id was queued (:meth:`PostgresStore.clear_index_queue`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aggregator.models import Item
from aggregator.store.postgres.connection import Connection, describe, is_url
from aggregator.store.postgres.schema import MIGRATIONS, SCHEMA_VERSION
from aggregator.store.sql import Domains
from aggregator.store.sql.base import Database, guarded, guarded_iter

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore", "describe", "is_url"]

_QUEUED_UP_TO = "SELECT COALESCE(MAX(seq), 0) FROM index_queue"
"""How far the index queue's sequence has got."""


class PostgresStore(Domains, Connection):
    """:class:`aggregator.store.Store` over a PostgreSQL database (see :mod:`.connection`)."""

    _read_up_to: int | None = None

    def _queue_for_index(self, db: Database, ids: Iterable[int]) -> None:
        """Queueing an id already queued moves it past any read in progress."""
        db.executemany(
            """
            INSERT INTO index_queue (item_id) VALUES (?)
            ON CONFLICT (item_id) DO UPDATE SET seq = nextval('index_queue_seq')
            """,
            [(item_id,) for item_id in ids],
        )

    @guarded_iter
    def index_queue(self) -> Iterator[tuple[list[Item], list[int]]]:
        """As in SQLite; first it notes how far the queue's sequence had got, for the clear."""
        self._read_up_to = int(self._db.execute(_QUEUED_UP_TO).fetchone()[0])
        yield from super().index_queue()

    @guarded
    def clear_index_queue(self, up_to: int | None = None) -> None:
        """Forget ids up to ``up_to`` queued before the last :meth:`index_queue` read began.

        An item another worker changed while the index was being brought up to date was
        queued again after that read began: it stays queued for the next index update.
        Without a read (a rebuild from :meth:`iter_items`), what is queued now is cleared.
        """
        seen = self._read_up_to
        self._read_up_to = None
        with self._transaction() as db:
            if seen is None:
                seen = int(
                    db.execute("SELECT COALESCE(MAX(seq), 0) FROM index_queue").fetchone()[0]
                )
            if up_to is None:
                db.execute("DELETE FROM index_queue WHERE seq <= ?", (seen,))
            else:
                db.execute("DELETE FROM index_queue WHERE item_id <= ? AND seq <= ?", (up_to, seen))
