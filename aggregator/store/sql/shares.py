"""Shares: items people pass on to their teams, with a note."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from aggregator.models import Share
from aggregator.store.sql.base import Connection, guarded
from aggregator.store.sql.codec import from_text, to_text


class SharesMixin(Connection):
    """``shares``: one voice per person and item, the latest note kept."""

    @guarded
    def add_share(self, person: str, item_id: int, note: str, now: datetime) -> Share:
        with self._transaction() as db:
            earlier = db.execute(
                "SELECT note FROM shares WHERE person = ? AND item_id = ? ORDER BY id DESC",
                (person, item_id),
            ).fetchone()
            db.execute("DELETE FROM shares WHERE person = ? AND item_id = ?", (person, item_id))
            db.execute(
                "INSERT INTO shares (person, item_id, note, shared_at) VALUES (?, ?, ?, ?)",
                (person, item_id, note, to_text(now)),
            )
        replaced = None if earlier is None else str(earlier["note"])
        return Share(person, item_id, note, now, replaced_note=replaced)

    @guarded
    def shares(
        self, people: Collection[str], since: datetime, until: datetime | None = None
    ) -> list[Share]:
        wanted = set(people)
        if not wanted:
            return []
        end = "9999" if until is None else to_text(until)
        rows = self._db.execute(
            """
            SELECT person, item_id, note, shared_at FROM shares
            WHERE shared_at >= ? AND shared_at < ? ORDER BY shared_at, id
            """,
            (to_text(since), end),
        )
        return [
            Share(row["person"], row["item_id"], row["note"], from_text(row["shared_at"]))
            for row in rows
            if row["person"] in wanted
        ]
