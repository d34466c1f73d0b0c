"""A profile becomes Whoosh queries; their scores are blended into picks that explain themselves.

Each interest is its own query so that the index returns, per interest, the
items it matched and how well (``SearchIndex.score_queries``). Blending is
then plain arithmetic on those numbers, which keeps it pure and testable:

    score = sum(weight * bm25(interest)) * recency * type preference

Exclusions remove an item outright. Why an item matched (which interest, in
which field) is recomputed for the few picked items only, from their text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from whoosh import query
from whoosh.qparser import MultifieldParser, OrGroup

from aggregator.index import SCHEMA
from aggregator.models import Item, Pick, Profile

FIELD_BOOSTS: Mapping[str, float] = {"title": 3.0, "summary": 1.5, "content": 1.0, "source": 0.5}
TAG_BOOST = 2.0
EXCLUDE_KEY = "\x00exclude"
RECENCY_FLOOR = 0.35
"""Even an item at the end of the freshness window keeps a third of its relevance."""

_FIELD_LABELS = {"title": "title", "summary": "summary", "content": "text", "tags": "tags"}


def _parser() -> MultifieldParser:
    return MultifieldParser(
        list(FIELD_BOOSTS), SCHEMA, fieldboosts=dict(FIELD_BOOSTS), group=OrGroup
    )


@functools.lru_cache(maxsize=4096)
def interest_query(phrase: str) -> query.Query:
    """One interest as a query: a phrase for several words, terms otherwise, plus an exact tag.

    Cached: parsing costs more than scoring a search's hits, and people share
    interests; Whoosh never changes a query in place.
    """
    words = _plain_words(phrase)
    text = f'"{" ".join(words)}"' if len(words) > 1 else " ".join(words)
    parsed = _parser().parse(text) if words else query.NullQuery
    return query.Or([parsed, query.Term("tags", phrase.lower(), boost=TAG_BOOST)])


def _plain_words(phrase: str) -> list[str]:
    """The phrase's words without query syntax, so a profile can never inject operators."""
    return [word for word in re.findall(r"\w+", phrase.lower()) if word not in {"and", "or", "not"}]


def profile_queries(profile: Profile) -> dict[str, query.Query]:
    """The queries to score for ``profile``: one per interest, and one for its exclusions."""
    queries = {phrase: interest_query(phrase) for phrase in profile.interests}
    if profile.exclude:
        queries[EXCLUDE_KEY] = query.Or([interest_query(word) for word in profile.exclude])
    return queries


@dataclass(frozen=True, slots=True)
class Ranked:
    """An item with its blended score and the numbers behind it, before digest selection."""

    item: Item
    score: float
    matched: tuple[str, ...]
    recency: float
    type_weight: float


def blend(
    profile: Profile,
    scores: Mapping[str, Mapping[int, float]],
    items: Mapping[int, Item],
    now: datetime,
) -> list[Ranked]:
    """Rank every item that matched at least one interest, best first.

    ``scores`` is what :meth:`SearchIndex.score_queries` returned for
    :func:`profile_queries`; ``items`` the stored items for those ids.
    """
    excluded = set(scores.get(EXCLUDE_KEY, {}))
    blocked_sources = {name.casefold() for name in profile.exclude_sources}
    relevance: dict[int, float] = {}
    matched: dict[int, list[str]] = {}
    for phrase, weight in profile.interests.items():
        for item_id, score in scores.get(phrase, {}).items():
            relevance[item_id] = relevance.get(item_id, 0.0) + weight * score
            matched.setdefault(item_id, []).append(phrase)
    ranked = []
    for item_id, value in relevance.items():
        item = items.get(item_id)
        if item is None or item_id in excluded or value <= 0:
            continue
        if item.source_name.casefold() in blocked_sources:
            continue
        recency = recency_factor(item.published, now, profile.freshness_days)
        type_weight = profile.types.get(item.item_type, 1.0)
        if type_weight <= 0:
            continue
        ranked.append(
            Ranked(
                item, value * recency * type_weight, tuple(matched[item_id]), recency, type_weight
            )
        )
    ranked.sort(key=lambda r: (-r.score, -r.item.published.timestamp(), r.item.id))
    return ranked


def recency_factor(published: datetime, now: datetime, window_days: int) -> float:
    """1.0 for an item published now, decaying smoothly to the floor at the window's end."""
    age_days = max(0.0, (now - published).total_seconds() / 86400)
    decay = math.exp(-3.0 * age_days / max(window_days, 1))
    return RECENCY_FLOOR + (1 - RECENCY_FLOOR) * decay


def explain(ranked: Ranked, now: datetime) -> Pick:
    """Turn a ranked item into a pick whose reasons a person can read."""
    reasons = [_interest_reason(ranked.item, phrase) for phrase in ranked.matched]
    age_days = int(max(0.0, (now - ranked.item.published).total_seconds()) // 86400)
    if age_days <= 1:
        reasons.append("new today" if age_days == 0 else "from yesterday")
    elif ranked.recency < 0.6:
        reasons.append(f"older ({age_days} days)")
    if ranked.type_weight != 1.0:
        verb = "preferred" if ranked.type_weight > 1 else "less wanted"
        reasons.append(f"{verb} type: {ranked.item.item_type} (weight {ranked.type_weight:g})")
    return Pick(item=ranked.item, score=round(ranked.score, 4), reasons=tuple(reasons))


def _interest_reason(item: Item, phrase: str) -> str:
    fields = matched_fields(item, phrase)
    where = f" in {', '.join(fields)}" if fields else ""
    return f"“{phrase}”{where}"


def matched_fields(item: Item, phrase: str) -> list[str]:
    """Which of the item's fields contain the (analysed) phrase, in display order."""
    wanted = _analyse("title", phrase)
    if not wanted:
        return []
    texts = {"title": item.title, "summary": item.summary, "content": item.text}
    found = [
        label
        for field, label in _FIELD_LABELS.items()
        if field in texts and _contains(_analyse(field, texts[field]), wanted)
    ]
    if "summary" in found and "text" in found:
        found.remove("text")  # the text usually is the summary; saying both is noise
    if phrase.lower() in (tag.lower() for tag in item.tags):
        found.append("tags")
    return found


def _analyse(field: str, text: str) -> list[str]:
    return [token.text for token in SCHEMA[field].analyzer(text)]


def _contains(tokens: list[str], wanted: list[str]) -> bool:
    size = len(wanted)
    return any(tokens[i : i + size] == wanted for i in range(len(tokens) - size + 1))


def personalize(
    profile: Profile,
    hits: Sequence[tuple[Item, float]],
    interest_scores: Mapping[str, Mapping[int, float]],
    now: datetime,
) -> list[tuple[Item, float]]:
    """Re-rank a search's results for one person: the query and their interests count equally.

    ``interest_scores`` is :func:`profile_queries` scored on the hits only. An
    item the person excludes (word, source or a type weighted 0) is dropped;
    both scores are scaled to 0..1 by their best value so neither swamps the other.
    """
    relevance = {r.item.id: r.score for r in blend(profile, interest_scores, _by_id(hits), now)}
    excluded = set(interest_scores.get(EXCLUDE_KEY, {}))
    blocked_sources = {name.casefold() for name in profile.exclude_sources}
    kept = [
        (item, score)
        for item, score in hits
        if item.id not in excluded
        and item.source_name.casefold() not in blocked_sources
        and profile.types.get(item.item_type, 1.0) > 0
    ]
    best_query = max((score for _, score in kept), default=0.0) or 1.0
    best_interest = max(relevance.values(), default=0.0) or 1.0
    blended = [
        (item, score / best_query + relevance.get(item.id, 0.0) / best_interest)
        for item, score in kept
    ]
    blended.sort(key=lambda pair: (-pair[1], -pair[0].published.timestamp(), pair[0].id))
    return blended


def _by_id(hits: Sequence[tuple[Item, float]]) -> dict[int, Item]:
    return {item.id: item for item, _ in hits}
