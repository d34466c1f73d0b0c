"""The one place that runs the stages in order; ``cli`` and ``web`` only call this.

    load config + profiles          (validate everything before writing anything)
    schedule                        (sources backing off, rate-limited or retired wait; --force)
    fetch_many | parse | store      (aggregator.collect: fetches run concurrently; each changed
                                     body is parsed in a worker process; results are stored as
                                     they come back, through a single SQLite writer;
                                     schedule.decide sets each source's next attempt)
    index                           (new and changed items, one commit; repaired if behind)
    rank | digest                   (per profile, over the freshness window)
    render                          (pages, archives, feeds, team pages, site index; atomic writes)

``send`` e-mails today's digests (rendered by ``render``, sent by ``mail``);
``share`` records a find passed on to a person's teams.

Only one run may write a project at a time: a second one refuses clearly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol

import tomlkit
from filelock import FileLock, Timeout

from aggregator import profile_edit
from aggregator import sources as edit_sources
from aggregator.bounds import clean_text
from aggregator.collect import CALENDAR_REREAD, RunSummary, collect
from aggregator.config import load_config, load_profile, load_profiles, parse_config
from aggregator.config import profile_path as config_profile_path
from aggregator.demo import SampleServer, example_profiles_dir
from aggregator.discover import announced_feeds, looks_like_html
from aggregator.errors import (
    FeedParseError,
    LearnplaceError,
    NothingCollectedError,
    RunLockedError,
    SourceCheckError,
    SourceCrashWarning,
    SourceListError,
    UnknownItemError,
    UnknownPersonError,
)
from aggregator.fetch import fetch_one
from aggregator.index import SearchFilters, SearchIndex, finish_swap
from aggregator.mail import MailError, build_message, send_message
from aggregator.models import (
    UPCOMING_DAYS,
    CacheInfo,
    Config,
    Digest,
    Item,
    ParsedFeed,
    Pick,
    Profile,
    Settings,
    Share,
    SharedItem,
    Source,
    SourceStatus,
)
from aggregator.rank import (
    EXCLUDE_KEY,
    choose_digest,
    personalize,
    plan,
    profile_queries,
    rank_items,
)
from aggregator.rank.digest import upcoming_picks
from aggregator.render import SiteWriter, make_environment
from aggregator.sharing import TEAM_PAGE_DAYS, colleagues_window, group_shares
from aggregator.starter import adopt_examples
from aggregator.store import Store

FEED_DAYS = 14
"""How many days of digests a person's Atom feed carries."""


@dataclass(frozen=True, slots=True)
class Project:
    """Where a project's files live; by default all next to ``feeds.toml``."""

    root: Path
    state_dir: Path
    output_dir: Path
    profiles_dir: Path
    templates_dir: Path

    @classmethod
    def at(cls, root: Path, *, state_dir: Path | None = None) -> Project:
        root = root.resolve()
        return cls(
            root=root,
            state_dir=state_dir or root / "state",
            output_dir=root / "output",
            profiles_dir=root / "profiles",
            templates_dir=root / "templates",
        )

    @property
    def feeds_path(self) -> Path:
        return self.root / "feeds.toml"

    @property
    def store_path(self) -> Path:
        return self.state_dir / "learnplace.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.state_dir / "index"


class Reporter(Protocol):
    """Receives progress; the CLI draws it, tests and cron ignore it."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, detail: str = "") -> None: ...


class SilentReporter:
    """A reporter for callers that want no progress output."""

    def start(self, stage: str, total: int) -> None:
        """Ignore the stage."""

    def advance(self, stage: str, detail: str = "") -> None:
        """Ignore the step."""


def run(
    project: Project,
    *,
    now: datetime,
    reporter: Reporter | None = None,
    config: Config | None = None,
    profiles: Sequence[Profile] | None = None,
    force: bool = False,
) -> RunSummary:
    """Fetch every due source, update store and index, and write every person's digest for today.

    ``force`` fetches every source now, ignoring backoff, ``Retry-After`` and retirement.
    """
    reporter = reporter or SilentReporter()
    config = config or load_config(project.feeds_path)
    profiles = list(profiles) if profiles is not None else load_profiles(project.profiles_dir)
    summary = RunSummary()
    ahead = max((profile.upcoming_days for profile in profiles), default=UPCOMING_DAYS)
    with _run_lock(project), Store(project.store_path) as store:
        _refresh(store, config, now, reporter, summary, force, ahead)
        with _open_index(project) as index:
            _update_index(store, index, reporter)
            chosen = _build_digests(store, index, profiles, now, reporter, summary)
            with closing(chosen) as digests:
                _render(project, config, profiles, store, digests, now, reporter, summary)
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
    with _run_lock(project), Store(project.store_path) as store:
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
) -> None:
    """Fetch, parse and store; new and changed items wait in the store's index queue.

    Calendars' recurring series are expanded ``upcoming_days`` ahead (the longest
    horizon a profile looks at) and :data:`CALENDAR_REREAD` more.
    """
    store.sync_sources(config.sources)
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
    with SampleServer(now) as server:
        config = parse_config(server.feeds_toml(), Path("samples/feeds.toml"))
        return run(project, now=now, reporter=reporter, config=config, profiles=profiles)


@contextmanager
def _run_lock(project: Project) -> Iterator[None]:
    """Hold the run lock or refuse at once: a cron run must not queue behind a hung one."""
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
def _open_index(project: Project) -> Iterator[SearchIndex]:
    """The index for a writer (the run lock is held): first finish a reindex that was killed."""
    finish_swap(project.index_dir)
    with SearchIndex.open(project.index_dir, recreate_if_stale=True) as index:
        yield index


def _update_index(store: Store, index: SearchIndex, reporter: Reporter) -> None:
    """Apply the store's index queue, then clear it: the order that makes a crash harmless.

    The store queues every item change in the transaction that makes it, so
    a kill before the index commit leaves the work queued for the next run,
    and a kill after it only repeats idempotent updates. An index that still
    disagrees with the store (deleted by hand, or from before the queue
    existed) is caught up in full.
    """
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
) -> Iterator[Digest]:
    """Each profile's digest as soon as it is chosen and saved, so its pages can be written
    while workers rank the next profiles."""
    reporter.start("digests", len(profiles))
    chosen = _choose_digests(store, index, profiles, now)
    return _saved(store, chosen, local_day(now), reporter, summary)


def _saved(
    store: Store, digests: Iterator[Digest], day: date, reporter: Reporter, summary: RunSummary
) -> Iterator[Digest]:
    with closing(digests):
        for digest in digests:
            kept = _last_good(store, digest, day) if summary.failures else None
            if kept is None:
                store.save_digest(digest.profile.name, day, digest.picks, digest.upcoming)
            else:
                summary.kept.append(digest.profile.name)
            reporter.advance("digests", digest.profile.name)
            yield kept or digest


def _last_good(store: Store, digest: Digest, day: date) -> Digest | None:
    """The saved digest to keep instead of ``digest`` in a run where sources failed: today's
    if it had more picks, else the latest day's when today's came out empty. A failure must
    not replace a good page with an emptier one."""
    days = store.digest_days(digest.profile.name)
    if day in days:
        saved = _stored_digest(store, digest.profile, day)
        return saved if len(saved.picks) > len(digest.picks) else None
    if digest.picks or not days:
        return None
    return _stored_digest(store, digest.profile, days[-1])


PARALLEL_MIN_PROFILES = 8
"""Fewer profiles are ranked in this process: starting workers would cost more than it saves."""

PROFILES_PER_TASK = 4
"""Profiles a worker ranks per task: small tasks keep both workers busy to the end."""

RANKING_WORKERS_MAX = 4


def _choose_digests(
    store: Store, index: SearchIndex, profiles: Sequence[Profile], now: datetime
) -> Iterator[Digest]:
    """Every profile's digest, in order; many profiles are ranked in worker processes.

    Ranking is pure Python over Whoosh, a tenth of a second or more per
    profile on a large store, and profiles are independent: workers, each
    with its own store connection, searcher and caches, use every core.
    """
    workers = max(1, min(os.cpu_count() or 1, RANKING_WORKERS_MAX))
    if workers == 1 or len(profiles) < PARALLEL_MIN_PROFILES:
        items_of = shared_items(store)
        for profile in profiles:
            yield preview(store, index, profile, now, items_of=items_of)
        return
    tasks = [
        profiles[n : n + PROFILES_PER_TASK] for n in range(0, len(profiles), PROFILES_PER_TASK)
    ]
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_open_for_ranking,
        initargs=(store.path, index.path),
    )
    try:
        for chosen in pool.map(_rank_in_worker, tasks, [now] * len(tasks)):
            yield from chosen
    finally:
        # A caller that stops early (a failed page) must not wait for the remaining profiles.
        pool.shutdown(cancel_futures=True)


_worker_state: tuple[Store, SearchIndex, Callable[[Iterable[int]], Mapping[int, Item]]] | None = (
    None
)


def _open_for_ranking(store_path: Path, index_dir: Path) -> None:
    """A ranking worker's store and index, open for all its tasks (their caches are the point)."""
    global _worker_state
    store = Store(store_path, read_only=True)
    _worker_state = (store, SearchIndex.open(index_dir), shared_items(store))


def _rank_in_worker(profiles: Sequence[Profile], now: datetime) -> list[Digest]:
    assert _worker_state is not None, "the pool's initializer opens the store and index"
    store, index, items_of = _worker_state
    return [preview(store, index, profile, now, items_of=items_of) for profile in profiles]


SHARED_ITEMS_MAX = 20_000
"""Items :func:`shared_items` keeps before it starts over, so memory stays bounded however
many items the store holds (a few KB each; one profile matches thousands)."""


def shared_items(store: Store) -> Callable[[Iterable[int]], Mapping[int, Item]]:
    """``store.items`` remembering what it read: profiles of one run mostly match the same items."""
    known: dict[int, Item] = {}

    def items_of(ids: Iterable[int]) -> Mapping[int, Item]:
        wanted = set(ids)
        missing = wanted - known.keys()
        if len(known) + len(missing) > SHARED_ITEMS_MAX:
            known.clear()
            missing = wanted
        known.update(store.items(missing))
        return {item_id: known[item_id] for item_id in wanted if item_id in known}

    return items_of


def preview(
    store: Store,
    index: SearchIndex,
    profile: Profile,
    now: datetime,
    *,
    items_of: Callable[[Iterable[int]], Mapping[int, Item]] | None = None,
) -> Digest:
    """The digest ``profile`` gets today, without recording it.

    ``items_of`` (from :func:`shared_items`) lets the profiles of one run share item reads.
    """
    day = local_day(now)
    items_of = items_of or store.items
    digest = choose_digest(
        index,
        items_of,
        profile,
        now,
        day,
        already_sent=store.delivered_before(profile.name, day),
        judgements=store.feedback(profile.name),
    )
    return dataclasses.replace(digest, upcoming=upcoming(store, index, items_of, profile, now))


def upcoming(
    store: Store,
    index: SearchIndex,
    items_of: Callable[[Iterable[int]], Mapping[int, Item]],
    profile: Profile,
    now: datetime,
) -> tuple[Pick, ...]:
    """The profile's Upcoming section: stored events that start within its horizon, whenever
    they were announced, that match its interests (and none of its exclusions)."""
    if profile.wanted_types and "event" not in profile.wanted_types:
        return ()
    until = now + timedelta(days=profile.upcoming_days)
    items = items_of(store.upcoming_event_ids(now, until))
    if not items:
        return ()
    return upcoming_picks(rank_items(index, profile, items), now)


def _render(
    project: Project,
    config: Config,
    profiles: Sequence[Profile],
    store: Store,
    digests: Iterable[Digest],
    now: datetime,
    reporter: Reporter,
    summary: RunSummary,
) -> None:
    """Write each digest's pages as it arrives, then the team pages and the site index.

    A digest is saved before its pages are written, so a run stopped part
    way leaves pages only for saved digests; the next run writes the rest.
    """
    reporter.start("render", len(profiles) + len(config.teams) + 1)
    writer = _site_writer(project, config)
    writer.remove_leftovers()
    writer.write_assets()
    written = []
    note = failed_note(summary)
    for digest in digests:
        written.append(digest)
        profile = digest.profile
        days = store.digest_days(profile.name)
        colleagues = _colleagues(store, config, profile, digest.day, days)
        paths = writer.write_digest(digest, days, colleagues, note)
        if len(days) > 1 and days[-2] < digest.day:
            # The previous day's page gains its "next day" link.
            previous = _stored_digest(store, profile, days[-2])
            writer.write_digest(
                previous, days, _colleagues(store, config, profile, previous.day, days)
            )
        history = [_stored_digest(store, profile, day) for day in days[-FEED_DAYS:]]
        writer.write_feed(profile, history[::-1], now)
        writer.write_archive(profile, [(day, len(store.digest(profile.name, day))) for day in days])
        summary.digests.append((profile.name, len(digest.picks), paths[-1]))
        reporter.advance("render", profile.name)
    for page in _write_team_pages(writer, config, profiles, store, now):
        reporter.advance("render", page.stem)
    entries = [(d.profile, len(d.picks)) for d in written]
    summary.site_index = writer.write_site_index(entries, now, list(config.teams), note)
    reporter.advance("render")


def failed_note(summary: RunSummary) -> str:
    """What pages say when sources failed in a run ("" when none did)."""
    if not summary.failures:
        return ""
    total = summary.sources_ok + len(summary.failures)
    return f"{len(summary.failures)} of {total} sources failed in the last run"


def _write_team_pages(
    writer: SiteWriter,
    config: Config,
    profiles: Sequence[Profile],
    store: Store,
    now: datetime,
) -> list[Path]:
    """Write every team's page of this week's shares."""
    by_name = {profile.name: profile for profile in profiles}
    written = []
    for team, members in config.teams.items():
        shares = store.shares(members, now - timedelta(days=TEAM_PAGE_DAYS))
        shared = group_shares(shares, store.items({share.item_id for share in shares}))
        known = [by_name[name] for name in members if name in by_name]
        written.append(writer.write_team_page(team, known, shared, now))
    return written


def _site_writer(project: Project, config: Config) -> SiteWriter:
    env = make_environment([project.templates_dir])
    return SiteWriter(project.output_dir, env, site_title=config.settings.title)


def _colleagues(
    store: Store, config: Config, profile: Profile, day: date, days: Sequence[date]
) -> list[SharedItem]:
    """Teammates' shares made since the person's previous digest, each item once."""
    start, end = colleagues_window(day, days)
    shares = store.shares(config.teammates(profile.name), _day_start(start), _day_start(end))
    return group_shares(shares, store.items({share.item_id for share in shares}))


def _day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the machine's time zone (see :func:`local_day`)."""
    return datetime.combine(day, time()).astimezone()


def _stored_digest(store: Store, profile: Profile, day: date) -> Digest:
    return Digest(
        profile=profile,
        day=day,
        picks=_stored_picks(store, profile, day, upcoming=False),
        upcoming=_stored_picks(store, profile, day, upcoming=True),
    )


def _stored_picks(store: Store, profile: Profile, day: date, *, upcoming: bool) -> tuple[Pick, ...]:
    rows = store.digest(profile.name, day, upcoming=upcoming)
    items = store.items(item_id for item_id, _, _ in rows)
    return tuple(
        Pick(item=items[item_id], score=score, reasons=reasons)
        for item_id, score, reasons in rows
        if item_id in items
    )


def local_day(now: datetime) -> date:
    """The calendar day a person reading the digest is in (the machine's time zone)."""
    return now.astimezone().date()


def source_statuses(project: Project) -> list[SourceStatus]:
    """Every listed source with its health; sources never fetched show no status yet."""
    config = load_config(project.feeds_path)
    known: dict[str, SourceStatus] = {}
    if project.store_path.exists():
        with Store(project.store_path, read_only=True) as store:
            known = {status.url: status for status in store.source_statuses()}
    new = [
        SourceStatus(s.url, s.name, None, None, None, 0, 0, fetch_url=s.url) for s in config.sources
    ]
    listed = [known.pop(status.url, status) for status in new]
    # Sources the last run fetched that feeds.toml does not list: the demo's samples.
    return listed + [dataclasses.replace(status, listed=False) for status in known.values()]


@dataclass(frozen=True, slots=True)
class AddedSource:
    """A source ``sources add`` wrote to feeds.toml, and why that feed was chosen."""

    source: Source
    reason: str


def add_source(
    project: Project, url: str, *, name: str | None = None, kind: str = "blog"
) -> AddedSource:
    """Check that ``url`` is a feed, or a page announcing one, and append it to feeds.toml.

    A page's main feed is the first it announces; when that one fails, nothing is
    added in its place (the next is often the comments feed): the error lists what
    the page announces, so the person can add the one they want by its URL.
    """
    settings = _settings(project)
    found, feed, reason = asyncio.run(_find_feed(url, settings, kind))
    source = Source(url=found, name=name or feed.title.strip() or found, kind=kind)
    if not edit_sources.add_sources(project.feeds_path, [source]):
        raise SourceCheckError(f"{found} is already in {project.feeds_path}")
    return AddedSource(source, reason)


FORMAT_NAMES = {
    "rss090": "RSS 0.90",
    "rss091n": "RSS 0.91",
    "rss091u": "RSS 0.91",
    "rss092": "RSS 0.92",
    "rss093": "RSS 0.93",
    "rss094": "RSS 0.94",
    "rss10": "RSS 1.0",
    "rss20": "RSS 2.0",
    "atom03": "Atom 0.3",
    "atom10": "Atom 1.0",
    "json10": "JSON Feed 1.0",
    "json11": "JSON Feed 1.1",
    "ical": "iCalendar",
    "html-scrape": "a scraped page",
}


def _described(feed: ParsedFeed) -> str:
    return f"{FORMAT_NAMES.get(feed.format, feed.format)}, {len(feed.entries)} items"


async def _find_feed(url: str, settings: Settings, kind: str) -> tuple[str, ParsedFeed, str]:
    """The feed to add for ``url``, its parsed document and why it was chosen."""
    # Imported here: feedparser and the rest of the parser load only when a command
    # parses in this process (fetch runs parse in workers; a run of 304s in none).
    from aggregator.parse import parse_feed

    page = await fetch_one(url, CacheInfo(), settings)
    if page.error or page.content is None:
        raise SourceCheckError(f"{url}: {page.error or f'HTTP {page.status}'}")
    home = page.final_url if page.moved_permanently else url
    content_type = page.headers.get("content-type", "")
    if not looks_like_html(page.content, content_type):
        try:
            feed = parse_feed(page.content, page.headers, page.final_url, kind)
        except Exception as exc:  # whatever the document makes the parser raise: not a feed
            raise SourceCheckError(f"{url}: {_not_parsed(exc)}") from None
        return home, feed, f"the address is a feed itself ({_described(feed)})"
    candidates = announced_feeds(page.content, page.final_url)
    if not candidates:
        raise SourceCheckError(
            f'{url} is a web page without a working feed: no <link rel="alternate"> feed link'
        )
    main = candidates[0]
    result = await fetch_one(main.url, CacheInfo(), settings)
    problem = result.error or (None if result.content else f"HTTP {result.status}")
    if problem is None and result.content is not None:
        try:
            feed = parse_feed(result.content, result.headers, result.final_url, kind)
        except Exception as exc:
            problem = _not_parsed(exc)
        else:
            chosen = result.final_url if result.moved_permanently else main.url
            called = f' "{main.title}"' if main.title else ""
            first = (
                f"the first of the {len(candidates)} it announces"
                if len(candidates) > 1
                else ("the only one it announces")
            )
            return chosen, feed, f"the page's main feed{called}, {first} ({_described(feed)})"
    listed = "\n".join(
        f"  {n}. {c.url}" + (f' "{c.title}"' if c.title else "") + (" (failed)" if n == 1 else "")
        for n, c in enumerate(candidates, start=1)
    )
    raise SourceCheckError(
        f"{url} is a web page without a working feed: its main feed {main.url} failed "
        f"({problem}), and another one it announces is not taken in its place (often its "
        f"comments). The page announces:\n{listed}\nAdd the one you want by its address."
    )


def _not_parsed(exc: Exception) -> str:
    """Why a document is no feed; an exception other than FeedParseError is also a bug,
    reported as :func:`aggregator.collect` reports one during a run."""
    if isinstance(exc, FeedParseError):
        return str(exc)
    message = f"the parser failed on it ({type(exc).__name__}: {exc}); a bug: please report it"
    warnings.warn(SourceCrashWarning(clean_text(message)), stacklevel=3)
    return clean_text(message)


def remove_source(project: Project, url_or_name: str) -> Source:
    """Drop a source from feeds.toml; its items and history stay in the store."""
    return edit_sources.remove_source(project.feeds_path, url_or_name)


def import_opml(project: Project, content: bytes) -> tuple[list[Source], int]:
    """Append an OPML list's sources; returns those added and how many were already listed."""
    sources = edit_sources.read_opml(content)
    added = edit_sources.add_sources(project.feeds_path, sources)
    return added, len(sources) - len(added)


def export_opml(project: Project, now: datetime) -> bytes:
    """The source list as OPML 2.0, for another reader."""
    return edit_sources.write_opml(load_config(project.feeds_path), now)


def _settings(project: Project) -> Settings:
    """A new project has no feeds.toml yet: fetch with the defaults then."""
    if not project.feeds_path.exists():
        return Settings()
    return load_config(project.feeds_path).settings


def set_item_type(project: Project, item_id: int, item_type: str | None) -> Item:
    """Override an item's type (``None`` goes back to the parser's guess) in store and index."""
    store_path = _collected(project)
    with _run_lock(project), Store(store_path) as store:
        store.set_item_type(item_id, item_type)
        with _open_index(project) as index:
            _update_index(store, index, SilentReporter())
        return store.items([item_id])[item_id]


def prune(project: Project, *, older_than: timedelta, now: datetime) -> int:
    """Delete items published more than ``older_than`` ago from store and index; how many.

    Kept: items someone shared or liked, and items in any digest of the same
    window (so recent pages, feeds and team pages stay whole). The store
    deletes and queues in one transaction, then the index follows, as in a run.
    """
    cutoff = now - older_than
    store_path = _collected(project)
    with _run_lock(project), Store(store_path) as store:
        removed = store.prune(cutoff, keep_digests_since=local_day(cutoff))
        with _open_index(project) as index:
            _update_index(store, index, SilentReporter())
    return removed


def reindex(project: Project) -> int:
    """Rebuild the search index from the store; searches use the old one until the swap."""
    store_path = _collected(project)
    with _run_lock(project), Store(store_path) as store:
        count = SearchIndex.rebuild(project.index_dir, store.iter_items())
        store.clear_index_queue()
    return count


def _collected(project: Project) -> Path:
    """The project's store, which only a run creates: every other command reads or changes
    what a run collected, and opening a missing store would create an empty one. Ask before
    taking the run lock, which creates the state folder."""
    if not project.store_path.exists():
        raise NothingCollectedError(
            f"nothing collected yet in {project.root}: run `learnplace run` "
            "(or `learnplace demo` to try it on sample feeds)"
        )
    return project.store_path


def share(project: Project, person: str, ref: str, note: str, *, now: datetime) -> Share:
    """Record that ``person`` passes the item ``ref`` (id or URL) on to their teams,
    and rewrite the team pages so the share shows at once."""
    config = load_config(project.feeds_path)
    profiles = load_profiles(project.profiles_dir)
    if person not in {profile.name for profile in profiles}:
        raise UnknownPersonError(f"no profile named {person!r} in {project.profiles_dir}")
    store_path = _collected(project)
    with _run_lock(project), Store(store_path) as store:
        item_id = store.find_item(ref)
        if item_id is None:
            raise UnknownItemError(f"no item {ref!r}: use the number or link on a digest page")
        recorded = store.add_share(person, item_id, note.strip(), now)
        _write_team_pages(_site_writer(project, config), config, profiles, store, now)
    return recorded


@dataclass(frozen=True, slots=True)
class Mailing:
    """What ``send`` did for one person: ``sent``, ``already sent``, ``no digest`` or ``failed``."""

    person: str
    address: str
    status: str
    detail: str = ""


def send(project: Project, *, now: datetime, only: str | None = None) -> list[Mailing]:
    """E-mail today's digest to everyone with an address (or just ``only``), once a day.

    A person whose send fails is reported and tried again on the next call;
    one already sent today is skipped, so cron may call this as often as it likes.
    """
    config = load_config(project.feeds_path)
    if config.smtp is None:
        raise LearnplaceError(f"{project.feeds_path}: add an [smtp] table to send e-mail")
    profiles = load_profiles(project.profiles_dir)
    if only is not None:
        profiles = [profile for profile in profiles if profile.name == only]
        if not profiles:
            raise UnknownPersonError(f"no profile named {only!r} in {project.profiles_dir}")
    today = local_day(now)
    writer = _site_writer(project, config)
    results: list[Mailing] = []
    with _run_lock(project), Store(_collected(project)) as store:
        for profile in profiles:
            if profile.email is None:
                continue
            results.append(_send_one(store, writer, config, profile, today, now))
    return results


def _send_one(
    store: Store, writer: SiteWriter, config: Config, profile: Profile, today: date, now: datetime
) -> Mailing:
    address = profile.email or ""
    if store.mailed(profile.name, today):
        return Mailing(profile.name, address, "already sent")
    days = store.digest_days(profile.name)
    if today not in days:
        return Mailing(profile.name, address, "no digest", "run `learnplace run` first")
    digest = _stored_digest(store, profile, today)
    colleagues = _colleagues(store, config, profile, today, days)
    subject, text, html = writer.email_bodies(digest, colleagues)
    assert config.smtp is not None
    try:
        # A header the e-mail library refuses (a line break in a name) fails this person only.
        message = build_message(
            sender=config.smtp.sender,
            recipient=address,
            subject=subject,
            text=text,
            html=html,
            sent_at=now,
        )
        send_message(config.smtp, message)
    except (MailError, ValueError) as exc:
        store.record_mailing(profile.name, today, now, error=str(exc))
        return Mailing(profile.name, address, "failed", str(exc))
    store.record_mailing(profile.name, today, now)
    return Mailing(profile.name, address, "sent", f"{len(digest.picks)} items")


def profile_path(project: Project, name: str) -> Path:
    """An existing profile's file; names that could leave ``profiles/`` are refused."""
    return config_profile_path(project.profiles_dir, name)


def load_named_profile(project: Project, name: str) -> Profile:
    return load_profile(profile_path(project, name))


def new_profile(project: Project, name: str, interests: dict[str, float]) -> Profile:
    """Create ``profiles/NAME.toml`` from the commented template."""
    return profile_edit.create(project.profiles_dir, name, interests)


def _edit_profile(
    project: Project, name: str, change: Callable[[tomlkit.TOMLDocument], None]
) -> Profile:
    return profile_edit.edit(profile_path(project, name), change)


def add_interest(project: Project, name: str, phrase: str, weight: float) -> Profile:
    """Add an interest or change its weight, keeping the file's comments."""
    return _edit_profile(project, name, lambda doc: profile_edit.set_interest(doc, phrase, weight))


def remove_interest(project: Project, name: str, phrase: str) -> Profile:
    return _edit_profile(project, name, lambda doc: profile_edit.remove_interest(doc, phrase))


def exclude(project: Project, name: str, value: str, *, source: bool = False) -> Profile:
    """Add a word (or a source name) the profile never wants."""
    key = "sources" if source else "words"
    return _edit_profile(project, name, lambda doc: profile_edit.add_exclusion(doc, key, value))


def replace_profile_text(project: Project, name: str, text: str) -> Profile:
    """Save a whole new text for a profile (``profile edit``) only if it is valid."""
    return profile_edit.replace_text(profile_path(project, name), text)


def preview_profile(project: Project, name: str, now: datetime) -> Digest:
    """What ``name`` would get at ``now``, read from the store and index; nothing is written."""
    profile = load_named_profile(project, name)
    with Store(_collected(project)) as store, SearchIndex.open(project.index_dir) as index:
        return preview(store, index, profile, now)


def record_feedback(project: Project, name: str, ref: str, judgement: int, now: datetime) -> Item:
    """Store a person's judgement of an item (by id or URL); 0 takes it back."""
    load_named_profile(project, name)
    with Store(_collected(project)) as store:
        item_id = store.find_item(ref)
        if item_id is None:
            raise UnknownItemError(f"no item {ref!r}: give an item id or URL from a digest")
        store.set_feedback(name, item_id, judgement, now)
        return store.items([item_id])[item_id]


def judgements(project: Project, name: str) -> list[tuple[Item, int, datetime]]:
    """A person's judgements, newest first: the item, 1 (more) or -1 (less), and when."""
    load_named_profile(project, name)
    with Store(_collected(project), read_only=True) as store:
        found = store.judgements(name)
        items = store.items(item_id for item_id, _, _ in found)
    return [(items[i], sign, at) for i, sign, at in found if i in items]


def clear_feedback(project: Project, name: str) -> int:
    """Take back all of a person's judgements; how many there were."""
    load_named_profile(project, name)
    with Store(_collected(project)) as store:
        return store.clear_feedback(name)


PROFILE_CANDIDATES = 200
"""How many of a query's best results a profile re-ranks: enough to reorder, cheap to score."""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What a person asked for, from the CLI's options or the web page's query string."""

    text: str
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = "relevance"
    limit: int = 20
    offset: int = 0
    profile: Profile | None = None
    """Rank by this person's interests too (and drop what they exclude)."""
    facets: bool = True
    """Count every match by type and source (costs a pass over all matches)."""


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of items with their scores, and the facts around them."""

    results: list[tuple[Item, float]]
    total: int
    facets: Mapping[str, Mapping[str, int]]
    terms: frozenset[str]
    suggestion: str | None


def search(project: Project, request: SearchRequest, *, now: datetime) -> SearchResults:
    """Items matching a request (Whoosh query language), best first; reads store and index only."""
    with (
        Store(_collected(project), read_only=True) as store,
        SearchIndex.open(project.index_dir) as index,
    ):
        return search_in(store, index, request, now=now)


def search_in(
    store: Store, index: SearchIndex, request: SearchRequest, *, now: datetime
) -> SearchResults:
    """:func:`search` on an open store and index (the web app and the benchmark keep them open)."""
    profile = request.profile
    ranked_here = profile is not None and request.sort == "relevance"
    window = max(PROFILE_CANDIDATES, request.offset + request.limit) if ranked_here else 0
    page = index.search(
        request.text,
        limit=window or request.limit,
        offset=0 if ranked_here else request.offset,
        filters=request.filters,
        sort=request.sort,
        facets=request.facets,
    )
    items = store.items(hit.item_id for hit in page.hits)
    results = [(items[hit.item_id], hit.score) for hit in page.hits if hit.item_id in items]
    if profile is not None:
        chosen = plan(profile)
        queries = profile_queries(profile, chosen)
        if not ranked_here:
            queries = {k: q for k, q in queries.items() if k == EXCLUDE_KEY}
        scores = index.score_docs(queries, page.hits)
        personal = personalize(profile, chosen, results, scores)
        if ranked_here:
            results = personal[request.offset : request.offset + request.limit]
        else:
            kept = {item.id for item, _ in personal}
            results = [(item, score) for item, score in results if item.id in kept]
    return SearchResults(results, page.total, page.facets, page.terms, page.suggestion)


def save_profile_changes(path: Path, changes: Mapping[str, object]) -> None:
    """Save a form's changes to a profile file if the result is valid (comments kept)."""
    profile_edit.update_profile(path, changes)


def draft_profile(path: Path, changes: Mapping[str, object]) -> Profile:
    """The profile a form's changes would make, validated; nothing is written."""
    return profile_edit.apply(path, changes)[1]


def preview_unsaved(project: Project, profile: Profile, now: datetime) -> Digest:
    """:func:`preview` for a profile that may not be saved yet; reads store and index only."""
    with (
        Store(project.store_path, read_only=True) as store,
        SearchIndex.open(project.index_dir) as index,
    ):
        return preview(store, index, profile, now)


def item(project: Project, item_id: int) -> Item | None:
    """One stored item, or None (also before anything is collected)."""
    if not project.store_path.exists():
        return None
    with Store(project.store_path, read_only=True) as store:
        return store.items([item_id]).get(item_id)


@dataclass(frozen=True, slots=True)
class Reading:
    """A person's latest digest as the web app shows it, with what they did about its items."""

    profile: Profile
    digest: Digest | None
    judgements: Mapping[int, int]
    notes: Mapping[int, str]
    """The person's own share notes, by item: a second share edits the note."""
    teams: list[str]


def reading(project: Project, name: str) -> Reading:
    """``name``'s latest saved digest (None before any run); reads the store only."""
    profile = load_named_profile(project, name)
    teams = (
        [team for team, members in load_config(project.feeds_path).teams.items() if name in members]
        if project.feeds_path.exists()
        else []
    )
    if not project.store_path.exists():
        return Reading(profile, None, {}, {}, teams)
    with Store(project.store_path, read_only=True) as store:
        days = store.digest_days(name)
        digest = _stored_digest(store, profile, days[-1]) if days else None
        notes = {s.item_id: s.note for s in store.shares([name], datetime.min.replace(tzinfo=UTC))}
        return Reading(profile, digest, store.feedback(name), notes, teams)


def refresh_source(project: Project, url: str) -> None:
    """Have the next run fetch a listed source, whatever its backoff or ``Retry-After`` said."""
    listed = {source.url for source in load_config(project.feeds_path).sources}
    if url not in listed:
        raise SourceListError(f"{url!r} is not in {project.feeds_path}")
    with Store(_collected(project)) as store:
        store.make_due(url)
