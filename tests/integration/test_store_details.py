"""Migration 2: item details, a person's type override, and Upcoming events kept apart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.errors import UnknownItemError
from aggregator.models import Details, Entry, Pick, Source
from aggregator.store import MIGRATIONS, SCHEMA_VERSION, SqliteStore, open_store

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
EVENTS = Source(url="https://events.example/rss", name="Events", kind="event")
DETAILS = Details(
    event_start=NOW + timedelta(days=3),
    event_end=NOW + timedelta(days=3, hours=2),
    event_timezone="Europe/Berlin",
    location="Online",
    duration_s=2537,
    provider="OpenSkills",
)


def entry(guid: str, **overrides: object) -> Entry:
    values: dict[str, object] = {
        "guid": guid,
        "url": f"https://events.example/{guid}",
        "title": f"Meetup {guid}",
        "published": NOW - timedelta(days=1),
        "item_type": "event",
        "details": DETAILS,
    }
    values.update(overrides)
    return Entry(**values)  # type: ignore[arg-type]


def test_details_round_trip_and_change_marks_item_updated(store_location: str) -> None:
    with open_store(store_location) as store:
        store.sync_sources([EVENTS])
        added = store.add_entries(EVENTS.url, [entry("a")], NOW)
        item = store.items(added.new_ids)[added.new_ids[0]]
        assert item.details == DETAILS
        moved = Details(event_start=NOW + timedelta(days=5))
        again = store.add_entries(EVENTS.url, [entry("a", details=moved)], NOW)
        assert again.updated_ids == added.new_ids
        assert store.items(added.new_ids)[added.new_ids[0]].details == moved


def test_type_override_survives_refetch_and_can_be_undone(store_location: str) -> None:
    with open_store(store_location) as store:
        store.sync_sources([EVENTS])
        (item_id,) = store.add_entries(EVENTS.url, [entry("a")], NOW).new_ids
        store.set_item_type(item_id, "course")
        store.add_entries(EVENTS.url, [entry("a", title="Meetup a (updated)")], NOW)
        assert store.items([item_id])[item_id].item_type == "course"
        store.set_item_type(item_id, None)
        assert store.items([item_id])[item_id].item_type == "event"
        with pytest.raises(ValueError, match="unknown item type"):
            store.set_item_type(item_id, "webinar")
        with pytest.raises(UnknownItemError):
            store.set_item_type(item_id + 100, "course")


def test_upcoming_events_are_not_counted_as_sent(store_location: str) -> None:
    day = date(2026, 11, 30)
    with open_store(store_location) as store:
        store.sync_sources([EVENTS])
        ids = store.add_entries(EVENTS.url, [entry("a"), entry("b")], NOW).new_ids
        items = store.items(ids)
        store.save_digest(
            "ada", day, [Pick(items[ids[0]], 1.0, ())], [Pick(items[ids[1]], 0.5, ("soon",))]
        )
        assert store.delivered_before("ada", day + timedelta(days=1)) == {ids[0]}
        assert store.digest("ada", day) == [(ids[0], 1.0, ())]
        assert store.digest("ada", day, upcoming=True) == [(ids[1], 0.5, ("soon",))]


def test_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute(
        "INSERT INTO sources (url, name, kind) VALUES (?, 'Events', 'events')", (EVENTS.url,)
    )
    db.execute(
        """
        INSERT INTO items (source_id, guid, url, canonical_url, title, summary, content, text,
            published, first_seen, item_type)
        VALUES (1, 'old', 'https://events.example/old', 'https://events.example/old', 'Old',
            '', '', '', ?, ?, 'event')
        """,
        (NOW.isoformat(), NOW.isoformat()),
    )
    db.execute("INSERT INTO deliveries VALUES ('ada', '2026-11-29', 1, 0, 1.0, '[]')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with SqliteStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        (item,) = store.items([1]).values()
        assert (item.title, item.item_type, item.details) == ("Old", "event", Details())
        assert store.delivered_before("ada", date(2026, 11, 30)) == {1}


@pytest.mark.parametrize("ref", ["99999999999999999999999", "9223372036854775808", "²", "1" * 5000])
def test_an_id_sqlite_cannot_hold_names_no_item(store_location: str, ref: str) -> None:
    with open_store(store_location) as store:
        store.sync_sources([EVENTS])
        store.add_entries(EVENTS.url, [entry("a")], NOW)
        assert store.find_item(ref) is None
        assert store.items([2**64, -1, 10**30]) == {}
        with pytest.raises(UnknownItemError):
            store.set_item_type(2**64, "course")
        assert store.find_item("1") == 1
