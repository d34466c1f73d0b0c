"""``learnplace store copy --to URL`` as a person runs it: the table, next steps, refusal."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests import postgres as pg
from tests.cli import learnplace


def test_store_copy_prints_each_table_and_refuses_a_second_copy(
    tmp_path: Path, postgres: pg.Cluster
) -> None:
    project = tmp_path / "project"
    assert learnplace(project, "demo").returncode == 0
    url = postgres.database("cli")
    try:
        copied = learnplace(project, "store", "copy", "--to", url, "--quiet")
        assert copied.returncode == 0, copied.stderr
        rows = re.findall(r"^(\w+) +(\d+) +(\d+) +(\w{12}) +(\w{12}) +(\w+)$", copied.stdout, re.M)
        assert [row[0] for row in rows][:2] == ["sources", "items"] and len(rows) == 11
        assert all(row[1] == row[2] and row[3] == row[4] and row[5] == "match" for row in rows)
        assert int(rows[1][1]) > 80
        assert '[store] url = "<that URL>"' in copied.stdout
        assert "`learnplace reindex`" in copied.stdout

        again = learnplace(project, "store", "copy", "--to", url)
        assert again.returncode == 1
        assert again.stderr.count("\n") == 1 and "already holds a store" in again.stderr
        assert "Traceback" not in again.stderr

        back = tmp_path / "back.sqlite3"
        returned = learnplace(project, "store", "copy", "--to", str(back), "-q")
        assert returned.returncode == 0 and back.is_file()
        assert "state/learnplace.sqlite3" in returned.stdout
    finally:
        postgres.drop(url)


def test_store_copy_exits_1_when_a_checksum_differs(tmp_path: Path, postgres: pg.Cluster) -> None:
    """SQLite keeps 1.5 in an INTEGER column, PostgreSQL rounds it: the copy is undone."""
    project = tmp_path / "project"
    assert learnplace(project, "demo").returncode == 0
    with sqlite3.connect(project / "state" / "learnplace.sqlite3") as db:
        db.execute("UPDATE deliveries SET position = 1.5 WHERE position = 1")
    url = postgres.database("cli")
    try:
        copied = learnplace(project, "store", "copy", "--to", url, "-q")
        assert copied.returncode == 1
        assert re.search(r"^deliveries .* DIFFERS$", copied.stdout, re.M)
        assert re.search(r"^items .* match$", copied.stdout, re.M)
        assert "nothing was kept" in copied.stderr and "Traceback" not in copied.stderr
        assert learnplace(project, "store", "copy", "--to", url, "-q").returncode == 1  # again
    finally:
        postgres.drop(url)
