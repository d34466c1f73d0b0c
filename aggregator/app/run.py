"""The daily run: the one place that runs the stages in order.

    load config + profiles          (validate everything before writing anything)
    schedule                        (sources backing off, rate-limited or retired wait; --force)
    fetch_many | parse | store      (:mod:`aggregator.app.collect`: fetches run concurrently;
                                     each changed body is parsed in a worker process; results
                                     are stored as they come back, through a single writer;
                                     the schedule sets each source's next attempt)
    index                           (new and changed items, one commit; repaired if behind)
    rank | digest                   (per profile, over the freshness window; rank.daily)
    render                          (pages, archives, feeds, team pages, site index; atomic
                                     writes; :mod:`aggregator.app.publish`)

Only one run may write a project at a time: a second one refuses clearly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from filelock import FileLock, Timeout

from aggregator.app.collect import CALENDAR_REREAD, RunSummary, collect
from aggregator.app.demo import SampleServer, example_profiles_dir
from aggregator.app.project import Project, Reporter, SilentReporter
from aggregator.app.publish import (
    render_site,
    site_writer,
    stored_digest,
    write_person_learning,
)
from aggregator.app.starter import adopt_examples
from aggregator.config.files import load_config, load_profiles, parse_config
from aggregator.errors import NothingCollectedError, RunLockedError
from aggregator.models import (
    UPCOMING_DAYS,
    Config,
    Digest,
    Item,
    LearningRecord,
    Profile,
    Source,
    local_day,
)
from aggregator.rank.daily import choose_digests
from aggregator.render.site import SiteWriter
from aggregator.search import SearchIndex, open_index
from aggregator.store import Store, describe_location, open_store, store_exists


def run(
    project: Project,
    *,
    now: datetime,
    reporter: Reporter | None = None,
    config: Config | None = None,
    profiles: Sequence[Profile] | None = None,
    force: bool = False,
    also_listed: Sequence[Source] = (),
) -> RunSummary:
    """Fetch every due source, update store and index, and write every person's digest for today.

    ``force`` fetches every source now, ignoring backoff, ``Retry-After`` and retirement.
    ``also_listed`` are sources the project lists that this run does not fetch (the
    demo's run fetches the samples): they stay the store's listed sources, history and all.
    """
    reporter = reporter or SilentReporter()
    config = config or load_config(project.feeds_path)
    profiles = list(profiles) if profiles is not None else load_profiles(project.profiles_dir)
    summary = RunSummary()
    ahead = max((profile.upcoming_days for profile in profiles), default=UPCOMING_DAYS)
    with run_lock(project), open_store(project.store_location) as store:
        _refresh(store, config, now, reporter, summary, force, ahead, also_listed)
        with writable_index(project) as index:
            update_index(store, index, reporter)
            chosen = _build_digests(store, index, profiles, now, reporter, summary)
            with closing(chosen) as digests:
                render_site(project, config, profiles, store, digests, now, reporter, summary)
    return summary


def refresh(
    project: Project,
    *,
    now: datetime,
    config: Config | None = None,
    force: bool = False,
) -> RunSummary:
    """Only the fetch, parse and store stages of :func:`run` (benchmarks measure this part)."""
    config = config or load_config(project.feeds_path)
    summary = RunSummary()
    with run_lock(project), open_store(project.store_location) as store:
        _refresh(store, config, now, SilentReporter(), summary, force)
    return summary


def _refresh(
    store: Store,
    config: Config,
    now: datetime,
    reporter: Reporter,
    summary: RunSummary,
    force: bool,
    upcoming_days: int = UPCOMING_DAYS,
    also_listed: Sequence[Source] = (),
) -> None:
    """Fetch, parse and store; new and changed items wait in the store's index queue.

    Calendars' recurring series are expanded ``upcoming_days`` ahead (the longest
    horizon a profile looks at) and :data:`CALENDAR_REREAD` more. The store's listed
    sources are the config's and ``also_listed`` (which are not fetched).
    """
    fetched = {source.url for source in config.sources}
    store.sync_sources([*config.sources, *(s for s in also_listed if s.url not in fetched)])
    ahead = timedelta(days=upcoming_days) + CALENDAR_REREAD
    asyncio.run(collect(config, store, now, reporter, summary, force, ahead))


def run_demo(root: Path, *, now: datetime, reporter: Reporter | None = None) -> RunSummary:
    """:func:`run` on the bundled samples, served on loopback so the real fetch path runs.

    The demo is the project's first run: its store, index and pages are the
    project's, so search, serve, share, feedback, preview and sources work on
    what it collected (a later ``run`` keeps the items and fetches feeds.toml's
    sources). A folder that is no project yet gets the starter feeds.toml and
    the example profiles; a project's own profiles are used as they are.
    """
    project = Project.at(root)
    adopt_examples(project.root, example_profiles_dir())
    profiles = load_profiles(project.profiles_dir)
    listed = load_config(project.feeds_path).sources
    with SampleServer(now) as server:
        config = parse_config(server.feeds_toml(), Path("samples/feeds.toml"))
        summary = run(
            project,
            now=now,
            reporter=reporter,
            config=config,
            profiles=profiles,
            also_listed=listed,
        )
    with run_lock(project), open_store(project.store_location) as store:
        sample_learning(store, site_writer(project, config), profiles, now)
    return summary


DEMO_REFLECTION = (
    "A sample reflection from the demo: one idea to try this week. "
    "Yours are private unless you share them."
)


def sample_learning(
    store: Store, writer: SiteWriter, profiles: Sequence[Profile], now: datetime
) -> None:
    """The demo's sample record: a profile with a goal or saved searches (else the first)
    "learned" its top pick, with minutes and a shared reflection, unless it has a record
    already (a second demo never adds to a person's own log); its pages show it."""
    learners = sorted(profiles, key=lambda p: not (p.weekly_minutes or p.searches))
    for profile in learners:
        days = store.digest_days(profile.name)
        picks = store.digest(profile.name, days[-1]) if days else []
        if not picks:
            continue
        if not store.learning([profile.name], now - timedelta(days=3650)):
            record = LearningRecord(profile.name, picks[0][0], now, 15, DEMO_REFLECTION, True)
            store.record_learning(record)
            write_person_learning(writer, store, profile, now)
            writer.write_digest(stored_digest(store, profile, days[-1]), days)
        return


@contextmanager
def run_lock(project: Project) -> Iterator[None]:
    """Hold the run lock or refuse at once: a cron run must not queue behind a hung one.

    A project on SQLite locks a file beside its store; one on PostgreSQL takes the
    database's advisory lock, which every machine over that database sees (two web
    servers, a run from cron).
    """
    if project.database_url is not None:
        with _database_lock(project, project.database_url):
            yield
        return
    project.state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(project.state_dir / "run.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(
            f"another learnplace run is working on {project.root} (lock: {lock.lock_file}); "
            "try again when it has finished"
        ) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _database_lock(project: Project, url: str) -> Iterator[None]:
    from aggregator.store.postgres import shared  # psycopg only where it is used

    with shared.run_lock(url) as held:
        if not held:
            raise RunLockedError(
                f"another learnplace run is working on {project.root} (lock: the run lock of "
                f"{describe_location(url)}); try again when it has finished"
            )
        yield


@contextmanager
def writable_index(project: Project) -> Iterator[SearchIndex]:
    """The index for a writer (the run lock is held): a reindex that was killed is finished
    first, and an index of another schema replaced by an empty one the run refills."""
    with open_index(project.index_location, recreate_if_stale=True) as index:
        yield index


def update_index(store: Store, index: SearchIndex, reporter: Reporter | None = None) -> None:
    """Apply the store's index queue, then clear it: the order that makes a crash harmless.

    The store queues every item change in the transaction that makes it, so
    a kill before the index commit leaves the work queued for the next run,
    and a kill after it only repeats idempotent updates. An index that still
    disagrees with the store (deleted by hand, or from before the queue
    existed) is caught up in full.
    """
    reporter = reporter or SilentReporter()
    reporter.start("index", 1)
    queued = store.index_queue_size()
    if queued:
        last = 0

        def batches() -> Iterator[tuple[list[Item], list[int]]]:
            nonlocal last
            for items, deleted in store.index_queue():
                last = max(last, *(item.id for item in items), *deleted)
                yield items, deleted

        index.apply(batches())
        store.clear_index_queue(up_to=last)
    if index.doc_count() != store.item_count():
        index.add(store.iter_items())
        index.delete(index.ids() - store.item_ids())
    reporter.advance("index")


def _build_digests(
    store: Store,
    index: SearchIndex,
    profiles: Sequence[Profile],
    now: datetime,
    reporter: Reporter,
    summary: RunSummary,
) -> Generator[Digest]:
    """Each profile's digest as soon as it is chosen and saved, so its pages can be written
    while workers rank the next profiles."""
    reporter.start("digests", len(profiles))
    chosen = choose_digests(store, index, profiles, now)
    return _saved(store, chosen, local_day(now), reporter, summary)


def _saved(
    store: Store,
    digests: Generator[Digest],
    day: date,
    reporter: Reporter,
    summary: RunSummary,
) -> Generator[Digest]:
    with closing(digests):
        for digest in digests:
            kept = save_digest(store, digest, day, summary)
            reporter.advance("digests", digest.profile.name)
            yield kept


def save_digest(store: Store, digest: Digest, day: date, summary: RunSummary) -> Digest:
    """Save a chosen digest, unless sources failed in the run and the saved one is fuller
    (then that one is kept, and named in ``summary.kept``); the digest to publish."""
    kept = _last_good(store, digest, day) if summary.failures else None
    if kept is not None:
        summary.kept.append(digest.profile.name)
        return kept
    # Sections first: a crash between the two leaves no digest for the day, and the next
    # run saves both.
    store.save_sections(digest.profile.name, day, dict(digest.searches))
    store.save_digest(digest.profile.name, day, digest.picks, digest.upcoming)
    return digest


def _last_good(store: Store, digest: Digest, day: date) -> Digest | None:
    """The saved digest to keep instead of ``digest`` in a run where sources failed: today's
    if it had more picks, else the latest day's when today's came out empty. A failure must
    not replace a good page with an emptier one."""
    days = store.digest_days(digest.profile.name)
    if day in days:
        saved = stored_digest(store, digest.profile, day)
        return saved if len(saved.picks) > len(digest.picks) else None
    if digest.picks or not days:
        return None
    return stored_digest(store, digest.profile, days[-1])


def collected(project: Project) -> str:
    """The project's store, which only a run creates: every other command reads or changes
    what a run collected, and opening a missing store would create an empty one. Ask before
    taking the run lock, which creates the state folder."""
    if not store_exists(project.store_location):
        raise NothingCollectedError(
            f"nothing collected yet in {project.root}: run `learnplace run` "
            "(or `learnplace demo` to try it on sample feeds)"
        )
    return project.store_location
