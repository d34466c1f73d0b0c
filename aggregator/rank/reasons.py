"""Why an item was picked, in words a person would use, and true for every pick.

Each reason names an interest the item really matched and where, recomputed
from the item's own text with the index's analyzer: the whole interest when
its words stand together (“learning design” in title), else the interest and
the words of it the item holds (“incident response planning”: “incidents”,
“planning” in title). A word already told by one reason is not told again,
so a common word ("learning") does not repeat itself under every interest
that holds it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from aggregator.models import Item, Pick
from aggregator.rank.analysis import analysed, phrase_terms, spelled
from aggregator.rank.blending import Ranked
from aggregator.search import document

_FIELD_LABELS = {"title": "title", "summary": "summary", "body": "text"}

OLDER_DAYS = 7
"""A pick more than a week old says so: a digest is read as this week's news."""


def explain(ranked: Ranked, now: datetime) -> Pick:
    """Turn a ranked item into a pick whose reasons a person can read."""
    reasons = interest_reasons(ranked.item, ranked.matched)
    if ranked.kept_by:
        reasons.insert(0, f"kept by your rule: {ranked.kept_by}")
    age_days = int(max(0.0, (now - ranked.item.published).total_seconds()) // 86400)
    if age_days <= 1:
        if ranked.item.dated:
            reasons.append("new today" if age_days == 0 else "from yesterday")
        else:  # its date is when it was first seen, which says nothing of when it was written
            reasons.append(f"undated, first seen {'today' if age_days == 0 else 'yesterday'}")
    elif age_days > OLDER_DAYS:
        reasons.append(f"older ({age_days} days)")
    if ranked.type_weight != 1.0:
        verb = "preferred" if ranked.type_weight > 1 else "less wanted"
        reasons.append(f"{verb} type: {ranked.item.item_type} (weight {ranked.type_weight:g})")
    if ranked.source_weight > 1:
        reasons.append(f"preferred source: {ranked.item.source_name}")
    if ranked.liked:
        where = _fields_holding(ranked.item, ranked.liked)
        reasons.append(f"like items you wanted more of ({', '.join(ranked.liked)} in {where})")
    if ranked.disliked:
        where = _fields_holding(ranked.item, ranked.disliked)
        words = ", ".join(ranked.disliked)
        reasons.append(f"lowered: like items you wanted less of ({words} in {where})")
    return Pick(item=ranked.item, score=round(ranked.score, 6), reasons=tuple(reasons))


def interest_reasons(item: Item, phrases: Sequence[str]) -> list[str]:
    """The reasons for the interests an item matched: whole ones first, then the words of
    the others that no reason told yet."""
    whole = [(phrase, matched_fields(item, phrase)) for phrase in phrases]
    reasons = [f"“{phrase}” in {', '.join(fields)}" for phrase, fields in whole if fields]
    told = {term for phrase, fields in whole if fields for term in phrase_terms(phrase)}
    for phrase, fields in whole:
        if fields:
            continue
        words, where = matched_words(item, phrase, told)
        if words:
            told.update(phrase_terms(phrase))
            quoted = ", ".join(f"“{word}”" for word in words)
            reasons.append(f"“{phrase}”: {quoted} in {', '.join(where)}")
    return reasons


def matched_fields(item: Item, phrase: str) -> list[str]:
    """Which of the item's fields hold the whole (analysed) phrase, its words together."""
    wanted = list(phrase_terms(phrase))
    if not wanted:
        return []
    texts = document(item)
    found = [
        label
        for name, label in _FIELD_LABELS.items()
        if _contains(list(analysed(str(texts[name]))), wanted)
    ]
    if phrase.lower() in (tag.lower() for tag in item.tags):
        found.append("tags")
    return found


def matched_words(
    item: Item, phrase: str, told: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """The interest's words the item holds (as the item spells them), but for those whose
    terms are in ``told``, and the fields holding them."""
    texts = document(item)
    wanted = [term for term in phrase_terms(phrase) if term not in told]
    words: list[str] = []
    where: list[str] = []
    for name, label in _FIELD_LABELS.items():
        spelled_here = spelled(str(texts[name]))
        found = [spelled_here[term] for term in wanted if term in spelled_here]
        if found:
            where.append(label)
            words.extend(word for word in found if word not in words)
    return words, where


def _fields_holding(item: Item, words: Sequence[str]) -> str:
    """Where the item holds any of ``words`` (as it spells them), for a reason to say."""
    texts = document(item)
    wanted = set(words)
    found = [
        label
        for name, label in _FIELD_LABELS.items()
        if wanted & set(spelled(str(texts[name])).values())
    ]
    return ", ".join(found)


def _contains(tokens: list[str], wanted: list[str]) -> bool:
    size = len(wanted)
    return any(tokens[i : i + size] == wanted for i in range(len(tokens) - size + 1))
