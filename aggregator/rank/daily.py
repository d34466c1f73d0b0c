"""Every person's digest for a day, from the store and the index: the ranking stage of a run.

Ranking is pure Python over the index, a tenth of a second or more per profile on a large
store, and profiles are independent: many profiles are ranked in worker processes, each
with its own store connection, searcher and caches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta

from aggregator.errors import QuerySyntaxError
from aggregator.models import Digest, Item, Pick, Profile, Revisit, local_day
from aggregator.rank.choose import choose_digest, rank_items
from aggregator.rank.digest import upcoming_picks
from aggregator.rank.learning import progress, revisit_window, revisits, week_start
from aggregator.rank.rules import muted_by
from aggregator.search import SearchFilters, SearchIndex, open_index
from aggregator.store import Store, open_store
from aggregator.workers import process_pool, worker_count

ItemsOf = Callable[[Iterable[int]], Mapping[int, Item]]
"""Reads items by id: ``store.items``, or :func:`shared_items` remembering what it read."""

PARALLEL_MIN_PROFILES = 8
"""Fewer profiles are ranked in this process: starting workers would cost more than it saves."""

PROFILES_PER_TASK = 4
"""Profiles a worker ranks per task: small tasks keep both workers busy to the end."""

RANKING_WORKERS_MAX = 4

SEARCH_SECTION_SIZE = 5
"""Items a saved search's section shows: its best, beside the digest, not a second digest."""

SHARED_ITEMS_MAX = 20_000
"""Items :func:`shared_items` keeps before it starts over, so memory stays bounded however
many items the store holds (a few KB each; one profile matches thousands)."""


def choose_digests(
    store: Store, index: SearchIndex, profiles: Sequence[Profile], now: datetime
) -> Generator[Digest]:
    """Every profile's digest, in order, each as soon as it is chosen."""
    workers = worker_count(RANKING_WORKERS_MAX)
    if workers == 1 or len(profiles) < PARALLEL_MIN_PROFILES:
        items_of = shared_items(store)
        for profile in profiles:
            yield digest_for(store, index, profile, now, items_of=items_of)
        return
    tasks = [
        profiles[n : n + PROFILES_PER_TASK] for n in range(0, len(profiles), PROFILES_PER_TASK)
    ]
    pool = process_pool(workers, _open_for_ranking, (store.location, index.location))
    try:
        for chosen in pool.map(_rank_in_worker, tasks, [now] * len(tasks)):
            yield from chosen
    finally:
        # A caller that stops early (a failed page) must not wait for the remaining profiles.
        pool.shutdown(cancel_futures=True)


_worker_state: tuple[Store, SearchIndex, ItemsOf] | None = None


def _open_for_ranking(store_location: str, index_location: str) -> None:
    """A ranking worker's store and index, open for all its tasks (their caches are the point)."""
    global _worker_state
    store = open_store(store_location, read_only=True)
    _worker_state = (store, open_index(index_location), shared_items(store))


def _rank_in_worker(profiles: Sequence[Profile], now: datetime) -> list[Digest]:
    assert _worker_state is not None, "the pool's initializer opens the store and index"
    store, index, items_of = _worker_state
    return [digest_for(store, index, profile, now, items_of=items_of) for profile in profiles]


def shared_items(store: Store) -> ItemsOf:
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


def digest_for(
    store: Store,
    index: SearchIndex,
    profile: Profile,
    now: datetime,
    *,
    items_of: ItemsOf | None = None,
) -> Digest:
    """The digest ``profile`` gets today, without recording it.

    ``items_of`` (from :func:`shared_items`) lets the profiles of one run share item reads.
    """
    day = local_day(now)
    items_of = items_of or store.items
    since = now - timedelta(days=profile.freshness_days)
    keeping = any(rule.action == "keep" for rule in profile.rules)
    digest = choose_digest(
        index,
        items_of,
        profile,
        now,
        day,
        already_sent=store.delivered_before(profile.name, day),
        judgements=store.feedback(profile.name),
        stored=store.items_since(since) if keeping else (),
    )
    taken = {pick.item.id for pick in digest.picks}
    revisit, goal = learning_extras(store, profile, day)
    return dataclasses.replace(
        digest,
        upcoming=upcoming(store, index, items_of, profile, now),
        searches=saved_searches(index, items_of, profile, now, taken),
        revisit=revisit,
        progress=goal,
    )


def saved_searches(
    index: SearchIndex, items_of: ItemsOf, profile: Profile, now: datetime, taken: set[int]
) -> tuple[tuple[str, tuple[Pick, ...]], ...]:
    """Each saved search's best items of the profile's window, none already in the digest
    (nor in an earlier search's section) nor hidden by a mute rule. A query the index
    cannot read gives an empty section: it is checked when saved, and a run goes on."""
    since = now - timedelta(days=profile.freshness_days)
    sections: list[tuple[str, tuple[Pick, ...]]] = []
    for search in profile.searches:
        filters = SearchFilters(types=search.types, since=since, until=now)
        try:
            page = index.search(search.query, limit=SEARCH_SECTION_SIZE * 4, filters=filters)
        except QuerySyntaxError:
            sections.append((search.name, ()))
            continue
        items = items_of(hit.item_id for hit in page.hits)
        picks: list[Pick] = []
        for hit in page.hits:
            item = items.get(hit.item_id)
            if item is None or item.id in taken or muted_by(profile, item) is not None:
                continue
            taken.add(item.id)
            reason = f"your saved search “{search.name}”: {search.query}"
            picks.append(Pick(item, round(hit.score, 4), (reason,)))
            if len(picks) == SEARCH_SECTION_SIZE:
                break
        sections.append((search.name, tuple(picks)))
    return tuple(sections)


def learning_extras(
    store: Store, profile: Profile, day: date
) -> tuple[tuple[Revisit, ...], tuple[int, int] | None]:
    """The digest of ``day``'s Revisit section and progress towards the weekly goal, from
    the person's records (read again for a stored day: an edited reflection shows)."""
    first = min(revisit_window(day), week_start(day))
    since = datetime.combine(first - timedelta(days=1), time()).astimezone()
    records = store.learning([profile.name], since)
    shares = store.shares([profile.name], since)
    ids = {r.item_id for r in records} | {s.item_id for s in shares}
    items = store.items(ids)
    return revisits(profile.name, records, shares, items, day), progress(profile, records, day)


def upcoming(
    store: Store, index: SearchIndex, items_of: ItemsOf, profile: Profile, now: datetime
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
