"""Search in PostgreSQL: :class:`PostgresIndex`, the backend every machine of a cluster reaches.

Full-text search in the database the store lives in: a weighted ``tsvector`` per item
(title A, summary B, body C, source D) under a GIN index finds the matches, SQL counts
them and their facets, ``pg_trgm`` over the title words answers "did you mean", and the
product's BM25F scores them in Python (:mod:`aggregator.search.pgscore`), because
``ts_rank`` has no idf and would rank differently from the Whoosh backend. What a row
holds and how queries become SQL is :mod:`aggregator.search.pgdocs`.

The tables (``search_docs``, ``search_words``, ``search_meta``) have their own version:
an index of another version is emptied and refilled by the next run, as a Whoosh folder
of another schema is. Each :meth:`PostgresIndex.apply` bumps a generation, so a reader
in another process notices a run's commit and forgets what it had read before.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import numpy as np
import psycopg
from psycopg.types.json import Jsonb
from whoosh import query

from aggregator.closing import Closing
from aggregator.errors import IndexSchemaError, SearchIndexError
from aggregator.models import Item
from aggregator.search.pgdocs import FIELDS, doc_row, scored_leaves, where
from aggregator.search.pgscore import Reading, Stats, load_frequencies, read_stats
from aggregator.search.protocol import (
    SEARCH_LIMIT_MAX,
    Batch,
    K,
    SearchFilters,
    SearchHit,
    SearchPage,
    as_dicts,
)
from aggregator.search.queries import analysed_terms, corrected, parse, parser, search_query
from aggregator.search.query import Phrase, Scored, Term
from aggregator.search.schema import FACET_FIELDS, TEXT_FIELDS, naive_utc
from aggregator.store.postgres.connection import connect, describe

SCHEMA_VERSION = 1

_TABLES = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    CREATE TABLE search_docs (
        item_id     bigint PRIMARY KEY,
        published   timestamp NOT NULL,
        item_type   text COLLATE "C" NOT NULL,
        source_name text COLLATE "C" NOT NULL,
        tags        text[] NOT NULL,
        document    tsvector NOT NULL,
        lengths     integer[] NOT NULL,
        positions   jsonb NOT NULL
    )
    """,
    "CREATE INDEX search_docs_document ON search_docs USING gin (document)",
    "CREATE INDEX search_docs_tags ON search_docs USING gin (tags)",
    "CREATE INDEX search_docs_published ON search_docs (published)",
    'CREATE TABLE search_words (word text COLLATE "C" PRIMARY KEY)',
    "CREATE INDEX search_words_trigrams ON search_words USING gin (word gin_trgm_ops)",
    "CREATE TABLE search_meta (version integer NOT NULL, generation bigint NOT NULL)",
    f"INSERT INTO search_meta VALUES ({SCHEMA_VERSION}, 0)",  # noqa: S608 (a constant)
)
_DROP = "DROP TABLE IF EXISTS search_docs, search_words, search_meta"
_UPSERT = """
    INSERT INTO search_docs
        (item_id, published, item_type, source_name, tags, document, lengths, positions)
    VALUES (%s, %s, %s, %s, %s, %s::tsvector, %s, %s)
    ON CONFLICT (item_id) DO UPDATE SET
        published = excluded.published, item_type = excluded.item_type,
        source_name = excluded.source_name, tags = excluded.tags,
        document = excluded.document, lengths = excluded.lengths,
        positions = excluded.positions
"""
_SCHEMA_LOCK = 0x4C50_5358  # "LPSX"

SUGGESTION_CANDIDATES = 20
"""Title words sharing trigrams with a misspelt word that are compared with it letter by letter."""

TRIGRAM_THRESHOLD = 0.1
"""How alike (pg_trgm's similarity) a title word must be to be a candidate: low, because a
swap of two letters in a short word leaves few trigrams in common ("pyhton", "python")."""

RANKING_WINDOWS_MAX = 8
"""Freshness windows whose readings are kept (a long-lived process sees a new one daily)."""


@contextlib.contextmanager
def _boundary(url: str) -> Iterator[None]:
    """psycopg's errors as the search branch of the one error tree, naming the database."""
    try:
        yield
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SearchIndexError(
            f"{describe(url)}: the search index cannot be read or written ({first}); "
            "`learnplace reindex` rebuilds it from the store"
        ) from exc


class PostgresIndex(Closing):
    """The search tables of one database (a :class:`~aggregator.search.protocol.SearchIndex`)."""

    def __init__(self, url: str, connection: psycopg.Connection[Any]) -> None:
        self.url = url
        self._connection = connection
        self._lock = threading.RLock()  # readings call back into _rows
        self._parser = parser()
        self._generation = -1
        self._forget()

    @property
    def location(self) -> str:
        return self.url

    @classmethod
    def open(cls, location: str | Path, *, recreate_if_stale: bool = False) -> Self:
        """The search tables of the database at ``location``, created if missing; tables of
        another version are replaced by empty ones with ``recreate_if_stale``."""
        url = str(location)
        with _boundary(url):
            connection = connect(url)
            try:
                _prepare(connection, url, recreate_if_stale)
                connection.execute(f"SET pg_trgm.similarity_threshold = {TRIGRAM_THRESHOLD}")
            except BaseException:
                connection.close()
                raise
        return cls(url, connection)

    @classmethod
    def rebuild(cls, location: str | Path, items: Iterable[Item]) -> int:
        """Every row replaced by ``items`` in one transaction: searches read the old rows
        until it commits."""
        with cls.open(location, recreate_if_stale=True) as index, _boundary(index.url):
            with index._connection.transaction():
                index._connection.execute("DELETE FROM search_docs")
                count = index._write(items)
                index._bump()
            return count

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with _boundary(self.url), self._lock:
            return self._connection.execute(sql, list(params)).fetchall()

    def _forget(self) -> None:
        self._stats: Stats | None = None
        self._windows: dict[datetime | None, Reading] = {}

    def _current(self) -> Stats:
        """The index's statistics; everything read is forgotten when a commit changed it."""
        generation = int(self._rows("SELECT generation FROM search_meta")[0][0])
        if generation != self._generation or self._stats is None:
            self._forget()
            self._generation = generation
            self._stats = read_stats(self._rows)
        return self._stats

    # Writing.

    def apply(self, batches: Iterable[Batch]) -> int:
        """Every batch's rows written and deletions made in one transaction."""
        written = 0
        with _boundary(self.url), self._lock, self._connection.transaction():
            for items, deleted in batches:
                gone = list(deleted)
                if gone:
                    self._connection.execute(
                        "DELETE FROM search_docs WHERE item_id = ANY(%s)", [gone]
                    )
                written += self._write(items)
            self._bump()
        return written

    def _write(self, items: Iterable[Item]) -> int:
        rows = [doc_row(item) for item in items]
        if not rows:
            return 0
        with self._connection.cursor() as cursor:
            cursor.executemany(
                _UPSERT,
                [
                    (
                        row.item_id,
                        row.published,
                        row.item_type,
                        row.source_name,
                        row.tags,
                        row.document,
                        row.lengths,
                        Jsonb(row.positions),
                    )
                    for row in rows
                ],
            )
            words = sorted({word for row in rows for word in row.title_words})
            cursor.executemany(
                "INSERT INTO search_words VALUES (%s) ON CONFLICT DO NOTHING",
                [(word,) for word in words],
            )
        return len(rows)

    def _bump(self) -> None:
        self._connection.execute("UPDATE search_meta SET generation = generation + 1")

    def add(self, items: Iterable[Item]) -> int:
        return self.apply([(items, ())])

    def delete(self, ids: Iterable[int]) -> None:
        self.apply([((), ids)])

    # Reading.

    def ids(self) -> set[int]:
        return {int(row[0]) for row in self._rows("SELECT item_id FROM search_docs")}

    def doc_count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM search_docs")[0][0])

    def check_query(self, text: str) -> None:
        where(parse(self._parser, text), [])

    def search(
        self,
        text: str,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: SearchFilters | None = None,
        sort: str = "relevance",
        facets: bool = False,
    ) -> SearchPage:
        """Best items for a typed query, read as the Whoosh backend reads it."""
        filters = filters or SearchFilters()
        parsed = search_query(self._parser, text, filters, sort)
        if parsed is None:
            return SearchPage(hits=(), total=0)
        params: list[Any] = []
        condition = " AND ".join([where(parsed, params), *_filter_sql(filters, params)])
        stats = self._current()
        found = self._rows(
            f"SELECT item_id FROM search_docs WHERE {condition} ORDER BY item_id",  # noqa: S608
            params,
        )
        ids = [int(row[0]) for row in found]
        terms = analysed_terms(parsed)
        if not ids:
            fixed = self._suggestion(text) if text.strip() else None
            return SearchPage((), 0, {}, terms, fixed)
        limit = max(1, min(limit, SEARCH_LIMIT_MAX))
        offset = max(0, min(offset, SEARCH_LIMIT_MAX))
        if sort == "date":
            ranked = self._rows(
                "SELECT item_id FROM search_docs WHERE item_id = ANY(%s)"
                " ORDER BY published DESC, item_id LIMIT %s OFFSET %s",
                [ids, limit, offset],
            )
            hits = tuple(SearchHit(int(row[0]), 0.0) for row in ranked)
        else:
            hits = self._best(parsed, ids, stats, offset, limit)
        counts = self._facets(condition, params) if facets else {}
        return SearchPage(hits, len(ids), counts, terms)

    def _best(
        self, parsed: query.Query, ids: list[int], stats: Stats, offset: int, limit: int
    ) -> tuple[SearchHit, ...]:
        """The matches by BM25F score (ties to the lower id), as the Whoosh parser weighs
        its fields."""
        leaves, constant = scored_leaves(parsed)
        reading = Reading(self._rows, stats, "item_id = ANY(%s)", [ids])
        neutral: list[Term | Phrase] = []
        for leaf in leaves:
            if leaf.fieldname not in FIELDS:
                continue
            if isinstance(leaf, query.Phrase):
                neutral.append(Phrase(leaf.fieldname, tuple(map(str, leaf.words)), leaf.boost))
            else:
                text = leaf.text.decode() if isinstance(leaf.text, bytes) else str(leaf.text)
                neutral.append(Term(leaf.fieldname, text, leaf.boost))
        with self._lock:
            reading.load(reading.keys(neutral))
        total = np.zeros(reading.size())
        for part in neutral:
            rows, values = reading.scores(part)
            total[rows] += values
        total += constant
        order = np.lexsort((reading.ids, -total))[offset : offset + limit]
        return tuple(SearchHit(int(reading.ids[n]), float(total[n])) for n in order)

    def _facets(self, condition: str, params: list[Any]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for name, column in FACET_FIELDS.items():
            sql_column = "item_type" if column == "type" else "source_name"
            rows = self._rows(
                f"SELECT {sql_column}, COUNT(*) FROM search_docs WHERE {condition}"  # noqa: S608
                f" GROUP BY {sql_column} ORDER BY COUNT(*) DESC, {sql_column}",
                params,
            )
            counts[name] = {str(value): int(count) for value, count in rows}
        return counts

    def _suggestion(self, text: str) -> str | None:
        stats = self._current()

        def known(stems: list[str]) -> bool:
            keys = [(name, stem) for stem in stems for name in TEXT_FIELDS]
            with self._lock:
                load_frequencies(self._rows, stats, keys)
            return any(stats.frequencies.get(key) for key in keys)

        def closest(word: str) -> str | None:
            """Trigrams find the candidates; the nearest by edit distance (at most 2, with
            the first letter kept, as Whoosh's corrector) wins, then the most alike."""
            rows = self._rows(
                "SELECT word FROM search_words WHERE word %% %s AND left(word, 1) = left(%s, 1)"
                " ORDER BY similarity(word, %s) DESC, word LIMIT %s",
                [word, word, word, SUGGESTION_CANDIDATES],
            )
            near = [(edit_distance(word, row[0]), n, str(row[0])) for n, row in enumerate(rows)]
            best = min((found for found in near if found[0] <= 2), default=None)
            return None if best is None else best[2]

        return corrected(text, known, closest)

    # Ranking.

    def score_arrays(
        self, queries: Mapping[K, Scored], *, since: datetime | None = None
    ) -> dict[K, tuple[np.ndarray, np.ndarray]]:
        """Every match of every query published from ``since`` on, read once per window."""
        stats = self._current()
        if not stats.documents:
            return dict.fromkeys(queries, (np.zeros(0, np.int64), np.zeros(0)))
        reading = self._windows.get(since)
        if reading is None:
            if len(self._windows) >= RANKING_WINDOWS_MAX:
                self._windows.clear()
            scope, params = ("published >= %s", [naive_utc(since)]) if since else ("TRUE", [])
            with self._lock:
                reading = self._windows[since] = Reading(self._rows, stats, scope, params)
        return self._scored(reading, queries)

    def _scored(
        self, reading: Reading, queries: Mapping[K, Scored]
    ) -> dict[K, tuple[np.ndarray, np.ndarray]]:
        with self._lock:
            reading.load(reading.keys(queries.values()))
            found = {key: reading.scores(q) for key, q in queries.items()}
        return {key: (reading.ids[rows], values) for key, (rows, values) in found.items()}

    def score_queries(
        self, queries: Mapping[K, Scored], *, since: datetime | None = None
    ) -> dict[K, dict[int, float]]:
        return as_dicts(self.score_arrays(queries, since=since))

    def score_docs(
        self, queries: Mapping[K, Scored], hits: Collection[SearchHit]
    ) -> dict[K, dict[int, float]]:
        """Each query's score for each of ``hits`` only, as a search over them scores it."""
        if not hits or not self._current().documents:
            return {key: {} for key in queries}
        ids = sorted({hit.item_id for hit in hits})
        with self._lock:
            reading = Reading(self._rows, self._current(), "item_id = ANY(%s)", [ids])
        return as_dicts(self._scored(reading, queries))

    def hits_for(self, item_ids: Iterable[int]) -> list[SearchHit]:
        wanted = sorted(set(item_ids))
        if not wanted:
            return []
        rows = self._rows(
            "SELECT item_id FROM search_docs WHERE item_id = ANY(%s) ORDER BY item_id", [wanted]
        )
        return [SearchHit(int(row[0]), 0.0) for row in rows]

    def doc_frequencies(self, field: str, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        stats = self._current()
        wanted = list(terms)
        with self._lock:
            load_frequencies(self._rows, stats, [(field, term) for term in wanted])
        return {term: stats.frequencies[field, term] for term in wanted}, stats.documents

    def close(self) -> None:
        self._connection.close()


def edit_distance(first: str, second: str) -> int:
    """Letters inserted, deleted, changed or swapped with their neighbour to make one word
    the other (optimal string alignment), as "did you mean" counts a typo."""
    before: list[int] = []
    row = list(range(len(second) + 1))
    for i, letter in enumerate(first, 1):
        current = [i]
        for j, other in enumerate(second, 1):
            cost = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (letter != other))
            if i > 1 and j > 1 and letter == second[j - 2] and first[i - 2] == other:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, row = row, current
    return row[-1]


def _filter_sql(filters: SearchFilters, params: list[Any]) -> list[str]:
    """The filters as SQL conditions: each must hold; the values of one are alternatives."""
    parts = []
    if filters.types:
        parts.append("item_type = ANY(%s)")
        params.append(list(filters.types))
    if filters.sources:
        parts.append("source_name = ANY(%s)")
        params.append(list(filters.sources))
    if filters.tags:
        parts.append("tags && %s::text[]")
        params.append([tag.lower() for tag in filters.tags])
    if filters.since:
        parts.append("published >= %s")
        params.append(naive_utc(filters.since))
    if filters.until:
        parts.append("published <= %s")
        params.append(naive_utc(filters.until))
    return parts


def _prepare(connection: psycopg.Connection[Any], url: str, recreate_if_stale: bool) -> None:
    """Create the tables, or check their version (replacing them with ``recreate_if_stale``)."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
        exists = connection.execute("SELECT to_regclass('search_meta') IS NOT NULL").fetchone()
        version = None
        if exists and exists[0]:
            row = connection.execute("SELECT version FROM search_meta").fetchone()
            version = None if row is None else int(row[0])
            if version == SCHEMA_VERSION:
                return
            if not recreate_if_stale:
                raise IndexSchemaError(
                    f"{describe(url)}: the search tables are version {version}, this "
                    f"Learnplace's are {SCHEMA_VERSION}; `learnplace run` rebuilds them"
                )
            connection.execute(_DROP)
        for statement in _TABLES:
            connection.execute(statement)
