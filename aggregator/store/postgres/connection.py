"""A PostgreSQL store's connections: opening and migrating the database, transactions, errors.

A writer holds one connection (psycopg 3, autocommit, a transaction per store call). A
read-only store (the web app, ranking workers, search) holds a small pool
(psycopg-pool), so the web app's threads read side by side; each of its statements runs
on its own, as a SQLite reader's do. Every statement goes through :class:`_Database`,
which takes the ``?`` placeholders of :mod:`aggregator.store.sql` and hands back rows
read by name or position.

psycopg's errors stop at the store boundary
(:func:`~aggregator.store.sql.base.guarded`): a server that cannot be reached, a lock
held too long, a full disk or missing rights are a :class:`StoreError` naming the
database (never its password); a deadlock between two writers makes the call again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from aggregator.errors import StoreDamagedError, StoreError, StoreLockedError, StoreVersionError
from aggregator.store.postgres import schema
from aggregator.store.sql import base
from aggregator.store.sql.base import guarded

LOCK_TIMEOUT_MS = 10_000
"""How long a writer waits for a row or table another transaction holds before giving up."""

CONNECT_TIMEOUT_S = 10
READERS_MAX = 4
"""Connections a read-only store opens at most: the web app's threads share them."""

_MIGRATION_LOCK = 0x4C50_5354  # "LPST": the advisory lock migrations run under
_SETTINGS = f"-c lock_timeout={LOCK_TIMEOUT_MS} -c TimeZone=UTC"


def is_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def describe(url: str) -> str:
    """The database a URL names, for messages: host, port and name, never the password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL database (its URL cannot be read)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def store_error(url: str, exc: psycopg.Error, *, opening: bool = False) -> StoreError | None:
    """What ``exc`` means to the person, or ``None`` when it is a bug and must stay one."""
    where = describe(url)
    if isinstance(exc, pg_errors.LockNotAvailable | pg_errors.QueryCanceled):
        return StoreLockedError(
            f"{where}: the store is locked: another process held what this needed for more "
            f"than {LOCK_TIMEOUT_MS / 1000:g} s; try again when it has finished"
        )
    if isinstance(exc, pg_errors.DataCorrupted | pg_errors.IndexCorrupted):
        return StoreDamagedError(f"{where}: the database reports damage ({exc}); restore a backup")
    if isinstance(exc, pg_errors.DiskFull):
        return StoreError(f"{where}: the database's disk is full ({exc}); free some space")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return StoreError(f"{where}: the database user may not do this ({exc}); grant it rights")
    if isinstance(exc, psycopg.OperationalError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(
            f"{where}: cannot reach the database ({first}); check that the server runs and "
            "that the URL in [store] url or LEARNPLACE_DATABASE_URL is right"
        )
    if opening and isinstance(exc, pg_errors.UndefinedTable | pg_errors.UndefinedColumn):
        return StoreError(f"{where}: cannot open as a Learnplace store: {exc}")
    return None


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """The shared SQL's ``?`` as psycopg's ``%s`` (and a literal ``%`` escaped)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Row:
    """A row read by column name, as :class:`sqlite3.Row` is, or by position."""

    __slots__ = ("_names", "_values")

    def __init__(self, values: Sequence[Any], names: dict[str, int]) -> None:
        self._values = values
        self._names = names

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._names[key]]


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = {column.name: n for n, column in enumerate(cursor.description or ())}
    return lambda values: _Row(values, names)


class _Result:
    """A statement's rows, read whole so that its connection can serve the next one."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.rowcount = cursor.rowcount
        self._rows: list[Any] = cursor.fetchall() if cursor.description is not None else []

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class _Database:
    """The connection as the domain modules use it: ``execute`` and ``executemany``."""

    def __init__(self, connection: psycopg.Connection[Any] | None, pool: ConnectionPool | None):
        self.connection = connection
        self.pool = pool

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        if self.connection is not None:
            with self.connection.cursor(row_factory=_row_factory) as cursor:
                yield cursor
            return
        assert self.pool is not None
        with (
            self.pool.connection() as connection,
            connection.cursor(row_factory=_row_factory) as cursor,
        ):
            yield cursor

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _Result:
        with self._cursor() as cursor:
            cursor.execute(_placeholders(sql), tuple(parameters))
            return _Result(cursor)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> _Result:
        rows = [tuple(row) for row in parameters]
        with self._cursor() as cursor:
            if rows:
                cursor.executemany(_placeholders(sql), rows)
            return _Result(cursor)


def connect(url: str, *, read_only: bool = False) -> psycopg.Connection[Any]:
    """One autocommit connection in UTC with the store's lock timeout."""
    options = _SETTINGS + (" -c default_transaction_read_only=on" if read_only else "")
    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, options=options)


def _version_of(execute: Callable[[str], Any]) -> int:
    """The version in ``learnplace_schema``; 0 where it is missing (a new database)."""
    if not execute("SELECT to_regclass('learnplace_schema') IS NOT NULL").fetchone()[0]:
        return 0
    row = execute("SELECT version FROM learnplace_schema").fetchone()
    return 0 if row is None else int(row[0])


class Connection(base.Connection):
    """The database, its schema version and its transactions; the domain mixins build on it."""

    _driver_errors = (psycopg.Error,)
    _db: _Database

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        """``read_only``: never migrates nor writes; used from any thread."""
        self.url = url
        self.read_only = read_only
        self._pool: ConnectionPool | None = None
        connection: psycopg.Connection[Any] | None = None
        try:
            if read_only:
                self._pool = ConnectionPool(
                    url,
                    min_size=1,
                    max_size=READERS_MAX,
                    kwargs={
                        "autocommit": True,
                        "connect_timeout": CONNECT_TIMEOUT_S,
                        "options": _SETTINGS + " -c default_transaction_read_only=on",
                    },
                    open=False,
                )
                self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
            else:
                connection = connect(url)
            self._db = _Database(connection, self._pool)
            if read_only:
                self._require_current()
            else:
                self._migrate()
        except psycopg.Error as exc:
            self.close()
            raise (
                store_error(url, exc, opening=True) or StoreError(f"{describe(url)}: {exc}")
            ) from exc
        except Exception as exc:
            self.close()
            if type(exc).__module__.startswith("psycopg_pool"):  # the pool's timeout
                raise StoreError(f"{describe(url)}: cannot reach the database ({exc})") from exc
            raise
        except BaseException:
            self.close()
            raise

    def _version(self) -> int:
        return _version_of(self._db.execute)

    def _check_version(self, version: int) -> None:
        if version > schema.SCHEMA_VERSION:
            raise StoreVersionError(
                f"{describe(self.url)}: schema version {version} was written by a newer "
                f"Learnplace (this one knows up to {schema.SCHEMA_VERSION}); upgrade Learnplace"
            )

    def _require_current(self) -> None:
        version = self._version()
        self._check_version(version)
        if version < schema.SCHEMA_VERSION:
            raise StoreVersionError(
                f"{describe(self.url)}: schema version {version} is older than this "
                f"Learnplace's {schema.SCHEMA_VERSION}; `learnplace run` upgrades it"
            )

    def _migrate(self) -> None:
        self._check_version(self._version())
        if self._version() == schema.SCHEMA_VERSION:
            return
        with self._transaction() as db:
            # Under the lock, read again: another process may have migrated meanwhile.
            db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS learnplace_schema (version integer NOT NULL)")
            version = self._version()
            self._check_version(version)
            for statements in schema.MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            db.execute("DELETE FROM learnplace_schema")
            db.execute("INSERT INTO learnplace_schema VALUES (?)", (schema.SCHEMA_VERSION,))

    def _raise_for(self, exc: Exception) -> NoReturn:
        assert isinstance(exc, psycopg.Error)
        error = store_error(self.url, exc)
        if error is None:
            raise exc
        raise error from exc

    def _retryable(self, exc: Exception) -> bool:
        return isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)

    @contextmanager
    def _transaction(self) -> Iterator[_Database]:
        connection = self._db.connection
        if connection is None:
            raise StoreError(f"{describe(self.url)}: this store was opened read-only")
        with connection.transaction():
            yield self._db

    @contextmanager
    def _snapshot(self) -> Iterator[_Database]:
        """REPEATABLE READ: every statement sees the snapshot of the first, as in SQLite's WAL."""
        with self._transaction() as db:
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield db

    def _tables(self, db: base.Database) -> dict[str, list[str]]:
        tables: dict[str, list[str]] = {}
        for row in db.execute(
            """
            SELECT c.table_name, c.column_name
            FROM information_schema.columns c
            JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
            ORDER BY c.table_name, c.ordinal_position
            """
        ):
            tables.setdefault(row[0], []).append(row[1])
        return tables

    def _reset_key(self, db: base.Database, table: str, column: str) -> None:
        """Move the identity's sequence past the copied ids (``is_called`` false: next is it)."""
        highest = f'SELECT MAX("{column}") FROM "{table}"'  # noqa: S608 (the copy's own names)
        db.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(({highest}), 0) + 1, false)",
            (table, column),
        )

    @property
    def location(self) -> str:
        """The URL: what :func:`aggregator.store.open_store` takes to open it again."""
        return self.url

    @property
    @guarded
    def schema_version(self) -> int:
        return self._version()

    def close(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None and db.connection is not None:
            db.connection.close()
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def stored_version(url: str) -> int:
    """The schema version a database holds (0: no Learnplace store yet), without migrating."""
    try:
        with connect(url, read_only=True) as connection:
            return _version_of(lambda sql: connection.execute(_placeholders(sql), ()))
    except psycopg.Error as exc:
        raise (store_error(url, exc) or StoreError(f"{describe(url)}: {exc}")) from exc
