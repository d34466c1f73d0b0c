"""A profile's hard rules: mute hides what it matches, keep brings it in, whatever the scores.

Pure: rules are matched against an item's own text (no index), so "show what this rule
matches now" lists exactly what the digest would hide or keep.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from aggregator.models import Item, Profile, Rule
from aggregator.rank.blending import Ranked
from aggregator.sanitize import html_to_text

_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text)}


def _text(item: Item) -> str:
    return f"{item.title}\n{html_to_text(item.summary)}\n{item.text}"


def _field(item: Item, name: str) -> str:
    if name == "tags":
        return " ".join(item.tags)
    if name == "summary":
        return html_to_text(item.summary)
    return str(getattr(item, name))


def matches(rule: Rule, item: Item) -> bool:
    """Whether ``rule`` matches ``item``: words whole and in any case, a phrase as its words
    in order, a source by name or URL, a field by a case-insensitive substring."""
    if rule.matcher == "words":
        return not _words(_text(item)).isdisjoint(rule.values)
    value = rule.values[0]
    if rule.matcher == "phrase":
        wanted = " ".join(w.lower() for w in _WORD.findall(value))
        return f" {wanted} " in " " + " ".join(w.lower() for w in _WORD.findall(_text(item))) + " "
    if rule.matcher == "source":
        return value.casefold() in (item.source_name.casefold(), item.source_url.casefold())
    if rule.matcher == "type":
        return item.item_type == value
    return value.casefold() in _field(item, rule.field).casefold()


def muted_by(profile: Profile, item: Item) -> Rule | None:
    """The first mute rule that hides ``item``, if any."""
    return next((r for r in profile.rules if r.action == "mute" and matches(r, item)), None)


def kept_by(profile: Profile, item: Item) -> Rule | None:
    """The first keep rule that brings ``item`` in, unless a mute rule hides it."""
    if muted_by(profile, item) is not None:
        return None
    return next((r for r in profile.rules if r.action == "keep" and matches(r, item)), None)


def apply_rules(
    profile: Profile, ranked: Iterable[Ranked], stored: Sequence[Item]
) -> Iterable[Ranked]:
    """``ranked`` with muted items left out, after the stored items a keep rule brings in
    (newest first, each saying which rule kept it)."""
    if not profile.rules:
        yield from ranked
        return
    kept: set[int] = set()
    for item in sorted(stored, key=lambda i: (i.published, i.id), reverse=True):
        rule = kept_by(profile, item)
        if rule is not None:
            kept.add(item.id)
            yield Ranked(
                item, 1.0, (), profile.types.get(item.item_type, 1.0), kept_by=rule.describe()
            )
    for candidate in ranked:
        if candidate.item.id not in kept and muted_by(profile, candidate.item) is None:
            yield candidate


def rule_matches(rule: Rule, items: Iterable[Item]) -> list[Item]:
    """The items ``rule`` matches, newest first: what it would hide or keep now."""
    found = [item for item in items if matches(rule, item)]
    return sorted(found, key=lambda i: (i.published, i.id), reverse=True)
