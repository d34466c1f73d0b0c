"""What a person's learning record changes in a digest: the week's progress towards a goal,
the picks fitted to a time budget, and items coming back on a spacing schedule.

Pure: the caller hands in the records, the day and the items.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

from aggregator.models import Item, LearningRecord, Profile, Revisit, Share, local_day

WORDS_PER_MINUTE = 230
LISTEN_TYPES = ("podcast", "video")
UNKNOWN_LENGTH_MINUTES = 30
"""A podcast or video whose feed gives no length counts as half an hour against a budget."""

REVISIT_DAYS = (3, 10, 30)
"""Days after it was learned (or shared) that an item may come back."""
REVISIT_CHANCE = (1.0, 0.5, 0.25)
"""How likely each return is: the first always comes, later ones less and less often."""
MAX_REVISITS_A_DAY = 2


def item_minutes(item: Item) -> int:
    """Minutes an item takes: its length for audio and video, its words for the rest."""
    if item.item_type in LISTEN_TYPES:
        seconds = item.details.duration_s
        return UNKNOWN_LENGTH_MINUTES if not seconds else max(1, round(seconds / 60))
    return max(1, round(len(item.text.split()) / WORDS_PER_MINUTE))


def week_start(day: date) -> date:
    """The Monday of ``day``'s week: goals are weekly, weeks start on Monday (ISO)."""
    return day - timedelta(days=day.weekday())


def week_minutes(records: Iterable[LearningRecord], day: date) -> int:
    """Minutes the person logged from the Monday of ``day``'s week up to ``day``."""
    start = week_start(day)
    return sum(
        record.minutes or 0 for record in records if start <= local_day(record.learned_at) <= day
    )


def progress(
    profile: Profile, records: Iterable[LearningRecord], day: date
) -> tuple[int, int] | None:
    """(minutes this week, weekly goal) for a profile with a goal."""
    if profile.weekly_minutes is None:
        return None
    return week_minutes(records, day), profile.weekly_minutes


def _draw(person: str, item_id: int, step: int) -> float:
    """A fixed number in [0, 1) for one return: the same every run, so a page rewritten
    later shows the same Revisit section."""
    digest = hashlib.sha256(f"{person}\0{item_id}\0{step}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def revisits(
    person: str,
    records: Sequence[LearningRecord],
    shares: Sequence[Share],
    items: Mapping[int, Item],
    day: date,
) -> tuple[Revisit, ...]:
    """Items learned or shared that come back on ``day``, with the person's own words.

    An item returns on the days of :data:`REVISIT_DAYS` after it was kept, each return
    with the chance of :data:`REVISIT_CHANCE`; at most :data:`MAX_REVISITS_A_DAY`, the
    earliest returns first. A learned record's reflection wins over a share's note.
    """
    kept: dict[int, tuple[str, datetime]] = {}
    for share in shares:
        kept[share.item_id] = (share.note, share.shared_at)
    for record in records:
        kept[record.item_id] = (record.note, record.learned_at)
    due: list[Revisit] = []
    for item_id, (note, at) in kept.items():
        if item_id not in items:
            continue
        learned = local_day(at)
        for step, (days, chance) in enumerate(zip(REVISIT_DAYS, REVISIT_CHANCE, strict=True)):
            if learned + timedelta(days=days) == day and _draw(person, item_id, step) < chance:
                due.append(Revisit(items[item_id], note, at, step))
    due.sort(key=lambda r: (r.step, r.learned_at, r.item.id))
    return tuple(due[:MAX_REVISITS_A_DAY])


def revisit_window(day: date) -> date:
    """The earliest day a record can have been kept and still come back on ``day``."""
    return day - timedelta(days=REVISIT_DAYS[-1])
