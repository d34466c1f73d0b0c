"""The one place that runs the stages in order; ``cli`` and ``web`` only call this.

    load config + profiles          (validate everything before writing anything)
    fetch_many | parse | store      (fetches run concurrently; parse and store one result at a
                                     time as it completes, through a single SQLite writer)
    index                           (new and changed items, one commit; repaired if behind)
    rank | digest                   (per profile, over the freshness window)
    render                          (pages, feeds, site index; atomic writes)

Only one run may write a project at a time: a second one refuses clearly.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout

from aggregator.config import load_config, load_profiles
from aggregator.digest import build_digest
from aggregator.errors import RunLockedError
from aggregator.fetch import fetch_many
from aggregator.index import SearchFilters, SearchIndex
from aggregator.models import (
    Config,
    Digest,
    FetchResult,
    Item,
    Pick,
    Profile,
    Source,
    SourceStatus,
)
from aggregator.parse import FeedParseError, parse_feed
from aggregator.rank import EXCLUDE_KEY, blend, personalize, profile_queries
from aggregator.render import SiteWriter, make_environment
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
    failures: list[tuple[str, str]] = field(default_factory=list)
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
) -> RunSummary:
    """Fetch every source, update store and index, and write every person's digest for today."""
    reporter = reporter or SilentReporter()
    config = config or load_config(project.feeds_path)
    profiles = list(profiles) if profiles is not None else load_profiles(project.profiles_dir)
    summary = RunSummary()
    with _run_lock(project), Store(project.store_path) as store:
        store.sync_sources(config.sources)
        changed = asyncio.run(_collect(config, store, now, reporter, summary))
        with SearchIndex.open(project.index_dir, recreate_if_stale=True) as index:
            _update_index(store, index, changed, reporter)
            digests = _build_digests(store, index, profiles, now, reporter)
        _render(project, config, store, digests, now, reporter, summary)
    return summary


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


async def _collect(
    config: Config, store: Store, now: datetime, reporter: Reporter, summary: RunSummary
) -> list[int]:
    """Fetch concurrently; parse and store each result as it arrives."""
    sources = {source.url: source for source in config.sources}
    targets = [(url, store.cache_info(url)) for url in sources]
    reporter.start("fetch", len(targets))
    changed: list[int] = []
    async for result in fetch_many(targets, config.settings):
        source = sources[result.url]
        result = _parse_and_store(store, source, result, now, changed, summary)
        store.record_fetch(result, now)
        if result.ok:
            summary.sources_ok += 1
            summary.not_modified += result.not_modified
        else:
            summary.failures.append((source.name, result.error or f"HTTP {result.status}"))
        reporter.advance("fetch", source.name)
    return changed


def _parse_and_store(
    store: Store,
    source: Source,
    result: FetchResult,
    now: datetime,
    changed: list[int],
    summary: RunSummary,
) -> FetchResult:
    """Store a 200's entries; a body that is not a feed turns the result into a failure."""
    if result.content is None or not result.ok:
        return result
    try:
        feed = parse_feed(result.content, result.headers, result.final_url, source.kind)
    except FeedParseError as exc:
        return dataclasses.replace(result, error=str(exc))
    added = store.add_entries(source.url, feed.entries, now)
    summary.new_items += len(added.new_ids)
    summary.updated_items += len(added.updated_ids)
    changed += added.new_ids + added.updated_ids
    return result


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
        Store(project.store_path, read_only=True) as store,
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
        if ranked_here:
            scores = index.score_docs(profile_queries(profile), page.hits)
        else:
            exclusions = {k: q for k, q in profile_queries(profile).items() if k == EXCLUDE_KEY}
            scores = index.score_docs(exclusions, page.hits)
        personal = personalize(profile, results, scores, now)
        if ranked_here:
            results = personal[request.offset : request.offset + request.limit]
        else:
            kept = {item.id for item, _ in personal}
            results = [(item, score) for item, score in results if item.id in kept]
    return SearchResults(results, page.total, page.facets, page.terms, page.suggestion)


def preview_profile(project: Project, profile: Profile, now: datetime) -> Digest:
    """:func:`preview` for a profile that may not be saved yet; reads store and index only."""
    with (
        Store(project.store_path, read_only=True) as store,
        SearchIndex.open(project.index_dir) as index,
    ):
        return preview(store, index, profile, now)


def source_statuses(project: Project) -> list[SourceStatus]:
    """Every active source's health, as the last runs left it."""
    with Store(project.store_path, read_only=True) as store:
        return store.source_statuses()


def item(project: Project, item_id: int) -> Item | None:
    """One stored item, or None."""
    with Store(project.store_path, read_only=True) as store:
        return store.items([item_id]).get(item_id)
