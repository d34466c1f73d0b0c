"""Sources and their fetch state: the table ``feeds.toml`` is synced into, validators for
conditional GETs, the schedule :mod:`aggregator.schedule` decides, and a run's outcomes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from aggregator.errors import UnknownSourceError
from aggregator.models import CacheInfo, Source, SourceState, SourceStatus
from aggregator.store.protocol import AddResult, FetchRecord
from aggregator.store.sql.base import Connection, Database, guarded
from aggregator.store.sql.codec import optional_from_text, optional_text, to_text
from aggregator.store.sql.entries import add_feed, source_id, withdraw_missing


def _record_fetch(db: Database, source: int, record: FetchRecord, now: datetime) -> None:
    """The decided schedule state, and ``now`` as the last attempt (whatever came of it);
    validators change only with a fresh 200 body."""
    state, result = record.state, record.result
    db.execute(
        """
        UPDATE sources SET fetch_url = ?, last_status = ?, last_error = ?,
            last_success = ?, failures = ?, next_attempt = ?, retired = ?,
            moved_from = ?, problems = ?, last_attempt = ?
        WHERE id = ?
        """,
        (
            state.fetch_url,
            state.last_status,
            state.last_error,
            optional_text(state.last_success),
            state.failures,
            optional_text(state.next_attempt),
            int(state.retired),
            state.moved_from,
            json.dumps(list(record.problems)),
            to_text(now),
            source,
        ),
    )
    if result.ok and not result.not_modified:
        cache = result.cache_info
        db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, reread_at = ? WHERE id = ?",
            (cache.etag, cache.last_modified, optional_text(record.reread_at), source),
        )


class SourcesMixin(Connection):
    """The ``sources`` table; a source is never deleted, so its items and history stay."""

    @guarded
    def sync_sources(self, sources: Sequence[Source]) -> None:
        listed = {source.url for source in sources}
        with self._transaction() as db:
            db.executemany(
                """
                INSERT INTO sources (url, name, kind, active) VALUES (?, ?, ?, 1)
                ON CONFLICT (url) DO UPDATE SET
                    name = excluded.name, kind = excluded.kind, active = 1
                """,
                [(source.url, source.name, source.kind) for source in sources],
            )
            known = {row["url"] for row in db.execute("SELECT url FROM sources WHERE active = 1")}
            db.executemany(
                "UPDATE sources SET active = 0 WHERE url = ?",
                [(url,) for url in known - listed],
            )

    @guarded
    def make_due(self, url: str) -> bool:
        with self._transaction() as db:
            changed = db.execute("UPDATE sources SET next_attempt = NULL WHERE url = ?", (url,))
            return changed.rowcount > 0

    @guarded
    def cache_info(self, url: str, now: datetime | None = None) -> CacheInfo:
        row = self._db.execute(
            "SELECT etag, last_modified, reread_at FROM sources WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            return CacheInfo()
        reread_at = row["reread_at"]
        if now is not None and reread_at is not None and reread_at <= to_text(now):
            return CacheInfo()
        return CacheInfo(row["etag"], row["last_modified"])

    @guarded
    def source_state(self, url: str) -> SourceState:
        row = self._db.execute(
            """
            SELECT COALESCE(fetch_url, url) AS fetch_url, last_status, last_error, last_success,
                   failures, next_attempt, retired, moved_from
            FROM sources WHERE url = ?
            """,
            (url,),
        ).fetchone()
        if row is None:
            raise UnknownSourceError(f"unknown source {url!r}: sync_sources() has not recorded it")
        return SourceState(
            fetch_url=row["fetch_url"],
            last_status=row["last_status"],
            last_error=row["last_error"],
            last_success=optional_from_text(row["last_success"]),
            failures=row["failures"],
            next_attempt=optional_from_text(row["next_attempt"]),
            retired=bool(row["retired"]),
            moved_from=row["moved_from"],
        )

    @guarded
    def record_fetches(self, records: Sequence[FetchRecord], now: datetime) -> AddResult:
        """A commit per source (two, with its entries) was most of the store's share of a run:
        1,000 sources meant 2,000 commits. A run now commits a batch at a time; a crash loses
        at most the last batch, whose sources are simply fetched again (their validators were
        not saved either)."""
        added = AddResult()
        with self._transaction() as db:
            for record in records:
                source = source_id(db, record.source_url)
                if record.entries is not None:
                    add_feed(db, source, record.entries, now, added)
                    if record.complete_until is not None:
                        withdrawn = withdraw_missing(
                            db, source, record.entries, now, record.complete_until
                        )
                        added.updated_ids.extend(withdrawn)
                _record_fetch(db, source, record, now)
            self._queue_for_index(db, [*added.new_ids, *added.updated_ids])
        return added

    @guarded
    def source_statuses(self) -> list[SourceStatus]:
        rows = self._db.execute(
            """
            SELECT s.url, s.name, s.last_status, s.last_error, s.last_success, s.failures,
                   (SELECT COUNT(*) FROM item_sources x WHERE x.source_id = s.id) AS items,
                   s.next_attempt, s.retired, COALESCE(s.fetch_url, s.url) AS fetch_url,
                   s.moved_from, s.problems, s.last_attempt,
                   (SELECT MAX(i.first_seen) FROM items i WHERE i.source_id = s.id)
                       AS last_new_item
            FROM sources s WHERE s.active = 1 ORDER BY s.name, s.url
            """
        )
        return [
            SourceStatus(
                url=row["url"],
                name=row["name"],
                last_status=row["last_status"],
                last_error=row["last_error"],
                last_success=optional_from_text(row["last_success"]),
                failures=row["failures"],
                items=row["items"],
                next_attempt=optional_from_text(row["next_attempt"]),
                retired=bool(row["retired"]),
                fetch_url=row["fetch_url"],
                moved_from=row["moved_from"],
                problems=tuple(json.loads(row["problems"])),
                last_new_item=optional_from_text(row["last_new_item"]),
                last_attempt=optional_from_text(row["last_attempt"]),
            )
            for row in rows
        ]
