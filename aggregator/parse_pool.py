"""Parse feed bodies in worker processes, so a cold run uses every core.

feedparser is pure Python and the cost of a cold run (~1,000 items/s per
core), so the event loop hands bodies to a process pool and keeps fetching;
the results come back to the one process that writes SQLite. The pool is
started on the first body only: a warm run of 304s never pays for it.
``forkserver`` keeps workers free of the parent's threads and sockets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from aggregator.models import ParsedFeed, ScrapeRules

MAX_PARSE_WORKERS = 4
"""More workers than this only compete with fetching and storing for the cores."""


def parse_workers() -> int:
    """One worker per core, within :data:`MAX_PARSE_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, MAX_PARSE_WORKERS))


PRELOADED = ("aggregator.parse", "aggregator.scrape", "dateparser", "dateparser.search")
"""Imported once by the forkserver, so no worker pays for them (dateparser is lazy in events)."""


def start_worker() -> None:
    """A worker's set-up: feedparser made faster where it can be (only workers need it)."""
    from aggregator.parse import speed_up_feedparser

    speed_up_feedparser()


def parse_document(
    content: bytes,
    headers: Mapping[str, str],
    url: str,
    kind: str,
    scrape: ScrapeRules | None,
    item_type: str | None = None,
) -> ParsedFeed:
    """A feed, or a page read with its source's scrape selectors (runs in a worker).

    ``item_type`` is the source's own type from ``feeds.toml``: it replaces guessing.
    The parser is imported here, in the worker (the forkserver has preloaded it), so
    the fetching process never loads feedparser: a run of 304s starts faster.
    """
    from aggregator.parse import parse_feed
    from aggregator.scrape import scrape_page

    if scrape is None:
        return parse_feed(content, headers, url, kind, item_type)
    feed = scrape_page(content, url, scrape, kind)
    if item_type is None:
        return feed
    entries = tuple(dataclasses.replace(entry, item_type=item_type) for entry in feed.entries)
    return dataclasses.replace(feed, entries=entries)


ParseFunction = Callable[
    [bytes, Mapping[str, str], str, str, ScrapeRules | None, str | None], ParsedFeed
]


class ParsePool:
    """``await pool.parse(...)`` runs :func:`parse_document` in a worker.

    ``function`` is what a worker runs for each document (tests give their own).
    """

    def __init__(
        self, workers: int | None = None, *, function: ParseFunction = parse_document
    ) -> None:
        self._workers = workers or parse_workers()
        self._function = function
        self._executor: ProcessPoolExecutor | None = None

    async def parse(
        self,
        content: bytes,
        headers: Mapping[str, str],
        url: str,
        kind: str,
        scrape: ScrapeRules | None = None,
        item_type: str | None = None,
    ) -> ParsedFeed:
        """Parse in a worker; :class:`aggregator.parse.FeedParseError` comes back as raised."""
        if self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(PRELOADED))
            self._executor = ProcessPoolExecutor(
                self._workers, mp_context=context, initializer=start_worker
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._function, content, dict(headers), url, kind, scrape, item_type
        )

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
