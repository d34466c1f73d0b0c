"""The Whoosh index Learnplace runs: :class:`WhooshIndex`, the fast backend of the protocol.

Whoosh is pure Python, so how it is called decides the speed: one commit per
batch, one searcher reused across queries, segments read in place
(:mod:`~aggregator.search.storage`), matches and scores read as arrays
(:mod:`~aggregator.search.engine`, which Whoosh's own scoring backs up), and
ranking restricted to the freshness window by a document set computed once
per run. Whoosh's errors stop here: callers see
:class:`~aggregator.errors.SearchIndexError` and its branches.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Self

import numpy as np
import whoosh.index
from whoosh import query, scoring
from whoosh.codec.base import Segment
from whoosh.searching import Searcher
from whoosh.writing import IndexingError, SegmentWriter

from aggregator.closing import Closing
from aggregator.errors import IndexSchemaError, SearchIndexError
from aggregator.models import Item
from aggregator.search.engine import SearchRun, Unsupported, live_flags, near
from aggregator.search.fallback import doc_scores, window_scores
from aggregator.search.postings import Codec
from aggregator.search.protocol import (
    SEARCH_LIMIT_MAX,
    Batch,
    K,
    SearchFilters,
    SearchHit,
    SearchIndex,
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
from aggregator.search.storage import (
    WRITER_LIMIT_MB,
    IndexStorage,
    commit_with_segments,
    merge_small_segments,
    segment_lengths,
    write_segment,
)
from aggregator.workers import SegmentWorkers

WRITE_LOCK_TIMEOUT_S = 10.0
"""How long a writer waits for another process's writer before giving up."""

PARALLEL_MIN_DOCS = 5_000
"""Items one commit writes in this process; more go to worker processes, a segment each batch."""

RANKING_CACHE_BYTES = 64 * 2**20
"""Postings and phrase matches kept between profiles before ranking starts over."""

RANKING_WINDOWS_MAX = 32
"""Distinct freshness windows cached before the cache starts over (a new ``now`` is a new one)."""


@contextlib.contextmanager
def _whoosh_errors(path: Path) -> Iterator[None]:
    """Whoosh's own errors as the search branch of the one error tree, naming the index."""
    try:
        yield
    except whoosh.index.LockError as exc:
        raise SearchIndexError(
            f"{path}: another process is writing the index (waited {WRITE_LOCK_TIMEOUT_S:g} s); "
            "try again when it is done"
        ) from exc
    except (whoosh.index.IndexError, IndexingError) as exc:
        raise SearchIndexError(
            f"{path}: the index cannot be read or written ({exc}); "
            "`learnplace reindex` rebuilds it from the store"
        ) from exc


def _swap_paths(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".new"), path.with_name(path.name + ".old")


def finish_swap(path: Path) -> None:
    """Complete a :meth:`WhooshIndex.rebuild` that was killed between its two renames.

    ``.old`` exists only once the new index was complete, so with ``path``
    gone the new one goes into place; with both present, the old one is leftover.
    Call it only while holding the run lock.
    """
    fresh, old = _swap_paths(Path(path))
    if not old.exists():
        return
    if not path.exists():
        (fresh if fresh.exists() else old).rename(path)
    shutil.rmtree(old, ignore_errors=True)


def rebuild(backend: type[SearchIndex], path: Path, items: Iterable[Item]) -> int:
    """Build a new index of ``backend`` from ``items`` beside ``path`` and swap it in;
    returns its size.

    Searches keep using the old index until the swap. Two renames are not
    one atomic step: :func:`finish_swap` completes an interrupted swap.
    The caller holds the run lock, so no other writer uses ``path`` meanwhile.
    """
    path = Path(path)
    finish_swap(path)
    fresh, old = _swap_paths(path)
    shutil.rmtree(fresh, ignore_errors=True)
    with backend.open(fresh) as index:
        count = index.add(items)
    if path.exists():
        path.rename(old)
    fresh.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return count


def facet_counts(groups: Mapping[object, object]) -> dict[str, int]:
    """Facet counts, largest first (names may come back as bytes from an ID column)."""
    counts: dict[str, int] = {}
    for key, value in groups.items():
        name = key.decode("utf-8") if isinstance(key, bytes) else str(key)
        counts[name] = counts.get(name, 0) + int(value)  # type: ignore[call-overload]
    return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))


def _engine_scores(
    run: SearchRun, q: Scored | query.Query, within: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | query.Query:
    """The documents of ``within`` that ``q`` matches and their scores, read by the engine;
    or, when it does not read ``q``, the Whoosh query for Whoosh to score."""
    if isinstance(q, Near):
        return near(run, q, within)
    whoosh_query = to_whoosh(q)
    found = run.scored(whoosh_query, within)
    return whoosh_query if found is None else found


class WhooshIndex(Closing):
    """A Whoosh index directory and one cached searcher over it (a
    :class:`~aggregator.search.protocol.SearchIndex`)."""

    def __init__(self, ix: whoosh.index.Index, path: Path) -> None:
        self._ix = ix
        self.path = path
        self._searcher: Searcher | None = None
        self._forget_searcher()
        self._parser = parser()

    @property
    def location(self) -> str:
        """The folder: what :func:`aggregator.search.open_index` takes to open it again."""
        return str(self.path)

    @classmethod
    def open(cls, path: Path, *, recreate_if_stale: bool = False) -> Self:
        """Open the index at ``path``, creating the directory and an empty index if missing.

        ``recreate_if_stale`` (for ``learnplace run``) replaces an index built
        with another schema by an empty one, which the run then refills from
        the store; readers get :class:`IndexSchemaError` instead.

        Whoosh's write lock is an ``flock`` on a file that outlives a killed
        writer; the kernel releases the lock itself, so a stale file is harmless.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with _whoosh_errors(path):
            return cls._open(path, recreate_if_stale)

    @classmethod
    def _open(cls, path: Path, recreate_if_stale: bool) -> Self:
        stale: str | None
        try:
            storage = IndexStorage(path)
            if not storage.index_exists():
                return cls(storage.create_index(SCHEMA), path)
            ix = storage.open_index()
        except (ImportError, AttributeError) as error:
            # The table of contents pickles the schema and codec classes that wrote it.
            ix, stale = None, f"the index was written by another version ({error})"
        else:
            stale = schema_change(ix.schema)
        if stale:
            if ix is not None:
                ix.close()
            if recreate_if_stale:
                return cls(IndexStorage(path).create_index(SCHEMA), path)
            raise IndexSchemaError(f"{path}: {stale}; `learnplace run` rebuilds it from the store")
        return cls(ix, path)

    def _writer(self) -> SegmentWriter:
        with _whoosh_errors(self.path):
            writer = self._ix.writer(
                limitmb=WRITER_LIMIT_MB, procs=1, timeout=WRITE_LOCK_TIMEOUT_S, codec=Codec()
            )
        writer.mergetype = merge_small_segments
        return writer

    def add(self, items: Iterable[Item]) -> int:
        """Add or replace items by id, committing once: a commit is most of Whoosh's cost."""
        return self.apply([(items, ())])

    def apply(self, batches: Iterable[Batch]) -> int:
        """Add or replace the items and delete the ids of every batch, in one commit.

        Batches come from the store's index queue, so a cold run's hundreds of
        thousands of items never sit in memory at once. Up to
        :data:`PARALLEL_MIN_DOCS` items are written here; beyond that, worker
        processes write them as whole segments (see :class:`~aggregator.workers.SegmentWorkers`).
        An item id must appear once. Returns the documents written.
        """
        writer = self._writer()
        pending: list[Item] = []
        workers: SegmentWorkers[Segment] | None = None
        try:
            replacing = self._ix.doc_count_all() > 0
            for items, deleted in batches:
                for item in items:
                    if replacing:
                        writer.delete_by_term("id", str(item.id))
                    pending.append(item)
                    if len(pending) >= (workers.batch_size() if workers else PARALLEL_MIN_DOCS):
                        workers = workers or SegmentWorkers(
                            write_segment, self.path, PARALLEL_MIN_DOCS
                        )
                        workers.submit(pending)
                        pending = []
                for item_id in deleted:
                    writer.delete_by_term("id", str(item_id))
            if workers is None:
                for item in pending:
                    writer.add_document(**document(item))
                writer.commit()
                return len(pending)
            if pending:
                workers.submit(pending)
            segments = workers.finish()
            commit_with_segments(writer, segments)
            return sum(segment.doc_count_all() for segment in segments)
        except BaseException:
            if workers is not None:
                workers.cancel()
            writer.cancel()
            raise

    def delete(self, ids: Iterable[int]) -> None:
        self.apply([((), ids)])

    @classmethod
    def rebuild(cls, path: Path, items: Iterable[Item]) -> int:
        """Build a new index from ``items`` beside ``path`` and swap it in (:func:`rebuild`)."""
        return rebuild(cls, path, items)

    def doc_count(self) -> int:
        return int(self._ix.doc_count())

    def ids(self) -> set[int]:
        """Ids of live documents (deleted ones linger in the term list until a merge)."""
        return {int(fields["id"]) for fields in self._current().reader().all_stored_fields()}

    def _current(self) -> Searcher:
        """The cached searcher, refreshed when a commit (here or elsewhere) changed the index."""
        # Not Searcher.refresh(): it fails on a searcher opened over an empty index.
        if self._searcher is not None and not self._searcher.up_to_date():
            self._searcher.close()
            self._searcher = None
        if self._searcher is None:
            self._forget_searcher()
            self._searcher = self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1))
        return self._searcher

    def _column(self, name: str) -> list[object]:
        """A column's values by document number, read once per searcher.

        Whoosh reads a column's whole offset table each time a column reader
        is opened, which at 100,000 documents costs more than a search.
        """
        values = self._columns.get(name)
        if values is None:
            values = self._columns[name] = list(self._current().reader().column_reader(name))
        return values

    def _forget_searcher(self) -> None:
        """Drop what was computed over the previous searcher's documents."""
        self._columns: dict[str, list[object]] = {}
        self._all_lengths: dict[str, np.ndarray | None] = {}
        self._live_flags: np.ndarray | None = None
        self._codes: dict[str, tuple[np.ndarray, list[object]]] = {}
        self._dates: np.ndarray | None = None
        self._ranking_runs: dict[datetime | None, SearchRun] = {}
        self._ids: np.ndarray | None = None
        self._frequencies: dict[tuple[str, str], int] = {}

    def parse(self, text: str) -> query.Query:
        """A person's query text as a Whoosh query, or QuerySyntaxError saying what is wrong."""
        return parse(self._parser, text)

    def check_query(self, text: str) -> None:
        self.parse(text)

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
        """Best items for a typed query; all words must match unless the query says OR.

        Empty text with filters lists what the filters allow. Filters narrow
        the results without changing the scores.
        """
        filters = filters or SearchFilters()
        parsed = search_query(self._parser, text, filters, sort)
        searcher = self._current()
        if parsed is None or searcher.doc_count_all() == 0:
            return SearchPage(hits=(), total=0)  # an empty index has no id column to read
        check_query_cost(parsed, searcher.reader())
        # Every match, for the exact total and the facets; it also serves as the
        # search's filter (Whoosh's document-set filter, not a Require clause, which
        # trips an assertion in Whoosh's optimised top-k collector with date ranges).
        run = SearchRun(searcher, self._live(), self._index_lengths)
        flags = run.docs(parsed)
        if filters:
            flags &= self._allowed(run, filters)
        total = int(np.count_nonzero(flags))
        if not total:
            corrected = suggestion(searcher, text) if text.strip() else None
            return SearchPage((), 0, {}, analysed_terms(parsed), corrected)
        limit = max(1, min(limit, SEARCH_LIMIT_MAX))
        offset = max(0, min(offset, SEARCH_LIMIT_MAX))
        top = None
        if sort == "date":
            top = self._newest(flags, offset + limit)
        else:
            try:
                top = run.top(parsed, flags, offset + limit)
            except Unsupported:
                top = None
        if top is None:
            allowed = set(np.flatnonzero(flags).tolist()) if filters else None
            top = searcher.search(parsed, limit=offset + limit, filter=allowed).top_n
        ids = self._column("id")  # raw bytes such as b"42": int() reads them
        hits = tuple(
            SearchHit(int(ids[docnum]), score, docnum)  # type: ignore[call-overload]
            for score, docnum in top[offset : offset + limit]
        )
        counts: dict[str, dict[str, int]] = {}
        if facets:
            for name, column in FACET_FIELDS.items():
                codes, values = self._facet_codes(column)
                tally = np.bincount(codes[flags], minlength=len(values))
                found = np.flatnonzero(tally).tolist()
                counts[name] = facet_counts({values[code]: int(tally[code]) for code in found})
        return SearchPage(hits, total, counts, analysed_terms(parsed))

    def _index_lengths(self, fieldname: str) -> np.ndarray | None:
        """Every document's encoded length of ``fieldname``, by index-wide document number.

        The segments' length columns laid end to end (segments number their
        documents from their offset on); None when a segment has no such column.
        A column stops at its last document with the field: the rest are 0.
        """
        if fieldname not in self._all_lengths:
            parts: list[bytes] = []
            for reader, start in self._current().reader().leaf_readers():
                lengths = segment_lengths(reader, fieldname)
                if lengths is None or start != sum(map(len, parts)):
                    self._all_lengths[fieldname] = None
                    break
                parts.append(lengths.ljust(reader.doc_count_all(), b"\0"))
            else:
                self._all_lengths[fieldname] = np.frombuffer(b"".join(parts), np.uint8)
        return self._all_lengths[fieldname]

    def _live(self) -> np.ndarray:
        """One flag per document number: not deleted. Read once per searcher."""
        if self._live_flags is None:
            self._live_flags = live_flags(self._current().reader())
        return self._live_flags

    def _facet_codes(self, column: str) -> tuple[np.ndarray, list[object]]:
        """A column as a code per document and the value of each code, read once per searcher."""
        found = self._codes.get(column)
        if found is None:
            codes: dict[object, int] = {}
            per_doc = [codes.setdefault(value, len(codes)) for value in self._column(column)]
            found = self._codes[column] = (np.array(per_doc, np.int64), list(codes))
        return found

    def _newest(self, matched: np.ndarray, count: int) -> list[tuple[float, int]]:
        """The ``count`` newest of the flagged documents (ties: lower number first), unscored.

        The matches are known already and ``published`` is a cached column:
        Whoosh's sorting collector would run the query's matchers again for
        the same order.
        """
        docs = np.flatnonzero(matched)
        # Every document has a date (see document()): as microseconds, newest first.
        order = np.lexsort((docs, -self._published()[docs].view(np.int64)))[:count]
        return [(0.0, docnum) for docnum in docs[order].tolist()]

    def _allowed(self, run: SearchRun, filters: SearchFilters) -> np.ndarray:
        """The documents ``filters`` let through, one flag per document.

        The date range is checked on the ``published`` column: as a query it
        expands into a term per distinct timestamp, which takes seconds.
        """
        restriction = filter_query(filters)
        allowed = self._live().copy() if restriction is None else run.docs(restriction)
        if filters.since or filters.until:
            published = self._published()
            if filters.since:
                allowed &= published >= np.datetime64(naive_utc(filters.since), "us")
            if filters.until:
                allowed &= published <= np.datetime64(naive_utc(filters.until), "us")
        return allowed

    def _published(self) -> np.ndarray:
        """The ``published`` column as an array, read once per searcher."""
        if self._dates is None:
            self._dates = np.array(self._column("published"), dtype="datetime64[us]")
        return self._dates

    def score_docs(
        self, queries: Mapping[K, Scored | query.Query], hits: Collection[SearchHit]
    ) -> dict[K, dict[int, float]]:
        """Each query's score for each of ``hits`` only (by item id), for personalising a search.

        Each query's words are read once (:class:`~aggregator.search.engine.SearchRun`,
        phrases checked in the hits only) and scored as a search scores them; a query that is
        not a sum of words and phrases is scored by Whoosh on postings cut to
        the hits (:func:`aggregator.search.fallback.doc_scores`).
        """
        if not hits:
            return {key: {} for key in queries}
        searcher = self._current()
        by_docnum = {hit.docnum: hit.item_id for hit in hits}
        live = self._live()
        wanted = np.zeros(len(live), bool)
        wanted[list(by_docnum)] = True
        run = SearchRun(searcher, live, self._index_lengths, within=wanted)
        scores: dict[K, dict[int, float]] = {}
        rest: dict[K, query.Query] = {}
        for key, q in queries.items():
            found = _engine_scores(run, q, wanted)
            if not isinstance(found, tuple):
                rest[key] = found
                continue
            docs, values = found
            scores[key] = {
                by_docnum[docnum]: score
                for docnum, score in zip(docs.tolist(), values.tolist(), strict=True)
            }
        if rest:
            scores.update(doc_scores(searcher, rest, by_docnum))
        return {key: scores[key] for key in queries}

    def hits_for(self, item_ids: Iterable[int]) -> list[SearchHit]:
        """The live documents of these items, as hits for :meth:`score_docs` to score (the
        Upcoming events chosen by their time, then matched to a profile)."""
        wanted = np.fromiter(item_ids, np.int64)
        if not wanted.size or self._current().doc_count_all() == 0:
            return []
        ids = self._docids()
        found = np.flatnonzero(np.isin(ids, wanted) & self._live())
        return [SearchHit(int(ids[docnum]), 0.0, int(docnum)) for docnum in found.tolist()]

    def score_queries(
        self, queries: Mapping[K, Scored | query.Query], *, since: datetime | None = None
    ) -> dict[K, dict[int, float]]:
        """:meth:`score_arrays` as plain dicts: item id -> score, for each query."""
        return as_dicts(self.score_arrays(queries, since=since))

    def score_arrays(
        self, queries: Mapping[K, Scored | query.Query], *, since: datetime | None = None
    ) -> dict[K, tuple[np.ndarray, np.ndarray]]:
        """Every match of every query published from ``since`` on, as item ids (ascending by
        document number, each once) and their scores, for ranking to blend as arrays.

        The queries are read as a search reads them (:class:`~aggregator.search.engine.SearchRun`),
        over the freshness window only: posting blocks holding no window
        document are not read, phrases are checked in the window. One reading
        per window serves all the profiles of a run, so a word that profiles
        share (an interest, a learnt word) is read once; past
        ``RANKING_CACHE_BYTES`` it starts over. A query it does not read is
        left to Whoosh's own search, filtered to the window.
        """
        empty = (np.zeros(0, np.int64), np.zeros(0))
        searcher = self._current()
        if searcher.doc_count_all() == 0:
            return dict.fromkeys(queries, empty)
        run = self._ranking_runs.get(since)
        if run is None:
            window = self._window(since)
            if not window.any():
                return dict.fromkeys(queries, empty)
            if len(self._ranking_runs) >= RANKING_WINDOWS_MAX:
                self._ranking_runs.clear()  # a long-lived process: each new ``now`` is a new window
            run = self._ranking_runs[since] = SearchRun(
                searcher, self._live(), self._index_lengths, within=window
            )
        window = run.restricted_to
        ids = self._docids()
        scores: dict[K, tuple[np.ndarray, np.ndarray]] = {}
        for key, q in queries.items():
            found = _engine_scores(run, q, window)
            if not isinstance(found, tuple):
                found = window_scores(searcher, found, window)
            docs, values = found
            scores[key] = (ids[docs], values)
        if run.footprint() > RANKING_CACHE_BYTES:
            del self._ranking_runs[since]
        return scores

    def _window(self, since: datetime | None) -> np.ndarray:
        """Live documents published from ``since`` on, one flag each, from the ``published`` column.

        As a query the range expands into a term per distinct timestamp.
        """
        window = self._live()
        if since is None:
            return window
        return window & (self._published() >= np.datetime64(naive_utc(since), "us"))

    def _docids(self) -> np.ndarray:
        """Docnum -> item id for the whole index, read once per searcher."""
        if self._ids is None:
            # raw bytes such as b"42" (or b"" for a deleted slot): int() reads them
            column = self._current().reader().column_reader("id")
            self._ids = np.array([int(raw or 0) for raw in column], np.int64)
        return self._ids

    def doc_frequencies(self, field: str, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """How many documents hold each (analysed) term, and how many documents there are."""
        searcher = self._current()
        known = self._frequencies  # the same title words recur between profiles of a run
        counts = {}
        for term in terms:
            if (field, term) not in known:
                known[field, term] = int(searcher.doc_frequency(field, term))
            counts[term] = known[field, term]
        return counts, int(searcher.doc_count())

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._ix.close()
