"""``store copy``: a real demo store moved SQLite → PostgreSQL → SQLite, checked by checksums,
answering the same afterwards; refused, failing and interrupted copies leave the target as it was.

Everything here is real: the demo's run over its loopback sample server, SQLite files, the
session's PostgreSQL cluster (``postgres`` fixture), a backend killed by the server itself.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from aggregator.app import Application, Project, SearchRequest
from aggregator.errors import CopyTargetNotEmptyError, StoreCopyError
from aggregator.store import open_store
from aggregator.store.copy import TABLES, copy_store, store_checksums
from tests import postgres as pg

NOW = datetime.now(UTC)
QUERIES = ("python", "data", "course", "security")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The demo's project, with a share and a judgement so every kind of row is there."""
    root = tmp_path_factory.mktemp("copy-demo")
    Application.run_demo(root, now=NOW)
    with Application.at(root) as app:
        person = app.profile_names()[0]
        picks = app.reading(person).digest
        assert picks is not None
        app.share(person, str(picks.picks[0].item.id), "worth a look", now=NOW)
        app.record_feedback(person, str(picks.picks[1].item.id), 1, NOW)
    return Project.at(root)


@pytest.fixture
def database(postgres: pg.Cluster) -> Iterator[str]:
    url = postgres.database("copy")
    try:
        yield url
    finally:
        postgres.drop(url)


def _elsewhere(project: Project, folder: Path, database_url: str | None = None) -> Project:
    """The same project (feeds.toml, profiles) over another store."""
    return dataclasses.replace(project, state_dir=folder / "state", database_url=database_url)


def _answers(app: Application) -> tuple[list[list[int]], dict[str, list[int]]]:
    """Each query's results, and each person's saved digest, as item ids in order."""
    searches = [
        [item.id for item, _ in app.search(SearchRequest(q, limit=10), now=NOW).results]
        for q in QUERIES
    ]
    digests = {}
    for person in app.profile_names():
        digest = app.reading(person).digest
        assert digest is not None
        digests[person] = [pick.item.id for pick in (*digest.picks, *digest.upcoming)]
    return searches, digests


def test_the_copy_knows_every_table_of_both_schemas(database: str, tmp_path: Path) -> None:
    with open_store(tmp_path / "s.sqlite3") as sqlite_store, open_store(database) as pg_store:
        sqlite_tables = set(sqlite_store._tables(sqlite_store._db))  # type: ignore[attr-defined]
        pg_tables = set(pg_store._tables(pg_store._db))  # type: ignore[attr-defined]
    copied = {table.name for table in TABLES}
    assert sqlite_tables == copied
    assert {t for t in pg_tables if not t.startswith("queue_")} - {"learnplace_schema"} == copied


def test_round_trip_keeps_every_row_and_every_answer(
    demo: Project, database: str, tmp_path: Path
) -> None:
    before = store_checksums(demo.store_location)
    assert before["items"][0] > 80 and before["shares"][0] == 1 and before["feedback"][0] == 1

    with Application(demo) as app:
        there = app.copy_store(database)
        expected = _answers(app)
    assert there.kept and there.matches
    assert [(c.table, c.rows_after) for c in there.tables] == [
        (t, n) for t, (n, _) in before.items()
    ]
    assert store_checksums(database) == before

    on_postgres = _elsewhere(demo, tmp_path / "pg", database)
    back_file = tmp_path / "back.sqlite3"
    with Application(on_postgres) as app:
        back = app.copy_store(str(back_file))
        app.reindex()
        assert _answers(app)[1] == expected[1]  # the saved digests are the store's own rows
        found = app.search(SearchRequest(QUERIES[0], limit=50), now=NOW).results
        assert {item.id for item, _ in found} >= set(expected[0][0][:3])
    assert back.kept and back.matches and not back.target_is_database
    assert store_checksums(str(back_file)) == before

    on_sqlite = _elsewhere(demo, tmp_path / "back")
    on_sqlite.state_dir.mkdir(parents=True)
    shutil.move(back_file, on_sqlite.store_path)
    with Application(on_sqlite) as app:
        app.reindex()
        assert _answers(app) == expected

    # The identity sequences moved past the copied ids: a new share gets the next id.
    with open_store(database) as store:
        store.add_share("someone", expected[1][next(iter(expected[1]))][0], "", NOW)
    with psycopg.connect(database) as db:
        assert db.execute("SELECT array_agg(id ORDER BY id) FROM shares").fetchone() == ([1, 2],)
        for table in ("sources", "items"):
            following = f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"
            highest = db.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0]
            assert db.execute(following).fetchone() == (highest + 1,)


def test_a_target_holding_a_store_is_refused_and_keeps_what_it_held(
    demo: Project, database: str, tmp_path: Path
) -> None:
    target = tmp_path / "other.sqlite3"
    copy_store(demo.store_location, str(target))
    held = store_checksums(str(target)), target.stat().st_mtime_ns
    with Application(demo) as app:
        with pytest.raises(CopyTargetNotEmptyError, match="already holds a store"):
            app.copy_store(str(target))
        with pytest.raises(StoreCopyError, match="the store itself"):
            app.copy_store(demo.store_location)
        app.copy_store(database)
        database_held = store_checksums(database)
        with pytest.raises(CopyTargetNotEmptyError, match=r"\d+ items"):
            app.copy_store(database)
    assert (store_checksums(str(target)), target.stat().st_mtime_ns) == held
    assert store_checksums(database) == database_held


def _empty(url: str) -> bool:
    return all(rows == 0 for rows, _ in store_checksums(url).values())


def test_a_row_the_target_refuses_half_way_leaves_it_empty(
    demo: Project, database: str, tmp_path: Path
) -> None:
    """PostgreSQL text holds no NUL character, SQLite's does: the last item cannot go."""
    bad = tmp_path / "bad.sqlite3"
    with sqlite3.connect(demo.store_path) as good, sqlite3.connect(bad) as copy:
        good.backup(copy)
    with sqlite3.connect(bad) as db:
        last = db.execute("SELECT MAX(id) FROM items").fetchone()[0]
        db.execute("UPDATE items SET title = 'half' || char(0) || 'way' WHERE id = ?", (last,))
    written: list[tuple[str, int]] = []
    with pytest.raises(StoreCopyError, match=rf"items rows \d+ to {last} .*nothing was copied"):
        copy_store(str(bad), database, batch_rows=10, progress=lambda t, n: written.append((t, n)))
    assert ("items", 10) in written  # batches of items had gone in before
    assert _empty(database)


def test_a_target_that_dies_half_way_keeps_nothing(
    demo: Project, database: str, postgres: pg.Cluster
) -> None:
    name = database.rsplit("/", 1)[1]

    def kill_the_copy(table: str, rows: int) -> None:
        if table == "items" and rows == 30:
            with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )

    with pytest.raises(StoreCopyError, match="nothing was copied"):
        copy_store(demo.store_location, database, batch_rows=10, progress=kill_the_copy)
    assert _empty(database)
    assert copy_store(demo.store_location, database).matches  # and it can be copied again


def test_an_interrupted_copy_to_a_new_file_leaves_no_file(demo: Project, tmp_path: Path) -> None:
    target = tmp_path / "new.sqlite3"

    def interrupt(table: str, rows: int) -> None:
        if table == "items":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_store(demo.store_location, str(target), batch_rows=10, progress=interrupt)
    assert list(tmp_path.glob("new.sqlite3*")) == []


def test_a_copy_whose_checksums_differ_is_rolled_back(
    demo: Project, database: str, tmp_path: Path
) -> None:
    """SQLite keeps 1.5 in an INTEGER column; PostgreSQL's integer column rounds it to 2:
    the checksum sees what the row count cannot, and the copy keeps nothing."""
    odd = tmp_path / "odd.sqlite3"
    with sqlite3.connect(demo.store_path) as good, sqlite3.connect(odd) as copy:
        good.backup(copy)
    with sqlite3.connect(odd) as db:
        first = "SELECT person, day, item_id FROM deliveries ORDER BY 1, 2, 3 LIMIT 1"
        db.execute(f"UPDATE deliveries SET position = 1.5 WHERE (person, day, item_id) = ({first})")
    report = copy_store(str(odd), database)
    differing = [check.table for check in report.tables if not check.matches]
    assert differing == ["deliveries"] and not report.kept and not report.matches
    deliveries = next(check for check in report.tables if check.table == "deliveries")
    assert deliveries.rows_before == deliveries.rows_after
    assert _empty(database)
