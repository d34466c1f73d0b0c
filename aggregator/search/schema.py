"""What the index holds of an item, and how its fields are analysed and weighed.

Only the ``id`` is stored; titles and bodies live in SQLite, which keeps the
index small and every commit cheap. The index can always be rebuilt from the
store (``learnplace run`` does when the schema changed), so it holds nothing
that exists only here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema

from aggregator.models import Item
from aggregator.sanitize import html_to_text
from aggregator.search.postings import Positions


def _phrase_text(**options: Any) -> TEXT:
    """A text field whose postings keep positions as
    :class:`~aggregator.search.postings.Positions`."""
    field = TEXT(phrase=True, **options)
    field.format = Positions(field_boost=field.format.field_boost)
    return field


SCHEMA = Schema(
    # sortable: a column gives docnum -> id without loading stored fields per hit.
    id=ID(stored=True, unique=True, sortable=True),
    # spelling: unstemmed title words feed "did you mean" (a stem is no word to suggest).
    title=_phrase_text(analyzer=StemmingAnalyzer(), spelling=True),
    summary=_phrase_text(analyzer=StemmingAnalyzer()),
    # The text beyond the summary (see document()); ``content:`` and ``text:`` in a query mean it.
    body=_phrase_text(analyzer=StemmingAnalyzer()),
    tags=KEYWORD(lowercase=True, commas=True, scorable=True),
    source=_phrase_text(),
    # The exact source name, for the --source filter and the facet counts (a column is fast).
    source_name=ID(sortable=True),
    type=ID(sortable=True),
    published=DATETIME(sortable=True),
)
"""The one schema; ranking analyses its words with it (:func:`analysed`) so the analyzers match."""

TEXT_FIELDS: tuple[str, ...] = ("title", "summary", "body", "tags", "source")
"""Fields a free-text query searches by default."""

FIELD_BOOSTS: Mapping[str, float] = {
    "title": 4.0,
    "tags": 2.0,
    "summary": 2.5,  # also the start of the body: 1.5 + 1.0, indexed once
    "body": 1.0,
    "source": 0.5,
}
"""Where a word is found says how much the item is about it: title most, source name least.

The one set of field weights: a typed search's parser weighs its words by them.
Ranking weighs no field (its queries are unboosted: :mod:`aggregator.rank.model`
measured extra title weight and left it out), so these decide search results only."""

FIELD_ALIASES: Mapping[str, Sequence[str]] = {"body": ("content", "text")}
"""Other names a query may use for a field (``content:`` was the body with its summary)."""

BM25_B = 0.75
BM25_K1 = 1.2
"""Robertson's BM25 constants as Whoosh ships them: search and ranking tune nothing here."""

FACET_FIELDS: Mapping[str, str] = {"type": "type", "source": "source_name"}
"""Facet name -> the column that counts it."""


def analysed(text: str) -> list[str]:
    """The terms the index makes of ``text`` in a text field (stemmed, stop words dropped),
    in order: what ranking must look for, so that "learning" meets "learn"."""
    return [token.text for token in SCHEMA["title"].analyzer(text)]


def naive_utc(moment: datetime) -> datetime:
    """Whoosh's DATETIME subtracts ``datetime.min``, so it needs naive values; ours are UTC."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware UTC datetime")
    return moment.astimezone(UTC).replace(tzinfo=None)


def document(item: Item) -> dict[str, object]:
    """The fields Whoosh indexes for one item.

    ``item.text`` is the body, or the summary when there is no body, and a
    body mostly begins with the summary: ``body`` holds only what follows it,
    so each word is indexed (and scored) once, in the field it is in. That
    halves the postings of a typical item, and postings are Whoosh's cost.
    """
    summary = html_to_text(item.summary)
    body = " ".join(item.text.split())
    if summary and body.startswith(summary):
        body = body[len(summary) :].lstrip()
    return {
        "id": str(item.id),
        "title": item.title,
        "summary": summary,
        "body": body,
        "tags": ",".join(item.tags),
        "source": item.source_name,
        "source_name": item.source_name,
        "type": item.item_type,
        "published": naive_utc(item.published),
    }


def schema_change(found: Schema) -> str | None:
    """How an index's schema differs from :data:`SCHEMA`, for the person told to rebuild it.

    Field names, and each field's posting format: a format decides how the
    postings' values are encoded, so an index written with another cannot
    be read as this one.
    """
    if sorted(found.names()) != sorted(SCHEMA.names()):
        return (
            f"the index has fields {sorted(found.names())}, "
            f"this version expects {sorted(SCHEMA.names())}"
        )
    formats_differ = [
        name for name in SCHEMA.names() if type(found[name].format) is not type(SCHEMA[name].format)
    ]
    if formats_differ:
        return f"the index stores {', '.join(sorted(formats_differ))} in an earlier format"
    return None
