"""Reading items, a person's correction of an item's type, finding one by what was typed,
and pruning old ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime

from aggregator.errors import UnknownItemError
from aggregator.models import ITEM_TYPES, Item
from aggregator.store.sql.base import Connection, guarded, guarded_iter
from aggregator.store.sql.codec import (
    ITEM_SELECT,
    ITER_BATCH,
    MAX_ID,
    canonical,
    item_from_row,
    items_by_id,
    to_text,
)


class ItemsMixin(Connection):
    """The items table as the rest of Learnplace reads it."""

    @guarded
    def items(self, ids: Iterable[int]) -> dict[int, Item]:
        return items_by_id(self._db, ids)

    @guarded
    def items_since(self, since: datetime) -> list[Item]:
        rows = self._db.execute(
            f"{ITEM_SELECT} WHERE i.published >= ? ORDER BY i.published DESC, i.id",
            (to_text(since),),
        )
        return [item_from_row(row) for row in rows]

    @guarded
    def upcoming_event_ids(self, now: datetime, until: datetime) -> list[int]:
        rows = self._db.execute(
            """
            SELECT id FROM items
            WHERE event_start IS NOT NULL AND event_start <= ?
              AND COALESCE(event_end, event_start) >= ?
              AND COALESCE(type_override, item_type) = 'event'
            ORDER BY event_start, id
            """,
            (to_text(until), to_text(now)),
        )
        return [row["id"] for row in rows]

    @guarded_iter
    def iter_items(self) -> Iterator[Item]:
        """Fetched in batches by keyset so no cursor stays open between batches."""
        last_id = 0
        while True:
            rows = self._db.execute(
                f"{ITEM_SELECT} WHERE i.id > ? ORDER BY i.id LIMIT ?", (last_id, ITER_BATCH)
            ).fetchall()
            if not rows:
                return
            yield from (item_from_row(row) for row in rows)
            last_id = rows[-1]["id"]

    @guarded
    def set_item_type(self, item_id: int, item_type: str | None) -> None:
        if item_type is not None and item_type not in ITEM_TYPES:
            raise ValueError(f"unknown item type {item_type!r}; use one of {', '.join(ITEM_TYPES)}")
        if not 0 < item_id <= MAX_ID:
            raise UnknownItemError(f"no item with id {item_id}")
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE items SET type_override = ? WHERE id = ?", (item_type, item_id)
            )
            if cursor.rowcount == 0:
                raise UnknownItemError(f"no item with id {item_id}")
            self._queue_for_index(db, [item_id])

    @guarded
    def item_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    @guarded
    def item_ids(self) -> set[int]:
        return {row["id"] for row in self._db.execute("SELECT id FROM items")}

    @guarded
    def find_item(self, ref: str) -> int | None:
        ref = ref.strip()
        if ref.isascii() and ref.isdigit():  # "²" is a digit to isdigit, not to int
            if len(ref) > len(str(MAX_ID)) or int(ref) > MAX_ID:
                return None
            row = self._db.execute("SELECT id FROM items WHERE id = ?", (int(ref),)).fetchone()
            return None if row is None else int(row["id"])
        row = self._db.execute(
            "SELECT id FROM items WHERE url = ? OR canonical_url = ? ORDER BY id LIMIT 1",
            (ref, canonical(ref)),
        ).fetchone()
        return None if row is None else int(row["id"])

    @guarded
    def prune(self, before: datetime, keep_digests_since: date) -> int:
        with self._transaction() as db:
            ids = [
                row["id"]
                for row in db.execute(
                    """
                    SELECT id FROM items i WHERE published < ?
                    AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.item_id = i.id)
                    AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.item_id = i.id
                                    AND f.judgement > 0)
                    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = i.id
                                    AND d.day >= ?)
                    AND NOT EXISTS (SELECT 1 FROM learned l WHERE l.item_id = i.id)
                    AND NOT EXISTS (SELECT 1 FROM digest_sections x WHERE x.item_id = i.id
                                    AND x.day >= ?)
                    """,
                    (
                        to_text(before),
                        keep_digests_since.isoformat(),
                        keep_digests_since.isoformat(),
                    ),
                )
            ]
            db.executemany("DELETE FROM items WHERE id = ?", [(item_id,) for item_id in ids])
            self._queue_for_index(db, ids)
        return len(ids)
