"""One person's digest for one day: the best ranked items not sent before, spread across sources.

Pure: the pipeline hands in the ranking and the delivery log; nothing here
reads the store or the index.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Sequence
from datetime import date, datetime

from aggregator.models import Digest, Profile
from aggregator.rank import Ranked, explain

MAX_SOURCE_SHARE = 0.4
"""No source fills more than this share of a digest while others have matching items."""

MAX_UPCOMING = 10
"""Events listed under "Upcoming" at most: the soonest, which are the ones to act on."""


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

    Events that are over by ``now`` are left out, and items of types the
    profile does not want. Dated events still ahead go to ``upcoming`` instead,
    soonest first, every day until they happen, whether sent before or not.
    """
    wanted = set(profile.wanted_types) or None
    relevant = [
        candidate
        for candidate in ranked
        if (wanted is None or candidate.item.item_type in wanted)
        and not candidate.item.is_past_event(now)
    ]
    upcoming = _upcoming(relevant, now)
    size = profile.digest_size
    cap = max(1, math.ceil(size * MAX_SOURCE_SHARE))
    fresh: list[Ranked] = []
    titles: set[str] = set()
    for candidate in relevant:
        if candidate.item.is_upcoming(now):
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
