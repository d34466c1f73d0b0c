"""One person's digest for one day: the best ranked items not sent before, spread across sources.

Pure: the pipeline hands in the ranking and the delivery log; nothing here
reads the store or the index.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime

from aggregator.models import Digest, Profile
from aggregator.rank.blending import Ranked
from aggregator.rank.reasons import explain

MAX_SOURCE_SHARE = 0.4
"""No source fills more than this share of a digest while others have matching items."""

MAX_UPCOMING = 10
"""Events listed under "Upcoming" at most: the soonest, which are the ones to act on."""


def build_digest(
    profile: Profile,
    day: date,
    ranked: Iterable[Ranked],
    already_sent: Collection[int],
    now: datetime,
    events: Iterable[Ranked] = (),
) -> Digest:
    """Choose ``profile.digest_size`` picks from ``ranked`` (best first).

    Items in ``already_sent`` (earlier days' digests) are skipped, so nothing is
    sent twice; copies of the same story (same title) collapse to the best one.
    The source cap gives way only when the digest would otherwise stay short.
    ``ranked`` is read only as far as the picks need, so a lazy ranking of
    thousands of matches costs what a digest uses of it.

    Events that are over by ``now`` are left out, and items of types the
    profile does not want. Dated events still ahead (of ``events``, the
    ranking's events) go to ``upcoming`` instead, soonest first, every day
    until they happen, whether sent before or not.
    """
    wanted = set(profile.wanted_types) or None
    size = profile.digest_size
    cap = max(1, math.ceil(size * MAX_SOURCE_SHARE))
    chosen: list[tuple[int, Ranked]] = []
    over_cap: list[tuple[int, Ranked]] = []
    per_source: dict[str, int] = {}
    titles: set[str] = set()
    for position, candidate in enumerate(ranked):
        item = candidate.item
        if (wanted is not None and item.item_type not in wanted) or (
            item.item_type == "event" and (item.is_upcoming(now) or item.is_past_event(now))
        ):
            continue
        key = _title_key(item.title)
        if item.id in already_sent or key in titles:
            continue
        titles.add(key)
        if per_source.get(item.source_url, 0) < cap:
            chosen.append((position, candidate))
            per_source[item.source_url] = per_source.get(item.source_url, 0) + 1
            if len(chosen) == size:
                break
        else:
            over_cap.append((position, candidate))
    if len(chosen) < size:
        chosen = sorted(chosen + over_cap[: size - len(chosen)], key=lambda pair: pair[0])
    upcoming = _upcoming([c for c in events if wanted is None or c.item.item_type in wanted], now)
    return Digest(
        profile=profile,
        day=day,
        picks=tuple(explain(c, now) for _, c in chosen),
        upcoming=tuple(explain(c, now) for c in upcoming),
    )


def _upcoming(ranked: Sequence[Ranked], now: datetime) -> list[Ranked]:
    """The soonest upcoming events, one per title (the same event announced by two sources)."""
    events = sorted(
        (c for c in ranked if c.item.is_upcoming(now)),
        key=lambda c: (c.item.details.event_start, -c.score, c.item.id),
    )
    titles: set[str] = set()
    chosen = []
    for candidate in events:
        key = _title_key(candidate.item.title)
        if key not in titles:
            titles.add(key)
            chosen.append(candidate)
    return chosen[:MAX_UPCOMING]


@functools.lru_cache(maxsize=65_536)
def _title_key(title: str) -> str:
    """The words of a title, to tell copies of one story apart (profiles of a run see the same)."""
    return " ".join(re.findall(r"\w+", title.casefold()))
