"""Learning: a person's "I learned this" records, a digest's extra sections (saved searches),
and how often each source's items helped."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime

from aggregator.errors import UnknownItemError
from aggregator.models import LearningRecord, Pick, SourceUse
from aggregator.store.sql.base import Connection, Row, guarded
from aggregator.store.sql.codec import from_text, to_text


class LearningMixin(Connection):
    """``learned`` (one record per person and item), ``digest_sections`` and ``xapi_sent``."""

    @guarded
    def record_learning(self, record: LearningRecord) -> LearningRecord | None:
        if record.minutes is not None and record.minutes < 0:
            raise ValueError(f"minutes must not be negative, got {record.minutes}")
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM items WHERE id = ?", (record.item_id,)).fetchone() is None:
                raise UnknownItemError(f"no item {record.item_id}")
            earlier = db.execute(
                "SELECT * FROM learned WHERE person = ? AND item_id = ?",
                (record.person, record.item_id),
            ).fetchone()
            db.execute(
                """
                INSERT INTO learned (person, item_id, learned_at, minutes, note, shared)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (person, item_id) DO UPDATE SET
                    minutes = excluded.minutes, note = excluded.note, shared = excluded.shared
                """,
                (
                    record.person,
                    record.item_id,
                    to_text(record.learned_at),
                    record.minutes,
                    record.note,
                    int(record.shared),
                ),
            )
        return None if earlier is None else _record(earlier)

    @guarded
    def delete_learning(self, person: str, item_id: int) -> bool:
        with self._transaction() as db:
            deleted = db.execute(
                "DELETE FROM learned WHERE person = ? AND item_id = ?", (person, item_id)
            )
            return deleted.rowcount > 0

    @guarded
    def learning(
        self, people: Collection[str], since: datetime, until: datetime | None = None
    ) -> list[LearningRecord]:
        wanted = set(people)
        if not wanted:
            return []
        end = "9999" if until is None else to_text(until)
        rows = self._db.execute(
            """
            SELECT * FROM learned WHERE learned_at >= ? AND learned_at < ?
            ORDER BY learned_at, person, item_id
            """,
            (to_text(since), end),
        )
        return [_record(row) for row in rows if row["person"] in wanted]

    @guarded
    def save_sections(self, person: str, day: date, sections: Mapping[str, Sequence[Pick]]) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM digest_sections WHERE person = ? AND day = ?",
                (person, day.isoformat()),
            )
            db.executemany(
                """
                INSERT INTO digest_sections
                    (person, day, section, position, item_id, score, reasons)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    (
                        person,
                        day.isoformat(),
                        name,
                        position,
                        pick.item.id,
                        pick.score,
                        json.dumps(list(pick.reasons)),
                    )
                    for name, picks in sections.items()
                    for position, pick in enumerate(picks)
                ],
            )

    @guarded
    def sections(
        self, person: str, day: date
    ) -> dict[str, list[tuple[int, float, tuple[str, ...]]]]:
        rows = self._db.execute(
            """
            SELECT section, item_id, score, reasons FROM digest_sections
            WHERE person = ? AND day = ? ORDER BY section, position
            """,
            (person, day.isoformat()),
        )
        found: dict[str, list[tuple[int, float, tuple[str, ...]]]] = {}
        for row in rows:
            found.setdefault(row["section"], []).append(
                (row["item_id"], row["score"], tuple(json.loads(row["reasons"])))
            )
        return found

    @guarded
    def source_usefulness(self) -> dict[str, SourceUse]:
        rows = self._db.execute(
            """
            SELECT s.url,
              (SELECT COUNT(*) FROM feedback f JOIN item_sources x ON x.item_id = f.item_id
               WHERE x.source_id = s.id AND f.judgement > 0) AS liked,
              (SELECT COUNT(*) FROM learned l JOIN item_sources x ON x.item_id = l.item_id
               WHERE x.source_id = s.id) AS learned,
              (SELECT COUNT(*) FROM shares h JOIN item_sources x ON x.item_id = h.item_id
               WHERE x.source_id = s.id) AS shared
            FROM sources s
            """
        )
        return {row["url"]: SourceUse(row["liked"], row["learned"], row["shared"]) for row in rows}

    @guarded
    def xapi_sent(self, endpoint: str, person: str) -> set[int]:
        rows = self._db.execute(
            "SELECT item_id FROM xapi_sent WHERE endpoint = ? AND person = ?", (endpoint, person)
        )
        return {row["item_id"] for row in rows}

    @guarded
    def record_xapi_sent(
        self, endpoint: str, person: str, sent: Mapping[int, str], now: datetime
    ) -> None:
        with self._transaction() as db:
            db.executemany(
                """
                INSERT INTO xapi_sent (endpoint, person, item_id, statement_id, sent_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (endpoint, person, item_id) DO UPDATE SET
                    statement_id = excluded.statement_id, sent_at = excluded.sent_at
                """,
                [(endpoint, person, item, sid, to_text(now)) for item, sid in sent.items()],
            )


def _record(row: Row) -> LearningRecord:
    return LearningRecord(
        person=row["person"],
        item_id=row["item_id"],
        learned_at=from_text(row["learned_at"]),
        minutes=row["minutes"],
        note=row["note"],
        shared=bool(row["shared"]),
    )
