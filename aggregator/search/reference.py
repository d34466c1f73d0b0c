"""The reference backend: the :class:`~aggregator.search.protocol.SearchIndex` protocol on
Whoosh's public API alone, which the fast backend is held to.

:class:`~aggregator.search.index.WhooshIndex` reads postings as arrays and
scores them itself (:mod:`aggregator.search.engine`), replacing Whoosh's
matchers; that is where a bug would hide. This backend does each thing the
plain way: Whoosh's own searcher finds, scores, sorts, filters and counts,
and the one feature Whoosh has no query for (:class:`~aggregator.search.query.Near`)
is counted from the positions its public matchers give, with Whoosh's own
:func:`whoosh.scoring.bm25`. It reads and writes the same index folder, and
uses no private name of Whoosh's. tests/integration/test_reference.py runs searches and
rankings through both and checks they agree; it is slow, and nothing in the
product uses it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Self

import numpy as np
import whoosh.index
from whoosh import query, scoring, sorting
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length, length_to_byte

from aggregator.closing import Closing
from aggregator.errors import IndexSchemaError
from aggregator.models import Item
from aggregator.search.index import WRITE_LOCK_TIMEOUT_S, facet_counts, rebuild
from aggregator.search.postings import Codec
from aggregator.search.protocol import (
    SEARCH_LIMIT_MAX,
    Batch,
    ItemIds,
    K,
    Scores,
    SearchFilters,
    SearchHit,
    SearchPage,
    as_dicts,
)
from aggregator.search.queries import (
    analysed_terms,
    check_query_cost,
    filter_query,
    parse,
    parser,
    search_query,
    suggestion,
    to_whoosh,
)
from aggregator.search.query import Near, Scored
from aggregator.search.schema import (
    BM25_B,
    BM25_K1,
    FACET_FIELDS,
    SCHEMA,
    document,
    naive_utc,
    schema_change,
)

Matches = dict[int, float]
"""Document number -> score."""


class ReferenceIndex(Closing):
    """A Whoosh index folder searched and scored by Whoosh itself."""

    def __init__(self, ix: whoosh.index.Index, path: Path) -> None:
        self._ix = ix
        self.path = path
        self._parser = parser()

    @property
    def location(self) -> str:
        """The folder: what :func:`aggregator.search.open_index` takes to open it again."""
        return str(self.path)

    @classmethod
    def open(cls, path: Path, *, recreate_if_stale: bool = False) -> Self:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if not whoosh.index.exists_in(str(path)):
            return cls(whoosh.index.create_in(str(path), SCHEMA), path)
        try:
            ix = whoosh.index.open_dir(str(path))
        except (ImportError, AttributeError) as error:
            stale: str | None = f"the index was written by another version ({error})"
        else:
            stale = schema_change(ix.schema)
            if stale:
                ix.close()
        if stale:
            if recreate_if_stale:
                return cls(whoosh.index.create_in(str(path), SCHEMA), path)
            raise IndexSchemaError(f"{path}: {stale}; `learnplace run` rebuilds it from the store")
        return cls(ix, path)

    @classmethod
    def rebuild(cls, path: Path, items: Iterable[Item]) -> int:
        return rebuild(cls, path, items)

    def apply(self, batches: Iterable[Batch]) -> int:
        writer = self._ix.writer(timeout=WRITE_LOCK_TIMEOUT_S, codec=Codec())
        written = 0
        try:
            for items, deleted in batches:
                for item in items:
                    writer.update_document(**document(item))
                    written += 1
                for item_id in deleted:
                    writer.delete_by_term("id", str(item_id))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return written

    def add(self, items: Iterable[Item]) -> int:
        return self.apply([(items, ())])

    def delete(self, ids: Iterable[int]) -> None:
        self.apply([((), ids)])

    def ids(self) -> set[int]:
        with self._searcher() as searcher:
            return {int(fields["id"]) for fields in searcher.all_stored_fields()}

    def doc_count(self) -> int:
        return int(self._ix.doc_count())

    def check_query(self, text: str) -> None:
        parse(self._parser, text)

    @contextmanager
    def _searcher(self) -> Iterator[Searcher]:
        with self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1)) as searcher:
            yield searcher

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
        filters = filters or SearchFilters()
        parsed = search_query(self._parser, text, filters, sort)
        with self._searcher() as searcher:
            if parsed is None or searcher.doc_count_all() == 0:
                return SearchPage(hits=(), total=0)
            check_query_cost(parsed, searcher.reader())
            allowed = _allowed(searcher, filters) if filters else None
            if allowed is not None and not allowed:  # Whoosh reads an empty filter as none
                return SearchPage((), 0, {}, analysed_terms(parsed), None)
            options: dict[str, object] = {"limit": None, "filter": allowed}
            if sort == "date":
                options["sortedby"] = sorting.FieldFacet("published", reverse=True)
            if facets:
                options["groupedby"] = {
                    name: sorting.FieldFacet(column) for name, column in FACET_FIELDS.items()
                }
                options["maptype"] = sorting.Count
            results = searcher.search(parsed, **options)
            if not len(results):
                corrected = suggestion(searcher, text) if text.strip() else None
                return SearchPage((), 0, {}, analysed_terms(parsed), corrected)
            limit = max(1, min(limit, SEARCH_LIMIT_MAX))
            offset = max(0, min(offset, SEARCH_LIMIT_MAX))
            hits = tuple(
                SearchHit(
                    int(searcher.stored_fields(docnum)["id"]),
                    0.0 if sort == "date" else float(score),
                    docnum,
                )
                for score, docnum in results.top_n[offset : offset + limit]
            )
            counts = (
                {name: facet_counts(results.groups(name)) for name in FACET_FIELDS}
                if facets
                else {}
            )
            return SearchPage(hits, len(results), counts, analysed_terms(parsed))

    def score_arrays(
        self, queries: Mapping[K, Scored | query.Query], *, since: datetime | None = None
    ) -> dict[K, tuple[ItemIds, Scores]]:
        with self._searcher() as searcher:
            everything = query.Every()
            window_query = (
                query.DateRange("published", naive_utc(since), None) if since else everything
            )
            window = set(searcher.docs_for_query(window_query))
            found = {key: _scores(searcher, q, window) for key, q in queries.items()}
            return {key: _as_arrays(searcher, matches) for key, matches in found.items()}

    def score_queries(
        self, queries: Mapping[K, Scored | query.Query], *, since: datetime | None = None
    ) -> dict[K, dict[int, float]]:
        return as_dicts(self.score_arrays(queries, since=since))

    def score_docs(
        self, queries: Mapping[K, Scored | query.Query], hits: Collection[SearchHit]
    ) -> dict[K, dict[int, float]]:
        by_docnum = {hit.docnum: hit.item_id for hit in hits}
        with self._searcher() as searcher:
            return {
                key: {
                    by_docnum[docnum]: score
                    for docnum, score in _scores(searcher, q, set(by_docnum)).items()
                }
                for key, q in queries.items()
            }

    def hits_for(self, item_ids: Iterable[int]) -> list[SearchHit]:
        with self._searcher() as searcher:
            found = [
                (docnum, item_id)
                for item_id in set(item_ids)
                if (docnum := searcher.document_number(id=str(item_id))) is not None
            ]
        return [SearchHit(item_id, 0.0, docnum) for docnum, item_id in sorted(found)]

    def doc_frequencies(self, field: str, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        with self._searcher() as searcher:
            counts = {term: int(searcher.doc_frequency(field, term)) for term in terms}
            return counts, int(searcher.doc_count())

    def close(self) -> None:
        self._ix.close()


def _allowed(searcher: Searcher, filters: SearchFilters) -> set[int]:
    """The documents the filters let through, by Whoosh's own matching of them."""
    parts = [part for part in [filter_query(filters)] if part is not None]
    if filters.since or filters.until:
        since = naive_utc(filters.since) if filters.since else None
        until = naive_utc(filters.until) if filters.until else None
        parts.append(query.DateRange("published", since, until))
    return set(searcher.docs_for_query(query.And(parts) if len(parts) > 1 else parts[0]))


def _scores(searcher: Searcher, q: Scored | query.Query, docs: set[int]) -> Matches:
    """``q``'s matches among ``docs`` and their scores: Whoosh's search filtered to them."""
    if not docs:  # Whoosh reads an empty filter as none
        return {}
    if isinstance(q, Near):
        return _near_scores(searcher, q, docs)
    results = searcher.search(to_whoosh(q), limit=None, filter=docs)
    return {docnum: float(score) for score, docnum in results.top_n}


def _near_scores(searcher: Searcher, pair: Near, docs: set[int]) -> Matches:
    """BM25 of how often ``pair`` occurs in each of ``docs`` holding it, with an idf from
    how many of ``docs`` do (see :class:`~aggregator.search.query.Near`)."""
    field = SCHEMA[pair.fieldname]
    first = _positions(searcher, pair.fieldname, field.to_bytes(pair.first), docs)
    second = _positions(searcher, pair.fieldname, field.to_bytes(pair.second), docs)
    same = pair.first == pair.second
    reach = pair.window - 1
    counts: dict[int, int] = {}
    for docnum in first.keys() & second.keys():
        others = second[docnum]
        if pair.window == 1:
            found = sum(1 for p in first[docnum] if p + 1 in others)
        else:
            near = [sum(1 for o in others if abs(o - p) <= reach) for p in first[docnum]]
            found = sum(1 for n in near if n > (1 if same else 0))
        if found:
            counts[docnum] = found
    idf = math.log(len(docs) / (len(counts) + 1)) + 1
    avgfl = searcher.avg_field_length(pair.fieldname) or 1
    return {
        docnum: scoring.bm25(
            idf,
            count,
            byte_to_length(length_to_byte(searcher.doc_field_length(docnum, pair.fieldname))),
            avgfl,
            BM25_B,
            BM25_K1,
        )
        for docnum, count in counts.items()
    }


def _positions(
    searcher: Searcher, fieldname: str, text: bytes, docs: set[int]
) -> dict[int, set[int]]:
    """Where the word is in each of ``docs`` holding it, from Whoosh's public matcher."""
    if (fieldname, text) not in searcher.reader():
        return {}
    found: dict[int, set[int]] = {}
    matcher = searcher.postings(fieldname, text)
    while matcher.is_active():
        if matcher.id() in docs:
            found[matcher.id()] = set(matcher.value_as("positions"))
        matcher.next()
    return found


def _as_arrays(searcher: Searcher, matches: Matches) -> tuple[ItemIds, Scores]:
    """Matches as item ids and scores, ascending by document number (as the fast backend)."""
    docnums = sorted(matches)
    ids = [int(searcher.stored_fields(docnum)["id"]) for docnum in docnums]
    return np.array(ids, np.int64), np.array([matches[d] for d in docnums], np.float64)
