"""The index queue in SQLite: one table of item ids, written with the changes it records.

See :class:`aggregator.store.protocol.IndexQueue` for the contract. Here, a queued id is a
row of ``index_queue`` (an id queued twice is one row), inserted by :func:`queue_for_index`
inside the transaction that changes the item, and deleted only by
:meth:`IndexQueueMixin.clear_index_queue`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

from aggregator.models import Item
from aggregator.store.sqlite.codec import ITER_BATCH, items_by_id
from aggregator.store.sqlite.connection import Connection, guarded, guarded_iter


def queue_for_index(db: sqlite3.Connection, ids: Iterable[int]) -> None:
    """Call inside the transaction that creates, changes or deletes the items ``ids``."""
    db.executemany(
        "INSERT OR IGNORE INTO index_queue (item_id) VALUES (?)", [(item_id,) for item_id in ids]
    )


class IndexQueueMixin(Connection):
    """What the search index has not caught up with yet."""

    @guarded_iter
    def index_queue(self) -> Iterator[tuple[list[Item], list[int]]]:
        """Batches keep memory flat after a cold run that queued every item."""
        last_id = 0
        while True:
            ids = [
                row["item_id"]
                for row in self._db.execute(
                    "SELECT item_id FROM index_queue WHERE item_id > ? ORDER BY item_id LIMIT ?",
                    (last_id, ITER_BATCH),
                )
            ]
            if not ids:
                return
            found = items_by_id(self._db, ids)
            yield list(found.values()), [item_id for item_id in ids if item_id not in found]
            last_id = ids[-1]

    @guarded
    def index_queue_size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM index_queue").fetchone()[0])

    @guarded
    def clear_index_queue(self, up_to: int | None = None) -> None:
        with self._transaction() as db:
            if up_to is None:
                db.execute("DELETE FROM index_queue")
            else:
                db.execute("DELETE FROM index_queue WHERE item_id <= ?", (up_to,))
