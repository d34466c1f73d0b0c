"""The Whoosh full-text index: what search and ranking query.

Only the ``id`` is stored; titles and bodies live in SQLite, which keeps the
index small and every commit cheap. The index can always be rebuilt from the
store (``learnplace reindex``), so it holds nothing that exists only here.

Whoosh is pure Python, so how it is called decides the speed: one commit per
batch, one searcher reused across queries, and ranking restricted to the
freshness window by a document set computed once per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import whoosh.index
from selectolax.lexbor import LexborHTMLParser
from whoosh import query, scoring
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.idsets import BitSet
from whoosh.qparser import MultifieldParser
from whoosh.qparser.common import QueryParserError
from whoosh.searching import Searcher
from whoosh.writing import IndexWriter

from aggregator.errors import LearnplaceError
from aggregator.models import Item

SCHEMA = Schema(
    # sortable: a column gives docnum -> id without loading stored fields per hit.
    id=ID(stored=True, unique=True, sortable=True),
    title=TEXT(analyzer=StemmingAnalyzer(), phrase=True),
    summary=TEXT(analyzer=StemmingAnalyzer(), phrase=True),
    content=TEXT(analyzer=StemmingAnalyzer(), phrase=True),
    tags=KEYWORD(lowercase=True, commas=True, scorable=True),
    source=TEXT(phrase=True),
    type=ID(),
    published=DATETIME(sortable=True),
)
"""The one schema; :mod:`aggregator.rank` parses its queries against it so the analyzers match."""

TEXT_FIELDS: tuple[str, ...] = ("title", "summary", "content", "tags", "source")
"""Fields a free-text query searches by default."""

FIELD_BOOSTS: Mapping[str, float] = {
    "title": 4.0,
    "tags": 2.0,
    "summary": 1.5,
    "content": 1.0,
    "source": 0.5,
}
"""Where a word is found says how much the item is about it: title most, source name least."""

BM25_B = 0.75
BM25_K1 = 1.2

WRITER_LIMIT_MB = 256
"""Memory for the writer's pool: more means fewer temporary runs when indexing many items."""

WRITE_LOCK_TIMEOUT_S = 10.0
"""How long a writer waits for another process's writer before Whoosh raises LockError."""

SEARCH_LIMIT_MAX = 1_000
"""An interactive search never needs more; it bounds the cost of one request."""

RANKING_CACHE_MAX = 2_000_000
"""Cached (document, score) pairs kept for ranking before the cache starts over (~200 MB)."""

RANKING_WINDOWS_MAX = 32
"""Distinct freshness windows cached before the cache starts over (a new ``now`` is a new one)."""

_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))


class SearchIndexError(LearnplaceError):
    """Root of the errors this module raises on purpose."""


class IndexSchemaError(SearchIndexError):
    """The index on disk was built with another schema: rebuild it with ``learnplace reindex``."""


class QuerySyntaxError(SearchIndexError, ValueError):
    """A query that cannot be understood; the message says why, for the person who typed it."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    item_id: int
    score: float


def _naive_utc(moment: datetime) -> datetime:
    """Whoosh's DATETIME subtracts ``datetime.min``, so it needs naive values; ours are UTC."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware UTC datetime")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _plain_text(html: str) -> str:
    """Summaries are sanitized HTML; markup must not become searchable words."""
    if "<" not in html and "&" not in html:
        return html
    return LexborHTMLParser(html).text(separator=" ")


def document(item: Item) -> dict[str, object]:
    """The fields Whoosh indexes for one item."""
    return {
        "id": str(item.id),
        "title": item.title,
        "summary": _plain_text(item.summary),
        "content": item.text,
        "tags": ",".join(item.tags),
        "source": item.source_name,
        "type": item.item_type,
        "published": _naive_utc(item.published),
    }


def check_query_text(text: str) -> None:
    """Whoosh silently reads unbalanced quotes and brackets as words; say so instead."""
    if text.count('"') % 2:
        raise QuerySyntaxError(f'unclosed quote in {text!r}: phrases need a closing "')
    for opening, closing in _PAIRS:
        depth = 0
        for char in text:
            depth += (char == opening) - (char == closing)
            if depth < 0:
                raise QuerySyntaxError(f"{closing!r} without a matching {opening!r} in {text!r}")
        if depth:
            raise QuerySyntaxError(f"{opening!r} is never closed in {text!r}")


def _not_understood(text: str, detail: str) -> str:
    """Whoosh's own detail (often an int() error from its date parser) needs the hint beside it."""
    hint = " (dates look like 2026-11-30 or [2026-01 TO 2026-11])" if "published:" in text else ""
    return f"cannot understand the query {text!r}{hint}: {detail}"


def _leaves(q: query.Query) -> Iterator[query.Query]:
    """The parts of a plain ``Or`` (it scores as their sum), recursively; anything else whole."""
    if isinstance(q, query.Or) and q.boost == 1 and q.scale is None and q.subqueries:
        for sub in q.subqueries:
            yield from _leaves(sub)
    elif q is not query.NullQuery:
        yield q


def _query_errors(q: query.Query) -> Iterator[str]:
    """Whoosh marks the parts it could not parse (a bad date, say) with an ``error`` attribute."""
    error = getattr(q, "error", None)
    if error:
        yield str(error)
    for child in q.children():
        yield from _query_errors(child)


class SearchIndex:
    """A Whoosh index directory and one cached searcher over it."""

    def __init__(self, ix: whoosh.index.Index, path: Path) -> None:
        self._ix = ix
        self.path = path
        self._searcher: Searcher | None = None
        self._forget_searcher()
        self._parser = MultifieldParser(list(TEXT_FIELDS), SCHEMA, fieldboosts=dict(FIELD_BOOSTS))

    @classmethod
    def open(cls, path: Path) -> SearchIndex:
        """Open the index at ``path``, creating the directory and an empty index if missing."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if not whoosh.index.exists_in(str(path)):
            return cls(whoosh.index.create_in(str(path), SCHEMA), path)
        ix = whoosh.index.open_dir(str(path))
        if sorted(ix.schema.names()) != sorted(SCHEMA.names()):
            ix.close()
            raise IndexSchemaError(
                f"{path}: the index has fields {sorted(ix.schema.names())}, this version expects "
                f"{sorted(SCHEMA.names())}; rebuild it with `learnplace reindex`"
            )
        return cls(ix, path)

    def _writer(self) -> IndexWriter:
        return self._ix.writer(limitmb=WRITER_LIMIT_MB, procs=1, timeout=WRITE_LOCK_TIMEOUT_S)

    def add(self, items: Iterable[Item]) -> int:
        """Add or replace items by id, committing once: a commit is most of Whoosh's cost."""
        writer = self._writer()
        count = 0
        try:
            for item in items:
                writer.update_document(**document(item))
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return count

    def delete(self, ids: Iterable[int]) -> None:
        writer = self._writer()
        try:
            for item_id in ids:
                writer.delete_by_term("id", str(item_id))
        except BaseException:
            writer.cancel()
            raise
        writer.commit()

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

    def _forget_searcher(self) -> None:
        """Drop what was computed over the previous searcher's documents."""
        self._windows: dict[datetime, BitSet] = {}
        self._firsts: dict[datetime, int] = {}
        self._ids: list[int] | None = None
        self._leaves: dict[tuple[query.Query, datetime | None], dict[int, float]] = {}
        self._cached = 0

    def parse(self, text: str) -> query.Query:
        """A person's query text as a Whoosh query, or QuerySyntaxError saying what is wrong."""
        check_query_text(text)
        try:
            parsed = self._parser.parse(text)
        except (QueryParserError, ValueError) as exc:
            raise QuerySyntaxError(_not_understood(text, str(exc))) from exc
        errors = list(_query_errors(parsed))
        if errors:
            raise QuerySyntaxError(_not_understood(text, "; ".join(errors)))
        return parsed

    def search(self, text: str, *, limit: int = 20, types: Iterable[str] = ()) -> list[SearchHit]:
        """Best items for a typed query; all words must match unless the query says OR.

        ``types`` keeps only items of those types (``learnplace search --type``).
        """
        if not text.strip():
            return []
        parsed = self.parse(text)
        searcher = self._current()
        if searcher.doc_count_all() == 0:
            return []  # an empty index has no id column to read
        wanted = [query.Term("type", item_type) for item_type in types]
        if wanted:
            parsed = query.And([parsed, query.Or(wanted)])
        results = searcher.search(parsed, limit=max(1, min(limit, SEARCH_LIMIT_MAX)))
        ids = searcher.reader().column_reader("id")  # raw bytes such as b"42": int() reads them
        return [SearchHit(int(ids[docnum]), score) for score, docnum in results.top_n]

    def score_queries(
        self, queries: Mapping[str, query.Query], *, since: datetime | None = None
    ) -> dict[str, dict[int, float]]:
        """Every match of every query with its score, for ranking to blend in Python.

        A plain ``Or`` scores as the sum of its parts, so queries are split into
        their leaves (a word or a phrase in one field), and each leaf's scores
        over the freshness window are kept for as long as the searcher is
        current: profiles that share an interest, and the expansion words that
        recur between profiles, are scored once per run rather than once per
        profile. The window becomes a document set once per ``since``.
        """
        searcher = self._current()
        if searcher.doc_count_all() == 0:
            return {key: {} for key in queries}
        if self._cached > RANKING_CACHE_MAX or len(self._windows) > RANKING_WINDOWS_MAX:
            self._forget_searcher()  # a long-lived process: start the cache over
        window = self._window(searcher, since)
        if window is not None and not window:
            # Whoosh reads an empty filter as "no filter", which would let everything through.
            return {key: {} for key in queries}
        ids = self._docids(searcher)
        scores: dict[str, dict[int, float]] = {}
        for key, q in queries.items():
            summed: dict[int, float] = {}
            for leaf in _leaves(q):
                for docnum, score in self._leaf_scores(searcher, leaf, since, window).items():
                    summed[docnum] = summed.get(docnum, 0.0) + score
            scores[key] = {ids[docnum]: score for docnum, score in summed.items()}
        return scores

    def _window(self, searcher: Searcher, since: datetime | None) -> BitSet | None:
        if since is None:
            return None
        if since not in self._windows:
            in_window = query.DateRange("published", _naive_utc(since), None)
            docs = searcher.docs_for_query(in_window)
            self._windows[since] = BitSet(docs, size=searcher.doc_count_all())
            # BitSet.first() scans the bytes each time: read it once per window.
            self._firsts[since] = self._windows[since].first() if self._windows[since] else 0
        return self._windows[since]

    def _docids(self, searcher: Searcher) -> list[int]:
        """Docnum -> item id for the whole index, read once per searcher."""
        if self._ids is None:
            # raw bytes such as b"42" (or b"" for a deleted slot): int() reads them
            self._ids = [int(raw or 0) for raw in searcher.reader().column_reader("id")]
        return self._ids

    def _leaf_scores(
        self, searcher: Searcher, leaf: query.Query, since: datetime | None, window: BitSet | None
    ) -> dict[int, float]:
        """One leaf's BM25F scores by docnum, stepping its matcher directly.

        Whoosh's collector would score every match and then drop those outside
        the window; here the matcher first skips to the window's first document
        (new items are indexed last, so the window is mostly the index's tail)
        and scores only documents in the window.
        """
        key = (leaf, since)
        found = self._leaves.get(key)
        if found is not None:
            return found
        found = {}
        first = self._firsts.get(since, 0)
        context = searcher.context(needs_current=True)
        for subsearcher, offset in searcher.leaf_searchers():
            if first >= offset + subsearcher.doc_count_all():
                continue
            matcher = leaf.matcher(subsearcher, context)
            if first > offset and matcher.is_active():
                matcher.skip_to(first - offset)
            while matcher.is_active():
                docnum = offset + matcher.id()
                if window is None or docnum in window:
                    found[docnum] = matcher.score()
                matcher.next()
        self._leaves[key] = found
        self._cached += len(found)
        return found

    def doc_frequencies(self, field: str, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """How many documents hold each (analysed) term, and how many documents there are."""
        searcher = self._current()
        counts = {term: int(searcher.doc_frequency(field, term)) for term in terms}
        return counts, int(searcher.doc_count())

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._ix.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
