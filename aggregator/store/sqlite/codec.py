"""How values are written to SQLite and read back: datetimes, details, whole items.

Datetimes are stored as ISO-8601 UTC text of one fixed shape, so text order is
time order and ``published >= ?`` works on the column directly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from aggregator.models import Details, Item
from aggregator.urls import canonical_url

ID_CHUNK = 500
"""Ids per ``IN (...)`` query: well under SQLite's bound-parameter limit."""

MAX_ID = 2**63 - 1
"""SQLite's largest integer: a larger "id" a person typed names no item (and would overflow)."""

ITER_BATCH = 1_000
"""Rows fetched at a time when iterating every item or the index queue, to keep memory flat."""

ITEM_SELECT = """
    SELECT i.id, s.url AS source_url, s.name AS source_name, i.guid, i.url, i.canonical_url,
           i.title, i.summary, i.content, i.text, i.published, i.first_seen,
           COALESCE(i.type_override, i.item_type) AS item_type, i.tags, i.author,
           i.enclosure_url, i.enclosure_type, i.details, i.dated
    FROM items i JOIN sources s ON s.id = i.source_id
"""
"""An item with its source, as :func:`item_from_row` reads it."""


def to_text(moment: datetime) -> str:
    """One fixed UTC shape, so that SQLite text comparison is time comparison."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store only takes aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def optional_from_text(text: str | None) -> datetime | None:
    return None if text is None else from_text(text)


def optional_text(moment: datetime | None) -> str | None:
    return None if moment is None else to_text(moment)


def canonical(url: str) -> str:
    return canonical_url(url) if url else ""


def details_to_json(details: Details) -> str:
    """Only the fields that are set, datetimes as ISO text: most items have no details at all."""
    data: dict[str, object] = {}
    for name in Details.__slots__:
        value = getattr(details, name)
        if value in (None, "", False):
            continue
        data[name] = to_text(value) if isinstance(value, datetime) else value
    return json.dumps(data, sort_keys=True)


def details_from_json(text: str) -> Details:
    data = json.loads(text)
    moments = {"event_start", "event_end", "course_start"}
    known: dict[str, Any] = {
        name: from_text(value) if name in moments else value
        for name, value in data.items()
        if name in Details.__slots__
    }
    return Details(**known)


def item_from_row(row: sqlite3.Row) -> Item:
    """A row of :data:`ITEM_SELECT`."""
    return Item(
        id=row["id"],
        source_url=row["source_url"],
        source_name=row["source_name"],
        guid=row["guid"],
        url=row["url"],
        canonical_url=row["canonical_url"],
        title=row["title"],
        summary=row["summary"],
        content=row["content"],
        text=row["text"],
        published=from_text(row["published"]),
        first_seen=from_text(row["first_seen"]),
        item_type=row["item_type"],
        tags=tuple(json.loads(row["tags"])),
        author=row["author"],
        enclosure_url=row["enclosure_url"],
        enclosure_type=row["enclosure_type"],
        details=details_from_json(row["details"]),
        dated=bool(row["dated"]),
    )


def chunks(ids: Sequence[int], size: int = ID_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def rows_by_key(
    db: sqlite3.Connection, query: str, keys: Sequence[str], before: tuple[object, ...]
) -> dict[str, sqlite3.Row]:
    """Rows of ``query`` (its ``{marks}`` filled with ``keys``, in chunks) by their ``key``
    column."""
    found: dict[str, sqlite3.Row] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), ID_CHUNK):
        chunk = unique[start : start + ID_CHUNK]
        sql = query.format(marks=",".join("?" * len(chunk)))
        for row in db.execute(sql, (*before, *chunk)):
            found[row["key"]] = row
    return found


def items_by_id(db: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Item]:
    """Items by id; ids that do not exist (or that SQLite cannot hold) are absent."""
    wanted = sorted(item_id for item_id in set(ids) if 0 < item_id <= MAX_ID)
    found: dict[int, Item] = {}
    for chunk in chunks(wanted):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"{ITEM_SELECT} WHERE i.id IN ({marks})", chunk):
            found[row["id"]] = item_from_row(row)
    return found
