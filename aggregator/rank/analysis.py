"""Text as the index analyses it: the words ranking weighs, learns and explains.

Ranking must see an interest, a judged item and an explanation through the
same analyzer the index used for the item, or "learning" would never meet
"learn" in the postings.
"""

from __future__ import annotations

import functools
import re

from aggregator.search import analysed as index_terms

_OPERATORS = frozenset({"and", "or", "not"})


def plain_words(phrase: str) -> list[str]:
    """A phrase's words without query syntax, so a profile can never inject operators."""
    return [word for word in re.findall(r"\w+", phrase.lower()) if word not in _OPERATORS]


@functools.lru_cache(maxsize=8192)
def analysed(text: str) -> tuple[str, ...]:
    """The index's terms for ``text`` (stemmed, stop words dropped), in order.

    Explanations and feedback analyse the same few items again and again in a run.
    """
    return tuple(index_terms(text))


def phrase_terms(phrase: str) -> tuple[str, ...]:
    """An interest's terms, each once, in the order the person wrote them."""
    return tuple(dict.fromkeys(analysed(" ".join(plain_words(phrase)))))


def spelled(text: str) -> dict[str, str]:
    """Each term of ``text`` with the first word in it that analyses to that term.

    Terms are stems ("fatigu"); a person reads the item's own word ("fatigue").
    """
    found: dict[str, str] = {}
    for word in re.findall(r"\w+", text.lower()):
        for term in analysed(word):
            found.setdefault(term, word)
    return found
