"""One SQLite connection: opening and migrating the file, transactions, and the store boundary.

Every public method of :class:`~aggregator.store.sqlite.SqliteStore` is
:func:`~aggregator.store.sql.base.guarded`:
an sqlite error a person can act on (a lock held too long, a damaged file, a full disk)
leaves the store as a :class:`~aggregator.errors.StoreError` naming the file and what to
do, so no sqlite traceback reaches the CLI or the web app. Errors that mean a bug here (a
constraint, bad SQL) stay what they are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from aggregator.errors import StoreDamagedError, StoreError, StoreLockedError, StoreVersionError
from aggregator.store.sql import base
from aggregator.store.sql.base import guarded
from aggregator.store.sqlite import schema

BUSY_TIMEOUT_MS = 10_000
"""How long a writer waits for another process's transaction before giving up."""

_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_UNWRITABLE = frozenset(
    {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM}
)


def store_error(path: Path, exc: sqlite3.Error, *, opening: bool = False) -> StoreError | None:
    """What ``exc`` means to the person, or ``None`` when it is a bug and must stay one.

    Decided by SQLite's primary result code (extended codes such as ``SQLITE_IOERR_READ``
    carry it in their low byte), not by parsing messages.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    if primary in _LOCKED:
        return StoreLockedError(
            f"{path}: the store is locked: another process kept it busy for more than "
            f"{BUSY_TIMEOUT_MS / 1000:g} s (a run, or the web app saving); try again when it "
            "has finished"
        )
    if primary in _DAMAGED:
        doing = "cannot open as a Learnplace store" if opening else "cannot read the store"
        return StoreDamagedError(
            f"{path}: {doing}: {exc} (the file is damaged, or no Learnplace store); restore it "
            "from a backup, or move it aside and `learnplace run` starts a new one (the digests, "
            "shares and feedback in it are lost)"
        )
    if primary == sqlite3.SQLITE_FULL:
        return StoreError(f"{path}: the disk is full ({exc}); free some space and try again")
    if primary in _UNWRITABLE:
        return StoreError(
            f"{path}: cannot read or write the store file ({exc}); check that it and its folder "
            "exist and that you may write them"
        )
    if opening and isinstance(exc, sqlite3.DatabaseError):
        return StoreError(f"{path}: cannot open as a Learnplace store: {exc}")
    return None


class Connection(base.Connection):
    """The file, its schema version and its transactions; the domain mixins build on it.

    One connection per store; a writer is used from the thread that opened it. Rows
    come as :class:`sqlite3.Row`, read by column name.
    """

    _driver_errors = (sqlite3.Error,)
    _db: sqlite3.Connection

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """``read_only``: for readers (search, the web app) beside a running ``learnplace run``.

        A read-only connection never migrates nor takes the write lock, so in
        WAL mode it neither blocks the run nor waits for it. It may be used from
        any thread, one at a time (the web app's worker threads take turns).
        """
        self.path = Path(path)
        try:
            if read_only:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(
                    uri, uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                # isolation_level=None: the module's own BEGIN/COMMIT decide the transactions.
                self._db = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise (store_error(self.path, exc, opening=True) or StoreError(str(exc))) from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if read_only:
                self._require_current()
            else:
                self._configure()
                self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            error = store_error(self.path, exc, opening=True)
            if error is None:
                raise
            raise error from exc
        except BaseException:
            self._db.close()
            raise

    def _configure(self) -> None:
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        # NORMAL is crash-safe in WAL mode; it only risks the last commits on power loss.
        self._db.execute("PRAGMA synchronous = NORMAL")

    def _version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int) -> None:
        if version > schema.SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path}: schema version {version} was written by a newer Learnplace "
                f"(this one knows up to {schema.SCHEMA_VERSION}); upgrade Learnplace to open it"
            )

    def _require_current(self) -> None:
        version = self._version()
        self._check_version(version)
        if version < schema.SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path}: schema version {version} is older than this Learnplace's "
                f"{schema.SCHEMA_VERSION}; `learnplace run` upgrades it"
            )

    def _migrate(self) -> None:
        self._check_version(self._version())
        if self._version() == schema.SCHEMA_VERSION:
            return
        with self._transaction():
            # Read again under the write lock: another process may have migrated meanwhile.
            version = self._version()
            self._check_version(version)
            for statements in schema.MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")

    def _raise_for(self, exc: Exception) -> NoReturn:
        assert isinstance(exc, sqlite3.Error)
        error = store_error(self.path, exc)
        if error is None:
            raise exc
        raise error from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """IMMEDIATE takes the write lock up front, so busy_timeout waits instead of deadlocking."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            # SQLite has already rolled back after some errors (a full disk, an I/O error);
            # a second ROLLBACK would raise and hide the first error.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A deferred transaction: in WAL mode its first read fixes what it sees."""
        self._db.execute("BEGIN")
        try:
            yield self._db
        finally:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    def _tables(self, db: base.Database) -> dict[str, list[str]]:
        names = db.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return {
            row[0]: [
                column[0]
                for column in db.execute(
                    "SELECT name FROM pragma_table_info(?) ORDER BY cid", (row[0],)
                )
            ]
            for row in names
        }

    @property
    def location(self) -> str:
        """The file's path: what :func:`aggregator.store.open_store` takes to open it again."""
        return str(self.path)

    @property
    @guarded
    def schema_version(self) -> int:
        return self._version()

    def close(self) -> None:
        self._db.close()
