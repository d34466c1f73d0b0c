"""sqlite errors stop at the store boundary: a locked or damaged real file is a StoreError a
person can act on, and the CLI shows it as one line, never an sqlite traceback."""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.errors import StoreDamagedError, StoreLockedError
from aggregator.models import Entry, Source
from aggregator.store import SqliteStore, Store
from aggregator.store.sqlite import connection

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
BLOG = Source(url="https://blog.example/feed.xml", name="Example Blog", kind="article")
FEEDS_TOML = f'[[source]]\nname = "{BLOG.name}"\nurl = "{BLOG.url}"\nkind = "article"\n'
SHORT_BUSY_MS = 150


def filled_store(path: Path, items: int = 1) -> None:
    """A real store holding ``items`` items of one source, closed (its WAL checkpointed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [
        Entry(
            guid=f"g{n}",
            url=f"https://blog.example/{n}",
            title=f"Post number {n} about testing",
            text="words " * 40,
            published=NOW - timedelta(hours=n),
        )
        for n in range(items)
    ]
    with SqliteStore(path) as store:
        store.sync_sources([BLOG])
        store.add_entries(BLOG.url, entries, NOW)


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection, as another process would, holding the write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE sources SET name = name")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def damage(path: Path) -> None:
    """Overwrite every page but the first (the header and the schema): the tables' pages."""
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) > 2 * page, "the store must span more than its first page"
    data[page:] = b"\xab" * (len(data) - page)
    path.write_bytes(bytes(data))


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", SHORT_BUSY_MS)


@pytest.mark.usefixtures("short_busy_timeout")
def test_a_write_lock_held_past_the_busy_timeout_is_a_store_locked_error(tmp_path: Path) -> None:
    path = tmp_path / "learnplace.sqlite3"
    filled_store(path)
    with SqliteStore(path) as store, write_lock_held(path):
        with pytest.raises(StoreLockedError, match=r"locked.*0\.15 s.*try again") as caught:
            store.set_feedback("ada", 1, 1, NOW)
        assert str(path) in str(caught.value)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert store.feedback("ada") == {}, "readers still read beside the writer (WAL)"
    with SqliteStore(path) as store:
        store.set_feedback("ada", 1, 1, NOW)
        assert store.feedback("ada") == {1: 1}


def test_a_damaged_file_is_a_store_damaged_error_on_every_read(tmp_path: Path) -> None:
    path = tmp_path / "learnplace.sqlite3"
    filled_store(path, items=60)
    damage(path)
    with SqliteStore(path, read_only=True) as store:
        with pytest.raises(StoreDamagedError, match=r"cannot read the store.*backup"):
            store.item_count()
        with pytest.raises(StoreDamagedError, match="malformed"):
            list(store.iter_items())
        with pytest.raises(StoreDamagedError):
            next(store.index_queue())


def test_a_constraint_violation_stays_a_bug_not_a_person_s_error(tmp_path: Path) -> None:
    """Only what a person can act on is wrapped: an item id nothing checked is a bug here."""
    path = tmp_path / "learnplace.sqlite3"
    filled_store(path)
    with SqliteStore(path) as store, pytest.raises(sqlite3.IntegrityError):
        store.add_share("ada", 999, "", NOW)


def project_with_store(root: Path, items: int = 1) -> Path:
    (root / "feeds.toml").write_text(FEEDS_TOML, encoding="utf-8")
    filled_store(root / "state" / "learnplace.sqlite3", items)
    return root / "state" / "learnplace.sqlite3"


def one_line_error(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "OperationalError" not in result.output
    assert "DatabaseError" not in result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("Error: ")
    return " ".join(line.strip() for line in lines)


@pytest.mark.usefixtures("short_busy_timeout")
def test_the_cli_says_a_locked_store_in_one_line(tmp_path: Path) -> None:
    path = project_with_store(tmp_path)
    with write_lock_held(path):
        message = one_line_error(["--project", str(tmp_path), "item", "set-type", "1", "course"])
    assert "the store is locked" in message
    assert "try again" in message


def test_the_cli_says_a_damaged_store_in_one_line(tmp_path: Path) -> None:
    path = project_with_store(tmp_path, items=60)
    damage(path)
    message = one_line_error(["--project", str(tmp_path), "sources"])
    assert "damaged" in message
    assert "backup" in message


def test_every_operation_of_the_protocol_goes_through_the_boundary() -> None:
    """A method added without ``guarded`` would let sqlite errors through again."""
    operations = {name for name in dir(Store) if not name.startswith("_")}
    assert operations == {name for name in dir(SqliteStore) if not name.startswith("_")} - {"path"}
    for name in operations - {"close", "location"}:
        member = inspect.getattr_static(SqliteStore, name)
        function = member.fget if isinstance(member, property) else member
        assert hasattr(function, "__wrapped__"), f"{name} is not guarded"
