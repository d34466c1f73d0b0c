"""What a person's "more" and "less" teach: Rocchio's move of the query, in content words.

Each judged item becomes a vector of its words (SMART's ``ltc``: 1 + log tf,
times idf, unit length). The query moves toward the centroid of the items
wanted more and away from the centroid of those wanted less:

    q' = alpha * q / |q|  +  beta * mean(more)  -  gamma * mean(less)

with SMART's alpha and gamma (1, 0.15) and a beta of 1 (chosen by
leave-one-set-out from 0.5, 0.75 and 1). Only content words are
learnt: a word of a stop list (function words, number words), a number, or a
word found in more than one document in ten (Luhn's upper cut-off: "time",
"use") says nothing about what a person wants. An item judged "less" is also
never picked again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources

from aggregator.models import Item
from aggregator.rank.analysis import analysed, spelled
from aggregator.rank.model import RANKED_FIELDS, Plan, Weights, unit
from aggregator.search import document

COMMON_SHARE = 0.1
"""A word in more than this share of the collection's documents is not learnt (Luhn)."""


def _stop_words() -> frozenset[str]:
    text = resources.files("aggregator.rank").joinpath("stopwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


STOP_WORDS = _stop_words()
"""The Glasgow IR group's stop list (see ``stopwords.txt`` for where it comes from)."""

_STOP_TERMS = frozenset(term for word in STOP_WORDS for term in analysed(word))


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a person's judgements teach: words to favour and to avoid, already weighted.

    ``more`` is beta times the centroid of the items judged "more", ``less``
    gamma times that of the items judged "less", content words only.
    Clearing the judgements clears all of it.
    """

    more: Mapping[str, float] = field(default_factory=dict)
    less: Mapping[str, float] = field(default_factory=dict)
    rejected: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.more or self.less or self.rejected)


def item_text(item: Item) -> str:
    """The item's words as the index holds them: title, summary and the rest of its text."""
    fields = document(item)
    return " ".join(str(fields[name]) for name in RANKED_FIELDS)


def vector(item: Item, doc_freq: Mapping[str, int], doc_count: int) -> dict[str, float]:
    """The item's content words as SMART's ``ltc`` weights (unit length)."""
    text = item_text(item)
    counts: dict[str, int] = {}
    for term in analysed(text):
        counts[term] = counts.get(term, 0) + 1
    surface = spelled(text)
    weights = {
        term: (1 + math.log(count)) * math.log(doc_count / doc_freq[term])
        for term, count in counts.items()
        if is_content_word(term, surface.get(term, term), doc_freq.get(term, 0), doc_count)
    }
    length = unit(weights)
    return {term: weight / length for term, weight in weights.items() if weight > 0}


def is_content_word(term: str, word: str, doc_freq: int, doc_count: int) -> bool:
    """Whether a word can say what an item is about (see the module's docstring)."""
    return (
        term.isalpha()
        and len(term) >= 3
        and word not in STOP_WORDS
        and term not in _STOP_TERMS
        and 0 < doc_freq <= COMMON_SHARE * doc_count
    )


def learn(
    judged: Mapping[int, Item],
    judgements: Mapping[int, int],
    frequencies: Callable[[set[str]], tuple[Mapping[str, int], int]],
    plan: Plan,
) -> Feedback:
    """The feedback of the items a person judged (+1 more, -1 less).

    ``frequencies`` gives the index's document frequency of each term and its
    document count (:meth:`SearchIndex.doc_frequencies`).
    """
    beta, gamma = plan.model.rocchio_beta, plan.model.rocchio_gamma
    terms = {term for item in judged.values() for term in analysed(item_text(item))}
    doc_freq, doc_count = frequencies(terms)
    learnt = {}
    for sign, factor in ((1, beta), (-1, gamma)):
        chosen = [item for item_id, item in judged.items() if judgements.get(item_id) == sign]
        centroid: dict[str, float] = {}
        for item in chosen:
            for term, weight in vector(item, doc_freq, doc_count).items():
                centroid[term] = centroid.get(term, 0.0) + factor * weight / len(chosen)
        learnt[sign] = centroid
    rejected = frozenset(item_id for item_id, sign in judgements.items() if sign < 0)
    return Feedback(more=learnt[1], less=learnt[-1], rejected=rejected)


def moved(plan: Plan, feedback: Feedback) -> Weights:
    """The plan's weighted query moved by ``feedback`` (Rocchio), as word and pair weights.

    The profile's own words stay (unless the judgements outweigh them); of
    the words learnt, the ``learnt_terms`` strongest are kept.
    """
    alpha = plan.model.rocchio_alpha
    own = plan.term_weights()
    length = unit(own)
    weights = {term: alpha * weight / length for term, weight in own.items()}
    for term, weight in feedback.more.items():
        weights[term] = weights.get(term, 0.0) + weight
    for term, weight in feedback.less.items():
        weights[term] = weights.get(term, 0.0) - weight
    strongest = sorted(((w, t) for t, w in weights.items() if w > 0), reverse=True)
    kept = {term: weight for weight, term in strongest[: len(own) + plan.model.learnt_terms]}
    pairs = {pair: alpha * weight / length for pair, weight in plan.pairs().items()}
    tags = {phrase: alpha * weight / length for phrase, weight in plan.tag_weights().items()}
    return Weights(kept, pairs, tags)
