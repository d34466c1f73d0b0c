"""Relevance becomes a ranking for one person: exclusions, type and source preferences.

    score = relevance * type preference * preferred source

Relevance comes from :mod:`aggregator.rank.model`; everything here is plain
arithmetic on the index's scores and the stored items, so it is pure and
tested with plain data. An excluded word, source or a type weighted 0
removes an item outright.

Recency is the freshness window and no more: inside it relevance decides,
and of two items as relevant the newer comes first. A factor that favoured
new items cost every labeled set (on ``talks`` 0.704 -> 0.638 nDCG@10 at the
old 0.85 floor): it reorders items whose relevance differs by less than it.
Items already sent are left out of later digests, so a relevant item is
still news on the day it is first picked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from aggregator.models import Item, Profile
from aggregator.rank.analysis import phrase_terms, spelled
from aggregator.rank.feedback import Feedback, item_text
from aggregator.rank.model import (
    RANKED_FIELDS,
    Plan,
    Scores,
    Weights,
    fuse,
    hits,
    rankings,
    universe,
)
from aggregator.search.query import Or, Phrase, Query, Scored, Term

EXCLUDE_KEY = ("exclude",)
"""The key under which :func:`profile_queries` asks for the items a profile excludes."""

PREFERRED_SOURCE = 1.3
"""Score factor for an item from a source the profile prefers."""


def exclusion_query(words: Sequence[str]) -> Or:
    """Items saying any of ``words`` (a phrase as a phrase) anywhere, or tagged so."""
    parts: list[Query] = []
    for word in words:
        terms = list(phrase_terms(word))
        parts.append(Term("tags", word.lower()))
        for name in RANKED_FIELDS:
            if len(terms) == 1:
                parts.append(Term(name, terms[0]))
            elif terms:
                parts.append(Phrase(name, tuple(terms)))
    return Or(tuple(parts))


def profile_queries(profile: Profile, chosen: Plan) -> dict[tuple[str, ...], Scored]:
    """What the index scores for ``profile``: the plan's queries, and its exclusions."""
    queries = chosen.queries()
    if profile.exclude:
        queries[EXCLUDE_KEY] = exclusion_query(profile.exclude)
    return queries


@dataclass(frozen=True, slots=True)
class Ranked:
    """An item with its blended score and the numbers behind it, before digest selection."""

    item: Item
    score: float
    matched: tuple[str, ...]
    """The interests whose words (or tag) the item holds, in the profile's order."""
    type_weight: float
    source_weight: float = 1.0
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()
    kept_by: str = ""
    """The keep rule that brought the item in, described, when one did."""


def _matched(chosen: Plan, scores: Scores, ids: np.ndarray) -> np.ndarray:
    """For each of ``ids``, which interests it holds a word or the tag of, one bit each."""
    bits = np.zeros(len(ids), np.int64)
    for bit, interest in enumerate(chosen.interests):
        keys = [("tag", interest.phrase), *(("term", term) for term in interest.terms)]
        holding = [scores[key][0] for key in keys if key in scores]
        if holding:
            bits |= np.isin(ids, np.concatenate(holding)).astype(np.int64) << bit
    return bits


class Ranking(Sequence[Ranked]):
    """A profile's matches, best first; each becomes a :class:`Ranked` only when read.

    A profile matches thousands of items and a digest reads a few dozen of
    them: building them all cost more than ranking them.
    """

    def __init__(
        self,
        chosen: Plan,
        items: Mapping[int, Item],
        columns: Mapping[str, np.ndarray],
        feedback: Feedback,
    ) -> None:
        self._items = items
        self._ids = columns["ids"].tolist()
        self._scores = columns["scores"].tolist()
        self._bits = columns["bits"].tolist()
        self._types = columns["types"].tolist()
        self._sources = columns["sources"].tolist()
        self._phrases = [interest.phrase for interest in chosen.interests]
        self._feedback = feedback
        self._built: dict[int, Ranked] = {}

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Ranked: ...

    @overload
    def __getitem__(self, index: slice) -> list[Ranked]: ...

    def __getitem__(self, index: int | slice) -> Ranked | list[Ranked]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        found = self._built.get(index)
        if found is None:
            item = self._items[self._ids[index]]
            bits = self._bits[index]
            found = self._built[index] = Ranked(
                item,
                self._scores[index],
                tuple(p for bit, p in enumerate(self._phrases) if bits >> bit & 1),
                self._types[index],
                self._sources[index],
                liked=shared_words(item, self._feedback.more),
                disliked=shared_words(item, self._feedback.less),
            )
        return found

    def __iter__(self) -> Iterator[Ranked]:
        return (self[n] for n in range(len(self)))


def blend(
    profile: Profile,
    chosen: Plan,
    scores: Scores,
    items: Mapping[int, Item],
    feedback: Feedback | None = None,
    weights: Weights | None = None,
) -> Ranking:
    """Rank every item of ``items`` that matched the profile, best first.

    ``scores`` is what the index returned for :func:`profile_queries`;
    ``weights`` the query judgements moved (None without judgements). Ties go
    to the newer item, then the lower id.
    """
    feedback = feedback or Feedback()
    ids = universe(scores, leave_out=EXCLUDE_KEY)
    found = rankings(chosen, scores, ids, weights)
    excluded = set(scores[EXCLUDE_KEY][0].tolist()) if EXCLUDE_KEY in scores else set()
    excluded |= feedback.rejected
    found_items = [None if i in excluded else items.get(i) for i in ids.tolist()]
    type_weights = np.array(
        [profile.types.get(it.item_type, 1.0) if it else 0.0 for it in found_items]
    )
    source_weights = np.ones(len(ids))
    if profile.prefer_sources or profile.exclude_sources:
        preferred = {name.casefold() for name in profile.prefer_sources}
        blocked = {name.casefold() for name in profile.exclude_sources}
        names = [it.source_name.casefold() if it else "" for it in found_items]
        source_weights = np.array(
            [0.0 if n in blocked else PREFERRED_SOURCE if n in preferred else 1.0 for n in names]
        )
    factor = np.maximum(type_weights, 0.0) * source_weights
    published = np.array([it.published.timestamp() if it else 0.0 for it in found_items])
    # Preferences shape each ranking before fusion: fused scores are ranks, and a factor
    # applied to them would outweigh relevance.
    shaped = [ranking * factor for ranking in found]
    final = shaped[0] if len(shaped) == 1 else fuse(shaped, chosen.model.fusion_k)
    order = np.lexsort((ids, -published, -final))
    order = order[final[order] > 0]
    columns = {
        "ids": ids[order],
        "scores": final[order],
        "bits": _matched(chosen, scores, ids[order]),
        "types": type_weights[order],
        "sources": source_weights[order],
    }
    return Ranking(chosen, items, columns, feedback)


def shared_words(item: Item, learnt: Mapping[str, float]) -> tuple[str, ...]:
    """The learnt words an item holds, strongest first, as the item spells them (three at most)."""
    if not learnt:
        return ()
    words = spelled(item_text(item))
    return tuple(words[t] for t in sorted(learnt, key=lambda t: (-learnt[t], t)) if t in words)[:3]


def personalize(
    profile: Profile,
    chosen: Plan,
    found: Sequence[tuple[Item, float]],
    scores: Mapping[tuple[str, ...], Mapping[int, float]],
) -> list[tuple[Item, float]]:
    """Re-rank a search's results for one person: the query and their interests count equally.

    ``scores`` is :func:`profile_queries` scored on the hits only
    (:meth:`SearchIndex.score_docs`). An item the person excludes (word,
    source or a type weighted 0) is dropped; both scores are scaled to 0..1
    by their best value so neither swamps the other.
    """
    by_id = {item.id: item for item, _ in found}
    as_hits = {key: hits(values) for key, values in scores.items()}
    personal = {r.item.id: r.score for r in blend(profile, chosen, as_hits, by_id)}
    excluded = set(scores.get(EXCLUDE_KEY, {}))
    blocked = {name.casefold() for name in profile.exclude_sources}
    kept = [
        (item, score)
        for item, score in found
        if item.id not in excluded
        and item.source_name.casefold() not in blocked
        and profile.types.get(item.item_type, 1.0) > 0
    ]
    best_query = max((score for _, score in kept), default=0.0) or 1.0
    best_interest = max(personal.values(), default=0.0) or 1.0
    blended = [
        (item, score / best_query + personal.get(item.id, 0.0) / best_interest)
        for item, score in kept
    ]
    blended.sort(key=lambda pair: (-pair[1], -pair[0].published.timestamp(), pair[0].id))
    return blended
