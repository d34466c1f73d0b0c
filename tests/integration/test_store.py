"""The store against real databases: SQLite files under tmp_path, and PostgreSQL databases
(every test taking ``store`` or ``store_location`` runs on both backends)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.errors import StoreError, StoreVersionError, UnknownSourceError
from aggregator.fetch.schedule import decide
from aggregator.models import Details, Entry, FetchResult, Item, Pick, Source, SourceState
from aggregator.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    AddResult,
    FetchRecord,
    SqliteStore,
    Store,
    open_store,
)
from aggregator.store.postgres.schema import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from aggregator.store.sqlite import schema as store_schema

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
BLOG = Source(url="https://blog.example/feed.xml", name="Example Blog", kind="article")
NEWS = Source(url="https://news.example/rss", name="Example News", kind="article")


@pytest.fixture
def store(store_location: str) -> Iterator[Store]:
    with open_store(store_location) as opened:
        opened.sync_sources([BLOG, NEWS])
        yield opened


def entry(guid: str, **overrides: object) -> Entry:
    fields: dict[str, object] = {
        "guid": guid,
        "url": f"https://blog.example/posts/{guid}",
        "title": f"Post {guid}",
        "summary": f"<p>Summary of {guid}</p>",
        "text": f"Text of {guid}",
        "published": NOW - timedelta(days=1),
        "tags": ("python", "testing"),
    }
    fields.update(overrides)
    return Entry(**fields)  # type: ignore[arg-type]


def item_sources(store: Store) -> list[tuple[int, str]]:
    """Which sources each item has, read past the protocol (either backend's connection)."""
    rows = store._db.execute(  # type: ignore[attr-defined]
        "SELECT x.item_id, s.url FROM item_sources x JOIN sources s ON s.id = x.source_id "
        "ORDER BY x.item_id, s.url"
    )
    return [(row[0], row[1]) for row in rows]


def test_new_store_has_current_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sources", "items", "item_sources", "deliveries", "feedback"} <= tables


def test_version_1_store_is_upgraded_in_place_and_gains_feedback(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute(
            "INSERT INTO sources (url, name, kind) VALUES ('https://a.example/', 'A', 'blog')"
        )
        db.execute("PRAGMA user_version = 1")
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert [s.url for s in store.source_statuses()] == ["https://a.example/"]
        assert store.feedback("ada") == {}


def test_feedback_is_stored_replaced_and_cleared(store_location: str) -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    with open_store(store_location) as store:
        store.sync_sources([Source(url="https://a.example/feed", name="A")])
        entry = Entry(guid="g1", url="https://a.example/1?utm_source=x", title="One")
        [item_id] = store.add_entries("https://a.example/feed", [entry], now).new_ids
        assert store.find_item(str(item_id)) == item_id
        assert store.find_item("https://a.example/1") == item_id
        assert store.find_item("https://a.example/404") is None
        store.set_feedback("ada", item_id, 1, now)
        store.set_feedback("ada", item_id, -1, now)
        assert store.feedback("ada") == {item_id: -1}
        assert store.feedback("bob") == {}
        store.set_feedback("ada", item_id, 0, now)
        assert store.feedback("ada") == {}


def test_reopening_keeps_data_and_version(store_location: str, backend: str) -> None:
    with open_store(store_location) as store:
        store.sync_sources([BLOG])
        store.add_entries(BLOG.url, [entry("a")], NOW)
    with open_store(store_location) as store:
        version = SCHEMA_VERSION if backend == "sqlite" else POSTGRES_SCHEMA_VERSION
        assert store.schema_version == version
        assert store.item_count() == 1


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreVersionError, match=r"newer Learnplace.*upgrade"):
        SqliteStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(StoreError, match="cannot open as a Learnplace store"):
        SqliteStore(path)


def test_sync_sources_upserts_and_deactivates(store: Store) -> None:
    renamed = Source(url=BLOG.url, name="Renamed Blog", kind="course")
    store.sync_sources([renamed])
    statuses = store.source_statuses()
    assert [(s.url, s.name) for s in statuses] == [(BLOG.url, "Renamed Blog")]
    store.sync_sources([renamed, NEWS])
    assert {s.url for s in store.source_statuses()} == {BLOG.url, NEWS.url}


def record(store: Store, result: FetchResult, now: datetime) -> None:
    state = decide(result, store.source_state(BLOG.url), now)
    store.record_fetches([FetchRecord(BLOG.url, result, state)], now)


def test_schedule_state_round_trips_and_survives_reopening(store_location: str) -> None:
    with open_store(store_location) as store:
        store.sync_sources([BLOG])
        assert store.source_state(BLOG.url) == SourceState(fetch_url=BLOG.url)
        moved = FetchResult(BLOG.url, NEWS.url, 200, b"<rss/>", redirects=((301, NEWS.url),))
        record(store, moved, NOW)
        gone = FetchResult(NEWS.url, NEWS.url, 503, headers={"retry-after": "60"}, error="busy")
        record(store, gone, NOW)
        problems = FetchRecord(BLOG.url, gone, store.source_state(BLOG.url), ("bozo: bad &",))
        store.record_fetches([problems], NOW)
    with open_store(store_location) as store:
        state = store.source_state(BLOG.url)
        status = store.source_statuses()[0]
    assert state.fetch_url == NEWS.url and state.moved_from == BLOG.url
    assert state.next_attempt == NOW + timedelta(seconds=60)
    assert (status.fetch_url, status.problems) == (NEWS.url, ("bozo: bad &",))


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute(
            "INSERT INTO sources (url, name, kind, etag, failures) VALUES (?, ?, 'blog', 'e', 2)",
            (BLOG.url, BLOG.name),
        )
        db.execute("PRAGMA user_version = 1")
    db.close()
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.source_state(BLOG.url) == SourceState(fetch_url=BLOG.url, failures=2)
        assert store.cache_info(BLOG.url).etag == "e"


def test_record_fetch_success_then_failures_then_304(store: Store) -> None:
    ok = FetchResult(
        url=BLOG.url,
        final_url=BLOG.url,
        status=200,
        content=b"<rss/>",
        headers={"etag": '"v1"', "last-modified": "Sun, 29 Nov 2026 10:00:00 GMT"},
    )
    record(store, ok, NOW)
    assert store.cache_info(BLOG.url).etag == '"v1"'

    broken = FetchResult(url=BLOG.url, final_url=BLOG.url, status=503, error="HTTP 503")
    record(store, broken, NOW + timedelta(hours=1))
    record(store, broken, NOW + timedelta(hours=2))
    status = next(s for s in store.source_statuses() if s.url == BLOG.url)
    assert (status.failures, status.last_status, status.last_error) == (2, 503, "HTTP 503")
    assert status.last_success == NOW
    assert store.cache_info(BLOG.url).last_modified == "Sun, 29 Nov 2026 10:00:00 GMT"

    unchanged = FetchResult(url=BLOG.url, final_url=BLOG.url, status=304)
    later = NOW + timedelta(hours=3)
    record(store, unchanged, later)
    status = next(s for s in store.source_statuses() if s.url == BLOG.url)
    assert (status.failures, status.last_status, status.last_error) == (0, 304, None)
    assert status.last_success == later
    assert status.last_success.tzinfo is not None
    assert store.cache_info(BLOG.url).etag == '"v1"'


def test_a_200_without_validators_forgets_the_old_ones(store: Store) -> None:
    headers = {"etag": '"v1"'}
    record(store, FetchResult(BLOG.url, BLOG.url, 200, b"x", headers), NOW)
    record(store, FetchResult(BLOG.url, BLOG.url, 200, b"y", {}), NOW)
    assert store.cache_info(BLOG.url).etag is None


def test_unknown_source_is_an_error_not_a_silent_insert(store: Store) -> None:
    with pytest.raises(UnknownSourceError):
        store.add_entries("https://nowhere.example/feed", [entry("a")], NOW)
    assert store.cache_info("https://nowhere.example/feed").etag is None


def test_add_entries_new_then_unchanged_then_changed(store: Store) -> None:
    first = store.add_entries(BLOG.url, [entry("a"), entry("b")], NOW)
    assert len(first.new_ids) == 2
    assert first.updated_ids == []

    again = store.add_entries(BLOG.url, [entry("a"), entry("b")], NOW + timedelta(hours=1))
    assert again == AddResult([], [])
    assert store.item_count() == 2

    changed = store.add_entries(BLOG.url, [entry("a", title="Post a, revised")], NOW)
    assert changed == AddResult([], [first.new_ids[0]])
    item = store.items([first.new_ids[0]])[first.new_ids[0]]
    assert item.title == "Post a, revised"
    assert item.first_seen == NOW


def test_items_round_trip_every_field(store: Store) -> None:
    published = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    stored_entry = entry(
        "x",
        url="HTTPS://Blog.Example:443/posts/x?utm_source=rss#top",
        published=published,
        author="Ada",
        item_type="course",
        tags=("ml", "deep learning"),
    )
    (item_id,) = store.add_entries(BLOG.url, [stored_entry], NOW).new_ids
    item = store.items([item_id, 999])[item_id]
    assert item == Item(
        id=item_id,
        source_url=BLOG.url,
        source_name=BLOG.name,
        guid="x",
        url=stored_entry.url,
        canonical_url="https://blog.example/posts/x",
        title="Post x",
        summary="<p>Summary of x</p>",
        content="",
        text="Text of x",
        published=published,
        first_seen=NOW,
        item_type="course",
        tags=("ml", "deep learning"),
        author="Ada",
    )
    assert store.items([999]) == {}


def test_missing_published_date_is_first_seen(store: Store) -> None:
    (item_id,) = store.add_entries(BLOG.url, [entry("a", published=None)], NOW).new_ids
    assert store.items([item_id])[item_id].published == NOW


def test_syndicated_copy_is_one_item_with_two_sources(store: Store, tmp_path: Path) -> None:
    original = entry("orig", url="https://blog.example/posts/rust")
    (item_id,) = store.add_entries(BLOG.url, [original], NOW).new_ids
    copy = entry(
        "news-123",
        url="https://Blog.example/posts/rust?utm_source=news&utm_medium=rss#comments",
        title="Rust, syndicated",
    )
    added = store.add_entries(NEWS.url, [copy], NOW)
    assert added == AddResult([], [])
    assert store.item_count() == 1
    assert item_sources(store) == [(item_id, BLOG.url), (item_id, NEWS.url)]
    item = store.items([item_id])[item_id]
    assert (item.source_url, item.title) == (BLOG.url, "Post orig")
    # Seen again on the next fetch: still one item, one link.
    assert store.add_entries(NEWS.url, [copy], NOW) == AddResult([], [])
    assert len(item_sources(store)) == 2
    counts = {s.url: s.items for s in store.source_statuses()}
    assert counts == {BLOG.url: 1, NEWS.url: 1}


def test_entries_without_url_are_never_merged(store: Store) -> None:
    store.add_entries(BLOG.url, [entry("a", url="")], NOW)
    store.add_entries(NEWS.url, [entry("b", url="")], NOW)
    assert store.item_count() == 2


def test_failed_batch_leaves_nothing_behind(store: Store) -> None:
    bad = entry("bad", published=datetime(2026, 1, 1))  # naive: refused by the store
    with pytest.raises(ValueError, match="naive"):
        store.add_entries(BLOG.url, [entry("good"), bad], NOW)
    assert store.item_count() == 0


def test_items_since_and_iteration(store: Store) -> None:
    old = entry("old", published=NOW - timedelta(days=30))
    edge = entry("edge", published=NOW - timedelta(days=7))
    fresh = entry("fresh", published=NOW - timedelta(hours=1))
    store.add_entries(BLOG.url, [old, edge, fresh], NOW)
    since = store.items_since(NOW - timedelta(days=7))
    assert [item.guid for item in since] == ["fresh", "edge"]
    assert [item.guid for item in store.iter_items()] == ["old", "edge", "fresh"]
    assert store.item_count() == 3


def picks(store: Store, *guids: str) -> list[Pick]:
    by_guid = {item.guid: item for item in store.iter_items()}
    return [Pick(by_guid[guid], 10.0 - n, (f"matches {guid}",)) for n, guid in enumerate(guids)]


def test_save_digest_twice_replaces_and_orders(store: Store) -> None:
    store.add_entries(BLOG.url, [entry(g) for g in "abcd"], NOW)
    day = date(2026, 11, 30)
    store.save_digest("ada", day, picks(store, "a", "b", "c"))
    store.save_digest("ada", day, picks(store, "c", "a"))
    ids = {item.guid: item.id for item in store.iter_items()}
    assert store.digest("ada", day) == [
        (ids["c"], 10.0, ("matches c",)),
        (ids["a"], 9.0, ("matches a",)),
    ]
    assert store.digest_days("ada") == [day]
    with pytest.raises(ValueError, match="more than once"):
        store.save_digest("ada", day, picks(store, "a", "a"))
    assert len(store.digest("ada", day)) == 2


def test_delivered_before_counts_only_earlier_days_of_that_person(store: Store) -> None:
    store.add_entries(BLOG.url, [entry(g) for g in "abc"], NOW)
    ids = {item.guid: item.id for item in store.iter_items()}
    store.save_digest("ada", date(2026, 11, 28), picks(store, "a"))
    store.save_digest("ada", date(2026, 11, 29), picks(store, "b"))
    store.save_digest("ada", date(2026, 11, 30), picks(store, "c"))
    store.save_digest("bob", date(2026, 11, 29), picks(store, "c"))
    assert store.delivered_before("ada", date(2026, 11, 30)) == {ids["a"], ids["b"]}
    assert store.delivered_before("ada", date(2026, 11, 28)) == set()
    assert store.delivered_before("bob", date(2026, 12, 1)) == {ids["c"]}
    assert store.digest_days("ada") == [date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)]


def test_same_title_on_the_same_day_is_one_story_from_two_sources(
    store: Store, tmp_path: Path
) -> None:
    title = "How We Teach SQL to New Analysts"
    (item_id,) = store.add_entries(BLOG.url, [entry("a", title=title)], NOW).new_ids
    copy = entry(
        "n1",
        url="https://news.example/their-copy",
        title="How we teach SQL to new analysts!",
        published=NOW - timedelta(hours=20),
    )
    assert store.add_entries(NEWS.url, [copy], NOW) == AddResult([], [])
    assert item_sources(store) == [(item_id, BLOG.url), (item_id, NEWS.url)]


@pytest.mark.parametrize(
    ("title", "published"),
    [
        ("How We Teach SQL to New Analysts", NOW - timedelta(days=3)),  # another day
        ("Episode 12", NOW - timedelta(days=1)),  # too short to identify a story
    ],
)
def test_titles_that_only_look_alike_stay_apart(
    store: Store, title: str, published: datetime
) -> None:
    first = "How We Teach SQL to New Analysts" if title.startswith("How") else title
    store.add_entries(BLOG.url, [entry("a", title=first)], NOW)
    other = entry("n1", url="https://news.example/x", title=title, published=published)
    assert len(store.add_entries(NEWS.url, [other], NOW).new_ids) == 1


def test_a_first_release_store_is_upgraded_in_place_keeping_its_data(tmp_path: Path) -> None:
    """A store made with the frozen version-1 schema opens with every migration applied."""
    path = tmp_path / "v1.sqlite3"
    schema = (Path(__file__).parents[1] / "data" / "schema_v1.sql").read_text(encoding="utf-8")
    with sqlite3.connect(path) as db:
        db.executescript(schema)
        db.execute(
            "INSERT INTO sources (url, name, kind) VALUES ('http://a.test/feed', 'A', 'blog')"
        )
        db.execute(
            """
            INSERT INTO items (source_id, guid, url, canonical_url, title, summary, content, text,
                published, first_seen, item_type)
            VALUES (1, 'g1', 'http://a.test/1', 'http://a.test/1', 'Old item', 's', 'c', 't',
                '2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00', 'article')
            """
        )
        db.execute("INSERT INTO item_sources VALUES (1, 1)")
        db.execute(
            "INSERT INTO deliveries (person, day, item_id, position, score) "
            "VALUES ('ann', '2026-01-02', 1, 0, 1.5)"
        )
    db.close()
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        item = store.items([1])[1]
        assert (item.title, item.item_type, item.details) == ("Old item", "article", Details())
        assert store.digest("ann", date(2026, 1, 2)) == [(1, 1.5, ())]
        assert store.digest("ann", date(2026, 1, 2), upcoming=True) == []
        assert store.source_state("http://a.test/feed").retired is False
        assert store.index_queue_size() == 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT title_key FROM items").fetchone() == ("",)
    db.close()


def test_a_failing_migration_leaves_the_old_store_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations run in one transaction: a failure part-way keeps version 1 and its data."""
    path = tmp_path / "v1.sqlite3"
    schema = (Path(__file__).parents[1] / "data" / "schema_v1.sql").read_text(encoding="utf-8")
    with sqlite3.connect(path) as db:
        db.executescript(schema)
    db.close()
    broken = (*store_schema.MIGRATIONS[:-1], ("CREATE TABLE sources (x)",))
    monkeypatch.setattr(store_schema, "MIGRATIONS", broken)
    with pytest.raises(StoreError):
        SqliteStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "feedback" not in tables


def test_add_feeds_stores_many_feeds_in_one_call(store: Store, tmp_path: Path) -> None:
    copy = entry("n1", url="https://blog.example/posts/a")  # the same story, syndicated by NEWS
    result = store.add_feeds([(BLOG.url, [entry("a"), entry("b")]), (NEWS.url, [copy])], NOW)
    assert len(result.new_ids) == 2 and store.item_count() == 2
    first = result.new_ids[0]
    assert item_sources(store) == [
        (first, BLOG.url),
        (first, NEWS.url),
        (result.new_ids[1], BLOG.url),
    ]


def test_a_feed_is_stored_as_entry_by_entry_would(store: Store, tmp_path: Path) -> None:
    """The batched path: a mix of new, unchanged, changed, syndicated (by URL and by title)
    and URL-less entries gives the items, links and result of one add per entry."""
    day = NOW - timedelta(days=1)
    store.add_entries(
        BLOG.url,
        [
            entry("kept"),
            entry("edited"),
            entry("story", url="https://blog.example/posts/story"),
            entry("talk", url="https://blog.example/talk", title="A long talk about SQLite"),
        ],
        NOW,
    )
    feed = [
        entry("n-new", url="https://news.example/new"),
        entry("n-story", url="https://BLOG.example/posts/story?utm_source=x"),
        entry("n-talk", url="https://news.example/talk", title="A Long Talk About SQLite!"),
        entry("n-nourl", url=""),
    ]
    added = store.add_entries(NEWS.url, feed, NOW)
    assert len(added.new_ids) == 2 and added.updated_ids == []
    again = store.add_entries(NEWS.url, [*feed, entry("n-late", published=day)], NOW)
    assert len(again.new_ids) == 1 and again.updated_ids == []
    changed = store.add_entries(BLOG.url, [entry("kept"), entry("edited", title="New")], NOW)
    assert changed.new_ids == [] and len(changed.updated_ids) == 1
    assert store.item_count() == 7
    links = item_sources(store)
    assert len(links) == 9  # seven items, two of them also from NEWS


def test_a_guid_repeated_within_a_feed_is_one_item_with_the_last_version(store: Store) -> None:
    added = store.add_entries(
        BLOG.url, [entry("a"), entry("b"), entry("a", title="Post a, again")], NOW
    )
    assert len(added.new_ids) == 2 and len(added.updated_ids) == 1
    titles = sorted(item.title for item in store.items(added.new_ids).values())
    assert titles == ["Post a, again", "Post b"]


def test_many_sources_outcomes_are_stored_in_one_transaction(store: Store) -> None:
    """All of a batch or none of it: a failing record rolls back the sources before it."""
    ok = FetchResult(BLOG.url, BLOG.url, 200, b"<rss/>", headers={"etag": '"b1"'})
    gone = FetchResult(NEWS.url, NEWS.url, 404, error="HTTP 404")
    records = [
        FetchRecord(BLOG.url, ok, decide(ok, store.source_state(BLOG.url), NOW), (), [entry("a")]),
        FetchRecord(NEWS.url, gone, decide(gone, store.source_state(NEWS.url), NOW), ("odd",)),
    ]
    added = store.record_fetches(records, NOW)
    assert len(added.new_ids) == 1 and store.index_queue_size() == 1
    assert store.cache_info(BLOG.url).etag == '"b1"'
    statuses = {s.url: s for s in store.source_statuses()}
    assert (statuses[NEWS.url].last_status, statuses[NEWS.url].problems) == (404, ("odd",))

    again = FetchResult(BLOG.url, BLOG.url, 200, b"<rss/>", headers={"etag": '"b2"'})
    unknown = FetchRecord("https://unknown.example/feed", gone, records[1].state)
    with pytest.raises(UnknownSourceError):
        store.record_fetches(
            [FetchRecord(BLOG.url, again, records[0].state, (), [entry("b")]), unknown], NOW
        )
    assert store.cache_info(BLOG.url).etag == '"b1"' and store.item_count() == 1


def test_shared_items_start_over_when_full_and_still_find_every_item(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.rank import daily

    ids = store.add_entries(BLOG.url, [entry(f"g{n}", title=f"Post {n}") for n in range(12)], NOW)
    monkeypatch.setattr(daily, "SHARED_ITEMS_MAX", 5)
    reads: list[int] = []
    items = store.items
    monkeypatch.setattr(store, "items", lambda wanted: reads.append(len(wanted)) or items(wanted))
    items_of = daily.shared_items(store)
    first, second = ids.new_ids[:4], ids.new_ids[3:7]
    assert {i: it.title for i, it in items_of(first).items()} == {
        i: f"Post {n}" for n, i in enumerate(first)
    }
    assert set(items_of(first)) == set(first)
    assert set(items_of(second)) == set(second)
    assert set(items_of(ids.new_ids)) == set(ids.new_ids)
    # nothing read again while it fits; past the bound it starts over with what is wanted
    assert reads == [4, 0, 4, 12]


def test_a_version_6_store_opens_with_event_times_and_undated_items_marked(
    tmp_path: Path,
) -> None:
    """Issue 16's migration: a store the previous version wrote (schema 6) opens, keeps every
    item, finds its events by their time and marks the items it had dated by first sight."""
    path = tmp_path / "v6.sqlite3"
    with sqlite3.connect(path) as db:
        for statements in MIGRATIONS[:6]:
            for statement in statements:
                db.execute(statement)
        db.execute("PRAGMA user_version = 6")
        db.execute(
            "INSERT INTO sources (url, name, kind, etag) VALUES (?, 'A', 'events', ?)",
            ("http://a.test/f", '"e"'),
        )
        seen = "2026-11-01T06:00:00.123456+00:00"
        start = "2026-12-03T18:00:00.000000+00:00"
        rows = [
            ("meetup", "2026-10-01T00:00:00.000000+00:00", f'{{"event_start": "{start}"}}'),
            ("undated", seen, "{}"),
            ("dated", "2026-10-30T12:00:00.000000+00:00", "{}"),
        ]
        for guid, published, details in rows:
            db.execute(
                """
                INSERT INTO items (source_id, guid, url, canonical_url, title, summary, content,
                    text, published, first_seen, item_type, details)
                VALUES (1, ?, '', '', ?, '', '', '', ?, ?, ?, ?)
                """,
                (
                    guid,
                    guid.title(),
                    published,
                    seen,
                    "event" if guid == "meetup" else "article",
                    details,
                ),
            )
    db.close()
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        items = {item.guid: item for item in store.iter_items()}
        assert set(items) == {"meetup", "undated", "dated"}
        assert items["meetup"].details.event_start == datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
        assert (items["undated"].dated, items["dated"].dated, items["meetup"].dated) == (
            False,
            True,
            True,
        )
        found = store.upcoming_event_ids(NOW, NOW + timedelta(days=60))
        assert found == [items["meetup"].id]
        assert store.cache_info("http://a.test/f", NOW).etag == '"e"'
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_an_undated_entry_keeps_the_day_it_was_first_seen_and_is_marked(store: Store) -> None:
    """Defect 7: an undated item got each run's time and looked new every day."""
    (item_id,) = store.add_entries(BLOG.url, [entry("u", published=None)], NOW).new_ids
    later = NOW + timedelta(days=3)
    changed = entry("u", published=None, title="Post u, edited")
    store.add_entries(BLOG.url, [changed], later)
    item = store.items([item_id])[item_id]
    assert (item.title, item.published, item.first_seen, item.dated) == (
        "Post u, edited",
        NOW,
        NOW,
        False,
    )
    store.add_entries(BLOG.url, [entry("u", published=later, title="Dated at last")], later)
    assert store.items([item_id])[item_id].dated


def test_occurrences_that_share_a_link_are_not_merged_across_sources(store: Store) -> None:
    """Smaller: events of a series that share one URL were merged whatever their dates."""
    link = "https://meetup.example/weekly"
    first = Details(event_start=NOW + timedelta(days=2))
    second = Details(event_start=NOW + timedelta(days=9))
    store.add_entries(BLOG.url, [entry("a", url=link, item_type="event", details=first)], NOW)
    again = [
        entry("b1", url=link, item_type="event", details=first),  # the same occurrence: merged
        entry("b2", url=link, item_type="event", details=second),  # another one: its own item
    ]
    result = store.add_entries(NEWS.url, again, NOW)
    assert len(result.new_ids) == 1
    assert store.item_count() == 2


def test_an_entry_stored_under_a_former_id_takes_its_new_id(store: Store) -> None:
    (item_id,) = store.add_entries(BLOG.url, [entry("old-id")], NOW).new_ids
    old = entry("old-id")
    renamed = dataclasses.replace(old, guid="new-id", former_guids=("old-id",))
    result = store.add_entries(BLOG.url, [renamed], NOW)
    assert (result.new_ids, result.updated_ids) == ([], [])
    assert store.items([item_id])[item_id].guid == "new-id"
    assert store.item_count() == 1
