"""A person's judgements of items (``learnplace feedback``): one per person and item."""

from __future__ import annotations

from datetime import datetime

from aggregator.store.sqlite.codec import from_text, to_text
from aggregator.store.sqlite.connection import Connection, guarded


class FeedbackMixin(Connection):
    """``feedback``: a new judgement replaces the old one; clearing deletes the row."""

    @guarded
    def set_feedback(self, person: str, item_id: int, judgement: int, now: datetime) -> None:
        if judgement not in (-1, 0, 1):
            raise ValueError(f"judgement must be -1, 0 or 1, got {judgement!r}")
        with self._transaction() as db:
            if judgement == 0:
                db.execute(
                    "DELETE FROM feedback WHERE person = ? AND item_id = ?", (person, item_id)
                )
                return
            db.execute(
                """
                INSERT INTO feedback (person, item_id, judgement, at) VALUES (?, ?, ?, ?)
                ON CONFLICT (person, item_id) DO UPDATE SET
                    judgement = excluded.judgement, at = excluded.at
                """,
                (person, item_id, judgement, to_text(now)),
            )

    @guarded
    def feedback(self, person: str) -> dict[int, int]:
        rows = self._db.execute(
            "SELECT item_id, judgement FROM feedback WHERE person = ?", (person,)
        )
        return {row["item_id"]: row["judgement"] for row in rows}

    @guarded
    def judgements(self, person: str) -> list[tuple[int, int, datetime]]:
        rows = self._db.execute(
            "SELECT item_id, judgement, at FROM feedback WHERE person = ?"
            " ORDER BY at DESC, item_id",
            (person,),
        )
        return [(row["item_id"], row["judgement"], from_text(row["at"])) for row in rows]

    @guarded
    def clear_feedback(self, person: str) -> int:
        with self._transaction() as db:
            return db.execute("DELETE FROM feedback WHERE person = ?", (person,)).rowcount
