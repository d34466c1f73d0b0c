"""The query's words marked in a title or summary, for a page or a terminal.

The text a summary shows is :func:`aggregator.sanitize.html_to_text` of it,
the same text the index holds, so a marked word is a word that was found.
"""

from __future__ import annotations

from collections.abc import Collection

from aggregator.search.schema import SCHEMA


def highlight(
    text: str, terms: Collection[str], *, width: int | None = None
) -> list[tuple[str, bool]]:
    """``text`` as (piece, matched) pairs, for a page or a terminal to mark the query's words.

    Words are matched as the index analysed them, so *learning* is marked for
    the query *learn*. With ``width``, a long text is cut to about that many
    characters around its first match, with "…" where it was cut.
    """
    spans = [
        (token.startchar, token.endchar)
        for token in SCHEMA["title"].analyzer(text, chars=True)
        if token.text in terms
    ]
    start, end = 0, len(text)
    if width is not None and len(text) > width:
        first = spans[0][0] if spans else 0
        start = max(0, min(first - width // 3, len(text) - width))
        end = start + width
    pieces: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_start < cursor or span_end > end:
            continue
        if span_start > cursor:
            pieces.append((text[cursor:span_start], False))
        pieces.append((text[span_start:span_end], True))
        cursor = span_end
    if cursor < end:
        pieces.append((text[cursor:end], False))
    if end < len(text):
        pieces.append(("…", False))
    return pieces
