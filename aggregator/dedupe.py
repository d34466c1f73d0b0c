"""Near-duplicate titles: the same story syndicated under different URLs on the same day.

Canonical URLs (:mod:`aggregator.urls`) catch most syndicated copies; some
sites link to their own copy instead. Two items whose titles are equal
after normalising case, punctuation, quotes and spacing, published the same
UTC day, are taken as one story. Short titles ("Episode 12", "Weekly links")
repeat across unrelated sources, so they never match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, datetime

MIN_TITLE_WORDS = 4
"""Fewer words than this are too generic to identify a story."""

_NOT_WORD = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=65_536)
def title_words(title: str) -> str:
    """The words of a title, folded: what makes two titles "the same story" everywhere.

    The store keys near-duplicates by it (:func:`title_key`, kept in the database, so this
    normalisation must not change without a migration) and a digest collapses copies of a
    story by it. Cached: the profiles of one run see the same titles.
    """
    folded = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def title_key(title: str, published: datetime) -> str:
    """``"words of the title|YYYY-MM-DD"``, or "" when the title is too short to trust."""
    words = title_words(title)
    if words.count(" ") + 1 < MIN_TITLE_WORDS:
        return ""
    return f"{words}|{published.astimezone(UTC).date().isoformat()}"
