"""How well an item matches a profile: every word counts, weights shape, proximity adds.

The model, in IR terms (each part kept only because it held on every labeled set):

* **Every word of every interest counts** (BM25 over title, summary and the
  rest of the text, Robertson's constants, as a plain search scores them). An
  interest "incident response planning" finds an item about planning how a
  team responds to incidents, below one that says it in so many words.
* **Words found together add** (the sequential dependence model, Metzler and
  Croft 2005): each pair of neighbouring words in an interest is also scored
  as a term of its own, once as an exact two-word phrase and once as both
  words within a window of eight, in either order. Their share is
  ``proximity``; Metzler and Croft's own split (0.10 ordered, 0.05
  unordered) fixes the two parts' ratio.
* **Interest weights shape rather than swamp**: the weighted ranking (each
  word weighed by its interest's weight, raised to ``weight_power``) is fused
  with the same words unweighted by reciprocal rank fusion (Cormack, Clarke
  and Büttcher 2009, k = 60). A weight moves an item up the order; it cannot
  bury an item that matches every word because one weighty word is common.
* **Judgements teach** (Rocchio 1971): once a person has said "more" or
  "less", the weighted query moves toward the items they wanted and away
  from the others (see :mod:`aggregator.rank.feedback`), and it alone ranks:
  their judgements say more than the unweighted hedge.

Pseudo-relevance expansion (RM3), BM25F-style combined field weights and
extra title weight were measured too and left out: each lost on at least one
set (see ``benchmarks/relevance.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from aggregator.models import Profile
from aggregator.rank.analysis import phrase_terms
from aggregator.search.query import Near, Or, Scored, Term

RANKED_FIELDS: tuple[str, ...] = ("title", "summary", "body")
"""Where an interest's words are looked for, each field scored on its own and added, as
a plain search does; the source's name is not evidence of what an item is about."""


@dataclass(frozen=True, slots=True)
class RankingModel:
    """The model's constants. Only ``TUNED`` ones are chosen on the labeled sets."""

    weight_power: float = 1.0
    """A word's weight is its interest's weight to this power (0 ignores the weights)."""
    proximity: float = 0.15
    """The share of an interest's score that its words found together carry."""
    fusion_k: int = 60
    """Reciprocal rank fusion's constant, as published (Cormack et al. 2009)."""
    window: int = 8
    """Words this close count as found together (Metzler and Croft's unordered window)."""
    rocchio_alpha: float = 1.0
    """How much of the person's own query stays when judgements move it (SMART's 1)."""
    rocchio_beta: float = 1.0
    """How far judgements "more" move the query toward the items' centroid."""
    rocchio_gamma: float = 0.15
    """How far judgements "less" move it away from theirs (SMART's 0.15)."""
    learnt_terms: int = 500
    """Most words the moved query keeps beyond the profile's own: a bound on cost only (a
    centroid of the items one person judged holds fewer; 30 or 100 ranked worse on every set)."""


TUNED: tuple[str, ...] = ("weight_power", "proximity")
"""The constants ``benchmarks/relevance.py --cross`` chooses by leave-one-set-out, judged
by the digest's nDCG@10 against the plain baseline."""

TUNED_FEEDBACK: tuple[str, ...] = ("rocchio_beta",)
"""The constants it chooses the same way for judgements, judged by the nDCG@10 of the
items not shown yet, with the judgements against without."""

DEFAULT_MODEL = RankingModel()

ORDERED_SHARE = 2 / 3
"""Of the proximity share, the exact phrase's part: 0.10 of 0.15 in Metzler and Croft."""


@dataclass(frozen=True, slots=True)
class Interest:
    """One interest as the index sees it: its terms, and its weight."""

    phrase: str
    weight: float
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What to ask the index for one profile, and how to weigh each answer.

    Keys of :meth:`queries` are ``("term", t)``, ``("tag", phrase)`` and
    ``("near", field, a, b, window)``; :func:`relevance` reads the scores back
    under the same keys.
    """

    interests: tuple[Interest, ...]
    model: RankingModel = DEFAULT_MODEL
    learnt: tuple[str, ...] = ()
    """Words learnt from judgements, scored too (see :mod:`aggregator.rank.feedback`)."""

    def term_weights(self) -> dict[str, float]:
        """Each word once, at the weight of the weightiest interest holding it.

        "testing" and "unit tests" both hold "test": it counts once, not twice.
        """
        weights: dict[str, float] = {}
        for interest in self.interests:
            shaped = interest.weight**self.model.weight_power
            for term in interest.terms:
                weights[term] = max(weights.get(term, 0.0), shaped)
        return weights

    def pairs(self) -> dict[tuple[str, str], float]:
        """Neighbouring words of each interest, at their interest's shaped weight."""
        found: dict[tuple[str, str], float] = {}
        for interest in self.interests:
            shaped = interest.weight**self.model.weight_power
            for pair in zip(interest.terms, interest.terms[1:], strict=False):
                found[pair] = max(found.get(pair, 0.0), shaped)
        return found

    def tag_weights(self) -> dict[str, float]:
        """Each interest as an exact tag of an item, at its shaped weight."""
        return {i.phrase: i.weight**self.model.weight_power for i in self.interests}

    def queries(self) -> dict[tuple[str, ...], Scored]:
        """Every query the index scores for this plan; words learnt from judgements included."""
        found: dict[tuple[str, ...], Scored] = {}
        for term in (*self.term_weights(), *self.learnt):
            found["term", term] = word_query(term)
        for interest in self.interests:
            found["tag", interest.phrase] = Term("tags", interest.phrase.lower())
        if self.model.proximity:
            for first, second in self.pairs():
                for name in RANKED_FIELDS:
                    for window in (1, self.model.window):
                        found["near", name, first, second, str(window)] = Near(
                            name, first, second, window
                        )
        return found


def plan(profile: Profile, model: RankingModel = DEFAULT_MODEL) -> Plan:
    """The profile's interests with their terms; an interest of no word matches nothing."""
    interests = tuple(
        Interest(phrase, float(weight), phrase_terms(phrase))
        for phrase, weight in profile.interests.items()
    )
    return Plan(tuple(i for i in interests if i.terms), model)


def word_query(term: str) -> Or:
    """One analysed word in every ranked field: its score is the fields' scores added."""
    return Or(tuple(Term(name, term) for name in RANKED_FIELDS))


Hits = tuple[np.ndarray, np.ndarray]
"""One query's matches: item ids (each once) and their scores, as the index gives them."""

Scores = Mapping[tuple[str, ...], Hits]


def hits(scores: Mapping[int, float]) -> Hits:
    """Item id -> score as :data:`Hits` (for a search's scores, and for tests)."""
    return np.fromiter(scores, np.int64, len(scores)), np.fromiter(scores.values(), float)


def universe(scores: Scores, *, leave_out: tuple[str, ...] = ()) -> np.ndarray:
    """Every item id any of the queries matched, sorted (the keys in ``leave_out`` aside)."""
    parts = [ids for key, (ids, _) in scores.items() if key != leave_out]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


@dataclass(frozen=True, slots=True)
class Weights:
    """The weighted query: a weight per word, per pair of neighbouring words, per exact tag."""

    terms: Mapping[str, float]
    pairs: Mapping[tuple[str, str], float] = field(default_factory=dict)
    tags: Mapping[str, float] = field(default_factory=dict)


class _Sum:
    """Scores of many queries added up over one sorted array of item ids."""

    def __init__(self, scores: Scores, ids: np.ndarray) -> None:
        self._scores = scores
        self._ids = ids
        self.total = np.zeros(len(ids))

    def add(self, key: tuple[str, ...], factor: float) -> None:
        found = self._scores.get(key)
        if found is not None and len(found[0]) and factor:
            matched, values = found
            self.total[np.searchsorted(self._ids, matched)] += factor * values


def weighted(plan: Plan, scores: Scores, ids: np.ndarray, weights: Weights) -> np.ndarray:
    """The weighted ranking's score of each of ``ids`` (0 for no match)."""
    model = plan.model
    word_share = 1 - model.proximity
    total = _Sum(scores, ids)
    for term, weight in weights.terms.items():
        total.add(("term", term), word_share * weight)
    for phrase, weight in weights.tags.items():
        total.add(("tag", phrase), word_share * weight)
    if model.proximity:
        shares = {1: ORDERED_SHARE, model.window: 1 - ORDERED_SHARE}
        for (first, second), weight in weights.pairs.items():
            for name in RANKED_FIELDS:
                for window, share in shares.items():
                    key = ("near", name, first, second, str(window))
                    total.add(key, model.proximity * share * weight)
    return total.total


def plain(plan: Plan, scores: Scores, ids: np.ndarray) -> np.ndarray:
    """Every word of the profile once, unweighted: what a plain search would rank."""
    total = _Sum(scores, ids)
    for term in plan.term_weights():
        total.add(("term", term), 1.0)
    return total.total


def fuse(rankings: Iterable[np.ndarray], k: int) -> np.ndarray:
    """Reciprocal rank fusion: each ranking gives an item scored in it 1 / (k + its rank).

    Only a positive score ranks. Items of equal score share the best rank of
    their group, so a tie stays a tie for the caller to break.
    """
    fused: np.ndarray | None = None
    for values in rankings:
        if fused is None:
            fused = np.zeros(len(values))
        present = values > 0
        ranked = np.sort(-values[present])
        fused[present] += 1 / (k + 1 + np.searchsorted(ranked, -values[present], "left"))
    return fused if fused is not None else np.zeros(0)


def rankings(
    plan: Plan, scores: Scores, ids: np.ndarray, weights: Weights | None = None
) -> list[np.ndarray]:
    """The rankings to fuse for the plan's profile: each of ``ids``' score in each.

    ``weights`` is the query judgements moved (:func:`aggregator.rank.feedback.moved`):
    it alone ranks. Without it, the weighted and the plain rankings are fused.
    """
    if weights is not None:
        return [weighted(plan, scores, ids, weights)]
    own = Weights(plan.term_weights(), plan.pairs(), plan.tag_weights())
    return [weighted(plan, scores, ids, own), plain(plan, scores, ids)]


def unit(weights: Mapping[str, float]) -> float:
    """The length of a weight vector, to put a query and a centroid on one scale."""
    return math.sqrt(sum(w * w for w in weights.values())) or 1.0
