"""The SQLite store: sources and their fetch state, items, and what each person was sent.

This module is the only place that knows the database layout, so that a
PostgreSQL store can later stand behind the same methods. Every write runs in
one ``BEGIN IMMEDIATE`` transaction: a crash or ``kill -9`` leaves either the
old or the new state, never half of a fetch or half of a digest.

Datetimes are stored as ISO-8601 UTC text of one fixed shape, so text order is
time order and ``published >= ?`` works on the column directly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from aggregator.dedupe import title_key
from aggregator.errors import (
    StoreError,
    StoreVersionError,
    UnknownItemError,
    UnknownSourceError,
)
from aggregator.fetch.schedule import SourceState
from aggregator.models import (
    ITEM_TYPES,
    CacheInfo,
    Details,
    Entry,
    FetchResult,
    Item,
    Pick,
    Share,
    Source,
    SourceStatus,
)
from aggregator.urls import canonical_url

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another process's transaction before giving up."""

ID_CHUNK = 500
MAX_ID = 2**63 - 1
"""SQLite's largest integer: a larger "id" a person typed names no item (and would overflow)."""
"""Ids per ``IN (...)`` query: well under SQLite's bound-parameter limit."""

ITER_BATCH = 1_000
"""Rows fetched at a time by :meth:`Store.iter_items`, to keep reindexing memory flat."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # Version 1: the initial schema.
    (
        """
        CREATE TABLE sources (
            id            INTEGER PRIMARY KEY,
            url           TEXT NOT NULL UNIQUE,
            name          TEXT NOT NULL,
            kind          TEXT NOT NULL,
            etag          TEXT,
            last_modified TEXT,
            last_status   INTEGER,
            last_error    TEXT,
            last_success  TEXT,
            failures      INTEGER NOT NULL DEFAULT 0,
            active        INTEGER NOT NULL DEFAULT 1
        )
        """,
        """
        CREATE TABLE items (
            id             INTEGER PRIMARY KEY,
            source_id      INTEGER NOT NULL REFERENCES sources(id),
            guid           TEXT NOT NULL,
            url            TEXT NOT NULL,
            canonical_url  TEXT NOT NULL,
            title          TEXT NOT NULL,
            summary        TEXT NOT NULL,
            content        TEXT NOT NULL,
            text           TEXT NOT NULL,
            published      TEXT NOT NULL,
            first_seen     TEXT NOT NULL,
            item_type      TEXT NOT NULL,
            tags           TEXT NOT NULL DEFAULT '[]',
            author         TEXT NOT NULL DEFAULT '',
            enclosure_url  TEXT NOT NULL DEFAULT '',
            enclosure_type TEXT NOT NULL DEFAULT '',
            UNIQUE (source_id, guid)
        )
        """,
        "CREATE INDEX items_canonical_url ON items(canonical_url) WHERE canonical_url != ''",
        "CREATE INDEX items_published ON items(published)",
        """
        CREATE TABLE item_sources (
            item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            PRIMARY KEY (item_id, source_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX item_sources_source ON item_sources(source_id)",
        """
        CREATE TABLE deliveries (
            person   TEXT NOT NULL,
            day      TEXT NOT NULL,
            item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            score    REAL NOT NULL,
            reasons  TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (person, day, item_id)
        ) WITHOUT ROWID
        """,
    ),
    # Version 2: what an item is beyond its text (event time, duration, course provider) as
    # JSON, a person's own choice of type, and the digests' "Upcoming" events apart from picks.
    (
        "ALTER TABLE items ADD COLUMN details TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE items ADD COLUMN type_override TEXT",
        "ALTER TABLE deliveries ADD COLUMN upcoming INTEGER NOT NULL DEFAULT 0",
    ),
    # Version 3: shares with colleagues, and the e-mail log that stops a second send a day.
    (
        """
        CREATE TABLE shares (
            id        INTEGER PRIMARY KEY,
            person    TEXT NOT NULL,
            item_id   INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            note      TEXT NOT NULL DEFAULT '',
            shared_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX shares_shared_at ON shares(shared_at)",
        """
        CREATE TABLE mailings (
            person   TEXT NOT NULL,
            day      TEXT NOT NULL,
            sent_at  TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error    TEXT,
            PRIMARY KEY (person, day)
        ) WITHOUT ROWID
        """,
    ),
    # Version 4: a person's judgements of items (``learnplace feedback``); one per item, so a
    # new judgement replaces the old one and clearing it deletes the row.
    (
        """
        CREATE TABLE feedback (
            person   TEXT NOT NULL,
            item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
            judgement INTEGER NOT NULL CHECK (judgement IN (-1, 1)),
            at       TEXT NOT NULL,
            PRIMARY KEY (person, item_id)
        ) WITHOUT ROWID
        """,
    ),
    # Version 5: per-source fetch schedule, permanent moves and parse problems (issue 3).
    (
        "ALTER TABLE sources ADD COLUMN fetch_url TEXT",
        "ALTER TABLE sources ADD COLUMN moved_from TEXT",
        "ALTER TABLE sources ADD COLUMN next_attempt TEXT",
        "ALTER TABLE sources ADD COLUMN retired INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sources ADD COLUMN problems TEXT NOT NULL DEFAULT '[]'",
        # Near-duplicate titles (aggregator.dedupe); items stored before stay unkeyed.
        "ALTER TABLE items ADD COLUMN title_key TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX items_title_key ON items(title_key) WHERE title_key != ''",
    ),
    # Version 6: items whose search-index entry is out of date (issue 8). Written in the same
    # transaction as the item change and cleared only after the index commit, so a crash
    # between store and index is repaired by the next run. No foreign key: a pruned item's id
    # stays queued until its index entry is deleted too.
    ("CREATE TABLE index_queue (item_id INTEGER PRIMARY KEY)",),
    # Version 7: events by their time (issue 16). An event's start and end as columns, for
    # Upcoming by event time and for telling a series' occurrences apart across sources;
    # whether the source dated an item (an undated one was given the time it was first seen,
    # which is what marks those stored before); and when a calendar source must next be read
    # in full, so its recurring series stay expanded over the horizon through 304s.
    (
        "ALTER TABLE items ADD COLUMN event_start TEXT",
        "ALTER TABLE items ADD COLUMN event_end TEXT",
        """
        UPDATE items SET event_start = json_extract(details, '$.event_start'),
                         event_end = json_extract(details, '$.event_end')
        WHERE details != '{}'
        """,
        "CREATE INDEX items_event_start ON items(event_start) WHERE event_start IS NOT NULL",
        "ALTER TABLE items ADD COLUMN dated INTEGER NOT NULL DEFAULT 1",
        "UPDATE items SET dated = 0 WHERE published = first_seen",
        "ALTER TABLE sources ADD COLUMN reread_at TEXT",
    ),
    ("ALTER TABLE sources ADD COLUMN last_attempt TEXT",),
)
"""``MIGRATIONS[n]`` takes the schema from version ``n`` to ``n + 1``; append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)

_ITEM_SELECT = """
    SELECT i.id, s.url, s.name, i.guid, i.url, i.canonical_url, i.title, i.summary,
           i.content, i.text, i.published, i.first_seen,
           COALESCE(i.type_override, i.item_type), i.tags, i.author,
           i.enclosure_url, i.enclosure_type, i.details, i.dated
    FROM items i JOIN sources s ON s.id = i.source_id
"""


_OWN_ITEM_COLUMNS = "SELECT guid, id, title, summary, content, url, item_type, details FROM items"
"""A source's stored item as :meth:`Store._refresh_item` compares it with a fresh entry."""
_OWN_ITEMS = f"{_OWN_ITEM_COLUMNS} WHERE source_id = ? AND guid IN ({{marks}})"
_OWN_IDS = "SELECT guid, id FROM items WHERE source_id = ? AND guid IN ({marks})"
# Another source's first item for the same story: same canonical URL, else same title key,
# and the same event start (occurrences of a series share a URL and a title: each is its own
# story). Keyed by :func:`_story_key`. Each query repeats its partial index's ``!= ''``:
# without it SQLite scans every item.
_SAME_CANONICALS = """
    SELECT canonical_url || char(10) || COALESCE(event_start, ''), MIN(id) FROM items
    WHERE source_id != ? AND canonical_url IN ({marks}) AND canonical_url != ''
    GROUP BY canonical_url, event_start
"""
_SAME_TITLE_KEYS = """
    SELECT title_key || char(10) || COALESCE(event_start, ''), MIN(id) FROM items
    WHERE source_id != ? AND title_key IN ({marks}) AND title_key != ''
    GROUP BY title_key, event_start
"""
_ENTRY_COLUMNS = (
    "url",
    "canonical_url",
    "title_key",
    "title",
    "summary",
    "content",
    "text",
    "item_type",
    "tags",
    "author",
    "enclosure_url",
    "enclosure_type",
    "details",
    "event_start",
    "event_end",
)
"""What an entry sets on its item, when inserted and when rewritten (:func:`_entry_values`)."""
_INSERT_ITEM = f"""
    INSERT INTO items (source_id, guid, first_seen, published, dated, {", ".join(_ENTRY_COLUMNS)})
    VALUES ({", ".join("?" * (5 + len(_ENTRY_COLUMNS)))})
"""  # noqa: S608 (built from the constant column names above; values go as parameters)
_UPDATE_ITEM = f"""
    UPDATE items SET {", ".join(f"{column} = ?" for column in _ENTRY_COLUMNS)},
        published = COALESCE(?, published), dated = MAX(dated, ?)
    WHERE id = ?
"""  # noqa: S608 (as _INSERT_ITEM)


@dataclass(frozen=True, slots=True)
class AddResult:
    """Items one :meth:`Store.add_entries` call created or changed: both need reindexing."""

    new_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """One source's fetch outcome to store: its new schedule state, and a 200's entries."""

    source_url: str
    result: FetchResult
    state: SourceState
    problems: tuple[str, ...] = ()
    entries: Sequence[Entry] | None = None
    complete_until: datetime | None = None
    """For a calendar: it lists every event it has up to then (see ``ParsedFeed``)."""
    reread_at: datetime | None = None
    """For a calendar: from then on it is fetched without validators, so that its series
    are expanded again before the horizon passes the end of what was expanded."""


def _to_text(moment: datetime) -> str:
    """One fixed UTC shape, so that SQLite text comparison is time comparison."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store only takes aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _optional_from_text(text: str | None) -> datetime | None:
    return None if text is None else _from_text(text)


def _canonical(url: str) -> str:
    return canonical_url(url) if url else ""


def _optional_text(moment: datetime | None) -> str | None:
    return None if moment is None else _to_text(moment)


def _story_key(key: str, entry: Entry) -> str:
    """A canonical URL or title key with the entry's event start, as the story queries key."""
    return f"{key}\n{_optional_text(entry.details.event_start) or ''}"


def _entry_values(entry: Entry, canonical: str, key: str) -> tuple[object, ...]:
    """The values of :data:`_ENTRY_COLUMNS` for ``entry``."""
    return (
        entry.url,
        canonical,
        key,
        entry.title,
        entry.summary,
        entry.content,
        entry.text,
        entry.item_type,
        json.dumps(list(entry.tags)),
        entry.author,
        entry.enclosure_url,
        entry.enclosure_type,
        details_to_json(entry.details),
        _optional_text(entry.details.event_start),
        _optional_text(entry.details.event_end),
    )


def _item_row(
    source_id: int, entry: Entry, canonical: str, key: str, now: datetime
) -> tuple[object, ...]:
    """The values of :data:`_INSERT_ITEM` for a new entry: undated, it is dated when first seen."""
    published = _to_text(entry.published or now)
    values = _entry_values(entry, canonical, key)
    return (
        source_id,
        entry.guid,
        _to_text(now),
        published,
        int(entry.published is not None),
        *values,
    )


def _rounds(entries: Sequence[Entry]) -> list[list[Entry]]:
    """``entries`` split so no guid repeats within one part: the nth occurrence goes in part n."""
    rounds: list[list[Entry]] = []
    seen: dict[str, int] = {}
    for entry in entries:
        n = seen.get(entry.guid, 0)
        seen[entry.guid] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(entry)
    return rounds


def _rows_by_key(
    db: sqlite3.Connection, query: str, keys: Sequence[str], before: tuple[object, ...]
) -> dict[str, tuple[Any, ...]]:
    """Rows of ``query`` (its ``{marks}`` filled with ``keys``, in chunks) by their first column."""
    found: dict[str, tuple[Any, ...]] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), ID_CHUNK):
        chunk = unique[start : start + ID_CHUNK]
        sql = query.format(marks=",".join("?" * len(chunk)))
        for row in db.execute(sql, (*before, *chunk)):
            found[row[0]] = row
    return found


def _item_from_row(row: sqlite3.Row) -> Item:
    return Item(
        id=row[0],
        source_url=row[1],
        source_name=row[2],
        guid=row[3],
        url=row[4],
        canonical_url=row[5],
        title=row[6],
        summary=row[7],
        content=row[8],
        text=row[9],
        published=_from_text(row[10]),
        first_seen=_from_text(row[11]),
        item_type=row[12],
        tags=tuple(json.loads(row[13])),
        author=row[14],
        enclosure_url=row[15],
        enclosure_type=row[16],
        details=details_from_json(row[17]),
        dated=bool(row[18]),
    )


def details_to_json(details: Details) -> str:
    """Only the fields that are set, datetimes as ISO text: most items have no details at all."""
    data: dict[str, object] = {}
    for name in Details.__slots__:
        value = getattr(details, name)
        if value in (None, "", False):
            continue
        data[name] = _to_text(value) if isinstance(value, datetime) else value
    return json.dumps(data, sort_keys=True)


def details_from_json(text: str) -> Details:
    data = json.loads(text)
    moments = {"event_start", "event_end", "course_start"}
    known = {
        name: _from_text(value) if name in moments else value
        for name, value in data.items()
        if name in Details.__slots__
    }
    return Details(**known)


def _record_fetch(
    db: sqlite3.Connection, source_id: int, record: FetchRecord, now: datetime
) -> None:
    """The decided schedule state, and ``now`` as the last attempt (whatever came of it);
    validators change only with a fresh 200 body."""
    state, result, problems = record.state, record.result, record.problems
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
            None if state.last_success is None else _to_text(state.last_success),
            state.failures,
            None if state.next_attempt is None else _to_text(state.next_attempt),
            int(state.retired),
            state.moved_from,
            json.dumps(list(problems)),
            _to_text(now),
            source_id,
        ),
    )
    if result.ok and not result.not_modified:
        cache = result.cache_info
        db.execute(
            "UPDATE sources SET etag = ?, last_modified = ?, reread_at = ? WHERE id = ?",
            (cache.etag, cache.last_modified, _optional_text(record.reread_at), source_id),
        )


def _renamed(
    db: sqlite3.Connection, source_id: int, entries: Sequence[Entry]
) -> dict[str, tuple[Any, ...]]:
    """Stored items of ``entries`` under an id an earlier version gave them, renamed to the
    entries' ids: rows of :data:`_OWN_ITEM_COLUMNS` by the new id."""
    former = {old: entry.guid for entry in entries for old in entry.former_guids}
    current = {entry.guid for entry in entries}
    found = _rows_by_key(
        db, _OWN_ITEMS, [old for old in former if old not in current], (source_id,)
    )
    renamed: dict[str, tuple[Any, ...]] = {}
    for old, row in found.items():
        guid = former[old]
        if guid not in renamed:
            db.execute("UPDATE items SET guid = ? WHERE id = ?", (guid, row[1]))
            renamed[guid] = (guid, *row[1:])
    return renamed


def withdraw_missing(
    db: sqlite3.Connection,
    source_id: int,
    entries: Sequence[Entry],
    now: datetime,
    until: datetime,
) -> list[int]:
    """Mark cancelled the source's events between ``now`` and ``until`` that its calendar, read
    in full up to ``until``, no longer lists (an occurrence deleted, a series ended); their ids.

    They stay stored, for the pages that showed them; if one comes back, its fresh details
    differ and it is updated like any changed item.
    """
    listed = {entry.guid for entry in entries}
    rows = db.execute(
        """
        SELECT id, guid, details FROM items
        WHERE source_id = ? AND event_start IS NOT NULL AND event_start BETWEEN ? AND ?
        """,
        (source_id, _to_text(now), _to_text(until)),
    ).fetchall()
    withdrawn = []
    for item_id, guid, text in rows:
        details = details_from_json(text)
        if guid in listed or details.event_cancelled:
            continue
        cancelled = details_to_json(replace(details, event_cancelled=True))
        db.execute("UPDATE items SET details = ? WHERE id = ?", (cancelled, item_id))
        withdrawn.append(int(item_id))
    return withdrawn


def _queue_for_index(db: sqlite3.Connection, ids: Iterable[int]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO index_queue (item_id) VALUES (?)", [(item_id,) for item_id in ids]
    )


def _chunks(ids: Sequence[int], size: int = ID_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class Store:
    """One SQLite file holding all of Learnplace's state except the search index.

    One connection per ``Store``; use it from the thread that opened it.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """``read_only``: for readers (search, the web app) beside a running ``learnplace run``.

        A read-only connection never migrates nor takes the write lock, so in
        WAL mode it neither blocks the run nor waits for it. It may be used from
        any thread, one at a time (the web app's worker threads take turns).
        """
        self.path = Path(path)
        if read_only:
            self._db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            # isolation_level=None: the module's own BEGIN/COMMIT decide the transactions.
            self._db = sqlite3.connect(self.path, isolation_level=None)
        try:
            if read_only:
                self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                self._require_current()
            else:
                self._configure()
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path}: cannot open as a Learnplace store: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    def _configure(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        # NORMAL is crash-safe in WAL mode; it only risks the last commits on power loss.
        self._db.execute("PRAGMA synchronous = NORMAL")

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path}: schema version {version} was written by a newer Learnplace "
                f"(this one knows up to {SCHEMA_VERSION}); upgrade Learnplace to open it"
            )

    def _require_current(self) -> None:
        version = self._version()
        self._check_version(version)
        if version < SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path}: schema version {version} is older than this Learnplace's "
                f"{SCHEMA_VERSION}; `learnplace run` upgrades it"
            )

    def _migrate(self) -> None:
        self._check_version(self._version())
        if self._version() == SCHEMA_VERSION:
            return
        with self._transaction():
            # Read again under the write lock: another process may have migrated meanwhile.
            version = self._version()
            self._check_version(version)
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """IMMEDIATE takes the write lock up front, so busy_timeout waits instead of deadlocking."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._version()

    # Sources

    def sync_sources(self, sources: Sequence[Source]) -> None:
        """Make the table match ``feeds.toml``; dropped sources go inactive so their items and
        history stay."""
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
            known = {row[0] for row in db.execute("SELECT url FROM sources WHERE active = 1")}
            db.executemany(
                "UPDATE sources SET active = 0 WHERE url = ?",
                [(url,) for url in known - listed],
            )

    def make_due(self, url: str) -> bool:
        """Fetch the source at the next run, whatever its backoff said; False if unknown."""
        with self._transaction() as db:
            changed = db.execute("UPDATE sources SET next_attempt = NULL WHERE url = ?", (url,))
            return changed.rowcount > 0

    def _source_id(self, url: str) -> int:
        row = self._db.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()
        if row is None:
            raise UnknownSourceError(f"unknown source {url!r}: sync_sources() has not recorded it")
        return int(row[0])

    def cache_info(self, url: str, now: datetime | None = None) -> CacheInfo:
        """Validators for a conditional GET; empty for a source never fetched (or unknown),
        and for a calendar due to be read in full again at ``now`` (its ``reread_at``)."""
        row = self._db.execute(
            "SELECT etag, last_modified, reread_at FROM sources WHERE url = ?", (url,)
        ).fetchone()
        if row is None or (now is not None and row[2] is not None and row[2] <= _to_text(now)):
            return CacheInfo()
        return CacheInfo(row[0], row[1])

    def source_state(self, url: str) -> SourceState:
        """The fetch schedule of a source, as :func:`aggregator.schedule.decide` left it."""
        row = self._db.execute(
            """
            SELECT COALESCE(fetch_url, url), last_status, last_error, last_success, failures,
                   next_attempt, retired, moved_from
            FROM sources WHERE url = ?
            """,
            (url,),
        ).fetchone()
        if row is None:
            raise UnknownSourceError(f"unknown source {url!r}: sync_sources() has not recorded it")
        return SourceState(
            fetch_url=row[0],
            last_status=row[1],
            last_error=row[2],
            last_success=_optional_from_text(row[3]),
            failures=row[4],
            next_attempt=_optional_from_text(row[5]),
            retired=bool(row[6]),
            moved_from=row[7],
        )

    def record_fetches(self, records: Sequence[FetchRecord], now: datetime) -> AddResult:
        """Many sources' fetch outcomes, and a 200's entries, in one transaction.

        A commit per source (two, with its entries) was most of the store's
        share of a run: 1,000 sources meant 2,000 commits. A run now commits a
        batch at a time; a crash loses at most the last batch, whose sources
        are simply fetched again (their validators were not saved either).
        """
        added = AddResult()
        with self._transaction() as db:
            for record in records:
                source_id = self._source_id(record.source_url)
                if record.entries is not None:
                    self._add_feed(db, source_id, record.entries, now, added)
                    if record.complete_until is not None:
                        withdrawn = withdraw_missing(
                            db, source_id, record.entries, now, record.complete_until
                        )
                        added.updated_ids.extend(withdrawn)
                _record_fetch(db, source_id, record, now)
            _queue_for_index(db, [*added.new_ids, *added.updated_ids])
        return added

    def source_statuses(self) -> list[SourceStatus]:
        """Active sources with the number of items each supplied (syndicated copies count),
        when each last brought a new item and when a run last tried it."""
        rows = self._db.execute(
            """
            SELECT s.url, s.name, s.last_status, s.last_error, s.last_success, s.failures,
                   (SELECT COUNT(*) FROM item_sources x WHERE x.source_id = s.id),
                   s.next_attempt, s.retired, COALESCE(s.fetch_url, s.url), s.moved_from,
                   s.problems, (SELECT MAX(i.first_seen) FROM items i WHERE i.source_id = s.id),
                   s.last_attempt
            FROM sources s WHERE s.active = 1 ORDER BY s.name, s.url
            """
        )
        return [
            SourceStatus(
                url=row[0],
                name=row[1],
                last_status=row[2],
                last_error=row[3],
                last_success=_optional_from_text(row[4]),
                failures=row[5],
                items=row[6],
                next_attempt=_optional_from_text(row[7]),
                retired=bool(row[8]),
                fetch_url=row[9],
                moved_from=row[10],
                problems=tuple(json.loads(row[11])),
                last_new_item=_optional_from_text(row[12]),
                last_attempt=_optional_from_text(row[13]),
            )
            for row in rows
        ]

    # Items

    def add_entries(self, source_url: str, entries: Sequence[Entry], now: datetime) -> AddResult:
        """Store one feed's entries; the result says which items the index must (re)index."""
        result = AddResult()
        with self._transaction() as db:
            self._add_feed(db, self._source_id(source_url), entries, now, result)
            _queue_for_index(db, [*result.new_ids, *result.updated_ids])
        return result

    def add_feeds(self, feeds: Iterable[tuple[str, Sequence[Entry]]], now: datetime) -> AddResult:
        """Many feeds' entries in one transaction: a bulk import pays one commit, not one each."""
        result = AddResult()
        with self._transaction() as db:
            for source_url, entries in feeds:
                self._add_feed(db, self._source_id(source_url), entries, now, result)
            _queue_for_index(db, [*result.new_ids, *result.updated_ids])
        return result

    def _add_feed(
        self,
        db: sqlite3.Connection,
        source_id: int,
        entries: Sequence[Entry],
        now: datetime,
        result: AddResult,
    ) -> None:
        """One feed's entries with a few statements per feed rather than five per entry.

        A guid repeated within the document is a later version of the same
        entry, so each repeat goes in a later round, where it updates the
        version the round before stored.
        """
        for round_entries in _rounds(entries):
            self._add_round(db, source_id, round_entries, now, result)

    def _add_round(
        self,
        db: sqlite3.Connection,
        source_id: int,
        entries: Sequence[Entry],
        now: datetime,
        result: AddResult,
    ) -> None:
        """Entries with distinct guids: their stored items, and other sources' items
        for the same stories, are read at once; new items go in with one ``executemany``."""
        guids = [entry.guid for entry in entries]
        own = _rows_by_key(db, _OWN_ITEMS, guids, (source_id,))
        own |= _renamed(db, source_id, [entry for entry in entries if entry.guid not in own])
        fresh: list[tuple[Entry, str, str]] = []
        for entry in entries:
            row = own.get(entry.guid)
            if row is not None:
                self._refresh_item(db, row, entry, now, result)
            else:
                # Computed only here: an unchanged entry of a changed feed (most of them)
                # needs neither.
                key = title_key(entry.title, entry.published or now)
                fresh.append((entry, _canonical(entry.url), key))
        if not fresh:
            return
        by_canonical = _rows_by_key(
            db,
            _SAME_CANONICALS,
            [canonical for _, canonical, _ in fresh if canonical],
            (source_id,),
        )
        by_title = _rows_by_key(
            db, _SAME_TITLE_KEYS, [key for _, _, key in fresh if key], (source_id,)
        )
        syndicated: list[tuple[int, int]] = []
        inserts: list[tuple[Entry, str, str]] = []
        for entry, canonical, key in fresh:
            match = (canonical and by_canonical.get(_story_key(canonical, entry))) or (
                key and by_title.get(_story_key(key, entry))
            )
            if match:
                syndicated.append((int(match[1]), source_id))
            else:
                inserts.append((entry, canonical, key))
        db.executemany(
            "INSERT OR IGNORE INTO item_sources (item_id, source_id) VALUES (?, ?)", syndicated
        )
        if not inserts:
            return
        db.executemany(
            _INSERT_ITEM,
            [_item_row(source_id, entry, canonical, key, now) for entry, canonical, key in inserts],
        )
        ids = _rows_by_key(db, _OWN_IDS, [entry.guid for entry, _, _ in inserts], (source_id,))
        new_ids = [int(ids[entry.guid][1]) for entry, _, _ in inserts]
        db.executemany(
            "INSERT INTO item_sources (item_id, source_id) VALUES (?, ?)",
            [(item_id, source_id) for item_id in new_ids],
        )
        result.new_ids.extend(new_ids)

    def _refresh_item(
        self,
        db: sqlite3.Connection,
        own: Sequence[Any],
        entry: Entry,
        now: datetime,
        result: AddResult,
    ) -> None:
        """An entry already stored for its source: rewritten only if what is shown changed.

        ``own`` is a row of :data:`_OWN_ITEM_COLUMNS` (guid, id, title, summary,
        content, url, item_type, details).
        """
        fresh = (
            entry.title,
            entry.summary,
            entry.content,
            entry.url,
            entry.item_type,
            details_to_json(entry.details),
        )
        if tuple(own[2:]) != fresh:
            item_id = int(own[1])
            key = title_key(entry.title, entry.published or now)
            self._update_item(db, item_id, entry, _canonical(entry.url), key)
            result.updated_ids.append(item_id)

    def _update_item(
        self, db: sqlite3.Connection, item_id: int, entry: Entry, canonical: str, key: str
    ) -> None:
        """A changed entry keeps its id and first_seen; its date moves only if the feed has one."""
        published = None if entry.published is None else _to_text(entry.published)
        dated = int(published is not None)
        db.execute(_UPDATE_ITEM, (*_entry_values(entry, canonical, key), published, dated, item_id))

    def items(self, ids: Iterable[int]) -> dict[int, Item]:
        """Items by id; ids that do not exist are simply absent from the result."""
        wanted = sorted(item_id for item_id in set(ids) if 0 < item_id <= MAX_ID)
        found: dict[int, Item] = {}
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"{_ITEM_SELECT} WHERE i.id IN ({marks})", chunk):
                found[row[0]] = _item_from_row(row)
        return found

    def items_since(self, since: datetime) -> list[Item]:
        """Items published at or after ``since``, newest first."""
        rows = self._db.execute(
            f"{_ITEM_SELECT} WHERE i.published >= ? ORDER BY i.published DESC, i.id",
            (_to_text(since),),
        )
        return [_item_from_row(row) for row in rows]

    def upcoming_event_ids(self, now: datetime, until: datetime) -> list[int]:
        """Events that have not ended by ``now`` and start by ``until``, soonest first.

        Chosen by when they happen, whatever the date they were announced on.
        """
        rows = self._db.execute(
            """
            SELECT id FROM items
            WHERE event_start IS NOT NULL AND event_start <= ?
              AND COALESCE(event_end, event_start) >= ?
              AND COALESCE(type_override, item_type) = 'event'
            ORDER BY event_start, id
            """,
            (_to_text(until), _to_text(now)),
        )
        return [row[0] for row in rows]

    def iter_items(self) -> Iterator[Item]:
        """Every item in id order, fetched in batches by keyset so no cursor stays open."""
        last_id = 0
        while True:
            rows = self._db.execute(
                f"{_ITEM_SELECT} WHERE i.id > ? ORDER BY i.id LIMIT ?", (last_id, ITER_BATCH)
            ).fetchall()
            if not rows:
                return
            yield from (_item_from_row(row) for row in rows)
            last_id = rows[-1][0]

    def set_item_type(self, item_id: int, item_type: str | None) -> None:
        """A person's own type for an item, kept across refetches; ``None`` returns to the
        parser's guess."""
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
            _queue_for_index(db, [item_id])

    def item_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def item_ids(self) -> set[int]:
        return {row[0] for row in self._db.execute("SELECT id FROM items")}

    # The index queue: what the search index has not caught up with yet

    def index_queue(self) -> Iterator[tuple[list[Item], list[int]]]:
        """Queued work in id order, a batch at a time: items to (re)index and ids to delete.

        Batches keep memory flat after a cold run that queued every item.
        """
        last_id = 0
        while True:
            ids = [
                row[0]
                for row in self._db.execute(
                    "SELECT item_id FROM index_queue WHERE item_id > ? ORDER BY item_id LIMIT ?",
                    (last_id, ITER_BATCH),
                )
            ]
            if not ids:
                return
            found = self.items(ids)
            yield list(found.values()), [item_id for item_id in ids if item_id not in found]
            last_id = ids[-1]

    def index_queue_size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM index_queue").fetchone()[0])

    def clear_index_queue(self, up_to: int | None = None) -> None:
        """Forget queued ids (up to ``up_to``), once the index commit that covered them is done.

        Only a run (holding the run lock) queues or clears, so nothing is queued in between.
        """
        with self._transaction() as db:
            if up_to is None:
                db.execute("DELETE FROM index_queue")
            else:
                db.execute("DELETE FROM index_queue WHERE item_id <= ?", (up_to,))

    def prune(self, before: datetime, keep_digests_since: date) -> int:
        """Delete items published before ``before``; the index follows through the queue.

        Kept whatever their age: items someone shared or liked, and items in a
        digest (or its Upcoming list) from ``keep_digests_since`` on, so recent
        pages and the team pages never point at a missing item. Returns how many
        items were deleted.
        """
        with self._transaction() as db:
            ids = [
                row[0]
                for row in db.execute(
                    """
                    SELECT id FROM items i WHERE published < ?
                    AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.item_id = i.id)
                    AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.item_id = i.id
                                    AND f.judgement > 0)
                    AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.item_id = i.id
                                    AND d.day >= ?)
                    """,
                    (_to_text(before), keep_digests_since.isoformat()),
                )
            ]
            db.executemany("DELETE FROM items WHERE id = ?", [(item_id,) for item_id in ids])
            _queue_for_index(db, ids)
        return len(ids)

    # Deliveries

    def delivered_before(self, person: str, day: date) -> set[int]:
        """What earlier digests sent; a rerun of ``day`` itself may pick the same items again."""
        rows = self._db.execute(
            "SELECT DISTINCT item_id FROM deliveries WHERE person = ? AND day < ? AND upcoming = 0",
            (person, day.isoformat()),
        )
        return {row[0] for row in rows}

    def save_digest(
        self, person: str, day: date, picks: Sequence[Pick], upcoming: Sequence[Pick] = ()
    ) -> None:
        """Replace the person's digest for ``day``: rerunning a day must not add to it.

        ``upcoming`` events are kept apart: they are listed every day until they
        happen, so they do not count as sent.
        """
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

    def digest(
        self, person: str, day: date, *, upcoming: bool = False
    ) -> list[tuple[int, float, tuple[str, ...]]]:
        """The picks of a saved digest in order, or with ``upcoming`` its Upcoming events."""
        rows = self._db.execute(
            """
            SELECT item_id, score, reasons FROM deliveries
            WHERE person = ? AND day = ? AND upcoming = ? ORDER BY position
            """,
            (person, day.isoformat(), int(upcoming)),
        )
        return [(row[0], row[1], tuple(json.loads(row[2]))) for row in rows]

    # Feedback

    def set_feedback(self, person: str, item_id: int, judgement: int, now: datetime) -> None:
        """Record "more like this" (1) or "less like this" (-1); 0 clears the judgement."""
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
                (person, item_id, judgement, _to_text(now)),
            )

    def feedback(self, person: str) -> dict[int, int]:
        """The person's judgements: item id -> 1 (more) or -1 (less)."""
        rows = self._db.execute(
            "SELECT item_id, judgement FROM feedback WHERE person = ?", (person,)
        )
        return {row[0]: row[1] for row in rows}

    def judgements(self, person: str) -> list[tuple[int, int, datetime]]:
        """The person's judgements with when each was made, newest first: (item id, sign, at)."""
        rows = self._db.execute(
            "SELECT item_id, judgement, at FROM feedback WHERE person = ?"
            " ORDER BY at DESC, item_id",
            (person,),
        )
        return [(row[0], row[1], _from_text(row[2])) for row in rows]

    def clear_feedback(self, person: str) -> int:
        """Take back every judgement of the person; how many there were."""
        with self._transaction() as db:
            return db.execute("DELETE FROM feedback WHERE person = ?", (person,)).rowcount

    def find_item(self, ref: str) -> int | None:
        """An item id from what a person typed: the id itself, or the item's (canonical) URL."""
        ref = ref.strip()
        if ref.isascii() and ref.isdigit():  # "²" is a digit to isdigit, not to int
            if len(ref) > len(str(MAX_ID)) or int(ref) > MAX_ID:
                return None
            row = self._db.execute("SELECT id FROM items WHERE id = ?", (int(ref),)).fetchone()
            return None if row is None else int(row[0])
        row = self._db.execute(
            "SELECT id FROM items WHERE url = ? OR canonical_url = ? ORDER BY id LIMIT 1",
            (ref, _canonical(ref)),
        ).fetchone()
        return None if row is None else int(row[0])

    def digest_days(self, person: str) -> list[date]:
        rows = self._db.execute(
            "SELECT DISTINCT day FROM deliveries WHERE person = ? ORDER BY day", (person,)
        )
        return [date.fromisoformat(row[0]) for row in rows]

    # Shares

    def add_share(self, person: str, item_id: int, note: str, now: datetime) -> Share:
        """Record a share; sharing the same item again replaces the note (one voice each),
        and the returned share says what it replaced."""
        with self._transaction() as db:
            earlier = db.execute(
                "SELECT note FROM shares WHERE person = ? AND item_id = ? ORDER BY id DESC",
                (person, item_id),
            ).fetchone()
            db.execute("DELETE FROM shares WHERE person = ? AND item_id = ?", (person, item_id))
            db.execute(
                "INSERT INTO shares (person, item_id, note, shared_at) VALUES (?, ?, ?, ?)",
                (person, item_id, note, _to_text(now)),
            )
        replaced = None if earlier is None else str(earlier[0])
        return Share(person, item_id, note, now, replaced_note=replaced)

    def shares(
        self, people: Collection[str], since: datetime, until: datetime | None = None
    ) -> list[Share]:
        """Shares by ``people`` made at or after ``since`` (and before ``until``), oldest first."""
        wanted = set(people)
        if not wanted:
            return []
        end = "9999" if until is None else _to_text(until)
        rows = self._db.execute(
            """
            SELECT person, item_id, note, shared_at FROM shares
            WHERE shared_at >= ? AND shared_at < ? ORDER BY shared_at, id
            """,
            (_to_text(since), end),
        )
        return [
            Share(row[0], row[1], row[2], _from_text(row[3])) for row in rows if row[0] in wanted
        ]

    # E-mail

    def mailed(self, person: str, day: date) -> bool:
        """Whether ``person``'s digest for ``day`` already went out."""
        row = self._db.execute(
            "SELECT sent_at FROM mailings WHERE person = ? AND day = ?", (person, day.isoformat())
        ).fetchone()
        return row is not None and row[0] is not None

    def record_mailing(
        self, person: str, day: date, now: datetime, error: str | None = None
    ) -> None:
        """Remember a send (``error`` None) or a failed attempt, which the next run retries."""
        with self._transaction() as db:
            db.execute(
                """
                INSERT INTO mailings (person, day, sent_at, attempts, error)
                VALUES (?, ?, ?, 1, ?)
                ON CONFLICT (person, day) DO UPDATE SET
                    sent_at = excluded.sent_at, attempts = attempts + 1, error = excluded.error
                """,
                (person, day.isoformat(), None if error else _to_text(now), error),
            )
