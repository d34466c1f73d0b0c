"""Every person's digest for a day, from the store and the index: the ranking stage of a run.

Ranking is pure Python over the index, a tenth of a second or more per profile on a large
store, and profiles are independent: many profiles are ranked in worker processes, each
with its own store connection, searcher and caches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.models import Digest, Item, Pick, Profile, local_day
from aggregator.rank.choose import choose_digest, rank_items
from aggregator.rank.digest import upcoming_picks
from aggregator.search import WhooshIndex as SearchIndex
from aggregator.store import Store, open_store
from aggregator.workers import process_pool, worker_count

ItemsOf = Callable[[Iterable[int]], Mapping[int, Item]]
"""Reads items by id: ``store.items``, or :func:`shared_items` remembering what it read."""

PARALLEL_MIN_PROFILES = 8
"""Fewer profiles are ranked in this process: starting workers would cost more than it saves."""

PROFILES_PER_TASK = 4
"""Profiles a worker ranks per task: small tasks keep both workers busy to the end."""

RANKING_WORKERS_MAX = 4

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
    pool = process_pool(workers, _open_for_ranking, (store.location, index.path))
    try:
        for chosen in pool.map(_rank_in_worker, tasks, [now] * len(tasks)):
            yield from chosen
    finally:
        # A caller that stops early (a failed page) must not wait for the remaining profiles.
        pool.shutdown(cancel_futures=True)


_worker_state: tuple[Store, SearchIndex, ItemsOf] | None = None


def _open_for_ranking(store_location: str, index_dir: Path) -> None:
    """A ranking worker's store and index, open for all its tasks (their caches are the point)."""
    global _worker_state
    store = open_store(store_location, read_only=True)
    _worker_state = (store, SearchIndex.open(index_dir), shared_items(store))


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
