"""A whole store copied to another backend (SQLite to PostgreSQL and back), checked as it goes.

Every table both schemas hold is copied with its ids, in batches read by primary key from
one snapshot of the source (a 50,000-item store is never held in memory whole), into one
transaction on the target: a copy that fails half-way, or whose checksums differ, is rolled
back, and a SQLite file the copy created is removed, so the target is left as it was.

Each table is checked by its row count and a checksum computed the same way on both sides:
sha256 over its rows in primary-key order, each value written with its kind (integers as
digits, floats by ``repr``, text as its UTF-8 bytes with their length). Both schemas keep
timestamps as the same ISO text and order text bytewise (PostgreSQL's columns are in the
``"C"`` collation), so equal stores give equal checksums. The PostgreSQL-only tables (the
work queue's, the search index's) are not copied: the index is rebuilt on the new backend.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.errors import CopyTargetNotEmptyError, StoreCopyError
from aggregator.store import describe_location, is_url, open_store
from aggregator.store.sql.base import Connection, Database

BATCH_ROWS = 1000
"""Rows read and written at a time: a few MiB of items, whatever the store's size."""


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the store, in the order a copy writes them (every foreign key points up)."""

    name: str
    key: tuple[str, ...]
    identity: bool = False
    """Its key is generated: after the copy, the target's next id follows the copied ones."""


TABLES: tuple[Table, ...] = (
    Table("sources", ("id",), identity=True),
    Table("items", ("id",), identity=True),
    Table("item_sources", ("item_id", "source_id")),
    Table("deliveries", ("person", "day", "item_id")),
    Table("digest_sections", ("person", "day", "section", "position")),
    Table("shares", ("id",), identity=True),
    Table("mailings", ("person", "day")),
    Table("feedback", ("person", "item_id")),
    Table("learned", ("person", "item_id")),
    Table("xapi_sent", ("endpoint", "person", "item_id")),
    Table("index_queue", ("item_id",)),
)

NOT_COPIED = ("learnplace_", "queue_", "search_", "procrastinate_")
"""Tables (and prefixes) that are not the store's data: each store records its own schema
version (and a PostgreSQL one its web servers' session key); PostgreSQL's work queue holds
one cycle's jobs, its search tables are rebuilt."""

ONE_BACKEND_COLUMNS = frozenset({("index_queue", "seq")})
"""Columns only one backend has; PostgreSQL numbers its index queue for concurrent writers."""

Progress = Callable[[str, int], None]
"""Called after each batch written, with the table's name and its rows written so far."""


@dataclass(frozen=True, slots=True)
class TableCheck:
    """One table's rows and checksums, read from the source and then from the target."""

    table: str
    rows_before: int
    rows_after: int
    checksum_before: str
    checksum_after: str

    @property
    def matches(self) -> bool:
        return (self.rows_before, self.checksum_before) == (self.rows_after, self.checksum_after)


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy did: per table, before and after; ``kept`` is false when it was undone."""

    source: str
    target: str
    target_is_database: bool
    tables: list[TableCheck]
    kept: bool
    seconds: float

    @property
    def matches(self) -> bool:
        return all(check.matches for check in self.tables)


def copy_store(
    source_location: str,
    target_location: str,
    *,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the store at ``source_location`` into ``target_location`` (a ``postgresql://``
    URL, or a SQLite file's path that does not exist yet or holds an empty store).

    The target must be empty (:class:`CopyTargetNotEmptyError`); its schema is made by
    opening it, as a run would. The caller keeps other writers away from the source.
    """
    target_location = _location(target_location)
    if _location(source_location) == target_location:
        raise StoreCopyError(f"{describe_location(target_location)}: that is the store itself")
    new_file = None if is_url(target_location) else Path(target_location)
    if new_file is not None and new_file.exists():
        new_file = None  # not ours to remove
    started = time.monotonic()
    kept = False
    try:
        with ExitStack() as stack:
            source = _connection(stack.enter_context(open_store(source_location)))
            target = _connection(stack.enter_context(open_store(target_location)))
            checks, kept = _copy(source, target, batch_rows, progress)
    finally:
        if new_file is not None and not kept:
            _remove_sqlite(new_file)
    return CopyReport(
        source=describe_location(source_location),
        target=describe_location(target_location),
        target_is_database=is_url(target_location),
        tables=checks,
        kept=kept,
        seconds=time.monotonic() - started,
    )


def store_checksums(location: str) -> dict[str, tuple[int, str]]:
    """Each copied table's row count and checksum, as :func:`copy_store` computes them."""
    with open_store(location, read_only=not is_url(location)) as opened:
        store = _connection(opened)
        with store._snapshot() as db:
            columns = _columns(store._tables(db), store._tables(db), location)
            return {
                table.name: _read(db, table, columns[table.name], BATCH_ROWS, None)
                for table in TABLES
            }


def _location(location: str) -> str:
    return location if is_url(location) else str(Path(location).expanduser().resolve())


def _connection(store: object) -> Connection:
    assert isinstance(store, Connection), f"{type(store).__name__} is no SQL store"
    return store


def _copy(
    source: Connection, target: Connection, batch_rows: int, progress: Progress | None
) -> tuple[list[TableCheck], bool]:
    """Write every table in one target transaction; roll it back unless every check matches."""
    where = describe_location(target.location)
    checks: list[TableCheck] = []
    try:
        with source._snapshot() as reading, target._transaction() as writing:
            columns = _columns(source._tables(reading), target._tables(writing), where)
            _refuse_rows(writing, where)
            for table in TABLES:
                names = columns[table.name]

                def write(
                    rows: list[tuple[Any, ...]], table: Table = table, names: list[str] = names
                ) -> None:
                    _write(target, writing, table, names, rows, where)

                rows_before, before = _read(reading, table, names, batch_rows, write, progress)
                if table.identity:
                    target._reset_key(writing, table.name, table.key[0])
                rows_after, after = _read(writing, table, names, batch_rows, None)
                checks.append(TableCheck(table.name, rows_before, rows_after, before, after))
            if not all(check.matches for check in checks):
                raise _Differs
    except _Differs:
        return checks, False
    except (*source._driver_errors, *target._driver_errors) as exc:
        raise StoreCopyError(
            f"{where}: the copy stopped ({_first_line(exc)}); nothing was copied"
        ) from exc
    return checks, True


class _Differs(Exception):
    """Raised inside the target's transaction to roll back a copy whose checks differ."""


def _columns(
    source: dict[str, list[str]], target: dict[str, list[str]], where: str
) -> dict[str, list[str]]:
    """Each copied table's columns, the same on both sides; a difference is refused.

    Both stores are at their backends' current schema; a table both hold that the copy
    does not know would be lost, so it is refused too (a migration added it here only).
    """
    unknown = {
        name
        for name in set(source) & set(target)
        if not name.startswith(NOT_COPIED) and name not in {t.name for t in TABLES}
    }
    if unknown:
        raise StoreCopyError(f"{where}: the copy does not know the tables {sorted(unknown)}")
    columns: dict[str, list[str]] = {}
    for table in TABLES:
        theirs = [
            c for c in source.get(table.name, []) if (table.name, c) not in ONE_BACKEND_COLUMNS
        ]
        ours = [c for c in target.get(table.name, []) if (table.name, c) not in ONE_BACKEND_COLUMNS]
        if not theirs or set(theirs) != set(ours):
            raise StoreCopyError(
                f"{where}: the table {table.name} differs between the stores "
                f"({theirs} and {ours}); upgrade both with `learnplace run` first"
            )
        columns[table.name] = theirs
    return columns


def _refuse_rows(db: Database, where: str) -> None:
    holding = {
        table.name: count
        for table in TABLES
        if (count := int(db.execute(_Sql(table, list(table.key)).count).fetchone()[0]))
    }
    if holding:
        held = ", ".join(f"{count} {name}" for name, count in holding.items())
        raise CopyTargetNotEmptyError(
            f"{where} already holds a store ({held}): copy into an empty database or a new file"
        )


class _Sql:
    """A table's statements. Its names come from :data:`TABLES` and the stores' own schemas,
    never from a person, and are quoted all the same."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        listed = ", ".join(f'"{c}"' for c in columns)
        order = ", ".join(f'"{c}"' for c in table.key)
        after = ", ".join("?" * len(table.key))
        name = f'"{table.name}"'
        self.count = f"SELECT COUNT(*) FROM {name}"  # noqa: S608
        self.first = f"SELECT {listed} FROM {name} ORDER BY {order} LIMIT ?"  # noqa: S608
        self.after = (
            f"SELECT {listed} FROM {name} WHERE ({order}) > ({after}) "  # noqa: S608
            f"ORDER BY {order} LIMIT ?"
        )
        self.insert = f"INSERT INTO {name} ({listed}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        self.key_positions = [list(columns).index(c) for c in table.key]
        self.width = len(columns)


def _read(
    db: Database,
    table: Table,
    columns: Sequence[str],
    batch_rows: int,
    write: Callable[[list[tuple[Any, ...]]], None] | None,
    progress: Progress | None = None,
) -> tuple[int, str]:
    """Read ``table`` in key order (handing each batch to ``write``); its rows and checksum."""
    digest = hashlib.sha256()
    count = 0
    for rows in _batches(db, _Sql(table, columns), batch_rows):
        for row in rows:
            digest.update(_row_bytes(row))
        count += len(rows)
        if write is not None:
            write(rows)
            if progress is not None:
                progress(table.name, count)
    return count, digest.hexdigest()


def _batches(db: Database, sql: _Sql, batch_rows: int) -> Iterator[list[tuple[Any, ...]]]:
    """Keyset pages: each starts after the last key of the one before, so no OFFSET rescans."""
    last: tuple[Any, ...] | None = None
    while True:
        if last is None:
            found = db.execute(sql.first, (batch_rows,)).fetchall()
        else:
            found = db.execute(sql.after, (*last, batch_rows)).fetchall()
        rows = [tuple(row[n] for n in range(sql.width)) for row in found]
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][n] for n in sql.key_positions)


def _write(
    target: Connection,
    db: Database,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    where: str,
) -> None:
    """One batch; a row the target refuses names its table and keys, and undoes the copy."""
    sql = _Sql(table, columns)
    try:
        db.executemany(sql.insert, rows)
    except target._driver_errors as exc:
        keys = [tuple(rows[n][p] for p in sql.key_positions) for n in (0, -1)]
        raise StoreCopyError(
            f"{where}: cannot copy the {table.name} rows {_key(keys[0])} to {_key(keys[1])} "
            f"({_first_line(exc)}); nothing was copied"
        ) from exc


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _key(values: tuple[Any, ...]) -> str:
    return "/".join(str(value) for value in values)


def _row_bytes(row: tuple[Any, ...]) -> bytes:
    """A row as bytes that say each value's kind, so ``1``, ``1.0`` and ``'1'`` differ."""
    parts = []
    for value in row:
        if value is None:
            parts.append(b"n")
        elif isinstance(value, int):
            parts.append(b"i%d" % value)
        elif isinstance(value, float):
            parts.append(b"f" + repr(value).encode())
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            parts.append(b"s%d:" % len(data) + data)
        elif isinstance(value, bytes | memoryview):
            data = bytes(value)
            parts.append(b"b%d:" % len(data) + data)
        else:
            raise TypeError(f"a store value of type {type(value).__name__}")
    return b"\x1f".join(parts) + b"\x1e"


def _remove_sqlite(path: Path) -> None:
    """A SQLite file the copy created, with its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()
