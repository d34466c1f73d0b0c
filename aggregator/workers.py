"""Worker processes: how Learnplace starts them, and the pool that writes index segments.

Every pool starts its workers with ``forkserver``: a worker forked from a
process that runs threads (the fetcher's, the web server's) or holds sockets
would inherit them half-copied; the fork server is a clean, single-threaded
process started once. How many workers a pool gets is one rule
(:func:`worker_count`): no more than the cores, nor than the pool's own limit.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, TypeVar

from aggregator.models import Item

T = TypeVar("T")

SEGMENT_DOCS_MAX = 40_000
"""The largest batch a worker writes as one segment: its items travel to it at once."""

SEGMENT_WORKERS_MAX = 4
"""Workers beyond the cores only compete for them."""


def worker_count(limit: int) -> int:
    """Workers for a pool: one per core, at least one, at most ``limit``."""
    return max(1, min(os.cpu_count() or 1, limit))


def process_pool(
    workers: int,
    *,
    preload: Sequence[str] = (),
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes started by the fork server (which imports ``preload``
    once, so no worker pays for those imports)."""
    context = multiprocessing.get_context("forkserver")
    if preload:
        context.set_forkserver_preload(list(preload))
    return ProcessPoolExecutor(
        workers, mp_context=context, initializer=initializer, initargs=initargs
    )


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
