"""Shares between teammates: who sees which share, and each item once with every note.

Pure: the pipeline reads shares from the store and hands them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

from aggregator.models import Item, Share, SharedItem

TEAM_PAGE_DAYS = 7
"""A team page shows the shares of the last week."""


def who_sees_it(teams: Sequence[str]) -> str:
    """Where a share shows, said truthfully: a person in no team has no team page to show it."""
    if not teams:
        return (
            "recorded, but you are in no team yet, so no team page or teammate sees it: "
            "add a [teams] table to feeds.toml"
        )
    named = ", ".join(teams)
    page = "page" if len(teams) == 1 else "pages"
    return f"on the team {page} of {named} now, and in your teammates' next digest"


def group_shares(shares: Iterable[Share], items: Mapping[int, Item]) -> list[SharedItem]:
    """One entry per item, newest share first; an item shared twice keeps both notes.

    Shares of items no longer in the store are dropped.
    """
    by_item: dict[int, list[Share]] = {}
    for share in shares:
        if share.item_id in items:
            by_item.setdefault(share.item_id, []).append(share)
    grouped = [
        SharedItem(item=items[item_id], shares=tuple(sorted(group, key=lambda s: s.shared_at)))
        for item_id, group in by_item.items()
    ]
    grouped.sort(key=lambda entry: entry.shares[-1].shared_at, reverse=True)
    return grouped


def colleagues_window(day: date, days: Sequence[date]) -> tuple[date, date]:
    """The days whose shares belong in the digest of ``day``: ``[start, day)``.

    ``start`` is the person's previous digest day (a week back for a first
    digest), so each share shows in exactly one digest of each teammate: the
    first one after it was made.
    """
    earlier = [d for d in days if d < day]
    return (max(earlier) if earlier else day - timedelta(days=TEAM_PAGE_DAYS), day)
