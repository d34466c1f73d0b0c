"""Writing a feed's entries as items: new, changed, renamed, syndicated, withdrawn.

A feed is stored with a few statements per feed rather than five per entry: its
entries' stored items, and other sources' items for the same stories, are read at
once, and new items go in with one ``executemany``. Every item created or changed
is put on the index queue by the caller, in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from aggregator.dedupe import title_key
from aggregator.errors import UnknownSourceError
from aggregator.models import Entry
from aggregator.store.protocol import AddResult
from aggregator.store.sqlite.codec import (
    canonical,
    details_from_json,
    details_to_json,
    optional_text,
    rows_by_key,
    to_text,
)
from aggregator.store.sqlite.connection import Connection, guarded
from aggregator.store.sqlite.index_queue import queue_for_index

_SHOWN = ("title", "summary", "content", "url", "item_type", "details")
"""What a person sees of an item: a refetched entry that changes none of it is not rewritten."""
_OWN_ITEMS = f"""
    SELECT guid AS key, id, {", ".join(_SHOWN)} FROM items
    WHERE source_id = ? AND guid IN ({{marks}})
"""  # noqa: S608 (built from the constant column names above; values go as parameters)
_OWN_IDS = "SELECT guid AS key, id FROM items WHERE source_id = ? AND guid IN ({marks})"
# Another source's first item for the same story: same canonical URL, else same title key,
# and the same event start (occurrences of a series share a URL and a title: each is its own
# story). Keyed by :func:`_story_key`. Each query repeats its partial index's ``!= ''``:
# without it SQLite scans every item.
_SAME_CANONICALS = """
    SELECT canonical_url || char(10) || COALESCE(event_start, '') AS key, MIN(id) AS id
    FROM items
    WHERE source_id != ? AND canonical_url IN ({marks}) AND canonical_url != ''
    GROUP BY canonical_url, event_start
"""
_SAME_TITLE_KEYS = """
    SELECT title_key || char(10) || COALESCE(event_start, '') AS key, MIN(id) AS id
    FROM items
    WHERE source_id != ? AND title_key IN ({marks}) AND title_key != ''
    GROUP BY title_key, event_start
"""
_ENTRY_COLUMNS = (
    "url",
    "canonical_url",
    "title_key",
    "title",
    "summary",
    "content",
    "text",
    "item_type",
    "tags",
    "author",
    "enclosure_url",
    "enclosure_type",
    "details",
    "event_start",
    "event_end",
)
"""What an entry sets on its item, when inserted and when rewritten (:func:`_entry_values`)."""
_INSERT_ITEM = f"""
    INSERT INTO items (source_id, guid, first_seen, published, dated, {", ".join(_ENTRY_COLUMNS)})
    VALUES ({", ".join("?" * (5 + len(_ENTRY_COLUMNS)))})
"""  # noqa: S608 (as _OWN_ITEMS)
_UPDATE_ITEM = f"""
    UPDATE items SET {", ".join(f"{column} = ?" for column in _ENTRY_COLUMNS)},
        published = COALESCE(?, published), dated = MAX(dated, ?)
    WHERE id = ?
"""  # noqa: S608 (as _OWN_ITEMS)


def source_id(db: sqlite3.Connection, url: str) -> int:
    row = db.execute("SELECT id FROM sources WHERE url = ?", (url,)).fetchone()
    if row is None:
        raise UnknownSourceError(f"unknown source {url!r}: sync_sources() has not recorded it")
    return int(row["id"])


def _story_key(key: str, entry: Entry) -> str:
    """A canonical URL or title key with the entry's event start, as the story queries key."""
    return f"{key}\n{optional_text(entry.details.event_start) or ''}"


def _entry_values(entry: Entry, canonical_url: str, key: str) -> tuple[object, ...]:
    """The values of :data:`_ENTRY_COLUMNS` for ``entry``."""
    return (
        entry.url,
        canonical_url,
        key,
        entry.title,
        entry.summary,
        entry.content,
        entry.text,
        entry.item_type,
        json.dumps(list(entry.tags)),
        entry.author,
        entry.enclosure_url,
        entry.enclosure_type,
        details_to_json(entry.details),
        optional_text(entry.details.event_start),
        optional_text(entry.details.event_end),
    )


def _item_row(
    source: int, entry: Entry, canonical_url: str, key: str, now: datetime
) -> tuple[object, ...]:
    """The values of :data:`_INSERT_ITEM` for a new entry: undated, it is dated when first seen."""
    published = to_text(entry.published or now)
    values = _entry_values(entry, canonical_url, key)
    return (source, entry.guid, to_text(now), published, int(entry.published is not None), *values)


def _rounds(entries: Sequence[Entry]) -> list[list[Entry]]:
    """``entries`` split so no guid repeats within one part: the nth occurrence goes in part n."""
    rounds: list[list[Entry]] = []
    seen: dict[str, int] = {}
    for entry in entries:
        n = seen.get(entry.guid, 0)
        seen[entry.guid] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(entry)
    return rounds


def _renamed(
    db: sqlite3.Connection, source: int, entries: Sequence[Entry]
) -> dict[str, sqlite3.Row]:
    """Stored items of ``entries`` under an id an earlier version gave them, renamed to the
    entries' ids: rows of :data:`_OWN_ITEMS` by the new id."""
    former = {old: entry.guid for entry in entries for old in entry.former_guids}
    current = {entry.guid for entry in entries}
    found = rows_by_key(db, _OWN_ITEMS, [old for old in former if old not in current], (source,))
    renamed: dict[str, sqlite3.Row] = {}
    for old, row in found.items():
        guid = former[old]
        if guid not in renamed:
            db.execute("UPDATE items SET guid = ? WHERE id = ?", (guid, row["id"]))
            renamed[guid] = row
    return renamed


def withdraw_missing(
    db: sqlite3.Connection, source: int, entries: Sequence[Entry], now: datetime, until: datetime
) -> list[int]:
    """Mark cancelled the source's events between ``now`` and ``until`` that its calendar, read
    in full up to ``until``, no longer lists (an occurrence deleted, a series ended); their ids.

    They stay stored, for the pages that showed them; if one comes back, its fresh details
    differ and it is updated like any changed item.
    """
    listed = {entry.guid for entry in entries}
    rows = db.execute(
        """
        SELECT id, guid, details FROM items
        WHERE source_id = ? AND event_start IS NOT NULL AND event_start BETWEEN ? AND ?
        """,
        (source, to_text(now), to_text(until)),
    ).fetchall()
    withdrawn = []
    for row in rows:
        details = details_from_json(row["details"])
        if row["guid"] in listed or details.event_cancelled:
            continue
        cancelled = details_to_json(replace(details, event_cancelled=True))
        db.execute("UPDATE items SET details = ? WHERE id = ?", (cancelled, row["id"]))
        withdrawn.append(int(row["id"]))
    return withdrawn


def add_feed(
    db: sqlite3.Connection, source: int, entries: Sequence[Entry], now: datetime, result: AddResult
) -> None:
    """One feed's entries. A guid repeated within the document is a later version of the same
    entry, so each repeat goes in a later round, where it updates the version the round before
    stored."""
    for round_entries in _rounds(entries):
        _add_round(db, source, round_entries, now, result)


def _add_round(
    db: sqlite3.Connection, source: int, entries: Sequence[Entry], now: datetime, result: AddResult
) -> None:
    """Entries with distinct guids: stored ones refreshed, the others new or another source's
    copy of a story."""
    own = rows_by_key(db, _OWN_ITEMS, [entry.guid for entry in entries], (source,))
    own |= _renamed(db, source, [entry for entry in entries if entry.guid not in own])
    fresh: list[tuple[Entry, str, str]] = []
    for entry in entries:
        row = own.get(entry.guid)
        if row is not None:
            _refresh_item(db, row, entry, now, result)
        else:
            # Computed only here: an unchanged entry of a changed feed (most of them)
            # needs neither.
            key = title_key(entry.title, entry.published or now)
            fresh.append((entry, canonical(entry.url), key))
    if fresh:
        _insert_new(db, source, fresh, now, result)


def _insert_new(
    db: sqlite3.Connection,
    source: int,
    fresh: Sequence[tuple[Entry, str, str]],
    now: datetime,
    result: AddResult,
) -> None:
    """Entries not stored for ``source``: another source's item for the same story gains
    ``source``; the others become items."""
    urls = [url for _, url, _ in fresh if url]
    by_canonical = rows_by_key(db, _SAME_CANONICALS, urls, (source,))
    by_title = rows_by_key(db, _SAME_TITLE_KEYS, [key for _, _, key in fresh if key], (source,))
    syndicated: list[tuple[int, int]] = []
    inserts: list[tuple[Entry, str, str]] = []
    for entry, url, key in fresh:
        match = (url and by_canonical.get(_story_key(url, entry))) or (
            key and by_title.get(_story_key(key, entry))
        )
        if match:
            syndicated.append((int(match["id"]), source))
        else:
            inserts.append((entry, url, key))
    db.executemany(
        "INSERT OR IGNORE INTO item_sources (item_id, source_id) VALUES (?, ?)", syndicated
    )
    if not inserts:
        return
    db.executemany(
        _INSERT_ITEM, [_item_row(source, entry, url, key, now) for entry, url, key in inserts]
    )
    ids = rows_by_key(db, _OWN_IDS, [entry.guid for entry, _, _ in inserts], (source,))
    new_ids = [int(ids[entry.guid]["id"]) for entry, _, _ in inserts]
    db.executemany(
        "INSERT INTO item_sources (item_id, source_id) VALUES (?, ?)",
        [(item_id, source) for item_id in new_ids],
    )
    result.new_ids.extend(new_ids)


def _refresh_item(
    db: sqlite3.Connection, own: sqlite3.Row, entry: Entry, now: datetime, result: AddResult
) -> None:
    """An entry already stored for its source (``own``, a row of :data:`_OWN_ITEMS`):
    rewritten only if what is shown changed. It keeps its id and first_seen; its date
    moves only if the feed has one."""
    fresh = (
        entry.title,
        entry.summary,
        entry.content,
        entry.url,
        entry.item_type,
        details_to_json(entry.details),
    )
    if tuple(own[column] for column in _SHOWN) == fresh:
        return
    item_id = int(own["id"])
    key = title_key(entry.title, entry.published or now)
    published = None if entry.published is None else to_text(entry.published)
    values = _entry_values(entry, canonical(entry.url), key)
    db.execute(_UPDATE_ITEM, (*values, published, int(published is not None), item_id))
    result.updated_ids.append(item_id)


class EntriesMixin(Connection):
    """Storing parsed feeds outside a run's fetch records (imports, tests, benchmarks)."""

    @guarded
    def add_entries(self, source_url: str, entries: Sequence[Entry], now: datetime) -> AddResult:
        result = AddResult()
        with self._transaction() as db:
            add_feed(db, source_id(db, source_url), entries, now, result)
            queue_for_index(db, [*result.new_ids, *result.updated_ids])
        return result

    @guarded
    def add_feeds(self, feeds: Iterable[tuple[str, Sequence[Entry]]], now: datetime) -> AddResult:
        """Many feeds' entries in one transaction: a bulk import pays one commit, not one each."""
        result = AddResult()
        with self._transaction() as db:
            for source_url, entries in feeds:
                add_feed(db, source_id(db, source_url), entries, now, result)
            queue_for_index(db, [*result.new_ids, *result.updated_ids])
        return result
