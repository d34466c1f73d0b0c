"""One person's digest for one day: the best ranked items not sent before, spread across sources.

Pure: the pipeline hands in the ranking and the delivery log; nothing here
reads the store or the index.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta

from aggregator.models import Digest, Item, Pick, Profile
from aggregator.rank import Ranked, explain, matched_fields

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
    ranked: Sequence[Ranked],
    already_sent: Collection[int],
    now: datetime,
) -> Digest:
    """Choose ``profile.digest_size`` picks from ``ranked`` (best first).

    Items in ``already_sent`` (earlier days' digests) are skipped, so nothing is
    sent twice; copies of the same story (same title) collapse to the best one.
    The source cap gives way only when the digest would otherwise stay short.

    Events that are over by ``now`` are left out, items of types the profile
    does not want, and items published after ``now`` (a preview of a past day
    shows what that day knew). Events starting within the profile's
    ``upcoming_days`` go to ``upcoming`` instead, soonest first, every day until
    they happen, whether sent before or not; the pipeline chooses them among all
    stored events by their time (:func:`upcoming_picks`), and the ones here,
    from ``ranked``, stand in when it does not.
    """
    wanted = set(profile.wanted_types) or None
    relevant = [
        candidate
        for candidate in ranked
        if (wanted is None or candidate.item.item_type in wanted)
        and not candidate.item.is_past_event(now)
        and candidate.item.published <= now
    ]
    upcoming = [c for c in relevant if in_horizon(c.item, profile, now)]
    size = profile.digest_size
    cap = max(1, math.ceil(size * MAX_SOURCE_SHARE))
    fresh: list[Ranked] = []
    titles: set[str] = set()
    for candidate in relevant:
        if in_horizon(candidate.item, profile, now):
            continue
        key = _title_key(candidate.item.title)
        if candidate.item.id in already_sent or key in titles:
            continue
        titles.add(key)
        fresh.append(candidate)
    chosen: list[Ranked] = []
    per_source: dict[str, int] = {}
    for candidate in fresh:
        source = candidate.item.source_url
        if per_source.get(source, 0) < cap:
            chosen.append(candidate)
            per_source[source] = per_source.get(source, 0) + 1
        if len(chosen) == size:
            break
    if len(chosen) < size:
        taken = {c.item.id for c in chosen}
        chosen += [c for c in fresh if c.item.id not in taken][: size - len(chosen)]
        chosen.sort(key=lambda c: fresh.index(c))
    return Digest(
        profile=profile,
        day=day,
        picks=tuple(explain(c, now) for c in chosen),
        upcoming=upcoming_picks(upcoming, now),
    )


def in_horizon(item: Item, profile: Profile, now: datetime) -> bool:
    """An event that has not ended and starts within the profile's Upcoming horizon."""
    start = item.details.event_start
    horizon = now + timedelta(days=profile.upcoming_days)
    return start is not None and start <= horizon and item.is_upcoming(now)


def upcoming_picks(ranked: Sequence[Ranked], now: datetime) -> tuple[Pick, ...]:
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
        key = (_title_key(item.title), item.details.event_start)
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
    reasons = []
    for phrase in ranked.matched:
        fields = matched_fields(ranked.item, phrase)
        reasons.append(f"“{phrase}”" + (f" in {', '.join(fields)}" if fields else ""))
    if ranked.source_weight > 1:
        reasons.append(f"preferred source: {ranked.item.source_name}")
    return Pick(item=ranked.item, score=round(ranked.score, 4), reasons=tuple(reasons))


@functools.lru_cache(maxsize=65_536)
def _title_key(title: str) -> str:
    """The words of a title, to tell copies of one story apart (profiles of a run see the same)."""
    return " ".join(re.findall(r"\w+", title.casefold()))
