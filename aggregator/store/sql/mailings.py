"""The e-mail log: what stops a second send of a day's digest, and retries a failed one."""

from __future__ import annotations

from datetime import date, datetime

from aggregator.store.sql.base import Connection, guarded
from aggregator.store.sql.codec import to_text


class MailingsMixin(Connection):
    """``mailings``: per person and day, whether the digest went out and how many tries."""

    @guarded
    def mailed(self, person: str, day: date) -> bool:
        row = self._db.execute(
            "SELECT sent_at FROM mailings WHERE person = ? AND day = ?", (person, day.isoformat())
        ).fetchone()
        return row is not None and row["sent_at"] is not None

    @guarded
    def record_mailing(
        self, person: str, day: date, now: datetime, error: str | None = None
    ) -> None:
        with self._transaction() as db:
            db.execute(
                """
                INSERT INTO mailings (person, day, sent_at, attempts, error)
                VALUES (?, ?, ?, 1, ?)
                ON CONFLICT (person, day) DO UPDATE SET
                    sent_at = excluded.sent_at, attempts = mailings.attempts + 1,
                    error = excluded.error
                """,
                (person, day.isoformat(), None if error else to_text(now), error),
            )
