"""The one place that runs the stages in order; ``cli`` and ``web`` only call this.

    load config + profiles          (validate everything before writing anything)
    schedule                        (sources backing off, rate-limited or retired wait; --force)
    fetch_many | parse | store      (fetches run concurrently; each changed body is parsed in a
                                     worker process; results are stored as they come back,
                                     through a single SQLite writer; schedule.decide sets
                                     each source's next attempt)
    index                           (new and changed items, one commit; repaired if behind)
    rank | digest                   (per profile, over the freshness window)
    render                          (pages, feeds, site index; atomic writes)

Only one run may write a project at a time: a second one refuses clearly.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from aggregator import sources as edit_sources
from aggregator.config import load_config, load_profiles
from aggregator.digest import build_digest
from aggregator.discover import discover_feeds, looks_like_html
from aggregator.errors import LearnplaceError, RunLockedError
from aggregator.fetch import fetch_many, fetch_one
from aggregator.index import SearchIndex
from aggregator.models import (
    CacheInfo,
    Config,
    Digest,
    FetchResult,
    Item,
    ParsedFeed,
    Pick,
    Profile,
    Settings,
    Source,
    SourceStatus,
)
from aggregator.parse import FeedParseError, parse_feed
from aggregator.parse_pool import ParsePool
from aggregator.rank import blend, profile_queries
from aggregator.render import SiteWriter, make_environment
from aggregator.schedule import SourceState, decide, is_due
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


@dataclass(slots=True)
class RunSummary:
    """What one run did, for the closing summary and ``--json``."""

    sources_ok: int = 0
    not_modified: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    new_items: int = 0
    updated_items: int = 0
    digests: list[tuple[str, int, Path]] = field(default_factory=list)
    site_index: Path | None = None


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
    with _run_lock(project), Store(project.store_path) as store:
        changed = _refresh(store, config, now, reporter, summary, force)
        with SearchIndex.open(project.index_dir) as index:
            _update_index(store, index, changed, reporter)
            digests = _build_digests(store, index, profiles, now, reporter)
        _render(project, config, store, digests, now, reporter, summary)
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
) -> list[int]:
    """Fetch, parse and store; the ids of new and changed items, for the index."""
    store.sync_sources(config.sources)
    return asyncio.run(_collect(config, store, now, reporter, summary, force))


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


@dataclass(frozen=True, slots=True)
class _Due:
    """A source picked for this run and its schedule before the fetch."""

    source: Source
    state: SourceState


async def _collect(
    config: Config,
    store: Store,
    now: datetime,
    reporter: Reporter,
    summary: RunSummary,
    force: bool,
) -> list[int]:
    """Fetch the due sources concurrently; parse in workers; store each result as it arrives."""
    due = _due_sources(config, store, now, summary, force)
    targets = [(url, store.cache_info(item.source.url)) for url, item in due.items()]
    reporter.start("fetch", len(targets))
    changed: list[int] = []
    with ParsePool() as pool:
        parsing: list[asyncio.Task[None]] = []
        async for result in fetch_many(targets, config.settings):
            item = due[result.url]
            if result.ok and result.content is not None:
                task = _parse_and_store(pool, store, item, result, now, changed, summary)
                parsing.append(asyncio.create_task(task))
            else:
                _record(store, item, result, (), now, summary)
            reporter.advance("fetch", item.source.name)
        await asyncio.gather(*parsing)
    return changed


def _due_sources(
    config: Config, store: Store, now: datetime, summary: RunSummary, force: bool
) -> dict[str, _Due]:
    """Sources to fetch now, by the URL to fetch (a permanently moved source's new one)."""
    due: dict[str, _Due] = {}
    for source in config.sources:
        state = store.source_state(source.url)
        if not is_due(state, now, force=force):
            summary.skipped += 1
            continue
        if state.fetch_url in due:  # moved onto another source's URL: fetch its own again
            state = dataclasses.replace(state, fetch_url=source.url, moved_from=None)
        due[state.fetch_url] = _Due(source, state)
    return due


async def _parse_and_store(
    pool: ParsePool,
    store: Store,
    item: _Due,
    result: FetchResult,
    now: datetime,
    changed: list[int],
    summary: RunSummary,
) -> None:
    """Store a 200's entries; a body that is not a feed turns the result into a failure."""
    assert result.content is not None
    try:
        source = item.source
        feed = await pool.parse(
            result.content, result.headers, result.final_url, source.kind, source.scrape
        )
    except FeedParseError as exc:
        _record(store, item, dataclasses.replace(result, error=str(exc)), (), now, summary)
        return
    added = store.add_entries(item.source.url, feed.entries, now)
    summary.new_items += len(added.new_ids)
    summary.updated_items += len(added.updated_ids)
    changed += added.new_ids + added.updated_ids
    _record(store, item, result, feed.problems, now, summary)


def _record(
    store: Store,
    item: _Due,
    result: FetchResult,
    problems: Sequence[str],
    now: datetime,
    summary: RunSummary,
) -> None:
    state = decide(result, item.state, now)
    store.record_fetch(item.source.url, result, state, problems)
    name = item.source.name
    if result.ok:
        summary.sources_ok += 1
        summary.not_modified += result.not_modified
    else:
        summary.failures.append((name, result.error or f"HTTP {result.status}"))
    if state.fetch_url != item.state.fetch_url:
        summary.moved.append((name, state.fetch_url))
    if state.retired and not item.state.retired:
        summary.retired.append(name)


def _update_index(store: Store, index: SearchIndex, changed: list[int], reporter: Reporter) -> None:
    """Index what changed; if the index lags the store (a crash between them), catch up fully."""
    reporter.start("index", 1)
    if index.doc_count() + len(set(changed)) < store.item_count():
        index.add(store.iter_items())
    elif changed:
        index.add(store.items(changed).values())
    reporter.advance("index")


def _build_digests(
    store: Store,
    index: SearchIndex,
    profiles: Sequence[Profile],
    now: datetime,
    reporter: Reporter,
) -> list[Digest]:
    reporter.start("digests", len(profiles))
    today = local_day(now)
    digests = []
    for profile in profiles:
        digest = preview(store, index, profile, now)
        store.save_digest(profile.name, today, digest.picks)
        digests.append(digest)
        reporter.advance("digests", profile.name)
    return digests


def preview(store: Store, index: SearchIndex, profile: Profile, now: datetime) -> Digest:
    """The digest ``profile`` gets today, without recording it."""
    today = local_day(now)
    scores = index.score_queries(
        profile_queries(profile), since=now - timedelta(days=profile.freshness_days)
    )
    ids = {item_id for hits in scores.values() for item_id in hits}
    ranked = blend(profile, scores, store.items(ids), now)
    return build_digest(profile, today, ranked, store.delivered_before(profile.name, today), now)


def _render(
    project: Project,
    config: Config,
    store: Store,
    digests: Sequence[Digest],
    now: datetime,
    reporter: Reporter,
    summary: RunSummary,
) -> None:
    reporter.start("render", len(digests) + 1)
    env = make_environment([project.templates_dir])
    writer = SiteWriter(project.output_dir, env, site_title=config.settings.title)
    writer.write_assets()
    for digest in digests:
        days = store.digest_days(digest.profile.name)
        paths = writer.write_digest(digest, days)
        if len(days) > 1 and days[-2] < digest.day:
            # The previous day's page gains its "next day" link.
            writer.write_digest(_stored_digest(store, digest.profile, days[-2]), days)
        history = [_stored_digest(store, digest.profile, day) for day in days[-FEED_DAYS:]]
        writer.write_feed(digest.profile, history[::-1], now)
        summary.digests.append((digest.profile.name, len(digest.picks), paths[-1]))
        reporter.advance("render", digest.profile.name)
    summary.site_index = writer.write_site_index([(d.profile, len(d.picks)) for d in digests], now)
    reporter.advance("render")


def _stored_digest(store: Store, profile: Profile, day: date) -> Digest:
    rows = store.digest(profile.name, day)
    items = store.items(item_id for item_id, _, _ in rows)
    picks = tuple(
        Pick(item=items[item_id], score=score, reasons=reasons)
        for item_id, score, reasons in rows
        if item_id in items
    )
    return Digest(profile=profile, day=day, picks=picks)


def local_day(now: datetime) -> date:
    """The calendar day a person reading the digest is in (the machine's time zone)."""
    return now.astimezone().date()


class SourceCheckError(LearnplaceError):
    """A URL given to ``sources add`` is neither a working feed nor a page that names one."""


def source_statuses(project: Project) -> list[SourceStatus]:
    """Every listed source with its health; sources never fetched show no status yet."""
    config = load_config(project.feeds_path)
    project.state_dir.mkdir(parents=True, exist_ok=True)
    with Store(project.store_path) as store:
        known = {status.url: status for status in store.source_statuses()}
    return [
        known.get(s.url) or SourceStatus(s.url, s.name, None, None, None, 0, 0, fetch_url=s.url)
        for s in config.sources
    ]


def add_source(
    project: Project, url: str, *, name: str | None = None, kind: str = "blog"
) -> Source:
    """Check that ``url`` is a feed, or a page announcing one, and append it to feeds.toml."""
    settings = _settings(project)
    found, feed = asyncio.run(_find_feed(url, settings, kind))
    source = Source(url=found, name=name or feed.title.strip() or found, kind=kind)
    if not edit_sources.add_sources(project.feeds_path, [source]):
        raise SourceCheckError(f"{found} is already in {project.feeds_path}")
    return source


async def _find_feed(url: str, settings: Settings, kind: str) -> tuple[str, ParsedFeed]:
    page = await fetch_one(url, CacheInfo(), settings)
    if page.error or page.content is None:
        raise SourceCheckError(f"{url}: {page.error or f'HTTP {page.status}'}")
    home = page.final_url if page.moved_permanently else url
    content_type = page.headers.get("content-type", "")
    if not looks_like_html(page.content, content_type):
        try:
            return home, parse_feed(page.content, page.headers, page.final_url, kind)
        except FeedParseError as exc:
            raise SourceCheckError(f"{url}: {exc}") from None
    candidates = discover_feeds(page.content, page.final_url)
    problems = []
    for candidate in candidates:
        result = await fetch_one(candidate, CacheInfo(), settings)
        if result.content is None or result.error:
            problems.append(f"{candidate}: {result.error}")
            continue
        try:
            feed = parse_feed(result.content, result.headers, result.final_url, kind)
        except FeedParseError as exc:
            problems.append(f"{candidate}: {exc}")
            continue
        return (result.final_url if result.moved_permanently else candidate), feed
    detail = "; ".join(problems) if problems else 'no <link rel="alternate"> feed link'
    raise SourceCheckError(f"{url} is a web page without a working feed: {detail}")


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


def search(project: Project, text: str, *, limit: int = 20) -> list[tuple[Item, float]]:
    """Items matching ``text`` (Whoosh query language), best first."""
    with Store(project.store_path) as store, SearchIndex.open(project.index_dir) as index:
        hits = index.search(text, limit=limit)
        items = store.items(hit.item_id for hit in hits)
    return [(items[hit.item_id], hit.score) for hit in hits if hit.item_id in items]
