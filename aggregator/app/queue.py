"""The daily run as jobs in the database, for any number of ``learnplace worker`` processes.

Miniflux's way of scaling out, on procrastinate's job queue (jobs in the PostgreSQL
database the store lives in: no broker to run beside it). ``learnplace run --queue``
starts a *cycle*: it records the due sources (by their ``next_attempt``) in
``queue_fetches`` and defers one job per source; the jobs' own records move the cycle on::

    fetch (one per due source) ─► index (once) ─► digest (one per person) ─► publish (once)

* At most ``per_host_concurrency`` fetches of one host run at once, across all workers:
  each fetch job takes one of that many procrastinate *locks* for its host, and jobs
  sharing a lock run one after another.
* Nothing is fetched twice in a cycle: a fetch job claims its source (one committed
  UPDATE) before the request. A job whose worker died is retried (its worker's heartbeat
  stopped: :func:`_retry_stalled`); finding its source claimed, it does not fetch again
  but marks it ``interrupted``: the source's schedule is untouched, so the next cycle
  fetches it.
* Every job is idempotent: storing a fetch is one transaction, the index job applies
  the store's index queue (level-triggered), a digest job replaces the person's digest
  for the day and its pages, the publish job rewrites the team pages and site index.
  The job that finds its stage's work complete moves the cycle to the next stage and
  defers its jobs; a retried job does so again (each deferral holds a queueing lock, and
  a duplicate that gets through only repeats idempotent work).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from psycopg_pool import AsyncConnectionPool

from aggregator.app.collect import CALENDAR_REREAD, RunSummary, collect_one, due_sources
from aggregator.app.project import Project
from aggregator.app.publish import send_one, site_writer, write_person, write_team_pages
from aggregator.app.run import save_digest, update_index
from aggregator.config.files import load_config, load_profiles
from aggregator.errors import LearnplaceError
from aggregator.models import UPCOMING_DAYS, Config, Profile, local_day
from aggregator.rank.daily import digest_for
from aggregator.search import open_index
from aggregator.store import Store, open_store
from aggregator.workers import ParsePool, worker_memory

QUEUE = "learnplace"
STALL_S = 30.0
"""A worker whose heartbeat is this old is taken for dead, and its jobs are retried."""
HEARTBEAT_S = 5.0
POLL_S = 0.2
"""How often an idle worker looks for jobs. LISTEN/NOTIFY wakes it for a new job, but not
for a job its host lock held back: without a short poll that job waits procrastinate's
default 5 s after the lock is released (200 sources on one host took 133 s)."""

app = App(connector=PsycopgConnector(), import_paths=["aggregator.app.queue"])
"""The jobs; opened over a pool of connections to the project's database (:func:`_opened`)."""


@contextlib.contextmanager
def _opened(url: str) -> Iterator[App]:
    """The jobs' app over its own pool to ``url``, able to defer jobs and manage its schema
    from synchronous code. A new connector each time: procrastinate's sync connector keeps
    the first pool it was given, so reopening the module's own would reuse a closed one."""
    connector = PsycopgConnector(conninfo=url, kwargs={"autocommit": True}, min_size=1, max_size=2)
    with app.replace_connector(connector) as queued:
        queued.open()
        try:
            yield queued
        finally:
            queued.close()


@dataclass(frozen=True, slots=True)
class Cycle:
    id: int
    fetches: int
    skipped: int


_ROOT_ENV = "LEARNPLACE_PROJECT"


def _project() -> Project:
    """The worker's project: its folder (feeds.toml, profiles, templates, output)."""
    project = Project.at(Path(os.environ.get(_ROOT_ENV) or "."))
    _require_url(project)
    return project


def _host_lock(url: str, slot: int) -> str:
    parts = urlsplit(url)
    return f"host:{parts.hostname}:{parts.port or ''}:{slot}"


_SCHEMA_LOCK = 0x4C50_5150  # "LPQP": the advisory lock procrastinate's schema is made under


def _ensure_schema(url: str, queued: App) -> None:
    """procrastinate's tables, made once in the project's database: workers starting
    together take turns under an advisory lock, and all but the first find them made."""
    with open_store(url) as store:  # our own migrations (queue_cycles, ...) first
        db = _db(store)
        db.execute("SELECT pg_advisory_lock(?)", (_SCHEMA_LOCK,))
        try:
            found = db.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
            if not found[0]:
                queued.schema_manager.apply_schema()
        finally:
            db.execute("SELECT pg_advisory_unlock(?)", (_SCHEMA_LOCK,))


def start_cycle(
    project: Project,
    now: datetime,
    *,
    force: bool = False,
    digests: bool = True,
    mail: bool = False,
) -> Cycle:
    """Record a cycle and defer a fetch job per due source; the workers do the rest (with
    ``digests``, the people's digests and pages after the fetches, each e-mailed too with
    ``mail``; else only the index)."""
    url = _require_url(project)
    load_profiles(project.profiles_dir)  # a broken profile is refused before any work
    with _opened(url) as queued:
        _ensure_schema(url, queued)
        cycle_id, jobs = _record_cycle(project, now, force=force, digests=digests, mail=mail)
        skipped = 0
        for job in jobs:
            try:
                queued.configure_task(
                    fetch.name, lock=job.lock, queueing_lock=job.queueing_lock
                ).defer(cycle=cycle_id, source=job.source)
            except AlreadyEnqueued:  # still waiting from an earlier cycle: that job serves
                skipped += 1
                _set_fetch(url, cycle_id, job.source, "skipped")
        if skipped == len(jobs):
            _advance_sync(queued, url, cycle_id)
        return Cycle(cycle_id, len(jobs) - skipped, skipped)


@dataclass(frozen=True, slots=True)
class _FetchJob:
    """A due source's fetch job: its host lock (one of ``per_host_concurrency`` per host)
    and its queueing lock (one waiting fetch per source)."""

    source: str
    lock: str
    queueing_lock: str


def _record_cycle(
    project: Project, now: datetime, *, force: bool, digests: bool, mail: bool = False
) -> tuple[int, list[_FetchJob]]:
    """A new cycle of the sources due at ``now`` (by each one's ``next_attempt``), and
    their fetch jobs."""
    config = load_config(project.feeds_path)
    if mail and config.smtp is None:
        raise LearnplaceError(f"{project.feeds_path}: add an [smtp] table to send e-mail")
    with open_store(project.store_location) as store:
        store.sync_sources(config.sources)
        due = due_sources(config, store, now, force)
        cycle_id = _new_cycle(store, now, [source.url for source in due], digests, mail)
    per_host: dict[str, int] = {}
    jobs: list[_FetchJob] = []
    for source in due:
        host = _host_lock(source.url, 0)
        slot = per_host.get(host, 0) % max(1, config.settings.per_host_concurrency)
        per_host[host] = per_host.get(host, 0) + 1
        jobs.append(_FetchJob(source.url, _host_lock(source.url, slot), f"fetch:{source.url}"))
    return cycle_id, jobs


SCHEDULE_QUEUE = "learnplace-schedule"
"""Where the periodic check waits: only ``learnplace worker --schedule`` runs it."""
SCHEDULE_CRON = "*/10 * * * *"
OPEN_CYCLE = timedelta(hours=1)
"""A cycle started this recently and not done holds the schedule back (one older is taken
for abandoned: its jobs' workers are long gone)."""


@app.periodic(cron=SCHEDULE_CRON, queueing_lock="schedule")
@app.task(name="learnplace.schedule", queue=SCHEDULE_QUEUE, pass_context=False, lock="schedule")
async def schedule(timestamp: int) -> None:
    """Every ten minutes, Miniflux's way: the sources due by now (their ``next_attempt``,
    from backoff, ``Retry-After`` and cache lifetimes) are fetched and indexed in a cycle
    of their own, so that the daily digests start from a store already up to date. One
    check runs at a time (its lock), so two cannot both find no cycle running."""
    del timestamp  # a check that waited for a --schedule worker looks at now, not then
    project = _project()
    jobs = await asyncio.to_thread(_scheduled, project, datetime.now(UTC))
    if jobs is None:
        return
    cycle_id, fetches = jobs
    url = project.store_location
    for job in fetches:
        try:
            await app.configure_task(
                fetch.name, lock=job.lock, queueing_lock=job.queueing_lock
            ).defer_async(cycle=cycle_id, source=job.source)
        except AlreadyEnqueued:
            await asyncio.to_thread(_set_fetch, url, cycle_id, job.source, "skipped")
    await _advance(url, cycle_id)


def _scheduled(project: Project, now: datetime) -> tuple[int, list[_FetchJob]] | None:
    """A fetch-only cycle of what is due, or None when nothing is or a cycle is running."""
    with open_store(project.store_location) as store:
        running = (
            _db(store)
            .execute(
                "SELECT 1 FROM queue_cycles WHERE stage != 'done' AND started_at >= ? LIMIT 1",
                ((now - OPEN_CYCLE).isoformat(timespec="microseconds"),),
            )
            .fetchone()
        )
        if running is not None:
            return None
        config = _config(project)
        store.sync_sources(config.sources)
        if not due_sources(config, store, now):
            return None
    return _record_cycle(project, now, force=False, digests=False)


def _require_url(project: Project) -> str:
    if not project.database_url:
        raise LearnplaceError(
            f"{project.root}: `--queue` needs a PostgreSQL store: set [store] url in "
            "feeds.toml or LEARNPLACE_DATABASE_URL"
        )
    return project.database_url


def _db(store: Store) -> Any:
    """The store's connection, for the queue's own tables (kept beside the store's)."""
    return store._db  # type: ignore[attr-defined]


def _new_cycle(store: Store, now: datetime, urls: list[str], digests: bool, mail: bool) -> int:
    db = _db(store)
    started = datetime.now(UTC).isoformat(timespec="microseconds")
    row = db.execute(
        "INSERT INTO queue_cycles (started_at, now, stage, digests, mail)"
        " VALUES (?, ?, 'fetch', ?, ?) RETURNING id",
        (started, now.astimezone(UTC).isoformat(timespec="microseconds"), int(digests), int(mail)),
    ).fetchone()
    cycle_id = int(row[0])
    db.executemany(
        "INSERT INTO queue_fetches (cycle_id, source_url) VALUES (?, ?)",
        [(cycle_id, source_url) for source_url in urls],
    )
    return cycle_id


def _set_fetch(url: str, cycle_id: int, source_url: str, state: str) -> None:
    with open_store(url) as store:
        _db(store).execute(
            "UPDATE queue_fetches SET state = ? WHERE cycle_id = ? AND source_url = ?",
            (state, cycle_id, source_url),
        )


def cycle_state(url: str, cycle_id: int) -> dict[str, object]:
    """A cycle's stage and how many of its fetches and digests are in each state."""
    with open_store(url, read_only=True) as store:
        db = _db(store)
        row = db.execute("SELECT stage FROM queue_cycles WHERE id = ?", (cycle_id,)).fetchone()
        fetches = dict(
            db.execute(
                "SELECT state, COUNT(*) FROM queue_fetches WHERE cycle_id = ? GROUP BY state",
                (cycle_id,),
            ).fetchall()
        )
        digests = dict(
            db.execute(
                "SELECT state, COUNT(*) FROM queue_digests WHERE cycle_id = ? GROUP BY state",
                (cycle_id,),
            ).fetchall()
        )
    return {"stage": None if row is None else row[0], "fetches": fetches, "digests": digests}


# The jobs. Each opens what it needs: a worker runs several at once, in threads.


@dataclass
class _Cycle:
    now: datetime
    stage: str
    mail: bool


def _cycle(store: Store, cycle_id: int) -> _Cycle:
    row = (
        _db(store)
        .execute("SELECT now, stage, mail FROM queue_cycles WHERE id = ?", (cycle_id,))
        .fetchone()
    )
    return _Cycle(datetime.fromisoformat(row[0]), str(row[1]), bool(row[2]))


_read: dict[str, tuple[object, object]] = {}
"""The project's files as a worker last read them, by what they are, with their stamp."""


def _stamp(*paths: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def _config(project: Project) -> Config:
    """feeds.toml, read again only when it changed: a worker runs a job per source, and
    reading a 1,000-source file for each took longer than fetching one."""
    stamp = _stamp(project.feeds_path)
    kept = _read.get("config")
    if kept is None or kept[0] != stamp:
        kept = _read["config"] = (stamp, load_config(project.feeds_path))
    assert isinstance(kept[1], Config)
    return kept[1]


def _profiles(project: Project) -> list[Profile]:
    """The profiles, read again only when one of their files changed (or came or went)."""
    stamp = _stamp(*sorted(project.profiles_dir.glob("*.toml")))
    kept = _read.get("profiles")
    if kept is None or kept[0] != stamp:
        kept = _read["profiles"] = (stamp, load_profiles(project.profiles_dir))
    assert isinstance(kept[1], list)
    return kept[1]


_pool: ParsePool | None = None
_pool_lock = threading.Lock()


def _parse_pool(project: Project) -> ParsePool:
    """The worker's parse processes, shared by the fetch jobs it runs at once."""
    global _pool
    with _pool_lock:
        if _pool is None:
            settings = _config(project).settings
            _pool = ParsePool(memory_limit=worker_memory(settings.max_body_bytes)).__enter__()
        return _pool


@app.task(name="learnplace.fetch", queue=QUEUE, pass_context=False)
async def fetch(cycle: int, source: str) -> None:
    """Claim, fetch, parse and store one source of a cycle; then move the cycle on."""
    project = _project()
    await asyncio.to_thread(_fetch, project, cycle, source)
    await _advance(project.store_location, cycle)


def _fetch(project: Project, cycle: int, source: str) -> None:
    """The fetch job's work, in a thread with its own event loop: the store's calls block,
    and on the worker's loop they held back every other job it was running."""
    url = project.store_location
    if _claim(url, cycle, source) is None:
        return
    config = _config(project)
    listed = {item.url: item for item in config.sources}
    with open_store(url) as store:
        now = _cycle(store, cycle).now
        ahead = timedelta(days=UPCOMING_DAYS) + CALENDAR_REREAD
        if source in listed:
            pool = _parse_pool(project)
            asyncio.run(collect_one(config, store, listed[source], now, ahead, pool))
        _db(store).execute(
            "UPDATE queue_fetches SET state = 'done' WHERE cycle_id = ? AND source_url = ?",
            (cycle, source),
        )


def _claim(url: str, cycle: int, source: str) -> bool | None:
    """True once the source is ours to fetch; None when a worker claimed it before (it
    died, and this is the retry): the source is marked interrupted and not fetched again."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with open_store(url) as store:
        db = _db(store)
        won = db.execute(
            "UPDATE queue_fetches SET state = 'claimed', claimed_at = ?, worker = ?"
            " WHERE cycle_id = ? AND source_url = ? AND state = 'queued' RETURNING 1",
            (datetime.now(UTC).isoformat(), worker, cycle, source),
        ).fetchone()
        if won is None:
            db.execute(
                "UPDATE queue_fetches SET state = 'interrupted'"
                " WHERE cycle_id = ? AND source_url = ? AND state = 'claimed'",
                (cycle, source),
            )
            return None
    return True


def _next_stage(url: str, cycle: int) -> str:
    """Move the cycle past a stage whose work is complete; the stage it is at then."""
    with open_store(url) as store:
        db = _db(store)
        db.execute(
            "UPDATE queue_cycles SET stage = 'index' WHERE id = ? AND stage = 'fetch'"
            " AND NOT EXISTS (SELECT 1 FROM queue_fetches WHERE cycle_id = ?"
            " AND state IN ('queued', 'claimed'))",
            (cycle, cycle),
        )
        db.execute(
            "UPDATE queue_cycles SET stage = 'publish' WHERE id = ? AND stage = 'digest'"
            " AND NOT EXISTS (SELECT 1 FROM queue_digests WHERE cycle_id = ?"
            " AND state NOT IN ('done', 'failed'))",
            (cycle, cycle),
        )
        return _cycle(store, cycle).stage


async def _advance(url: str, cycle: int) -> None:
    """Defer the jobs of the stage the cycle is at (a queueing lock keeps one of each)."""
    stage = await asyncio.to_thread(_next_stage, url, cycle)
    jobs = {"index": index, "publish": publish}
    job = jobs.get(stage)
    if job is None:
        return
    with contextlib.suppress(AlreadyEnqueued):
        await job.configure(queueing_lock=f"{stage}:{cycle}", lock=stage).defer_async(cycle=cycle)


def _advance_sync(queued: App, url: str, cycle: int) -> None:
    """:func:`_advance` for a cycle with nothing to fetch, from the enqueuing command."""
    if _next_stage(url, cycle) == "index":
        with contextlib.suppress(AlreadyEnqueued):
            queued.configure_task(index.name, queueing_lock=f"index:{cycle}", lock="index").defer(
                cycle=cycle
            )


@app.task(name="learnplace.index", queue=QUEUE, pass_context=False)
async def index(cycle: int) -> None:
    """Bring the search index up to the store, then defer a digest job per person."""
    project = _project()
    people = await asyncio.to_thread(_index, project, cycle)
    for person in people:
        with contextlib.suppress(AlreadyEnqueued):
            # The person's lock: a second digest job for them (a duplicate index job's,
            # deferred once the first had started) runs after the first, and finds the
            # e-mail sent instead of sending it again.
            await digest.configure(
                queueing_lock=f"digest:{cycle}:{person}", lock=f"person:{person}"
            ).defer_async(cycle=cycle, person=person)
    if not people:
        await _advance(project.store_location, cycle)


def _index(project: Project, cycle: int) -> list[str]:
    url = project.store_location
    names = [profile.name for profile in _profiles(project)]
    with open_store(url) as store:
        with open_index(project.index_location, recreate_if_stale=True) as found:
            update_index(store, found)
        db = _db(store)
        if _cycle(store, cycle).stage not in ("index", "digest"):
            return []  # a second index job, deferred by a late fetch after the cycle moved on
        fetch_only = db.execute(
            "UPDATE queue_cycles SET stage = 'done', finished_at = ?"
            " WHERE id = ? AND stage = 'index' AND digests = 0 RETURNING 1",
            (datetime.now(UTC).isoformat(), cycle),
        ).fetchone()
        if fetch_only is not None:
            return []
        db.executemany(
            "INSERT INTO queue_digests (cycle_id, person) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(cycle, name) for name in names],
        )
        db.execute(
            "UPDATE queue_cycles SET stage = 'digest', people = ? WHERE id = ? AND stage = 'index'",
            (len(names), cycle),
        )
        rows = db.execute(
            "SELECT person FROM queue_digests WHERE cycle_id = ? AND state = 'queued'", (cycle,)
        ).fetchall()
    return [str(row[0]) for row in rows]


@app.task(name="learnplace.digest", queue=QUEUE, pass_context=False)
async def digest(cycle: int, person: str) -> None:
    """Rank one person's digest, save it and write their pages."""
    project = _project()
    try:
        await asyncio.to_thread(_digest, project, cycle, person)
    except Exception:
        # One person's failure is theirs (as one source's is): the job fails for the log,
        # and the cycle goes on to the pages of everyone else.
        await asyncio.to_thread(_set_digest, project.store_location, cycle, person, "failed")
        raise
    finally:
        await _advance(project.store_location, cycle)


def _digest(project: Project, cycle: int, person: str) -> None:
    config = _config(project)
    by_name = {profile.name: profile for profile in _profiles(project)}
    with open_store(project.store_location) as store:
        now = _cycle(store, cycle).now
        profile = by_name.get(person)
        if profile is not None:
            with open_index(project.index_location) as found:
                chosen = digest_for(store, found, profile, now)
            summary = RunSummary()
            saved = save_digest(store, chosen, local_day(now), summary)
            writer = site_writer(project, config)
            writer.write_assets()
            write_person(writer, config, store, saved, now, summary)
            if _cycle(store, cycle).mail and config.smtp is not None and profile.email:
                # Once a day, as `learnplace send`: a retried job finds it sent.
                send_one(store, writer, config, profile, local_day(now), now)
    _set_digest(project.store_location, cycle, person, "done")


def _set_digest(url: str, cycle: int, person: str, state: str) -> None:
    with open_store(url) as store:
        _db(store).execute(
            "UPDATE queue_digests SET state = ? WHERE cycle_id = ? AND person = ?",
            (state, cycle, person),
        )


@app.task(name="learnplace.publish", queue=QUEUE, pass_context=False)
async def publish(cycle: int) -> None:
    """The team pages and the site index over every digest of the cycle; the cycle ends."""
    await asyncio.to_thread(_publish, _project(), cycle)


def _publish(project: Project, cycle: int) -> None:
    config = _config(project)
    profiles = _profiles(project)
    with open_store(project.store_location) as store:
        now = _cycle(store, cycle).now
        writer = site_writer(project, config)
        write_team_pages(writer, config, profiles, store, now)
        day = local_day(now)
        counts = [(profile, len(store.digest(profile.name, day))) for profile in profiles]
        writer.write_site_index(counts, now, teams=list(config.teams))
        _db(store).execute(
            "UPDATE queue_cycles SET stage = 'done', finished_at = ? WHERE id = ?",
            (datetime.now(UTC).isoformat(), cycle),
        )


async def _retry_stalled(queued: App, stall_s: float) -> None:
    """Retry the jobs of workers whose heartbeat stopped (killed, or their machine lost)."""
    while True:
        await asyncio.sleep(max(1.0, stall_s / 3))
        for job in await queued.job_manager.get_stalled_jobs(seconds_since_heartbeat=stall_s):
            with contextlib.suppress(Exception):  # another worker may have retried it first
                await queued.job_manager.retry_job(job)


def run_worker(
    project: Project, *, concurrency: int, stall_s: float = STALL_S, schedule: bool = False
) -> None:
    """Run jobs until stopped (SIGINT or SIGTERM finish the jobs in hand first)."""
    url = _require_url(project)
    os.environ[_ROOT_ENV] = str(project.root)
    with _opened(url) as queued:
        _ensure_schema(url, queued)

    async def work() -> None:
        pool = AsyncConnectionPool(url, open=False)
        await pool.open(wait=True, timeout=10)
        async with app.open_async(pool):
            retrying = asyncio.create_task(_retry_stalled(app, stall_s))
            try:
                await app.run_worker_async(
                    queues=[QUEUE, SCHEDULE_QUEUE] if schedule else [QUEUE],
                    concurrency=concurrency,
                    name=f"{socket.gethostname()}:{os.getpid()}",
                    update_heartbeat_interval=min(HEARTBEAT_S, stall_s / 3),
                    stalled_worker_timeout=stall_s,
                    delete_jobs="successful",
                    fetch_job_polling_interval=POLL_S,
                )
            finally:
                retrying.cancel()
        await pool.close()

    asyncio.run(work())
