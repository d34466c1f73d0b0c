"""A throwaway PostgreSQL server for the tests: one cluster per session, a database per test.

The cluster is made with Debian's binaries (``initdb``, ``pg_ctl``; the newest
``/usr/lib/postgresql/N/bin``, or ``LEARNPLACE_PG_BIN``) in a temporary folder, listening
on a free port of 127.0.0.1 only, with fsync off (a test database is thrown away, and
crash tests kill Learnplace's processes, never the server). PostgreSQL refuses to run as
root, so as root it runs as ``LEARNPLACE_PG_USER`` (default ``nobody``).

Where no binaries exist the PostgreSQL tests skip, saying so; with
``LEARNPLACE_REQUIRE_POSTGRES=1`` (``.ci/run`` sets it) they fail instead, so CI cannot
pass by skipping them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

REQUIRE = "LEARNPLACE_REQUIRE_POSTGRES"


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None."""
    given = os.environ.get("LEARNPLACE_PG_BIN")
    if given:
        return Path(given) if (Path(given) / "initdb").exists() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def unavailable(reason: str) -> None:
    """Skip, or fail where CI requires PostgreSQL."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1 requires the PostgreSQL tests to run")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster; :meth:`database` makes a fresh, empty database and gives its URL."""

    folder: Path
    port: int
    bin: Path
    user: str | None
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def database(self, prefix: str = "test") -> str:
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        pg_ctl = str(self.bin / "pg_ctl")
        _run_as(self.user, [pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"])


def _as_user(user: str | None, *command: str) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else list(command)


def _run_as(user: str | None, command: list[str]) -> None:
    subprocess.run(_as_user(user, *command), check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A new cluster for as long as the block runs; not ``durable`` (fsync off), as tests
    want it, unless a benchmark asks."""
    bin_dir = binaries()
    if bin_dir is None:
        unavailable("no PostgreSQL binaries (Debian's package `postgresql`) on this machine")
        raise AssertionError("unreachable")
    user = os.environ.get("LEARNPLACE_PG_USER", "nobody") if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="learnplace-pg-"))
    if user:
        shutil.chown(folder, user)
    port = _free_port()
    data = folder / "data"
    try:
        _run_as(
            user,
            [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
        )  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _run_as(
            user,
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
             str(folder / "server.log"), "-w", "start"],
        )  # fmt: skip
        found = Cluster(folder, port, bin_dir, user)
        try:
            yield found
        finally:
            found.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
