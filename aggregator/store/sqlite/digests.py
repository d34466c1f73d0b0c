"""What each person was sent: a day's digest (picks and Upcoming events) in ``deliveries``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from aggregator.models import Pick
from aggregator.store.sqlite.connection import Connection, guarded


class DigestsMixin(Connection):
    """``deliveries``: one row per item of a person's digest for a day."""

    @guarded
    def delivered_before(self, person: str, day: date) -> set[int]:
        rows = self._db.execute(
            "SELECT DISTINCT item_id FROM deliveries WHERE person = ? AND day < ? AND upcoming = 0",
            (person, day.isoformat()),
        )
        return {row["item_id"] for row in rows}

    @guarded
    def save_digest(
        self, person: str, day: date, picks: Sequence[Pick], upcoming: Sequence[Pick] = ()
    ) -> None:
        ids = [pick.item.id for pick in (*picks, *upcoming)]
        if len(set(ids)) != len(ids):
            raise ValueError(f"digest for {person!r} on {day}: an item is picked more than once")
        with self._transaction() as db:
            db.execute(
                "DELETE FROM deliveries WHERE person = ? AND day = ?", (person, day.isoformat())
            )
            db.executemany(
                """
                INSERT INTO deliveries (person, day, item_id, position, score, reasons, upcoming)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    (
                        person,
                        day.isoformat(),
                        pick.item.id,
                        position,
                        pick.score,
                        json.dumps(list(pick.reasons)),
                        int(is_upcoming),
                    )
                    for is_upcoming, group in ((False, picks), (True, upcoming))
                    for position, pick in enumerate(group)
                ],
            )

    @guarded
    def digest(
        self, person: str, day: date, *, upcoming: bool = False
    ) -> list[tuple[int, float, tuple[str, ...]]]:
        rows = self._db.execute(
            """
            SELECT item_id, score, reasons FROM deliveries
            WHERE person = ? AND day = ? AND upcoming = ? ORDER BY position
            """,
            (person, day.isoformat(), int(upcoming)),
        )
        return [(row["item_id"], row["score"], tuple(json.loads(row["reasons"]))) for row in rows]

    @guarded
    def digest_days(self, person: str) -> list[date]:
        rows = self._db.execute(
            "SELECT DISTINCT day FROM deliveries WHERE person = ? ORDER BY day", (person,)
        )
        return [date.fromisoformat(row["day"]) for row in rows]
