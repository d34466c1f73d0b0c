"""The names a person types, checked against the names that exist.

One vocabulary of item types serves everything: a source's ``kind`` (a hint)
and ``type`` (a decision) in ``feeds.toml``, a profile's ``[types]``,
``sections`` and ``wanted_types``, ``search --type`` and the web app's filters.
The source kinds of earlier releases (``blog``, ``courses``...) are read as
the type they meant, so an old file keeps working; whoever reads the file says
so once, where it stands.

A name that matches nothing is refused with the closest names (difflib, as the
config loader does for keys), because a typo that silently matches nothing
("Community Pick" for "Community Picks") looks exactly like "no results".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from aggregator.errors import UnknownNameError
from aggregator.models import ITEM_TYPES

OLD_TYPE_NAMES: dict[str, str] = {
    "blog": "article",
    "news": "article",
    "courses": "course",
    "events": "event",
    "papers": "paper",
}
"""Source kinds of earlier releases, and the item type each is read as."""

SHOWN_CHOICES = 12
"""Names listed when none is close: enough to recognise the right one, not a page of them."""


def closest(value: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names nearest ``value``: by spelling, ignoring case, best first."""
    names = list(dict.fromkeys(known))
    by_folded = {name.casefold(): name for name in names}
    folded = value.casefold()
    if folded in by_folded:
        return [by_folded[folded]]
    found = difflib.get_close_matches(folded, list(by_folded), n=n, cutoff=0.6)
    # A prefix ("Community" for "Community Picks") is as good a hint as a near spelling.
    found += [key for key in by_folded if folded and key.startswith(folded) and key not in found]
    return [by_folded[key] for key in found[:n]]


def did_you_mean(value: str, known: Iterable[str]) -> str:
    """``; did you mean 'X'?``, or the names there are when none is close ("" when none)."""
    names = list(dict.fromkeys(known))
    near = closest(value, names)
    if near:
        return "; did you mean " + " or ".join(repr(name) for name in near) + "?"
    if not names:
        return ""
    shown = ", ".join(repr(name) for name in sorted(names)[:SHOWN_CHOICES])
    more = f" and {len(names) - SHOWN_CHOICES} more" if len(names) > SHOWN_CHOICES else ""
    return f"; known: {shown}{more}"


def check_name(value: str, known: Iterable[str], what: str) -> str:
    """``value`` if it is one of ``known`` (exactly), else :class:`UnknownNameError`."""
    names = list(known)
    if value in names:
        return value
    raise UnknownNameError(f"no {what} named {value!r}{did_you_mean(value, names)}")


def item_type(value: str) -> str:
    """The item type ``value`` names: a type, or an old kind name for one; else an error
    naming the closest type."""
    if value in ITEM_TYPES:
        return value
    if value in OLD_TYPE_NAMES:
        return OLD_TYPE_NAMES[value]
    hint = did_you_mean(value, ITEM_TYPES)
    raise UnknownNameError(f"unknown item type {value!r}{hint} (types: {', '.join(ITEM_TYPES)})")


def old_name_note(value: str) -> str:
    """What to say about an old name: ``'courses' is now 'course'``; "" for a current one."""
    new = OLD_TYPE_NAMES.get(value)
    if new is None or value in ITEM_TYPES:
        return ""
    return (
        f"{value!r} is an old name: read as {new!r} (write {new!r}; types: {', '.join(ITEM_TYPES)})"
    )


def kind_hint(kind: str) -> str:
    """The type a source's ``kind`` suggests to the classifier, "" for none: ``article`` is
    what an item is when nothing says otherwise, so it is no hint."""
    hinted = OLD_TYPE_NAMES.get(kind, kind)
    return hinted if hinted in ITEM_TYPES and hinted != "article" else ""
