"""A store written by the previous release opens with this code, with nothing lost.

``tests/data/previous-release/store.sqlite`` was written by commit 92cdd6f, and
``store-expected.json`` is what that code read from it (see PROVENANCE.md there). Both
opens below go through :func:`aggregator.store.open_store` and the ``Store`` protocol
only: the writer's open is the one the next ``learnplace run`` does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest

from aggregator.errors import StoreVersionError
from aggregator.models import Pick
from aggregator.store import SCHEMA_VERSION, Store, open_store

DATA = Path(__file__).parents[1] / "data" / "previous-release"
STORE_SHA256 = "d0f58c204daa612cdef4596937bed6c8a28354d219ce673d36f54659e4fb7795"
PEOPLE = ("data-engineer", "lnd-adviser", "team-lead")
DAY = date(2026, 12, 7)
NEXT_DAY = date(2026, 12, 8)


def plain(value: object) -> object:
    """As the dump script of PROVENANCE.md writes values: dataclasses as dicts, ISO dates."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items())}
    return value


def read_everything(store: Store) -> dict[str, object]:
    statuses = store.source_statuses()
    queued = list(store.index_queue())
    return {
        "schema_version": store.schema_version,
        "items": plain(list(store.iter_items())),
        "sources": plain(statuses),
        "source_states": plain([store.source_state(s.url) for s in statuses]),
        "digests": {p: plain(store.digest(p, DAY)) for p in PEOPLE},
        "upcoming": {p: plain(store.digest(p, DAY, upcoming=True)) for p in PEOPLE},
        "digest_days": {p: plain(store.digest_days(p)) for p in PEOPLE},
        "feedback": {p: plain(store.judgements(p)) for p in PEOPLE},
        "shares": plain(store.shares(PEOPLE, datetime.fromisoformat("2026-01-01T00:00+00:00"))),
        "mailed": {p: store.mailed(p, DAY) for p in PEOPLE},
        "index_queue": plain([ids for _, ids in queued]),
        "index_queue_items": [[item.id for item in items] for items, _ in queued],
    }


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """A copy: opening the fixture itself would leave WAL files beside it."""
    original = DATA / "store.sqlite"
    assert hashlib.sha256(original.read_bytes()).hexdigest() == STORE_SHA256
    return Path(shutil.copy(original, tmp_path / "learnplace.sqlite3"))


@pytest.fixture(scope="module")
def expected() -> dict[str, object]:
    found: dict[str, object] = json.loads(
        (DATA / "store-expected.json").read_text(encoding="utf-8")
    )
    return found


ADDED_SINCE = {"listed": True, "last_attempt": None, "disabled": False}
"""What a source's status has gained since that release, as its store reads: listed (the
store holds only listed sources as active), never attempted since, not disabled; and
``last_new_item``, read from its items' first-seen times, and ``use`` (issue 18). A share
read back says no note it replaced (only a new share does)."""


def _as_then(found: dict[str, object]) -> dict[str, object]:
    """``found`` in the previous release's terms: its schema version, the fields it had."""
    sources = found["sources"]
    assert isinstance(sources, list)
    for status in sources:
        assert {key: status.pop(key) for key in ADDED_SINCE} == ADDED_SINCE
        assert status.pop("last_new_item") is not None
        status.pop("use")  # issue 18's usefulness, checked with the learning tables below
    shares = found["shares"]
    assert isinstance(shares, list)
    assert [share.pop("replaced_note") for share in shares] == [None] * len(shares)
    return {**found, "schema_version": 7}


def test_the_previous_release_s_store_reads_the_same(
    copied: Path, expected: dict[str, object]
) -> None:
    """Opened for writing (as the next run does), it migrates and reads as it did."""
    with open_store(copied) as store:
        found = read_everything(store)
    assert found["schema_version"] == SCHEMA_VERSION
    then = _as_then(found)
    for part, value in expected.items():
        assert then[part] == value, part


def test_a_reader_asks_for_the_run_that_upgrades_then_reads_the_same(
    copied: Path, expected: dict[str, object]
) -> None:
    """A reader (search, the web app) never migrates: it names the command that does."""
    with pytest.raises(StoreVersionError, match=r"is older than .*`learnplace run` upgrades it"):
        open_store(copied, read_only=True)
    with open_store(copied):
        pass
    with open_store(copied, read_only=True) as store:
        then = _as_then(read_everything(store))
    for part, value in expected.items():
        assert then[part] == value, part


def test_what_the_previous_release_stored_is_all_there(
    copied: Path, expected: dict[str, object]
) -> None:
    """Guards the fixture itself: a dump that read nothing would compare equal to nothing."""
    with open_store(copied) as store:
        assert store.item_count() == 109
        assert len(store.source_statuses()) == 9
        assert all(store.digest(person, DAY) for person in PEOPLE)
        assert store.index_queue_size() == 1
        assert store.feedback("data-engineer")
    assert len(expected["items"]) == 109  # type: ignore[arg-type]
    with sqlite3.connect(copied) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


def test_the_previous_release_s_store_takes_a_run_s_writes(copied: Path) -> None:
    """Opened by a writer, the old file goes on as this release's store: its queued item is
    indexed and cleared, a new day's digest is saved beside the old one."""
    with open_store(copied) as store:
        [(items, deleted)] = list(store.index_queue())
        assert [item.item_type for item in items] == ["course"]
        assert deleted == []
        store.clear_index_queue(up_to=items[0].id)
        picks = store.digest("team-lead", DAY)
        delivered = store.delivered_before("team-lead", NEXT_DAY)
        assert {item_id for item_id, _, _ in picks} <= delivered
        store.save_digest("team-lead", NEXT_DAY, [Pick(items[0], 0.5, ("a course",))])
    with open_store(copied, read_only=True) as store:
        assert store.index_queue_size() == 0
        assert store.digest("team-lead", DAY) == picks
        assert store.digest("team-lead", NEXT_DAY) == [(items[0].id, 0.5, ("a course",))]
        assert store.digest_days("team-lead") == [DAY, NEXT_DAY]


def test_the_previous_release_s_store_gains_the_learning_tables_empty(
    copied: Path, expected: dict[str, object]
) -> None:
    """Migrations 9 and 10 (issue 18) keep everything above and add learning, empty."""
    since = datetime.fromisoformat("1970-01-01T00:00+00:00")
    with open_store(copied) as store:
        assert store.learning(PEOPLE, since) == []
        assert all(store.xapi_sent("https://lrs.example.org/xapi/", p) == set() for p in PEOPLE)
        assert all(store.sections(person, DAY) == {} for person in PEOPLE)
        use = store.source_usefulness()
        assert sum(u.learned for u in use.values()) == 0
        assert sum(u.liked + u.shared for u in use.values()) >= 1  # old feedback and shares count
        assert _as_then(read_everything(store)) == expected
    with sqlite3.connect(copied) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"learned", "digest_sections", "xapi_sent"} <= tables
        for table in ("learned", "digest_sections", "xapi_sent"):
            assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    db.close()
