"""A test project on either store backend, and its store read as a crash left it.

A project on PostgreSQL is one whose ``feeds.toml`` has ``[store] url`` naming a fresh
database of the session's cluster (:mod:`tests.postgres`); :func:`project_database`
makes it and drops it afterwards. :func:`rows` reads a project's store with plain SQL
(both backends share the table names and columns), outside Learnplace, so a test sees
what is really there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aggregator import app as application
from aggregator.search import SearchIndex, open_index
from tests import postgres as pg


@contextmanager
def fresh_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new database of the session's cluster (skips where there is none), dropped after."""
    cluster: pg.Cluster = request.getfixturevalue("postgres")
    url = cluster.database()
    try:
        yield url
    finally:
        cluster.drop(url)


@contextmanager
def project_database(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The ``[store]`` table a project's feeds.toml ends with for ``backend``: nothing for
    SQLite (the file in ``state/``), a fresh database's URL for PostgreSQL."""
    if backend == "sqlite":
        yield ""
        return
    with fresh_database(request) as url:
        yield f'\n[store]\nurl = "{url}"\n'


def location(root: Path) -> str:
    """Where the project at ``root`` keeps its store: the SQLite file, or the database."""
    return application.Project.at(root).store_location


def rows(root: Path, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """``sql`` (``?`` placeholders) on the project's store, committed; its rows."""
    where = location(root)
    if where.startswith("postgresql"):
        with psycopg.connect(where, autocommit=True) as db:
            cursor = db.execute(sql.replace("?", "%s"), parameters)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []
    with closing(sqlite3.connect(where)) as db, db:
        return db.execute(sql, parameters).fetchall()


def whole(root: Path) -> None:
    """The store's own integrity check where it has one: a SQLite file is checked page by
    page; a PostgreSQL server keeps its own files whole (the tests kill its clients only)."""
    if not location(root).startswith("postgresql"):
        assert rows(root, "PRAGMA integrity_check") == [("ok",)]


def project_index(root: Path) -> SearchIndex:
    """The project's search index: the Whoosh folder, or the database's search tables."""
    return open_index(application.Project.at(root).index_location)
