"""Editing a profile's saved searches and rules in place (``[[search]]`` and ``[[rule]]``),
through :func:`aggregator.config.profile_edit.edit`, which validates before it saves."""

from __future__ import annotations

from collections.abc import Sequence

import tomlkit
from tomlkit.items import AoT

from aggregator.errors import ConfigError


def _tables(document: tomlkit.TOMLDocument, key: str) -> AoT:
    found = document.get(key)
    if found is None:
        found = tomlkit.aot()
        document[key] = found
    if not isinstance(found, AoT):
        raise ConfigError("", f"{key} must be written as [[{key}]] tables", key=key)
    return found


def set_search(
    document: tomlkit.TOMLDocument, name: str, query: str, types: Sequence[str] = ()
) -> None:
    """Add the saved search ``name``, or change its query and types."""
    table = tomlkit.table()
    table["name"] = name
    table["query"] = query
    if types:
        table["types"] = list(types)
    searches = _tables(document, "search")
    for n, existing in enumerate(searches):
        if existing.get("name") == name:
            searches[n] = table
            return
    searches.append(table)


def remove_search(document: tomlkit.TOMLDocument, name: str) -> None:
    searches = _tables(document, "search")
    names = [str(table.get("name")) for table in searches]
    if name not in names:
        known = ", ".join(repr(n) for n in names) or "none"
        raise ConfigError("", f"no saved search {name!r} (saved searches: {known})", key="search")
    del searches[names.index(name)]
    if not len(searches):
        del document["search"]


def add_rule(
    document: tomlkit.TOMLDocument, action: str, matcher: str, value: str, field: str = ""
) -> None:
    """Append a rule; ``words`` take a comma- or space-separated list."""
    table = tomlkit.table()
    table["action"] = action
    if matcher == "words":
        table["words"] = [word for word in value.replace(",", " ").split() if word]
    elif matcher == "field":
        table["field"] = field
        table["contains"] = value
    else:
        table[matcher] = value
    _tables(document, "rule").append(table)


def remove_rule(document: tomlkit.TOMLDocument, number: int) -> None:
    """Remove rule ``number`` (1 is the first, as ``learnplace rule list`` numbers them)."""
    rules = _tables(document, "rule")
    if not 1 <= number <= len(rules):
        raise ConfigError("", f"no rule {number}: the profile has {len(rules)}", key="rule")
    del rules[number - 1]
    if not len(rules):
        del document["rule"]
