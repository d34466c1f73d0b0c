"""What the SQL domain modules need of a backend's connection, and the store boundary.

The domain modules of this package (sources, entries, items, the index queue, digests,
feedback, shares, mailings) are written once, in the SQL that SQLite and PostgreSQL both
speak, with ``?`` placeholders; a backend supplies a :class:`Connection` subclass that owns
the driver connection, its transactions, its migrations and the translation of driver
errors into :class:`~aggregator.errors.StoreError` (see :func:`guarded`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Concatenate, NoReturn, ParamSpec, Protocol, TypeVar

from aggregator.closing import Closing


class Row(Protocol):
    """A result row, read by column name (or position, for an aggregate)."""

    def __getitem__(self, key: Any, /) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """The driver connection as the domain modules use it: ``?`` placeholders, named rows."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


MAX_ATTEMPTS = 3
"""Tries of one store call when the database aborted it to break a deadlock between writers."""


class Connection(Closing):
    """The base of a backend's store: the domain mixins build on ``_db`` and ``_transaction``."""

    _driver_errors: tuple[type[Exception], ...] = ()
    """The driver's exceptions, which :func:`guarded` turns into store errors."""

    _db: Database

    def _transaction(self) -> AbstractContextManager[Database]:
        """One write transaction, committed when the block ends and rolled back on an error."""
        raise NotImplementedError

    def _queue_for_index(self, db: Database, ids: Iterable[int]) -> None:
        """Call inside the transaction that creates, changes or deletes the items ``ids``."""
        db.executemany(
            "INSERT INTO index_queue (item_id) VALUES (?) ON CONFLICT DO NOTHING",
            [(item_id,) for item_id in ids],
        )

    def _snapshot(self) -> AbstractContextManager[Database]:
        """One read-only transaction that sees the store as it was when it began, whatever
        other writers commit meanwhile: what a whole-store copy reads from."""
        raise NotImplementedError

    def _tables(self, db: Database) -> dict[str, list[str]]:
        """Every table the database holds, with its columns in their order."""
        raise NotImplementedError

    def _reset_key(self, db: Database, table: str, column: str) -> None:
        """After rows were written with their own ids: the next generated id follows them."""

    def _raise_for(self, exc: Exception) -> NoReturn:
        """``exc`` as the store error a person can act on; one that means a bug is re-raised."""
        raise exc

    def _retryable(self, exc: Exception) -> bool:
        """Whether the database aborted the call only to let another writer go first."""
        return False

    @property
    def location(self) -> str:
        """What :func:`aggregator.store.open_store` takes to open this store again."""
        raise NotImplementedError


_C = TypeVar("_C", bound=Connection)
_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


def guarded(method: Callable[Concatenate[_C, _P], _R]) -> Callable[Concatenate[_C, _P], _R]:
    """The store boundary for a method: driver errors leave it as :class:`StoreError`.

    A call the database aborted to break a deadlock is one transaction that never
    happened, so it is made again (a few times) before its error is raised.
    """

    @functools.wraps(method)
    def call(self: _C, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return method(self, *args, **kwargs)
            except self._driver_errors as exc:
                if attempt < MAX_ATTEMPTS and self._retryable(exc):
                    continue
                self._raise_for(exc)
        raise AssertionError("unreachable: the last attempt returns or raises")

    return call


def guarded_iter(
    method: Callable[Concatenate[_C, _P], Iterator[_T]],
) -> Callable[Concatenate[_C, _P], Iterator[_T]]:
    """:func:`guarded` for a generator, whose queries run while the caller iterates."""

    @functools.wraps(method)
    def call(self: _C, /, *args: _P.args, **kwargs: _P.kwargs) -> Iterator[_T]:
        try:
            yield from method(self, *args, **kwargs)
        except self._driver_errors as exc:
            self._raise_for(exc)

    return call
