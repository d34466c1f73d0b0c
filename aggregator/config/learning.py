"""The learning part of a profile: a weekly goal, a digest's time budget, saved searches and
hard rules, each checked as :mod:`.files` checks the rest (file, line and key in every error).

    weekly_minutes = 60
    digest_minutes = 45

    [[search]]
    name = "Rust async"
    query = "rust async"
    types = ["article", "video"]

    [[rule]]
    action = "mute"
    words = ["webinar", "sponsored"]

    [[rule]]
    action = "keep"
    field = "author"
    contains = "Ada Lovelace"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aggregator.models import ITEM_TYPES, RULE_FIELDS, RULE_MATCHERS, Rule, SavedSearch

if TYPE_CHECKING:
    from aggregator.config.files import _Checker

LEARNING_KEYS = ("weekly_minutes", "digest_minutes", "search", "rule")
SEARCH_KEYS = ("name", "query", "types")
RULE_KEYS = ("action", "name", *RULE_MATCHERS, "contains")
RULE_ACTIONS = ("mute", "keep")
MAX_SEARCHES = 20
MAX_RULES = 100
MAX_QUERY_CHARS = 500
MAX_MINUTES = 10_080
"""A week of minutes: a goal or budget past it is a typo."""


def learning_fields(check: _Checker, data: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's learning keys as :class:`~aggregator.models.Profile` fields."""
    return {
        "weekly_minutes": _minutes(check, data, "weekly_minutes"),
        "digest_minutes": _minutes(check, data, "digest_minutes"),
        "searches": _searches(check, check.typed(data, "search", list, [])),
        "rules": _rules(check, check.typed(data, "rule", list, [])),
    }


def _minutes(check: _Checker, data: Mapping[str, Any], key: str) -> int | None:
    value = check.typed(data, key, int, None)
    if value is not None and not 1 <= value <= MAX_MINUTES:
        raise check.fail(f"must be between 1 and {MAX_MINUTES} minutes, got {value}", key)
    return value


def _searches(check: _Checker, raw: list[Any]) -> tuple[SavedSearch, ...]:
    if len(raw) > MAX_SEARCHES:
        raise check.fail(f"{len(raw)} saved searches: at most {MAX_SEARCHES}", "search")
    searches: list[SavedSearch] = []
    for n, table in enumerate(raw):
        if not isinstance(table, dict):
            raise check.fail("write each saved search as a [[search]] table", "search")
        check.known_keys(table, SEARCH_KEYS, "search", n)
        name = check.one_line(
            check.typed(table, "name", str, "", "search", n), "search.name", "search", n
        )
        query = check.typed(table, "query", str, "", "search", n).strip()
        if not name.strip() or not query:
            raise check.fail("a saved search needs a name and a query", "search", "search", n)
        if len(query) > MAX_QUERY_CHARS:
            message = f"a query of {len(query):,} characters: at most {MAX_QUERY_CHARS}"
            raise check.fail(message, "search.query", "search", n)
        if any(s.name == name.strip() for s in searches):
            raise check.fail(f"two saved searches named {name!r}", "search.name", "search", n)
        types = check.typed(table, "types", list, [], "search", n)
        for kind in types:
            if kind not in ITEM_TYPES:
                message = f"unknown type {kind!r}; types are {', '.join(ITEM_TYPES)}"
                raise check.fail(message, "search.types", "search", n)
        searches.append(SavedSearch(name.strip(), " ".join(query.split()), tuple(types)))
    return tuple(searches)


def _rules(check: _Checker, raw: list[Any]) -> tuple[Rule, ...]:
    if len(raw) > MAX_RULES:
        raise check.fail(f"{len(raw)} rules: at most {MAX_RULES}", "rule")
    return tuple(_rule(check, table, n) for n, table in enumerate(raw))


def _rule(check: _Checker, table: Any, n: int) -> Rule:
    if not isinstance(table, dict):
        raise check.fail("write each rule as a [[rule]] table", "rule")
    check.known_keys(table, RULE_KEYS, "rule", n)
    action = check.typed(table, "action", str, "", "rule", n)
    if action not in RULE_ACTIONS:
        raise check.fail(f"action is mute or keep, got {action!r}", "rule.action", "rule", n)
    matchers = [key for key in RULE_MATCHERS if key in table]
    if len(matchers) != 1:
        message = f"a rule matches on exactly one of {', '.join(RULE_MATCHERS)}"
        raise check.fail(message, "rule", "rule", n)
    matcher = matchers[0]
    if matcher == "words":
        words = check.typed(table, "words", list, [], "rule", n)
        if not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise check.fail("expected a list of words", "rule.words", "rule", n)
        return Rule(action, matcher, tuple(w.strip().lower() for w in words))
    value = check.typed(table, matcher, str, "", "rule", n).strip()
    if not value:
        raise check.fail("must not be empty", f"rule.{matcher}", "rule", n)
    if matcher == "type" and value not in ITEM_TYPES:
        message = f"unknown type {value!r}; types are {', '.join(ITEM_TYPES)}"
        raise check.fail(message, "rule.type", "rule", n)
    if matcher != "field":
        return Rule(action, matcher, (value,))
    if value not in RULE_FIELDS:
        message = f"field is one of {', '.join(RULE_FIELDS)}, got {value!r}"
        raise check.fail(message, "rule.field", "rule", n)
    contains = check.typed(table, "contains", str, "", "rule", n).strip()
    if not contains:
        raise check.fail('a field rule needs contains = "..."', "rule.contains", "rule", n)
    return Rule(action, matcher, (contains,), field=value)
