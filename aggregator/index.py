"""The Whoosh full-text index: what search and ranking query.

Only the ``id`` is stored; titles and bodies live in SQLite, which keeps the
index small and every commit cheap. The index can always be rebuilt from the
store (``learnplace run`` does when the schema changed), so it holds nothing that exists only here.

Whoosh is pure Python, so how it is called decides the speed: one commit per
batch, one searcher reused across queries, and ranking restricted to the
freshness window by a document set computed once per run.
"""

from __future__ import annotations

import contextlib
import io
import math
import mmap
import multiprocessing
import os
import re
import shutil
from bisect import bisect_left
from collections import deque
from collections.abc import (
    Callable,
    Collection,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np
import whoosh.index
from selectolax.lexbor import LexborHTMLParser
from whoosh import formats, query, scoring
from whoosh.analysis import StemmingAnalyzer
from whoosh.codec.base import Segment
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3TermInfo, _lenfield
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import BufferFile, StructFile
from whoosh.idsets import BitSet
from whoosh.matching import ListMatcher, Matcher
from whoosh.qparser import FieldAliasPlugin, MultifieldParser
from whoosh.reading import IndexReader, TermNotFound
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length
from whoosh.writing import MERGE_SMALL, SegmentWriter

from aggregator import postings
from aggregator.errors import IndexSchemaError, QuerySyntaxError
from aggregator.models import Item
from aggregator.postings import (
    BlockMatcher,
    Positions,
    PostingsWriter,
    block_arrays,
    block_data,
    block_positions,
)
from aggregator.sanitize import html_to_text


def _phrase_text(**options: Any) -> TEXT:
    """A text field whose postings keep positions as :class:`~aggregator.postings.Positions`."""
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
"""The one schema; :mod:`aggregator.rank` parses its queries against it so the analyzers match."""

TEXT_FIELDS: tuple[str, ...] = ("title", "summary", "body", "tags", "source")
"""Fields a free-text query searches by default."""

FIELD_BOOSTS: Mapping[str, float] = {
    "title": 4.0,
    "tags": 2.0,
    "summary": 2.5,  # also the start of the body: 1.5 + 1.0, indexed once
    "body": 1.0,
    "source": 0.5,
}
"""Where a word is found says how much the item is about it: title most, source name least."""

FIELD_ALIASES: Mapping[str, Sequence[str]] = {"body": ("content", "text")}
"""Other names a query may use for a field (``content:`` was the body with its summary)."""

BM25_B = 0.75
BM25_K1 = 1.2
"""Robertson's BM25 constants as Whoosh ships them: search and ranking tune nothing here."""

WRITER_LIMIT_MB = 256
"""Memory for the writer's pool: more means fewer temporary runs when indexing many items."""

WRITE_LOCK_TIMEOUT_S = 10.0
"""How long a writer waits for another process's writer before Whoosh raises LockError."""

SEARCH_LIMIT_MAX = 1_000
"""An interactive search never needs more; it bounds the cost of one request."""

MAX_QUERY_CHARS = 1_000
MAX_WORD_CHARS = 100
"""No word is longer; a 70,000-character one cost 40 s of stemming and "did you mean"."""
MAX_QUERY_DEPTH = 10
"""Brackets nested deeper are refused before Whoosh's recursive parser sees them."""
MAX_EXPANDED_TERMS = 500
"""Words of the index that wildcards (``a*``), fuzzy terms and ranges may stand for, in all."""
MAX_SUGGESTED_WORDS = 5
SUGGESTED_WORD_CHARS = 20
""""Did you mean" corrects at most this many words of a query, none longer than this, and
keeps each word's first letter: Whoosh compares a word with every title word that could
be near it (4 s for one 30-letter word among 20,000 words, when any first letter could)."""

RANKING_CACHE_BYTES = 64 * 2**20
"""Postings and phrase matches kept between profiles before ranking starts over."""


RANKING_WINDOWS_MAX = 32
"""Distinct freshness windows cached before the cache starts over (a new ``now`` is a new one)."""

_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))

_DECODED_LENGTHS = np.array([byte_to_length(code) for code in range(256)], np.float64)
"""Whoosh stores a field's length per document as one byte; this decodes it (exactly:
the lengths are small integers)."""


class _Codec(W3Codec):
    """Whoosh's codec writing posting blocks of :mod:`aggregator.postings`, without
    per-block length statistics.

    Whoosh reads every posting's field length back from disk at commit to
    record each block's shortest and longest document, which only tightens
    the score bound that lets a top-N search skip blocks. Searches here score
    every match (totals, facets, profile blending), so the bounds buy nothing;
    reading them was a fifth of a commit. Without them a block's bound is
    merely looser, never wrong.
    """

    length_stats = False

    def __init__(self) -> None:
        super().__init__(blocklimit=postings.BLOCK_POSTINGS)

    def postings_writer(self, dbfile: StructFile, byteids: bool = False) -> PostingsWriter:
        return PostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def postings_reader(
        self,
        dbfile: StructFile,
        terminfo: W3TermInfo,
        format_: formats.Format,
        term: tuple[str, bytes] | None = None,
        scorer: scoring.BaseScorer | None = None,
    ) -> Matcher:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        offset, length = terminfo.extent()
        return BlockMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


PEEK_BYTES = 512
"""Enough for a posting block's pickled header, small enough to copy for each one."""


class _ViewReader(io.RawIOBase):
    """A read-only file over a memory view, without copying it."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._view[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk

    def peek(self, size: int = 0) -> bytes:
        """What follows, without moving: pickle reads a posting block's header through it in
        two calls instead of one per opcode."""
        return bytes(self._view[self._position : self._position + PEEK_BYTES])

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = base[whence] + offset
        return self._position


class _MappedFile(BufferFile):
    """Whoosh's file over a slice of a memory-mapped segment, reading it in place.

    Whoosh's own ``BufferFile`` hands the slice to ``BytesIO``, which copies
    it: opening a searcher then copied every segment's postings and term
    index onto the heap, 1 GB at 465,000 items, in every process that reads
    the index. Its positional reads already use the view; only the
    sequential ones went through the copy.
    """

    def __init__(self, buf: memoryview, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _ViewReader(buf)


class _SegmentFile(StructFile):
    """A compound segment file that maps itself and hands out its parts as :class:`_MappedFile`.

    Whoosh asks a segment file for each part with ``subset`` when it does not map the
    file itself (see :class:`_IndexStorage`).
    """

    def __init__(self, fileobj: Any, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(fileobj, name=name, onclose=onclose)
        self._map = mmap.mmap(fileobj.fileno(), 0, access=mmap.ACCESS_READ)

    def subset(self, offset: int, length: int, name: str | None = None) -> _MappedFile:
        return _MappedFile(memoryview(self._map)[offset : offset + length], name or self._name)

    def close(self) -> None:
        # A reader may still hold a view of it: then the map goes with the last view.
        with contextlib.suppress(BufferError):
            self._map.close()
        super().close()


class _IndexStorage(FileStorage):
    """The index folder, whose segments are read in place through :class:`_SegmentFile`.

    Told that the storage cannot map files (``supports_mmap=False``, a public
    option), Whoosh reads each part of a compound segment through the segment
    file's ``subset``, which :class:`_SegmentFile` answers with a view of its map.
    Only indexes opened through :meth:`SearchIndex.open` read this way: a plain
    Whoosh index in the same process (a benchmark's baseline) is left as Whoosh
    reads it. tests/integration/test_index.py fails if Whoosh stops asking for ``subset``.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), supports_mmap=False)

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        if not name.endswith(Segment.COMPOUND_EXT):
            return super().open_file(name, **kwargs)
        return _SegmentFile(Path(self._fpath(name)).open("rb"), name=name, **kwargs)


PARALLEL_MIN_DOCS = 5_000
"""Items one commit writes in this process; more go to worker processes, a segment each batch."""

SEGMENT_DOCS_MAX = 40_000
"""The largest batch a worker writes as one segment: its items travel to it at once."""

SEGMENT_WORKERS_MAX = 4
"""Workers beyond the cores only compete for them."""

SMALL_SEGMENT_DOCS = PARALLEL_MIN_DOCS
"""Segments from this size on are never merged by a daily commit (Whoosh would merge
many equal large segments at once, a multi-minute commit); ``reindex`` rebuilds them."""


def _merge_small_segments(writer: SegmentWriter, segments: list[Segment]) -> list[Segment]:
    """Whoosh's own merge policy, among the small segments that daily commits leave."""
    large = [segment for segment in segments if segment.doc_count_all() >= SMALL_SEGMENT_DOCS]
    small = [segment for segment in segments if segment.doc_count_all() < SMALL_SEGMENT_DOCS]
    return large + MERGE_SMALL(writer, small)


def _write_segment(path: str, items: Sequence[Item]) -> Segment:
    """Write ``items`` as one new segment of the index at ``path`` (runs in a worker).

    The parent holds the index's write lock and commits the segment; until
    then its files are referenced by nothing, and Whoosh deletes such files
    at the next commit, so a killed run leaves no trace in the index.
    """
    writer = SegmentWriter(
        whoosh.index.open_dir(path), _lk=False, limitmb=WRITER_LIMIT_MB, codec=_Codec()
    )
    try:
        for item in items:
            writer.add_document(**document(item))
        return writer._finalize_segment()
    except BaseException:
        # Not cancel(): it would delete the temporary folder the parent's writer shares.
        writer._close_segment()
        raise


class _SegmentWorkers:
    """Processes that each write whole segments, so indexing many items uses every core.

    Whoosh is pure Python and writes about a thousand items a second: a cold
    run's 50,000 would keep one core busy for most of a minute while the
    other waits. Batches double in size (to :data:`SEGMENT_DOCS_MAX`) so a
    large run makes few segments, and no more than one batch per worker waits,
    so memory stays flat.
    """

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._workers = max(1, min(os.cpu_count() or 1, SEGMENT_WORKERS_MAX))
        context = multiprocessing.get_context("forkserver")
        self._executor = ProcessPoolExecutor(self._workers, mp_context=context)
        self._running: deque[Future[Segment]] = deque()
        self._done: list[Segment] = []
        self._batches = 0

    def batch_size(self) -> int:
        """How many items the next batch should hold: twice as many every round of workers."""
        return min(SEGMENT_DOCS_MAX, PARALLEL_MIN_DOCS << (self._batches // self._workers))

    def submit(self, items: list[Item]) -> None:
        while len(self._running) >= self._workers:
            self._done.append(self._running.popleft().result())
        self._running.append(self._executor.submit(_write_segment, self._path, items))
        self._batches += 1

    def finish(self) -> list[Segment]:
        self._done.extend(future.result() for future in self._running)
        self._running.clear()
        self._executor.shutdown()
        return self._done

    def cancel(self) -> None:
        self._executor.shutdown(cancel_futures=True)


SORTS = ("relevance", "date")
"""How a search can order its results: by Whoosh's BM25F score, or newest first."""

FACET_FIELDS: Mapping[str, str] = {"type": "type", "source": "source_name"}
"""Facet name -> the column that counts it."""

_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})
_WORD_RUN = re.compile(r"\w+")
_WORD = re.compile(r"(?<![\w:])([^\W\d_]{3,})(?![\w:])")
"""A plain word of the query: not a field name (``title:``), not a field's value, not a number."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    item_id: int
    score: float
    docnum: int = -1
    """Whoosh's number for the document in the searcher that found it (for ``score_docs``)."""


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions that narrow a search without changing its scores."""

    types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def __bool__(self) -> bool:
        return bool(self.types or self.sources or self.tags or self.since or self.until)

    def query(self) -> query.Query | None:
        """The type, source and tag filters: each must hold; its values are alternatives.

        The date range is left out: the search checks it on the ``published``
        column, because as a query it expands into a term per distinct timestamp.
        """
        parts: list[query.Query] = []
        for field_name, values in (
            ("type", self.types),
            ("source_name", self.sources),
            ("tags", tuple(tag.lower() for tag in self.tags)),
        ):
            if values:
                parts.append(query.Or([query.Term(field_name, value) for value in values]))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else query.And(parts)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results, with what a search page shows around them."""

    hits: tuple[SearchHit, ...]
    total: int
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    terms: frozenset[str] = frozenset()
    """The query's analysed words, for highlighting them in titles and summaries."""
    suggestion: str | None = None
    """A corrected query ("did you mean") when nothing was found."""


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
        "published": _naive_utc(item.published),
    }


def check_query_text(text: str) -> None:
    """Refuse what Whoosh would silently misread (unbalanced quotes and brackets) and what
    would cost more than a search may (a huge query, word or nesting)."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"a query of {len(text):,} characters: at most {MAX_QUERY_CHARS:,}, please"
        )
    longest = max(map(len, _WORD_RUN.findall(text)), default=0)
    if longest > MAX_WORD_CHARS:
        raise QuerySyntaxError(
            f"a word of {longest:,} characters: no word searched for is over {MAX_WORD_CHARS}"
        )
    if text.count('"') % 2:
        raise QuerySyntaxError(f'unclosed quote in {text!r}: phrases need a closing "')
    for opening, closing in _PAIRS:
        depth = 0
        for char in text:
            depth += (char == opening) - (char == closing)
            if depth < 0:
                raise QuerySyntaxError(f"{closing!r} without a matching {opening!r} in {text!r}")
            if depth > MAX_QUERY_DEPTH:
                raise QuerySyntaxError(f"{opening!r} nested more than {MAX_QUERY_DEPTH} deep")
        if depth:
            raise QuerySyntaxError(f"{opening!r} is never closed in {text!r}")


def check_query_cost(q: query.Query, reader: IndexReader) -> None:
    """Refuse a query whose wildcards, fuzzy terms and ranges stand for too many words.

    Whoosh expands each into every matching word of the index and searches for them
    all: ``*`` or ``title:[a TO z]`` over 100,000 items took half a minute. The words are
    counted lazily, so counting stops at the limit.
    """
    budget = MAX_EXPANDED_TERMS
    for leaf in q.leaves():
        if isinstance(leaf, query.Every) and leaf.fieldname:
            raise QuerySyntaxError(
                f"{leaf.fieldname}:* stands for every item: search without text to list them"
            )
        if isinstance(leaf, query.MultiTerm):
            budget -= sum(1 for _ in islice(leaf.expanded_terms(reader), budget + 1))
            if budget < 0:
                raise QuerySyntaxError(
                    f"{leaf} stands for more than {MAX_EXPANDED_TERMS} words of the index "
                    "(with the rest of the query): give more letters or a narrower range"
                )


def _not_understood(text: str, detail: str) -> str:
    """Whoosh's own detail (often an int() error from its date parser) needs the hint beside it."""
    hint = " (dates look like 2026-11-30 or [2026-01 TO 2026-11])" if "published:" in text else ""
    return f"cannot understand the query {text!r}{hint}: {detail}"


def _query_errors(q: query.Query) -> Iterator[str]:
    """Whoosh marks the parts it could not parse (a bad date, say) with an ``error`` attribute."""
    error = getattr(q, "error", None)
    if error:
        yield str(error)
    for child in q.children():
        yield from _query_errors(child)


def _counts(groups: Mapping[object, object]) -> dict[str, int]:
    """Facet counts, largest first (names may come back as bytes from an ID column)."""
    counts: dict[str, int] = {}
    for key, value in groups.items():
        name = key.decode("utf-8") if isinstance(key, bytes) else str(key)
        counts[name] = counts.get(name, 0) + int(value)  # type: ignore[call-overload]
    return dict(sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))


def _analysed_terms(q: query.Query) -> frozenset[str]:
    """The words a query looks for in text fields, as the analyser left them (stems)."""
    return frozenset(
        text.decode("utf-8") if isinstance(text, bytes) else str(text)
        for name, text in q.iter_all_terms()
        if name in TEXT_FIELDS and name != "tags"
    )


def highlight(
    text: str, terms: Collection[str], *, width: int | None = None
) -> list[tuple[str, bool]]:
    """``text`` as (piece, matched) pairs, for a page or a terminal to mark the query's words.

    Words are matched as the index analysed them, so *learning* is marked for
    the query *learn*. With ``width``, a long text is cut to about that many
    characters around its first match, with "…" where it was cut.
    """
    spans = [
        (token.startchar, token.endchar)
        for token in SCHEMA["title"].analyzer(text, chars=True)
        if token.text in terms
    ]
    start, end = 0, len(text)
    if width is not None and len(text) > width:
        first = spans[0][0] if spans else 0
        start = max(0, min(first - width // 3, len(text) - width))
        end = start + width
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_start < cursor or span_end > end:
            continue
        if span_start > cursor:
            pieces.append((text[cursor:span_start], False))
        pieces.append((text[span_start:span_end], True))
        cursor = span_end
    if cursor < end:
        pieces.append((text[cursor:end], False))
    if end < len(text):
        pieces.append(("…", False))
    return pieces


def plain_text(html: str) -> str:
    """A sanitized summary as the words a person reads (what search shows and highlights)."""
    return " ".join(_plain_text(html).split())


def _swap_paths(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".new"), path.with_name(path.name + ".old")


def finish_swap(path: Path) -> None:
    """Complete a :meth:`SearchIndex.rebuild` that was killed between its two renames.

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


def _block_ids(matcher: BlockMatcher) -> tuple[int, ...]:
    """The document numbers of the matcher's current block, from its id gaps alone."""
    if matcher._ids is not None:
        return tuple(matcher._ids)
    return tuple(np.cumsum(block_arrays(matcher)[0], dtype=np.int64).tolist())


def _scored_terms(q: query.Query) -> tuple[list[query.Term | query.Phrase], float] | None:
    """The terms and phrases whose scores, plus a constant, add up to ``q``'s score; or None.

    Whoosh scores ``And`` and a plain ``Or`` as the sum of their matching
    parts, a boosted term or phrase as its score times the boost, ``a NOT b``
    as ``a``, and a ``NOT b`` part of an ``And`` as 1.0. Anything else
    (ranges, scaled or boosted groups, a ``NOT`` deeper in the query) is
    scored by Whoosh itself.
    """
    if type(q) is not query.And or q.boost != 1:
        terms = _summed_terms(q)
        return (terms, 0.0) if terms is not None else None
    terms = []
    constant = 0.0
    for child in q.children():
        found = _summed_terms(child) if type(child) is not query.Not else []
        if found is None:
            return None
        terms += found
        constant += type(child) is query.Not
    return terms, constant


def _summed_terms(q: query.Query) -> list[query.Term | query.Phrase] | None:
    kind = type(q)
    if kind is query.Term or kind is query.Phrase:
        return [q]
    if q.boost != 1:
        return None
    if kind is query.And or (kind is query.Or and not q.minmatch and q.scale is None):
        terms: list[query.Term | query.Phrase] = []
        for child in q.children():
            found = _summed_terms(child)
            if found is None:
                return None
            terms += found
        return terms
    if kind is query.AndNot:
        return _summed_terms(q.a)
    return None


def matching_docs(searcher: Searcher, q: query.Query) -> set[int]:
    """The document numbers ``q`` matches, as Whoosh's ``docs_for_query`` would give them:
    what a search counts (:meth:`_SearchRun.docs`), for a caller holding only a searcher."""
    run = _SearchRun(searcher, _live_flags(searcher.reader()), lambda fieldname: None)
    return set(np.flatnonzero(run.docs(q)).tolist())


def _live_flags(reader: IndexReader) -> np.ndarray:
    """One flag per document number: not deleted."""
    flags = np.ones(reader.doc_count_all(), bool)
    if reader.has_deletions():
        flags[:] = False
        flags[list(reader.all_doc_ids())] = True
    return flags


@dataclass(frozen=True, slots=True)
class Near:
    """Two analysed words of one field found close together: a proximity feature for ranking.

    ``window`` 1 means ``second`` right after ``first`` (an exact two-word
    phrase); a larger window means both within that many positions of each
    other, in either order, as the sequential dependence model's ordered and
    unordered windows (Metzler and Croft 2005). It is scored as a word of its
    own would be: BM25 of how often the pair occurs in the document, with an
    idf from how many documents of the ranked window hold it.
    """

    fieldname: str
    first: str
    second: str
    window: int = 1


Scored = query.Query | Near
"""What :meth:`SearchIndex.score_queries` and :meth:`SearchIndex.score_docs` score."""

K = TypeVar("K", bound=Hashable)
"""A caller's key for each query it has scored."""


class _Unsupported(Exception):
    """A part of a query :class:`_SearchRun` does not read: Whoosh finds that part's matches,
    and scores the whole query."""


@dataclass(slots=True)
class _Word:
    """One word's postings in one field over the whole index, as one search reads them."""

    ids: np.ndarray
    """Document numbers (index-wide, ascending) holding the word, deleted ones included."""
    weights: np.ndarray
    """The word's weight (how often it occurs) in each of ``ids``."""
    blocks: list[tuple[int, int, bytes]] | None
    """For a phrase's words: each block's postings' range in ``ids`` and its data
    (decompressed), to read positions from where they are needed."""
    within: np.ndarray | None
    """The documents it was read for: blocks holding none of them were skipped (None: all)."""


def _size(word: _Word) -> int:
    blocks = sum(len(data) for _, _, data in word.blocks or ())
    return word.ids.nbytes + word.weights.nbytes + blocks


class _SearchRun:
    """One search's reading of the index: every word's postings once, for matching and scoring.

    Whoosh would find the matches with its matcher tree and then find them
    again in its collector to score them, several Python calls per posting
    each time, and a phrase twice over positions. Here each word's ids and
    weights are read a block at a time into arrays (:func:`~aggregator.postings.block_arrays`),
    the matches are operations on one flag per document, a phrase reads
    positions only for documents holding all its words, and the matches are
    scored with Whoosh's own BM25F statistics and formula, in the same order
    of operations, so scores and order are the same. numpy keeps the work per
    posting out of Python, which at 100,000 items is most of a search's time.
    Nothing is kept beyond the search. Anything else raises
    :class:`_Unsupported`, and the caller leaves the query to Whoosh.
    """

    def __init__(
        self,
        searcher: Searcher,
        live: np.ndarray,
        lengths: Callable[[str], np.ndarray | None],
        within: np.ndarray | None = None,
    ) -> None:
        """``within``: the only documents the caller asks about (phrases are checked there only)."""
        self._searcher = searcher
        self._segments = list(searcher.reader().leaf_readers())
        self._live = live
        self._within = live if within is None else within & live
        self._restrict = within
        self._lengths = lengths
        self._words: dict[tuple[str, bytes], _Word] = {}
        self._phrases: dict[query.Phrase, np.ndarray] = {}  # the documents of each
        self._nears: dict[Near, tuple[np.ndarray, np.ndarray]] = {}  # documents and counts
        self._kept = 0
        self._bm25: dict[tuple[str, str], tuple[float, float, np.ndarray, np.ndarray]] = {}

    @property
    def restricted_to(self) -> np.ndarray:
        """The ``within`` this reading was made for (every live document without one)."""
        return self._within

    def footprint(self) -> int:
        """Bytes kept for reuse: the words' postings and the phrases' matches read so far."""
        return self._kept

    def docs(self, q: query.Query, within: np.ndarray | None = None) -> np.ndarray:
        """Which documents ``q`` matches, one flag per document, as Whoosh's ``docs_for_query``.

        Search pages show the exact number of matches and facet counts over
        all of them; Whoosh would find them by running the query's matcher
        tree a document at a time. Here And/Or/Not are operations on flags, and
        a word or phrase this does not read (or a range, a wildcard) takes its
        matches from Whoosh. With ``within``, the flags are right for those
        documents only: posting blocks holding none of them are not read. An
        ``And`` narrows ``within`` part by part, so a common word after a rare
        one reads only the blocks where the rare one is.
        """
        kind = type(q)
        if kind is query.Term or kind is query.Phrase:
            try:
                return self._leaf_docs(q, within)
            except _Unsupported:
                pass  # Whoosh's matches, below
        elif kind is query.And or kind is query.Require:
            # "a NOT b" parses as And([a, Not(b)]): subtract b rather than build the complement.
            children = list(q.children())
            found = None if within is None else self._live & within
            for child in children:
                if type(child) is not query.Not:
                    part = self.docs(child, found)
                    found = part if found is None else found & part
            if found is None:
                found = self._live.copy()
            for child in children:
                if type(child) is query.Not:
                    found = found & ~self.docs(child.query, found)
            return found
        elif kind is query.Or and not q.minmatch:
            found = np.zeros_like(self._live)
            for child in q.children():
                found |= self.docs(child, within)
            return found
        elif kind is query.AndNot:
            found = self.docs(q.a, within)
            return found & ~self.docs(q.b, found)
        elif kind is query.AndMaybe:
            return self.docs(q.a, within)
        elif kind is query.Not:
            return self._live & ~self.docs(q.query, within)
        return self._flags(np.fromiter(self._searcher.docs_for_query(q), np.int64))

    def _leaf_docs(self, q: query.Term | query.Phrase, within: np.ndarray | None) -> np.ndarray:
        if type(q) is query.Phrase:
            return self._phrase_docs(q)
        text = _term_bytes(q)  # type: ignore[arg-type]
        if text is None:
            raise _Unsupported
        return self._flags(self._word(q.fieldname, text, within=within).ids)

    def scored(self, q: query.Query, within: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The documents of ``within`` that ``q`` matches, and their scores.

        None when ``q`` is not read here: the caller leaves it to Whoosh.
        """
        try:
            matched = self.docs(q, within) & within
            summed = self.scores(q, matched)
        except _Unsupported:
            return None
        if summed is None:
            return None
        found, constant = summed
        docs = np.flatnonzero(matched)
        return docs, found[docs] + constant

    def top(
        self, q: query.Query, matched: np.ndarray, count: int
    ) -> list[tuple[float, int]] | None:
        """The ``count`` best of ``matched`` by ``q``'s score, ties to the lower document number.

        None when ``q`` is not a sum of terms and phrases (see :func:`_scored_terms`).
        """
        summed = self.scores(q, matched)
        if summed is None:
            return None
        scores, constant = summed
        docs = np.flatnonzero(matched)
        best = scores[docs]
        if len(docs) > count:
            kth = np.partition(best, len(best) - count)[len(best) - count]
            keep = best >= kth
            docs, best = docs[keep], best[keep]
        order = np.lexsort((docs, -best))[:count]
        return [(float(best[i]) + constant, int(docs[i])) for i in order]

    def scores(self, q: query.Query, matched: np.ndarray) -> tuple[np.ndarray, float] | None:
        """``q``'s score for each of ``matched`` (one per document), less a constant all add.

        None when ``q`` is not a sum of terms and phrases (see :func:`_scored_terms`).
        """
        summed = _scored_terms(q)
        if summed is None:
            return None
        parts, constant = summed
        scores = np.zeros(len(matched))
        for part in parts:
            if type(part) is query.Phrase:
                docs = np.flatnonzero(self._phrase_docs(part) & matched)
                found = self._phrase_scores(part, docs)
            else:
                text = _term_bytes(part)  # type: ignore[arg-type]
                if text is None:
                    raise _Unsupported
                word = self._word(part.fieldname, text, within=matched)
                hit = matched[word.ids]
                docs = word.ids[hit]
                found = self._scores(part, docs, word.weights[hit])  # type: ignore[arg-type]
            scores[docs] += found * part.boost
        return scores, constant

    def _flags(self, docnums: np.ndarray) -> np.ndarray:
        found = np.zeros_like(self._live)
        found[docnums] = True
        return found & self._live

    def _word(
        self,
        fieldname: str,
        text: bytes,
        *,
        positions: bool = False,
        within: np.ndarray | None = None,
    ) -> _Word:
        """A word's postings in ``fieldname``; with ``positions``, where to read them too.

        With ``within``, only the blocks that may hold one of those documents
        are read (a block's last id is in its header; the one before ends it).
        """
        word = self._words.get((fieldname, text))
        if (
            word is not None
            and (word.blocks is not None or not positions)
            and (word.within is None or (within is not None and not (within > word.within).any()))
        ):
            return word
        wanted = within.tobytes() if within is not None else None  # bytes.find is a memchr
        gaps: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        total = 0
        firsts: list[int] = []  # where each block begins in the word's postings
        offsets: list[int] = []
        blocks: list[tuple[int, int, bytes]] | None = [] if positions else None
        for reader, start in self._segments:
            if wanted is not None and wanted.find(1, start, start + reader.doc_count_all()) < 0:
                continue  # none wanted here (a segment of old items, for ranking's window)
            try:
                postings = reader.postings(fieldname, text)
            except TermNotFound:  # one look-up in the term dictionary rather than two
                continue
            # A segment with deletions wraps its postings to skip them; the live flags do here.
            postings = getattr(postings, "child", postings)
            if type(postings) is not BlockMatcher or (
                positions and not (postings._fixedsize is None or postings._fixedsize < 0)
            ):
                raise _Unsupported
            last = -1
            while postings.is_active():
                if wanted is not None:
                    first, last = last + 1, postings.block_max_id()
                    if wanted.find(1, start + first, start + last + 1) < 0:
                        postings._next_block()
                        continue
                # Positions will be read from most blocks: decompress each once, whole.
                data = block_data(postings) if blocks is not None else None
                arrays = block_arrays(postings, data)
                firsts.append(total)
                offsets.append(start)
                total += len(arrays[0])
                gaps.append(arrays[0])
                weights.append(arrays[1])
                if blocks is not None and data is not None:
                    blocks.append((firsts[-1], total, data))
                postings._next_block()
        # A block's gaps start from 0: a running sum over all of them, less the sum
        # before the block, plus the block's segment offset, gives index-wide numbers.
        summed = np.cumsum(np.concatenate(gaps) if gaps else np.zeros(0), dtype=np.int64)
        before = np.concatenate(([0], summed))[firsts]
        sizes = np.diff(np.array([*firsts, total], np.int64))
        word = _Word(
            summed + np.repeat(np.array(offsets, np.int64) - before, sizes),
            np.concatenate(weights) if weights else np.zeros(0),
            blocks,
            within,
        )
        replaced = self._words.get((fieldname, text))
        self._kept += _size(word) - (_size(replaced) if replaced is not None else 0)
        self._words[fieldname, text] = word
        return word

    def _scores(self, term: query.Term, docs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The word's BM25F score (unboosted) in ``docs``, where it has ``weights``."""
        if not len(docs):
            return np.zeros(0)
        key = (term.fieldname, term.text)
        found = self._bm25.get(key)
        if found is None:
            found = self._bm25[key] = self._bm25_parts(term)
        idf, k1, norms, lengths = found
        return idf * ((weights * (k1 + 1)) / (weights + norms[lengths[docs]]))

    def _bm25_parts(self, term: query.Term) -> tuple[float, float, np.ndarray, np.ndarray]:
        """A word's idf, K1, the length part of Whoosh's bm25() per length code, and the codes.

        The same statistics a ``BM25FScorer`` takes from the searcher (its idf
        is cached there), without the scorer's per-segment look-ups of the
        word's maximum weight, which scoring every match does not use.
        """
        weighting = self._searcher.weighting
        text = _term_bytes(term)
        lengths = self._lengths(term.fieldname)
        if (
            type(weighting) is not scoring.BM25F
            or weighting._field_B
            or text is None
            or lengths is None
            or not self._searcher.schema[term.fieldname].scorable
        ):
            raise _Unsupported
        idf = self._searcher.idf(term.fieldname, text)
        avgfl = self._searcher.avg_field_length(term.fieldname) or 1
        b, k1 = weighting.B, weighting.K1
        # Whoosh's bm25(), operation by operation, with the length part per length code.
        norms = k1 * ((1 - b) + b * _DECODED_LENGTHS / avgfl)
        return idf, k1, norms, lengths

    def _phrase_docs(self, phrase: query.Phrase) -> np.ndarray:
        """Documents holding ``phrase``'s words one after another, as Whoosh's phrase matcher."""
        known = self._phrases.get(phrase)
        if known is not None:
            return self._flags(known)
        field_type = self._searcher.schema[phrase.fieldname] if phrase.fieldname in SCHEMA else None
        if (
            field_type is None
            or phrase.slop != 1
            or len(phrase.words) < 2
            or type(field_type.format) is not Positions
        ):
            raise _Unsupported
        try:
            texts = [field_type.to_bytes(word) for word in phrase.words]
        except ValueError:
            raise _Unsupported from None
        reader = self._searcher.reader()
        found = np.zeros(0, np.int64)
        if all((phrase.fieldname, text) in reader for text in texts):
            words = [
                self._word(phrase.fieldname, text, positions=True, within=self._restrict)
                for text in texts
            ]
            candidates = self._within.copy()
            for word in words:
                candidates &= self._flags(word.ids)
            # Where the phrase could start, narrowed word by word: the k-th word at start + k.
            starts = _position_keys(words[0], candidates)
            for k, word in enumerate(words[1:], 1):
                starts = starts[np.isin(starts + k, _position_keys(word, candidates))]
            found = np.unique(starts >> 32)
        # Kept as the matching document numbers: a phrase matches few, and flags for every
        # document would make what a run keeps grow with the index.
        self._phrases[phrase] = found
        self._kept += found.nbytes
        return self._flags(found)

    def _phrase_scores(self, phrase: query.Phrase, docs: np.ndarray) -> np.ndarray:
        """A phrase's score (unboosted) in ``docs``, which all hold it: its words' scores
        added up as Whoosh adds them (a binary tree, first half plus second half)."""
        scores = []
        for word in phrase.words:
            term = query.Term(phrase.fieldname, word)
            postings = self._word(
                phrase.fieldname,
                _term_bytes(term),  # type: ignore[arg-type]
                within=self._restrict,
            )
            weights = postings.weights[np.searchsorted(postings.ids, docs)]
            scores.append(self._scores(term, docs, weights))
        return _tree_sum(scores)

    def near(self, pair: Near, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The documents of ``within`` holding ``pair``, and its BM25 score in each.

        Where the pair occurs is found once per run over the run's documents
        (its idf needs how many hold it); each call only narrows and scores.
        """
        found = self._nears.get(pair)
        if found is None:
            found = self._nears[pair] = self._near_counts(pair)
            self._kept += found[0].nbytes + found[1].nbytes
        holding, counts = found
        keep = within[holding]
        docs = holding[keep]
        if not len(docs):
            return docs, np.zeros(0)
        weighting = self._searcher.weighting
        lengths = self._lengths(pair.fieldname)
        if type(weighting) is not scoring.BM25F or weighting._field_B or lengths is None:
            raise _Unsupported
        b, k1 = weighting.B, weighting.K1
        avgfl = self._searcher.avg_field_length(pair.fieldname) or 1
        norms = k1 * ((1 - b) + b * _DECODED_LENGTHS / avgfl)
        idf = math.log(int(np.count_nonzero(self._within)) / (len(holding) + 1)) + 1
        tf = counts[keep]
        return docs, idf * ((tf * (k1 + 1)) / (tf + norms[lengths[docs]]))

    def _near_counts(self, pair: Near) -> tuple[np.ndarray, np.ndarray]:
        """Documents of the run holding ``pair``, and how often: occurrences of the first word
        with the second right after it (window 1) or within the window on either side."""
        field_type = self._searcher.schema[pair.fieldname] if pair.fieldname in SCHEMA else None
        if field_type is None or type(field_type.format) is not Positions or pair.window < 1:
            raise _Unsupported
        try:
            texts = [field_type.to_bytes(word) for word in (pair.first, pair.second)]
        except ValueError:
            raise _Unsupported from None
        reader = self._searcher.reader()
        if not all((pair.fieldname, text) in reader for text in texts):
            return np.zeros(0, np.int64), np.zeros(0)
        first, second = (
            self._word(pair.fieldname, text, positions=True, within=self._restrict)
            for text in texts
        )
        candidates = self._within & self._flags(first.ids) & self._flags(second.ids)
        starts = _position_keys(first, candidates)
        others = np.sort(_position_keys(second, candidates))
        if pair.window == 1:
            hit = np.isin(starts + 1, others)
        else:
            # Keys are docnum << 32 | position: a window never reaches into another document.
            reach = pair.window - 1
            around = np.searchsorted(others, starts + reach, "right") - np.searchsorted(
                others, starts - reach, "left"
            )
            hit = around > (1 if texts[0] == texts[1] else 0)  # a word is not near itself
        docs, counts = np.unique(starts[hit] >> 32, return_counts=True)
        return docs, counts.astype(np.float64)


def _near(run: _SearchRun, pair: Near, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A proximity feature's matches and scores: Whoosh has no reading of it to fall back on."""
    try:
        return run.near(pair, within)
    except _Unsupported:
        raise ValueError(f"{pair}: proximity needs a positional field") from None


def _tree_sum(scores: list[np.ndarray]) -> np.ndarray:
    """Scores added up in the order of Whoosh's ``make_binary_tree``."""
    if len(scores) == 1:
        return scores[0]
    half = len(scores) // 2
    return _tree_sum(scores[:half]) + _tree_sum(scores[half:])


def _position_keys(word: _Word, docs: np.ndarray) -> np.ndarray:
    """Where the word is in each of the flagged ``docs``, as ``docnum << 32 | position``.

    Only blocks holding one of them are read, each with one gather
    (:func:`~aggregator.postings.block_positions`).
    """
    wanted = docs[word.ids]
    keys = [np.zeros(0, np.int64)]
    for begin, end, data in word.blocks or ():
        hits = np.flatnonzero(wanted[begin:end])
        if len(hits):
            counts, positions = block_positions(data, end - begin, hits)
            docnums = np.repeat(word.ids[begin:end][hits], counts)
            keys.append(docnums << 32 | positions.astype(np.int64))
    return np.concatenate(keys)


class _OnlyDocs:
    """A leaf searcher whose postings hold only some documents, for scoring just those.

    Profile queries are phrases and Or-trees over five fields; Whoosh's
    phrase matcher walks every document holding all the words until it finds
    the phrase, so scoring 200 hits cost a pass over the index per interest.
    Restricting each term's postings to the wanted documents (a skip per
    document) makes every matcher built on them that small. Scores are the
    same: the scorer still comes from the real searcher (index-wide
    statistics), only the postings are cut.
    """

    def __init__(self, searcher: Searcher, docnums: list[int]) -> None:
        self._searcher = searcher
        self._docnums = docnums
        self._cut: dict[tuple[str, bytes], tuple[list[int], list[float], list[bytes]]] = {}

    def __getattr__(self, name: str) -> object:
        return getattr(self._searcher, name)

    def postings(
        self,
        fieldname: str,
        text: bytes,
        weighting: scoring.WeightingModel | None = None,
        qf: int = 1,
    ) -> Matcher:
        weighting = weighting or self._searcher.weighting
        scorer = weighting.scorer(self._searcher, fieldname, text, qf=qf)
        cut = self._cut.get((fieldname, text))
        if cut is None:
            cut = self._cut[fieldname, text] = self._postings_of_docs(fieldname, text)
        fmt = self._searcher.schema[fieldname].format
        return ListMatcher(*cut, format=fmt, scorer=scorer, term=(fieldname, text))

    def _postings_of_docs(
        self, fieldname: str, text: bytes
    ) -> tuple[list[int], list[float], list[bytes]]:
        """The term's (docnum, weight, encoded value) postings for the wanted documents."""
        full = self._searcher.reader().postings(fieldname, text)
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []
        if type(full) is BlockMatcher:
            # Whoosh's skip_to steps through a block one posting at a time; a decoded
            # block is a sorted tuple, so bisect finds each wanted document in it.
            wanted = self._docnums
            k = 0
            while full.is_active() and k < len(wanted):
                block_max = full.block_max_id()
                if wanted[k] <= block_max:
                    # Only the ids: blocks without a wanted document are never decoded whole.
                    block = full._ids = _block_ids(full)
                    while k < len(wanted) and wanted[k] <= block_max:
                        i = bisect_left(block, wanted[k])
                        if i < len(block) and block[i] == wanted[k]:
                            full._i = i
                            ids.append(wanted[k])
                            weights.append(full.weight())
                            values.append(full.value())
                        k += 1
                full._i = 0
                full._next_block()
            return ids, weights, values
        for docnum in self._docnums:
            if not full.is_active():
                break
            if full.id() < docnum:
                full.skip_to(docnum)
            if full.is_active() and full.id() == docnum:
                ids.append(docnum)
                weights.append(full.weight())
                values.append(full.value())
        return ids, weights, values


def _term_bytes(term: query.Term) -> bytes | None:
    """The word as its field indexes it; None when no field of the schema could hold it."""
    if term.fieldname not in SCHEMA:
        return None
    try:
        return SCHEMA[term.fieldname].to_bytes(term.text)
    except ValueError:
        return None


def _segment_lengths(reader: object, fieldname: str) -> bytes | None:
    """A segment's encoded field length per document (one byte each), or None when its
    column is not the plain one-byte kind read here.

    A segment none of whose documents has the field writes no column: every length
    is 0 there, as Whoosh's own ``doc_field_length`` reads it.
    """
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is None:
        return None
    if not perdoc.has_column(_lenfield(fieldname)):
        return bytes(reader.doc_count_all())  # type: ignore[attr-defined]
    column = perdoc.column_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if getattr(column, "_fixedlen", None) != 1 or column._reverse:
        return None
    return column._dbfile.get(column._basepos, column._doccount)


def _schema_change(found: Schema) -> str | None:
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


class SearchIndex:
    """A Whoosh index directory and one cached searcher over it."""

    def __init__(self, ix: whoosh.index.Index, path: Path) -> None:
        self._ix = ix
        self.path = path
        self._searcher: Searcher | None = None
        self._forget_searcher()
        self._parser = MultifieldParser(list(TEXT_FIELDS), SCHEMA, fieldboosts=dict(FIELD_BOOSTS))
        self._parser.add_plugin(FieldAliasPlugin(FIELD_ALIASES))

    @classmethod
    def open(cls, path: Path, *, recreate_if_stale: bool = False) -> SearchIndex:
        """Open the index at ``path``, creating the directory and an empty index if missing.

        ``recreate_if_stale`` (for ``learnplace run``) replaces an index built
        with another schema by an empty one, which the run then refills from
        the store; readers get :class:`IndexSchemaError` instead.

        Whoosh's write lock is an ``flock`` on a file that outlives a killed
        writer; the kernel releases the lock itself, so a stale file is harmless.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        try:
            storage = _IndexStorage(path)
            if not storage.index_exists():
                return cls(storage.create_index(SCHEMA), path)
            ix = storage.open_index()
        except (ImportError, AttributeError) as error:
            # The table of contents pickles the schema and codec classes that wrote it.
            ix, stale = None, f"the index was written by another version ({error})"
        else:
            stale = _schema_change(ix.schema)
        if stale:
            if ix is not None:
                ix.close()
            if recreate_if_stale:
                return cls(_IndexStorage(path).create_index(SCHEMA), path)
            raise IndexSchemaError(f"{path}: {stale}; `learnplace run` rebuilds it from the store")
        return cls(ix, path)

    def _writer(self) -> SegmentWriter:
        writer = self._ix.writer(
            limitmb=WRITER_LIMIT_MB, procs=1, timeout=WRITE_LOCK_TIMEOUT_S, codec=_Codec()
        )
        writer.mergetype = _merge_small_segments
        return writer

    def add(self, items: Iterable[Item]) -> int:
        """Add or replace items by id, committing once: a commit is most of Whoosh's cost."""
        return self.apply([(items, ())])

    def apply(self, batches: Iterable[tuple[Iterable[Item], Iterable[int]]]) -> int:
        """Add or replace the items and delete the ids of every batch, in one commit.

        Batches come from the store's index queue, so a cold run's hundreds of
        thousands of items never sit in memory at once. Up to
        :data:`PARALLEL_MIN_DOCS` items are written here; beyond that, worker
        processes write them as whole segments (see :class:`_SegmentWorkers`).
        An item id must appear once. Returns the documents written.
        """
        writer = self._writer()
        pending: list[Item] = []
        workers: _SegmentWorkers | None = None
        try:
            replacing = self._ix.doc_count_all() > 0
            for items, deleted in batches:
                for item in items:
                    if replacing:
                        writer.delete_by_term("id", str(item.id))
                    pending.append(item)
                    if len(pending) >= (workers.batch_size() if workers else PARALLEL_MIN_DOCS):
                        workers = workers or _SegmentWorkers(self.path)
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
            kept = writer._merge_segments(None, None, None)
            if writer._added:  # the merge policy merged small segments into this writer
                kept.append(writer._finalize_segment())
            else:
                writer._close_segment()
            writer._commit_toc(kept + segments)
            writer._finish()
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
        """Build a new index from ``items`` beside ``path`` and swap it in; returns its size.

        Searches keep using the old index until the swap. Two renames are not
        one atomic step: :func:`finish_swap` completes an interrupted swap.
        The caller holds the run lock, so no other writer uses ``path`` meanwhile.
        """
        path = Path(path)
        finish_swap(path)
        fresh, old = _swap_paths(path)
        shutil.rmtree(fresh, ignore_errors=True)
        with cls.open(fresh) as index:
            count = index.add(items)
        if path.exists():
            path.rename(old)
        fresh.rename(path)
        shutil.rmtree(old, ignore_errors=True)
        return count

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
        self._ranking_runs: dict[datetime | None, _SearchRun] = {}
        self._ids: np.ndarray | None = None
        self._frequencies: dict[tuple[str, str], int] = {}

    def parse(self, text: str) -> query.Query:
        """A person's query text as a Whoosh query, or QuerySyntaxError saying what is wrong."""
        check_query_text(text)
        try:
            parsed = self._parser.parse(text)
        except Exception as exc:  # Whoosh raises a bare Exception for a range of bad dates
            raise QuerySyntaxError(_not_understood(text, str(exc))) from exc
        errors = list(_query_errors(parsed))
        if errors:
            raise QuerySyntaxError(_not_understood(text, "; ".join(errors)))
        return parsed

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
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
        filters = filters or SearchFilters()
        if not text.strip() and not filters:
            return SearchPage(hits=(), total=0)
        # A lone "*" means everything, as no text does (Whoosh reads it as "every word").
        parsed = self.parse(text) if text.strip() not in ("", "*") else query.Every()
        searcher = self._current()
        if searcher.doc_count_all() == 0:
            return SearchPage(hits=(), total=0)  # an empty index has no id column to read
        check_query_cost(parsed, searcher.reader())
        # Every match, for the exact total and the facets; it also serves as the
        # search's filter (Whoosh's document-set filter, not a Require clause, which
        # trips an assertion in Whoosh's optimised top-k collector with date ranges).
        run = _SearchRun(searcher, self._live(), self._index_lengths)
        flags = run.docs(parsed)
        if filters:
            flags &= self._allowed(run, filters)
        total = int(np.count_nonzero(flags))
        if not total:
            suggestion = self._suggestion(searcher, text) if text.strip() else None
            return SearchPage((), 0, {}, _analysed_terms(parsed), suggestion)
        limit = max(1, min(limit, SEARCH_LIMIT_MAX))
        offset = max(0, min(offset, SEARCH_LIMIT_MAX))
        top = None
        if sort == "date":
            top = self._newest(flags, offset + limit)
        else:
            try:
                top = run.top(parsed, flags, offset + limit)
            except _Unsupported:
                top = None
        if top is None:
            allowed = set(np.flatnonzero(flags).tolist()) if filters else None
            top = searcher.search(parsed, limit=offset + limit, filter=allowed).top_n
        ids = self._column("id")  # raw bytes such as b"42": int() reads them
        hits = tuple(
            SearchHit(int(ids[docnum]), score, docnum)  # type: ignore[arg-type]
            for score, docnum in top[offset : offset + limit]
        )
        counts: dict[str, dict[str, int]] = {}
        if facets:
            for name, column in FACET_FIELDS.items():
                codes, values = self._facet_codes(column)
                tally = np.bincount(codes[flags], minlength=len(values))
                found = np.flatnonzero(tally).tolist()
                counts[name] = _counts({values[code]: int(tally[code]) for code in found})
        return SearchPage(hits, total, counts, _analysed_terms(parsed))

    def _index_lengths(self, fieldname: str) -> np.ndarray | None:
        """Every document's encoded length of ``fieldname``, by index-wide document number.

        The segments' length columns laid end to end (segments number their
        documents from their offset on); None when a segment has no such column.
        A column stops at its last document with the field: the rest are 0.
        """
        if fieldname not in self._all_lengths:
            parts: list[bytes] = []
            for reader, start in self._current().reader().leaf_readers():
                lengths = _segment_lengths(reader, fieldname)
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
            self._live_flags = _live_flags(self._current().reader())
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

    def _allowed(self, run: _SearchRun, filters: SearchFilters) -> np.ndarray:
        """The documents ``filters`` let through, one flag per document.

        The date range is checked on the ``published`` column: as a query it
        expands into a term per distinct timestamp, which takes seconds.
        """
        restriction = filters.query()
        allowed = self._live().copy() if restriction is None else run.docs(restriction)
        if filters.since or filters.until:
            published = self._published()
            if filters.since:
                allowed &= published >= np.datetime64(_naive_utc(filters.since), "us")
            if filters.until:
                allowed &= published <= np.datetime64(_naive_utc(filters.until), "us")
        return allowed

    def _published(self) -> np.ndarray:
        """The ``published`` column as an array, read once per searcher."""
        if self._dates is None:
            self._dates = np.array(self._column("published"), dtype="datetime64[us]")
        return self._dates

    def _suggestion(self, searcher: Searcher, text: str) -> str | None:
        """The query with unknown words replaced by the closest title words Whoosh knows."""
        corrector = searcher.corrector("title")
        reader = searcher.reader()
        analyzer = SCHEMA["title"].analyzer

        def known(word: str) -> bool:
            stems = [token.text for token in analyzer(word)]
            return not stems or any(
                reader.doc_frequency(name, stem) for stem in stems for name in TEXT_FIELDS
            )

        tries = 0

        def correct(match: re.Match[str]) -> str:
            nonlocal tries
            word = match.group(1)
            if len(word) > SUGGESTED_WORD_CHARS or word in _OPERATORS or known(word):
                return word
            tries += 1
            if tries > MAX_SUGGESTED_WORDS:  # each costs a walk of the title words
                return word
            found = corrector.suggest(word.lower(), limit=1, maxdist=2, prefix=1)
            return found[0] if found else word

        corrected = _WORD.sub(correct, text)
        return corrected if corrected != text else None

    def score_docs(
        self, queries: Mapping[K, Scored], hits: Collection[SearchHit]
    ) -> dict[K, dict[int, float]]:
        """Each query's score for each of ``hits`` only (by item id), for personalising a search.

        Each query's words are read once (:class:`_SearchRun`, phrases checked
        in the hits only) and scored as a search scores them; a query that is
        not a sum of words and phrases is scored by Whoosh on postings cut to
        the hits (:class:`_OnlyDocs`).
        """
        if not hits:
            return {key: {} for key in queries}
        searcher = self._current()
        by_docnum = {hit.docnum: hit.item_id for hit in hits}
        live = self._live()
        wanted = np.zeros(len(live), bool)
        wanted[list(by_docnum)] = True
        run = _SearchRun(searcher, live, self._index_lengths, within=wanted)
        scores: dict[K, dict[int, float]] = {}
        rest: dict[K, query.Query] = {}
        for key, q in queries.items():
            found = _near(run, q, wanted) if isinstance(q, Near) else run.scored(q, wanted)
            if found is None:
                rest[key] = q
                continue
            docs, values = found
            scores[key] = {
                by_docnum[docnum]: score
                for docnum, score in zip(docs.tolist(), values.tolist(), strict=True)
            }
        if rest:
            scores.update(self._whoosh_scores(searcher, rest, by_docnum))
        return {key: scores[key] for key in queries}

    def _whoosh_scores(
        self, searcher: Searcher, queries: Mapping[K, query.Query], by_docnum: Mapping[int, int]
    ) -> dict[K, dict[int, float]]:
        """:meth:`score_docs` by Whoosh's matchers, skipping to each wanted document."""
        scores: dict[K, dict[int, float]] = {key: {} for key in queries}
        wanted = sorted(by_docnum)
        context = searcher.context(needs_current=True)
        for subsearcher, start in searcher.leaf_searchers():
            end = start + subsearcher.doc_count_all()
            local = [docnum - start for docnum in wanted if start <= docnum < end]
            if not local:
                continue
            only = _OnlyDocs(subsearcher, local)
            for key, q in queries.items():
                matcher = q.matcher(only, context)
                for docnum in local:
                    if not matcher.is_active():
                        break
                    if matcher.id() < docnum:
                        matcher.skip_to(docnum)
                    if matcher.is_active() and matcher.id() == docnum:
                        scores[key][by_docnum[docnum + start]] = matcher.score()
        return scores

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
        self, queries: Mapping[K, Scored], *, since: datetime | None = None
    ) -> dict[K, dict[int, float]]:
        """:meth:`score_arrays` as plain dicts: item id -> score, for each query."""
        return {
            key: dict(zip(ids.tolist(), values.tolist(), strict=True))
            for key, (ids, values) in self.score_arrays(queries, since=since).items()
        }

    def score_arrays(
        self, queries: Mapping[K, Scored], *, since: datetime | None = None
    ) -> dict[K, tuple[np.ndarray, np.ndarray]]:
        """Every match of every query published from ``since`` on, as item ids (ascending by
        document number, each once) and their scores, for ranking to blend as arrays.

        The queries are read as a search reads them (:class:`_SearchRun`),
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
            run = self._ranking_runs[since] = _SearchRun(
                searcher, self._live(), self._index_lengths, within=window
            )
        window = run.restricted_to
        ids = self._docids()
        scores: dict[K, tuple[np.ndarray, np.ndarray]] = {}
        for key, q in queries.items():
            found = _near(run, q, window) if isinstance(q, Near) else run.scored(q, window)
            if found is None:
                found = self._whoosh_window_scores(searcher, q, window)  # type: ignore[arg-type]
            docs, values = found
            scores[key] = (ids[docs], values)
        if run.footprint() > RANKING_CACHE_BYTES:
            del self._ranking_runs[since]
        return scores

    def _whoosh_window_scores(
        self, searcher: Searcher, q: query.Query, window: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # Not empty (the caller checked): Whoosh reads an empty filter as "no filter".
        allowed = BitSet(np.flatnonzero(window).tolist(), size=len(window))
        found = sorted(
            (docnum, score)
            for score, docnum in searcher.search(q, limit=None, filter=allowed).top_n
        )
        return np.array([d for d, _ in found], np.int64), np.array(
            [v for _, v in found], np.float64
        )

    def _window(self, since: datetime | None) -> np.ndarray:
        """Live documents published from ``since`` on, one flag each, from the ``published`` column.

        As a query the range expands into a term per distinct timestamp.
        """
        window = self._live()
        if since is None:
            return window
        return window & (self._published() >= np.datetime64(_naive_utc(since), "us"))

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

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
