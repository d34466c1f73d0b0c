"""A person's learning record: "I learned this", the log by week, the team's shared
reflections, and the rules' and saved searches' previews over what is stored.

The record is the person's own: they add, edit and delete it, and only what they mark
shared reaches their teams (team page, reflections feed). Nothing here reports on people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aggregator.errors import LearningRecordError
from aggregator.models import (
    Item,
    Learned,
    LearningRecord,
    LearningWeek,
    Profile,
    Rule,
    SavedSearch,
    local_day,
)
from aggregator.rank.daily import SEARCH_SECTION_SIZE, saved_searches
from aggregator.rank.learning import week_start
from aggregator.rank.rules import rule_matches
from aggregator.search import SearchIndex
from aggregator.store import Store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOTE_MAX = 1_000
"""Characters of a reflection: what someone took from an item, a few sentences."""
MINUTES_MAX = 24 * 60


@dataclass(frozen=True, slots=True)
class RuleEffect:
    """What one rule of a profile matches among the stored items of its window."""

    number: int
    rule: Rule
    items: tuple[Item, ...]


def checked_learning(minutes: int | None, note: str) -> str:
    """The reflection to store, or LearningRecordError saying what is wrong with the input."""
    if minutes is not None and not 0 <= minutes <= MINUTES_MAX:
        raise LearningRecordError(f"minutes are between 0 and {MINUTES_MAX}, got {minutes}")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise LearningRecordError(
            f"a reflection is at most {NOTE_MAX:,} characters, got {len(note):,}"
        )
    return note


def with_items(store: Store, records: Sequence[LearningRecord]) -> list[Learned]:
    items = store.items({record.item_id for record in records})
    return [Learned(r, items[r.item_id]) for r in records if r.item_id in items]


def log_weeks(store: Store, person: str) -> list[LearningWeek]:
    """The person's whole log by week, newest week first."""
    weeks: dict[date, list[Learned]] = {}
    for entry in with_items(store, store.learning([person], EPOCH)):
        weeks.setdefault(week_start(local_day(entry.record.learned_at)), []).append(entry)
    return [
        LearningWeek(start, tuple(sorted(entries, key=lambda e: e.record.learned_at, reverse=True)))
        for start, entries in sorted(weeks.items(), reverse=True)
    ]


def shared_reflections(
    store: Store, people: Sequence[str], since: datetime = EPOCH
) -> list[Learned]:
    """What ``people`` chose to share of their learning since ``since``, newest first; only
    records with a reflection: the team sees what someone took from an item."""
    records = [r for r in store.learning(people, since) if r.shared and r.note]
    return sorted(with_items(store, records), key=lambda e: e.record.learned_at, reverse=True)


def week_of(now: datetime) -> datetime:
    """The start of ``now``'s week (Monday, local midnight), as an aware time."""
    start = week_start(local_day(now))
    return datetime(start.year, start.month, start.day).astimezone()


def window(store: Store, profile: Profile, now: datetime) -> list[Item]:
    """The stored items of the profile's freshness window, published by ``now``."""
    since = now - timedelta(days=profile.freshness_days)
    return [item for item in store.items_since(since) if item.published <= now]


def rule_effects(store: Store, profile: Profile, now: datetime) -> list[RuleEffect]:
    """Each rule with the stored items it matches now (mute: hides; keep: brings in)."""
    items = window(store, profile, now)
    return [
        RuleEffect(n, rule, tuple(rule_matches(rule, items)))
        for n, rule in enumerate(profile.rules, start=1)
    ]


def search_preview(
    store: Store, index: SearchIndex, profile: Profile, search: SavedSearch, now: datetime
) -> list[Item]:
    """The items a saved search's section would show now (its query checked first)."""
    index.search(search.query, limit=1)  # a QuerySyntaxError says what is wrong
    alone = Profile(
        profile.name,
        profile.display_name,
        profile.interests,
        freshness_days=profile.freshness_days,
        rules=profile.rules,
        searches=(search,),
    )
    ((_, picks),) = saved_searches(index, store.items, alone, now, set())
    return [pick.item for pick in picks][:SEARCH_SECTION_SIZE]
