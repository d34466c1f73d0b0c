"""Near-duplicate titles: the same story syndicated under different URLs on the same day.

Canonical URLs (:mod:`aggregator.urls`) catch most syndicated copies; some
sites link to their own copy instead. Two items whose titles are equal
after normalising case, punctuation, quotes and spacing, published the same
UTC day, are taken as one story. Short titles ("Episode 12", "Weekly links")
repeat across unrelated sources, so they never match.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

MIN_TITLE_WORDS = 4
"""Fewer words than this are too generic to identify a story."""

_NOT_WORD = re.compile(r"[\W_]+")


def title_key(title: str, published: datetime) -> str:
    """``"words of the title|YYYY-MM-DD"``, or "" when the title is too short to trust."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    words = _NOT_WORD.sub(" ", folded).split()
    if len(words) < MIN_TITLE_WORDS:
        return ""
    return f"{' '.join(words)}|{published.astimezone(UTC).date().isoformat()}"
