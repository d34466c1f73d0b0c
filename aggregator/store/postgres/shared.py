"""What every process over one PostgreSQL database shares besides the store: the run lock and
the web app's session key.

On SQLite the run lock is a file beside the store and one web server signs its own
sessions; over PostgreSQL the processes may be on different machines, so both live in the
database. The run lock is a session-level advisory lock on a connection of its own: the
server drops it when the holder ends the block, closes, or dies (a ``kill -9`` closes the
socket and the server ends that session). The session key is one random row, made by the
first server that asks, so a form one server renders is accepted by every other.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors

from aggregator.errors import StoreError
from aggregator.store.postgres.connection import connect, describe

RUN_LOCK = 0x4C50_524E  # "LPRN": the advisory lock of learnplace run and every write command
RUN_LOCK_WAIT_MS = 1_000
"""How long a writer waits for the run lock: long enough for the server to notice that a
killed holder's connection closed, far too short to queue behind a run that works."""
_KEY_LOCK = 0x4C50_574B  # "LPWK": two servers making the key table at once take turns
KEY_BYTES = 32


@contextmanager
def run_lock(url: str) -> Iterator[bool]:
    """Hold the database's run lock for the block; yields False (holding nothing) when
    another process holds it."""
    try:
        connection = connect(url)
    except psycopg.Error as exc:
        raise StoreError(f"{describe(url)}: cannot take the run lock ({exc})") from exc
    with connection:
        connection.execute(f"SET lock_timeout = {RUN_LOCK_WAIT_MS}")
        try:
            connection.execute("SELECT pg_advisory_lock(%s)", (RUN_LOCK,))
        except pg_errors.LockNotAvailable:
            yield False
            return
        try:
            yield True
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (RUN_LOCK,))


def session_key(url: str) -> bytes:
    """The key every web server over this database signs sessions with (made on first use).

    It is kept in a table of its own, outside the numbered migrations: it is no collected
    data (``store copy`` leaves it; a new database makes a new key, which only ends the
    sessions), and a server may start before the first run has made the store.
    """
    try:
        with connect(url) as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_KEY_LOCK,))
            connection.execute(
                "CREATE TABLE IF NOT EXISTS learnplace_web_key "
                "(id integer PRIMARY KEY CHECK (id = 1), key bytea NOT NULL)"
            )
            connection.execute(
                "INSERT INTO learnplace_web_key VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
                (secrets.token_bytes(KEY_BYTES),),
            )
            row = connection.execute("SELECT key FROM learnplace_web_key").fetchone()
    except psycopg.Error as exc:
        raise StoreError(f"{describe(url)}: cannot read the web app's session key ({exc})") from exc
    assert row is not None
    return bytes(row[0])
