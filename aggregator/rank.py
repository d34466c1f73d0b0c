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
import heapq
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from whoosh import query

from aggregator.index import SCHEMA
from aggregator.models import Item, Pick, Profile

FIELD_BOOSTS: Mapping[str, float] = {"title": 3.0, "summary": 2.5, "body": 1.0, "source": 0.5}
"""A summary is also the start of the body, so its words weigh as both (1.5 + 1.0);
the index holds them once, in ``summary`` (see :func:`aggregator.index.document`)."""
TAG_BOOST = 2.0
PHRASE_BOOST = 1.0
WORD_SHARE = 0.0
WEIGHT_POWER = 1.0
EXPAND_KEY = "\x00expand"
EXPANSION_TOP = 10
EXPANSION_TERMS = 10
EXPANSION_MIN_ITEMS = 2
EXPANSION_WEIGHT = 0.4
MORE_KEY = "\x00more"
LESS_KEY = "\x00less"
FEEDBACK_TERMS = 8
"""Words learnt from each judged item: its rarest title and summary words."""
FEEDBACK_WEIGHT = 1.0
"""How much a judged item's words move an item, relative to one interest of weight 1."""
PREFERRED_SOURCE = 1.3
"""Score factor for an item from a source the profile prefers."""
EXCLUDE_KEY = "\x00exclude"
RECENCY_FLOOR = 0.85
"""Even an item at the end of the freshness window keeps a third of its relevance."""

_FIELD_LABELS = {"title": "title", "summary": "summary", "body": "text", "tags": "tags"}


def interest_query(phrase: str) -> query.Query:
    """One interest as a query over every ranked field, plus an exact tag.

    A phrase's words also count on their own, a little: "unit tests" should
    still find a talk on "testing units", just below one that says it exactly.
    """
    words = _plain_words(phrase)
    if not words:
        return query.Term("tags", phrase.lower(), boost=TAG_BOOST)
    parts: list[query.Query] = [query.Term("tags", phrase.lower(), boost=TAG_BOOST)]
    for name, boost in FIELD_BOOSTS.items():
        tokens = _analyse(name, " ".join(words))
        if not tokens:
            continue
        if len(tokens) == 1:
            parts.append(query.Term(name, tokens[0], boost=boost))
            continue
        parts.append(query.Phrase(name, tokens, boost=boost * PHRASE_BOOST))
        if WORD_SHARE:
            parts += [query.Term(name, t, boost=boost * WORD_SHARE) for t in dict.fromkeys(tokens)]
    return query.Or(parts)


def _plain_words(phrase: str) -> list[str]:
    """The phrase's words without query syntax, so a profile can never inject operators."""
    return [word for word in re.findall(r"\w+", phrase.lower()) if word not in {"and", "or", "not"}]


def profile_queries(profile: Profile) -> dict[str, query.Query]:
    """The queries to score for ``profile``: one per interest, and one for its exclusions."""
    queries = {phrase: interest_query(phrase) for phrase in profile.interests}
    if profile.exclude:
        queries[EXCLUDE_KEY] = query.Or([interest_query(word) for word in profile.exclude])
    return queries


def item_terms(item: Item) -> set[str]:
    """The analysed words of an item's title and summary: what expansion and feedback learn from."""
    return set(_analyse("title", item.title)) | set(_analyse("summary", item.summary))


def expansion_terms(
    top: Sequence[Item],
    profile: Profile,
    doc_freq: Mapping[str, int],
    doc_count: int,
    *,
    min_items: int = EXPANSION_MIN_ITEMS,
    limit: int = EXPANSION_TERMS,
) -> dict[str, float]:
    """Words the given items share, weighted by how rare they are in the index.

    Pseudo-relevance feedback: a person who asks for "unit tests" also wants
    the items that talk about "pytest" and "mocking" without saying "unit
    tests". With the profile's strongest matches as ``top``, only words found
    in at least ``min_items`` of them count, so one odd item cannot steer the
    ranking; with items a person judged (feedback), one item is enough.
    """
    own = {t for phrase in profile.interests for t in _analyse("title", phrase)}
    counts: Counter[str] = Counter()
    for item in top:
        counts.update(item_terms(item) - own)
    weights = {}
    for term, count in counts.items():
        df = doc_freq.get(term, 0)
        if count < min_items or df == 0 or term.isdigit():
            continue  # a number ("Ep. 82") says nothing about what an item is about
        weights[term] = count / len(top) * math.log(1 + doc_count / df)
    best = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return dict(best)


def terms_query(weights: Mapping[str, float]) -> query.Query:
    """Weighted single words over title and summary, for expansion and feedback."""
    parts: list[query.Query] = [
        query.Term(name, term, boost=weight * FIELD_BOOSTS[name])
        for term, weight in weights.items()
        for name in ("title", "summary")
    ]
    return query.Or(parts) if parts else query.NullQuery


@dataclass(frozen=True, slots=True)
class Ranked:
    """An item with its blended score and the numbers behind it, before digest selection."""

    item: Item
    score: float
    matched: tuple[str, ...]
    recency: float
    type_weight: float
    source_weight: float = 1.0
    liked: tuple[str, ...] = ()
    disliked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a person's judgements teach the ranking: words to favour and to avoid.

    Built from the items judged "more" and "less"; an item judged "less" is
    also never picked again. Clearing the judgements clears all of it.
    """

    more: Mapping[str, float] = field(default_factory=dict)
    less: Mapping[str, float] = field(default_factory=dict)
    rejected: frozenset[int] = frozenset()

    def queries(self) -> dict[str, query.Query]:
        found = {MORE_KEY: self.more, LESS_KEY: self.less}
        return {key: terms_query(terms) for key, terms in found.items() if terms}


def blend(
    profile: Profile,
    scores: Mapping[str, Mapping[int, float]],
    items: Mapping[int, Item],
    now: datetime,
    feedback: Feedback | None = None,
    *,
    limit: int | None = None,
) -> list[Ranked]:
    """Rank every item that matched at least one interest, best first.

    ``scores`` is what :meth:`SearchIndex.score_queries` returned for
    :func:`profile_queries` (and the expansion and feedback queries);
    ``items`` the stored items for those ids. With ``limit``, only the best
    ``limit`` (the first pass only needs the items to learn expansion words from).
    """
    feedback = feedback or Feedback()
    excluded = set(scores.get(EXCLUDE_KEY, {})) | feedback.rejected
    preferred = {name.casefold() for name in profile.prefer_sources}
    blocked_sources = {name.casefold() for name in profile.exclude_sources}
    relevance: dict[int, float] = {}
    matched: dict[int, list[str]] = {}
    parts: dict[int, dict[str, float]] = {}
    for phrase, weight in profile.interests.items():
        factor = weight**WEIGHT_POWER
        for item_id, score in scores.get(phrase, {}).items():
            parts.setdefault(item_id, {})[phrase] = factor * score
            matched.setdefault(item_id, []).append(phrase)
    overlaps = _overlapping(profile)
    for item_id, found in parts.items():
        # Most items match one interest: nothing to weigh against.
        relevance[item_id] = (
            next(iter(found.values())) if len(found) == 1 else _combined(found, overlaps)
        )
    for key, factor in ((EXPAND_KEY, EXPANSION_WEIGHT), (MORE_KEY, FEEDBACK_WEIGHT)):
        for item_id, score in scores.get(key, {}).items():
            if item_id in relevance:
                relevance[item_id] += factor * score
    for item_id, score in scores.get(LESS_KEY, {}).items():
        if item_id in relevance:
            relevance[item_id] -= FEEDBACK_WEIGHT * score
    candidates = []
    for item_id, value in relevance.items():
        item = items.get(item_id)
        if item is None or item_id in excluded or value <= 0:
            continue
        source_name = item.source_name.casefold()
        if source_name in blocked_sources:
            continue
        recency = recency_factor(item.published, now, profile.freshness_days)
        type_weight = profile.types.get(item.item_type, 1.0)
        if type_weight <= 0:
            continue
        source_weight = PREFERRED_SOURCE if source_name in preferred else 1.0
        score = value * recency * type_weight * source_weight
        # Best first; ties: the newer, then the lower id (ids are unique: nothing further compares).
        candidates.append(
            (-score, -item.published.timestamp(), item_id, recency, type_weight, source_weight)
        )
    best = sorted(candidates) if limit is None else heapq.nsmallest(limit, candidates)
    return [
        Ranked(
            items[item_id],
            -negated,
            tuple(matched[item_id]),
            recency,
            type_weight,
            source_weight,
            liked=_shared(items[item_id], feedback.more, item_id in scores.get(MORE_KEY, {})),
            disliked=_shared(items[item_id], feedback.less, item_id in scores.get(LESS_KEY, {})),
        )
        for negated, _, item_id, recency, type_weight, source_weight in best
    ]


def _overlapping(profile: Profile) -> dict[str, set[str]]:
    """For each interest, the others whose words contain its words or the reverse.

    "testing" and "unit tests" overlap (both say "test"); "machine learning"
    and "deep learning" do not: each names something the other does not.
    """
    stems = {phrase: set(_analyse("title", phrase)) for phrase in profile.interests}
    return {
        phrase: {
            other
            for other, theirs in stems.items()
            if other != phrase and mine and theirs and (mine <= theirs or theirs <= mine)
        }
        for phrase, mine in stems.items()
    }


def _combined(found: Mapping[str, float], overlaps: Mapping[str, set[str]]) -> float:
    """Sum of interest scores; of two interests sharing a word, only the stronger counts.

    "testing" and "unit tests" both match "Unit testing with mock" on "test";
    summing both would credit that one word twice. Measured on the relevance
    sets (nDCG@10): talks 0.659 -> 0.688, course-titles 0.695 -> 0.691.
    """
    total = 0.0
    for phrase, value in found.items():
        weaker = any(
            found[other] > value or (found[other] == value and other < phrase)
            for other in overlaps.get(phrase, ())
            if other in found
        )
        if not weaker:
            total += value
    return total


def _shared(item: Item, terms: Mapping[str, float], matched: bool) -> tuple[str, ...]:
    """The learnt words an item contains, strongest first, as the item spells them.

    Learnt terms are stems ("fatigu"); a person reads the item's own word ("fatigue").
    """
    if not matched:
        return ()
    spelled = original_words(f"{item.title} {_plain(item.summary)}")
    return tuple(spelled[t] for t in sorted(terms, key=lambda t: -terms[t]) if t in spelled)[:3]


def original_words(text: str) -> dict[str, str]:
    """Each analysed term of ``text`` with the first word in it that analyses to that term."""
    spelled: dict[str, str] = {}
    for word in re.findall(r"\w+", text.lower()):
        for term in _analyse("title", word):
            spelled.setdefault(term, word)
    return spelled


def _plain(summary: str) -> str:
    return re.sub(r"<[^>]*>", " ", summary)


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
        if ranked.item.dated:
            reasons.append("new today" if age_days == 0 else "from yesterday")
        else:  # its date is when it was first seen, which says nothing of when it was written
            reasons.append(f"undated, first seen {'today' if age_days == 0 else 'yesterday'}")
    elif ranked.recency < 0.6:
        reasons.append(f"older ({age_days} days)")
    if ranked.type_weight != 1.0:
        verb = "preferred" if ranked.type_weight > 1 else "less wanted"
        reasons.append(f"{verb} type: {ranked.item.item_type} (weight {ranked.type_weight:g})")
    if ranked.source_weight > 1:
        reasons.append(f"preferred source: {ranked.item.source_name}")
    if ranked.liked:
        reasons.append(f"like items you wanted more of ({', '.join(ranked.liked)})")
    if ranked.disliked:
        reasons.append(f"lowered: like items you wanted less of ({', '.join(ranked.disliked)})")
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
    texts = {"title": item.title, "summary": item.summary, "body": item.text}
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
    return list(_analysed(field, text))


@functools.lru_cache(maxsize=4096)
def _analysed(field: str, text: str) -> tuple[str, ...]:
    """Explanations and expansion analyse the same few items' texts again and again in a run."""
    return tuple(token.text for token in SCHEMA[field].analyzer(text))


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
