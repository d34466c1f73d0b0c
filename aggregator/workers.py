"""Worker processes: every process pool Learnplace starts is set up here, the same way.

``forkserver`` keeps workers free of the parent's threads, sockets and open SQLite
connections; workers never outnumber the cores. Three stages use them: parsing (below),
ranking (:mod:`aggregator.rank.daily`) and writing index segments (:class:`SegmentWorkers`).

Parsing: feedparser is pure Python and the cost of a cold run (~1,000 items/s per
core), so the event loop hands bodies to a process pool and keeps fetching;
the results come back to the one process that writes SQLite. The pool is
started on the first body only: a warm run of 304s never pays for it.
``forkserver`` keeps workers free of the parent's threads and sockets.

A worker has a memory limit, so a document that needs too much raises
``MemoryError`` there instead of calling the kernel's OOM killer. A worker
that dies anyway (killed, crashed) takes every document it was given with
it: those are parsed again one at a time in a pool of their own, so only
the document that kills a worker again fails, as its source's error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import multiprocessing
import os
import resource
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Generic, TypeVar

from aggregator.errors import FeedParseError
from aggregator.models import Item, ParsedFeed, ReadContext, ScrapeRules
from aggregator.urls import without_tracking

T = TypeVar("T")

MAX_PARSE_WORKERS = 4
"""More workers than this only compete with fetching and storing for the cores."""

WORKER_MEMORY_MIN = 1 << 30
WORKER_MEMORY_PER_BODY = 16
"""A worker may use this many bytes per byte of the body cap (at least
:data:`WORKER_MEMORY_MIN`): feedparser reads a 10 MB feed in about 80 MB."""

PRELOADED = (
    "aggregator.parse.registry",
    "aggregator.parse.speedups",
    "aggregator.parse.scrape",
    "dateparser",
    "dateparser.search",
)
"""Imported once by the forkserver, so no worker pays for them (dateparser is lazy in events)."""


def worker_count(maximum: int) -> int:
    """One worker per core, within ``maximum``."""
    return max(1, min(os.cpu_count() or 1, maximum))


def process_pool(
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[object, ...] = (),
    *,
    preload: Sequence[str] = (),
) -> ProcessPoolExecutor:
    """A pool of ``workers`` forkserver processes, each set up by ``initializer(*initargs)``
    (if any).

    ``preload`` names modules the forkserver imports once, so no worker pays for them.
    """
    context = multiprocessing.get_context("forkserver")
    if preload:
        context.set_forkserver_preload(list(preload))
    if initializer is None:
        return ProcessPoolExecutor(workers, mp_context=context)
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=initializer, initargs=initargs
    )


def worker_memory(max_body_bytes: int) -> int:
    """The memory limit of a parse worker for a given body cap."""
    return max(WORKER_MEMORY_MIN, WORKER_MEMORY_PER_BODY * max_body_bytes)


def start_worker(memory_limit: int | None) -> None:
    """A worker's set-up: its memory limit, and feedparser made faster where it can be.

    The limit is on the data segment (``RLIMIT_DATA``: heap and private mappings),
    which is what parsing grows; a process's shared libraries do not count.
    """
    if memory_limit is not None:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        limit = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    from aggregator.parse.speedups import speed_up_feedparser

    speed_up_feedparser()


def parse_document(
    content: bytes,
    headers: Mapping[str, str],
    url: str,
    kind: str,
    scrape: ScrapeRules | None,
    item_type: str | None = None,
    context: ReadContext | None = None,
) -> ParsedFeed:
    """A feed, or a page read with its source's scrape selectors (runs in a worker).

    ``item_type`` is the source's own type from ``feeds.toml``: it replaces guessing;
    ``context`` is when and in which zone to read (see :func:`aggregator.parse.parse_feed`).
    The parser is imported here, in the worker (the forkserver has preloaded it), so
    the fetching process never loads feedparser: a run of 304s starts faster.
    """
    from aggregator.bounds import bounded
    from aggregator.parse.registry import parse_feed
    from aggregator.parse.scrape import scrape_page

    if scrape is None:
        return untracked(parse_feed(content, headers, url, kind, item_type, context=context))
    feed = scrape_page(content, url, scrape, kind, timezone=context.timezone if context else "")
    if item_type is not None:
        entries = tuple(dataclasses.replace(entry, item_type=item_type) for entry in feed.entries)
        feed = dataclasses.replace(feed, entries=entries)
    return untracked(bounded(feed))


def untracked(feed: ParsedFeed) -> ParsedFeed:
    """Entries' links without tracking parameters: whichever copy of a syndicated story is
    stored first is the one shown, and ``?utm_source=…`` is no part of what a person reads."""
    entries = []
    for entry in feed.entries:
        clean = without_tracking(entry.url)
        entries.append(entry if clean == entry.url else dataclasses.replace(entry, url=clean))
    return dataclasses.replace(feed, entries=tuple(entries))


ParseFunction = Callable[
    [bytes, Mapping[str, str], str, str, ScrapeRules | None, str | None, ReadContext | None],
    ParsedFeed,
]


class ParsePool:
    """``await pool.parse(...)`` runs :func:`parse_document` in a worker.

    ``memory_limit`` bounds each worker (see :func:`start_worker`); ``function`` is
    what a worker runs for each document (tests give one that kills its worker).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        memory_limit: int | None = None,
        function: ParseFunction = parse_document,
    ) -> None:
        self._workers = workers or worker_count(MAX_PARSE_WORKERS)
        self._memory_limit = memory_limit
        self._function: Callable[..., ParsedFeed] = function  # called with checked arguments
        self._shared: ProcessPoolExecutor | None = None
        self._alone: ProcessPoolExecutor | None = None
        self._alone_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def memory_limit_mib(self) -> int | None:
        """Each worker's memory limit, in MiB (None: no limit)."""
        return None if self._memory_limit is None else self._memory_limit >> 20

    def _executor(self, workers: int) -> ProcessPoolExecutor:
        return process_pool(workers, start_worker, (self._memory_limit,), preload=PRELOADED)

    async def parse(
        self,
        content: bytes,
        headers: Mapping[str, str],
        url: str,
        kind: str,
        scrape: ScrapeRules | None = None,
        item_type: str | None = None,
        context: ReadContext | None = None,
    ) -> ParsedFeed:
        """Parse in a worker; what the parser raises comes back as raised.

        A document whose worker dies twice, the second time alone, raises
        :class:`~aggregator.errors.FeedParseError`.
        """
        arguments = (content, dict(headers), url, kind, scrape, item_type, context)
        if self._shared is None:
            self._shared = self._executor(self._workers)
        shared = self._shared
        try:
            return await self._run(shared, arguments)
        except BrokenProcessPool:
            if self._shared is shared:  # the first of its documents to notice restarts the pool
                shared.shutdown(wait=False, cancel_futures=True)
                self._shared = None
        async with self._alone_lock():
            if self._alone is None:
                self._alone = self._executor(1)
            try:
                return await self._run(self._alone, arguments)
            except BrokenProcessPool:
                self._alone.shutdown(wait=False)
                self._alone = None
                raise FeedParseError(
                    "the parser's process died reading this document (out of memory, or killed)"
                ) from None

    def _alone_lock(self) -> asyncio.Lock:
        """The lock of the running loop: an asyncio lock belongs to one loop, and a queue
        worker parses from the loops of several threads (each thread's documents then take
        turns; two threads' may meet in the lone worker, and a death there fails both)."""
        return self._alone_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())

    async def _run(
        self, executor: ProcessPoolExecutor, arguments: tuple[object, ...]
    ) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(self._function, *arguments))

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for executor in (self._shared, self._alone):
            if executor is not None:
                executor.shutdown(cancel_futures=True)


SEGMENT_DOCS_MAX = 40_000
"""The largest batch a worker writes as one segment: its items travel to it at once."""

SEGMENT_WORKERS_MAX = 4
"""Workers beyond the cores only compete for them."""


class SegmentWorkers(Generic[T]):
    """Processes that each write whole index segments, so indexing many items uses every core.

    Whoosh is pure Python and writes about a thousand items a second: a cold
    run's 50,000 would keep one core busy for most of a minute while the
    other waits. ``write(path, items)`` runs in a worker and returns what the
    parent commits (:func:`aggregator.search.storage.write_segment`). Batches
    double in size from ``first_batch`` (to :data:`SEGMENT_DOCS_MAX`) so a large
    run makes few segments, and no more than one batch per worker waits, so
    memory stays flat.
    """

    def __init__(
        self, write: Callable[[str, Sequence[Item]], T], path: os.PathLike[str], first_batch: int
    ) -> None:
        self._write = write
        self._path = os.fspath(path)
        self._first_batch = first_batch
        self._workers = worker_count(SEGMENT_WORKERS_MAX)
        self._executor = process_pool(self._workers)
        self._running: deque[Future[T]] = deque()
        self._done: list[T] = []
        self._batches = 0

    def batch_size(self) -> int:
        """How many items the next batch should hold: twice as many every round of workers."""
        return min(SEGMENT_DOCS_MAX, self._first_batch << (self._batches // self._workers))

    def submit(self, items: list[Item]) -> None:
        while len(self._running) >= self._workers:
            self._done.append(self._running.popleft().result())
        self._running.append(self._executor.submit(self._write, self._path, items))
        self._batches += 1

    def finish(self) -> list[T]:
        """What every batch's worker returned, once all have finished."""
        self._done.extend(future.result() for future in self._running)
        self._running.clear()
        self._executor.shutdown()
        return self._done

    def cancel(self) -> None:
        self._executor.shutdown(cancel_futures=True)
