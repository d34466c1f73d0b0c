"""One profile's digest from the index: the digest path, shared with the relevance benchmark."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from aggregator.models import Digest, Item, Profile
from aggregator.rank.blending import EXCLUDE_KEY, Ranking, blend, profile_queries
from aggregator.rank.digest import build_digest
from aggregator.rank.feedback import Feedback, learn, moved
from aggregator.rank.model import (
    DEFAULT_MODEL,
    RANKED_FIELDS,
    RankingModel,
    hits,
    plan,
    universe,
)
from aggregator.rank.rules import apply_rules
from aggregator.search import SearchIndex

ItemsOf = Callable[[Iterable[int]], Mapping[int, Item]]
"""Ids to stored items: the store's ``items``, or a dict lookup in a benchmark."""


def rank_profile(
    index: SearchIndex,
    items_of: ItemsOf,
    profile: Profile,
    now: datetime,
    *,
    judgements: Mapping[int, int] | None = None,
    model: RankingModel = DEFAULT_MODEL,
) -> Ranking:
    """Every item of the profile's freshness window that matches it, best first.

    One reading of the index: the profile's words, their pairs, its
    exclusions and the words its judgements taught, scored over the window.
    """
    chosen = plan(profile, model)
    feedback = Feedback()
    weights = None
    if judgements:
        feedback = learn(items_of(judgements), judgements, _frequencies(index), chosen)
        weights = moved(chosen, feedback)
        chosen = replace(
            chosen, learnt=tuple(t for t in weights.terms if t not in chosen.term_weights())
        )
    since = now - timedelta(days=profile.freshness_days)
    scores = index.score_arrays(profile_queries(profile, chosen), since=since)
    matching = universe(scores, leave_out=EXCLUDE_KEY).tolist()
    return blend(profile, chosen, scores, items_of(matching), feedback, weights)


def choose_digest(
    index: SearchIndex,
    items_of: ItemsOf,
    profile: Profile,
    now: datetime,
    day: date,
    *,
    already_sent: Collection[int] = (),
    judgements: Mapping[int, int] | None = None,
    model: RankingModel = DEFAULT_MODEL,
    stored: Sequence[Item] = (),
) -> Digest:
    """Rank and choose one profile's digest for ``day``, leaving out what was sent before.

    ``stored``: the window's items, for the profile's keep rules to bring in (its mute
    rules apply to every candidate)."""
    ranked = rank_profile(index, items_of, profile, now, judgements=judgements, model=model)
    return build_digest(profile, day, apply_rules(profile, ranked, stored), already_sent, now)


def rank_items(index: SearchIndex, profile: Profile, items: Mapping[int, Item]) -> Ranking:
    """Given items (Upcoming's events, chosen by their time) ranked for ``profile``, those
    matching it only; their words are scored among these items alone."""
    chosen = plan(profile)
    scores = index.score_docs(profile_queries(profile, chosen), index.hits_for(items))
    return blend(profile, chosen, {key: hits(found) for key, found in scores.items()}, items)


def _frequencies(index: SearchIndex) -> Callable[[set[str]], tuple[dict[str, int], int]]:
    """Each term's document frequency in the ranked fields (the most of any), and the count."""

    def frequencies(terms: set[str]) -> tuple[dict[str, int], int]:
        found: dict[str, int] = dict.fromkeys(terms, 0)
        count = 0
        for name in RANKED_FIELDS:
            counts, count = index.doc_frequencies(name, terms)
            for term, df in counts.items():
                found[term] = max(found[term], df)
        return found, count

    return frequencies
