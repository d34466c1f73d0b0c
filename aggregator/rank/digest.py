"""One person's digest for one day: the best ranked items not sent before, spread across sources.

Pure: the pipeline hands in the ranking and the delivery log; nothing here
reads the store or the index.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from datetime import date, datetime, timedelta

from aggregator.dedupe import title_words
from aggregator.models import Digest, Item, Pick, Profile
from aggregator.rank.blending import Ranked
from aggregator.rank.learning import item_minutes
from aggregator.rank.reasons import explain, interest_reasons

MAX_SOURCE_SHARE = 0.4
"""No source fills more than this share of a digest while others have matching items."""

MAX_UPCOMING = 20
"""Events listed under "Upcoming" at most: the soonest, which are the ones to act on."""

MAX_PER_SERIES = 4
"""Occurrences of one recurring series listed at most (about a month of a weekly meetup), so a
daily series leaves room for the other events."""


def build_digest(
    profile: Profile,
    day: date,
    ranked: Iterable[Ranked],
    already_sent: Collection[int],
    now: datetime,
) -> Digest:
    """Choose ``profile.digest_size`` picks from ``ranked`` (best first).

    Items in ``already_sent`` (earlier days' digests) are skipped, so nothing is
    sent twice; copies of the same story (same title) collapse to the best one.
    The source cap gives way only when the digest would otherwise stay short.
    ``ranked`` is read only as far as the picks need, so a lazy ranking of
    thousands of matches costs what a digest uses of it.

    Events that are over by ``now`` are left out, items of types the profile
    does not want, and items published after ``now`` (a preview of a past day
    shows what that day knew). Events starting within the profile's
    ``upcoming_days`` are not picks: they are the digest's Upcoming, which the
    pipeline chooses among all stored events by their time (:func:`upcoming_picks`).

    With ``digest_minutes`` the picks also fit that time budget: an item longer than
    what is left is passed over for a shorter one further down.
    """
    wanted = set(profile.wanted_types) or None
    size = profile.digest_size
    cap = max(1, math.ceil(size * MAX_SOURCE_SHARE))
    chosen: list[tuple[int, Ranked]] = []
    over_cap: list[tuple[int, Ranked]] = []
    per_source: dict[str, int] = {}
    titles: set[str] = set()
    budget = _Budget(profile.digest_minutes)
    for position, candidate in enumerate(ranked):
        item = candidate.item
        if (
            (wanted is not None and item.item_type not in wanted)
            or item.published > now
            or item.is_past_event(now)
            or in_horizon(item, profile, now)
        ):
            continue
        key = title_words(item.title)
        if item.id in already_sent or key in titles or not budget.fits(item):
            continue
        titles.add(key)
        if per_source.get(item.source_url, 0) < cap:
            budget.spend(item)
            chosen.append((position, candidate))
            per_source[item.source_url] = per_source.get(item.source_url, 0) + 1
            if len(chosen) == size:
                break
        else:
            over_cap.append((position, candidate))
    if len(chosen) < size:
        extra = [pair for pair in over_cap if budget.take(pair[1].item)][: size - len(chosen)]
        chosen = sorted(chosen + extra, key=lambda pair: pair[0])
    return Digest(profile=profile, day=day, picks=tuple(explain(c, now) for _, c in chosen))


class _Budget:
    """Minutes left of a digest's time budget (none: everything fits)."""

    def __init__(self, minutes: int | None) -> None:
        self.left = minutes

    def fits(self, item: Item) -> bool:
        return self.left is None or item_minutes(item) <= self.left

    def spend(self, item: Item) -> None:
        if self.left is not None:
            self.left -= item_minutes(item)

    def take(self, item: Item) -> bool:
        """Spend on ``item`` if it fits; whether it did."""
        if not self.fits(item):
            return False
        self.spend(item)
        return True


def in_horizon(item: Item, profile: Profile, now: datetime) -> bool:
    """An event that has not ended and starts within the profile's Upcoming horizon."""
    start = item.details.event_start
    horizon = now + timedelta(days=profile.upcoming_days)
    return start is not None and start <= horizon and item.is_upcoming(now)


def upcoming_picks(ranked: Iterable[Ranked], now: datetime) -> tuple[Pick, ...]:
    """The soonest upcoming events: each occurrence of a series its own line (at most
    :data:`MAX_PER_SERIES` of one series), the same event from two sources once (same title,
    same start).

    Their reasons are the interests they match: the day they were announced says
    nothing about an event, its date does.
    """
    events = sorted(
        (c for c in ranked if c.item.is_upcoming(now)),
        key=lambda c: (c.item.details.event_start, -c.score, c.item.id),
    )
    seen: set[tuple[str, datetime | None]] = set()
    per_series: dict[tuple[str, str], int] = {}
    chosen: list[Pick] = []
    for candidate in events:
        item = candidate.item
        key = (title_words(item.title), item.details.event_start)
        series = (item.source_url, item.details.event_series)
        if key in seen or (series[1] and per_series.get(series, 0) >= MAX_PER_SERIES):
            continue
        seen.add(key)
        if series[1]:
            per_series[series] = per_series.get(series, 0) + 1
        chosen.append(_event_pick(candidate))
        if len(chosen) == MAX_UPCOMING:
            break
    return tuple(chosen)


def _event_pick(ranked: Ranked) -> Pick:
    reasons = interest_reasons(ranked.item, ranked.matched)
    if ranked.source_weight > 1:
        reasons.append(f"preferred source: {ranked.item.source_name}")
    return Pick(item=ranked.item, score=round(ranked.score, 4), reasons=tuple(reasons))
