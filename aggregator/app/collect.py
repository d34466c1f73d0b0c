"""The fetch, parse and store stages of a run: each source's outcome is recorded, whatever it is.

fetch_many | parse | store      fetches run concurrently; each changed body is parsed in a
                                worker process; results are stored as they come back,
                                through a single SQLite writer; schedule.decide sets
                                each source's next attempt
"""

from __future__ import annotations

import asyncio
import dataclasses
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING

from aggregator.bounds import MAX_PROBLEM_CHARS, clean_text, undated_if_future
from aggregator.errors import FeedParseError, SourceCrashWarning
from aggregator.fetch.http import fetch_many
from aggregator.fetch.schedule import decide, is_due
from aggregator.models import Config, Entry, FetchResult, ReadContext, Source, SourceState
from aggregator.store import FetchRecord, Store
from aggregator.workers import ParsePool, worker_memory

if TYPE_CHECKING:
    from aggregator.app.project import Reporter


@dataclass(slots=True)
class RunSummary:
    """What one run did, for the closing summary and ``--json``."""

    sources_ok: int = 0
    not_modified: int = 0
    skipped: int = 0
    disabled: int = 0
    """Sources feeds.toml lists with ``disabled = true``: never fetched, not failures."""
    failures: list[tuple[str, str]] = field(default_factory=list)
    newly_failing: list[str] = field(default_factory=list)
    """Failed sources that had worked and were not failing before this run (cron hears of them)."""
    moved: list[tuple[str, str]] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    new_items: int = 0
    updated_items: int = 0
    digests: list[tuple[str, int, Path]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """People whose last good digest was kept: sources failed and today's came out emptier."""
    site_index: Path | None = None

    @property
    def every_source_failed(self) -> bool:
        return self.sources_ok == 0 and bool(self.failures)


@dataclass(frozen=True, slots=True)
class _Due:
    """A source picked for this run and its schedule before the fetch."""

    source: Source
    state: SourceState


async def collect(
    config: Config,
    store: Store,
    now: datetime,
    reporter: Reporter,
    summary: RunSummary,
    force: bool,
    ahead: timedelta,
    pool: ParsePool | None = None,
) -> None:
    """Fetch the due sources concurrently; parse in workers; store results a batch at a time.

    Calendars' recurring series are expanded ``ahead`` from ``now``. ``pool`` is
    where bodies are parsed: by default a new :class:`ParsePool` whose workers may
    use :func:`worker_memory` of the body cap.
    """
    due = _due_sources(config, store, now, summary, force)
    targets = [(url, store.cache_info(item.source.url, now)) for url, item in due.items()]
    reporter.start("fetch", len(targets))
    writer = _ResultWriter(store, now, summary)
    pool = pool or ParsePool(memory_limit=worker_memory(config.settings.max_body_bytes))
    with pool:
        parsing: list[asyncio.Task[None]] = []
        async for result in fetch_many(targets, config.settings):
            item = due[result.url]
            if result.ok and result.content is not None:
                zone = item.source.timezone or config.settings.timezone
                context = ReadContext(now, ahead, zone)
                parsing.append(asyncio.create_task(_parse(pool, writer, item, result, context)))
            else:
                writer.add(item, result)
            reporter.advance("fetch", item.source.name)
        await asyncio.gather(*parsing)
    writer.flush()


async def collect_one(
    config: Config, store: Store, source: Source, now: datetime, ahead: timedelta, pool: ParsePool
) -> RunSummary:
    """One source fetched, parsed in ``pool`` and stored, as :func:`collect` does for each
    (a queue worker's fetch job); what it did."""
    summary = RunSummary()
    state = store.source_state(source.url)
    item = _Due(source, state)
    writer = _ResultWriter(store, now, summary)
    targets = [(state.fetch_url, store.cache_info(source.url, now))]
    async for result in fetch_many(targets, config.settings):
        if result.ok and result.content is not None:
            context = ReadContext(now, ahead, source.timezone or config.settings.timezone)
            await _parse(pool, writer, item, result, context)
        else:
            writer.add(item, result)
    writer.flush()
    return summary


def due_sources(config: Config, store: Store, now: datetime, force: bool = False) -> list[Source]:
    """The sources a run at ``now`` fetches (each by its own record: a queue job each)."""
    return [item.source for item in _due_sources(config, store, now, RunSummary(), force).values()]


def _due_sources(
    config: Config, store: Store, now: datetime, summary: RunSummary, force: bool
) -> dict[str, _Due]:
    """Sources to fetch now, by the URL to fetch (a permanently moved source's new one)."""
    due: dict[str, _Due] = {}
    for source in config.sources:
        if source.disabled:
            summary.disabled += 1
            continue
        state = store.source_state(source.url)
        if not is_due(state, now, force=force):
            summary.skipped += 1
            continue
        if state.fetch_url in due:  # moved onto another source's URL: fetch its own again
            state = dataclasses.replace(state, fetch_url=source.url, moved_from=None)
        due[state.fetch_url] = _Due(source, state)
    return due


async def _parse(
    pool: ParsePool, writer: _ResultWriter, item: _Due, result: FetchResult, context: ReadContext
) -> None:
    """A 200's entries; a body that is no feed, or that the parser fails on, is a failure."""
    assert result.content is not None
    source = item.source
    try:
        feed = await pool.parse(
            result.content,
            result.headers,
            result.final_url,
            source.kind,
            source.scrape,
            source.item_type,
            context,
        )
    except FeedParseError as exc:
        error = str(exc)
    except MemoryError:
        error = f"the document needs more than {pool.memory_limit_mib} MiB to parse"
    except Exception as exc:  # whatever else a source's bytes make the parser raise is its failure
        error = _crashed(source, "parsing its document", exc)
    else:
        writer.add(item, result, feed.problems, feed.entries, feed.complete_until)
        return
    writer.add(item, dataclasses.replace(result, error=error))


def _crashed(source: Source, doing: str, exc: Exception) -> str:
    """The recorded error for an exception no source should cause, after warning about it.

    The warning carries the traceback (a worker's comes back as the exception's cause):
    a person sees it on stderr, and the test suite, which makes warnings errors, fails.
    """
    cause = exc.__cause__
    trace = getattr(cause, "tb", None) or "".join(traceback.format_exception(exc))
    error = f"{type(exc).__name__} while {doing}: {exc}"
    message = f"{source.name} ({source.url}): {error}, recorded as its failure\n{trace}"
    warnings.warn(SourceCrashWarning(clean_text(message).replace("\r", "")), stacklevel=2)
    return f"{clean_text(error)[:MAX_PROBLEM_CHARS]} (a bug: please report it)"


CALENDAR_REREAD = timedelta(days=7)
"""How often a calendar is read in full (fetched without validators), so its recurring series
stay expanded over the horizon while it answers 304: they are expanded this much further."""

STORE_BATCH = 50
"""Sources whose results one store transaction holds: a commit per source cost more than parsing."""

STORE_BATCH_S = 0.5
"""A batch is committed after this long even if smaller, so a slow run's progress is kept."""


class _ResultWriter:
    """Fetch results into the store, a batch of sources per transaction.

    A kill loses at most the batch not yet committed: those sources' new
    validators were not saved either, so the next run fetches them again.
    A batch the store refuses is stored again one source at a time, so only a
    source whose own entries the store cannot take fails (without its entries).
    """

    def __init__(self, store: Store, now: datetime, summary: RunSummary) -> None:
        self._store = store
        self._now = now
        self._summary = summary
        self._pending: list[tuple[_Due, FetchRecord]] = []
        self._flushed = monotonic()

    def add(
        self,
        item: _Due,
        result: FetchResult,
        problems: Sequence[str] = (),
        entries: Sequence[Entry] | None = None,
        complete_until: datetime | None = None,
    ) -> None:
        if entries is not None:
            entries, future = undated_if_future(entries, self._now)
            problems = (*problems, future) if future else problems
        reread_at = None if complete_until is None else self._now + CALENDAR_REREAD
        record = FetchRecord(
            item.source.url,
            result,
            self._decide(item, result),
            tuple(problems),
            entries,
            complete_until,
            reread_at,
        )
        self._pending.append((item, record))
        if len(self._pending) >= STORE_BATCH or monotonic() - self._flushed >= STORE_BATCH_S:
            self.flush()

    def _decide(self, item: _Due, result: FetchResult) -> SourceState:
        try:
            return decide(result, item.state, self._now)
        except Exception as exc:  # a response header no scheduler should choke on
            error = _crashed(item.source, "reading its response headers", exc)
            return decide(
                dataclasses.replace(result, headers={}, error=error), item.state, self._now
            )

    def flush(self) -> None:
        self._flushed = monotonic()
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            self._record([record for _, record in pending])
        except Exception:
            pending = [(item, self._record_alone(item, record)) for item, record in pending]
        for item, record in pending:
            _count(item, record.result, record.state, self._summary)

    def _record(self, records: list[FetchRecord]) -> None:
        added = self._store.record_fetches(records, self._now)
        self._summary.new_items += len(added.new_ids)
        self._summary.updated_items += len(added.updated_ids)

    def _record_alone(self, item: _Due, record: FetchRecord) -> FetchRecord:
        """``record`` stored by itself; if the store refuses it, its failure without entries."""
        try:
            self._record([record])
        except Exception as exc:
            error = _crashed(item.source, "storing its entries", exc)
            result = dataclasses.replace(record.result, error=error)
            record = FetchRecord(
                record.source_url, result, self._decide(item, result), record.problems
            )
            self._record([record])  # a store that refuses even this is broken: that is raised
        return record


def _count(item: _Due, result: FetchResult, state: SourceState, summary: RunSummary) -> None:
    name = item.source.name
    if result.ok:
        summary.sources_ok += 1
        summary.not_modified += result.not_modified
    else:
        summary.failures.append((name, result.error or f"HTTP {result.status}"))
        if item.state.last_success is not None and item.state.failures == 0:
            summary.newly_failing.append(name)
    if state.fetch_url != item.state.fetch_url:
        summary.moved.append((name, state.fetch_url))
    if state.retired and not item.state.retired:
        summary.retired.append(name)
