"""Plain text read exactly once, by what the format says a field is.

Pure: strings in, strings out. A title-like field is either text, kept as it
is (brackets and a literal ``&amp;`` included), or HTML, rendered to text
once (tags dropped, character references decoded once). Never both, never twice.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from aggregator.sanitize import html_to_text


def text_of(detail: Mapping[str, Any] | None, value: str, *, rss: bool) -> str:
    """The plain text of a title-like feedparser text construct, read once by its type.

    Atom says the type: ``type="text"`` is the exact text (``History of the
    <blink> tag`` keeps its brackets, a literal ``&amp;`` stays), ``html`` and
    ``xhtml`` are rendered to text (tags dropped, references decoded once).
    RSS (``rss``) does not say: by its convention a title is escaped HTML when,
    after XML decoding, it still holds a character reference or a closing tag
    of an HTML element (feedparser's reading, which also takes ``</script>`` for
    markup here), and text otherwise (``Why <canvas> beats <svg>``).
    """
    if not value:
        return ""
    kind = str((detail or {}).get("type") or "text/plain")
    markup = rss and RSS_MARKUP.search(value) is not None
    return html_to_text(value) if "html" in kind or markup else exact(value)


RSS_MARKUP = re.compile(
    r"</(?:a|abbr|b|big|blockquote|br|cite|code|del|div|em|font|h[1-6]|i|iframe|img|ins"
    r"|kbd|li|mark|object|ol|p|pre|q|s|small|script|span|strike|strong|style|sub|sup|svg"
    r"|table|td|th|tr|tt|u|ul|var)\s*>",
    re.IGNORECASE,
)
"""A closing tag of an HTML element: in RSS text, markup rather than words."""


def exact(value: str) -> str:
    """Text as given, its line breaks and runs of spaces made one space (a title is one line);
    no-break spaces stay, as French typography puts them before ``:`` and inside « »."""
    return BREAKING_SPACE.sub(" ", value).strip(" ") if isinstance(value, str) else ""


BREAKING_SPACE = re.compile(r"[ \t\n\r\f\v\x85\u2028\u2029]+")


def json_text(value: Any) -> str:
    """A JSON Feed plain-text field (title, summary, name, tag) as its text.

    JSON Feed says these are plain text, so nothing is taken for markup
    (``Why <canvas> beats <svg>`` stays whole); but real feeds, WordPress's
    among them, write HTML character references into them (``Add Task &amp;
    Sub Tasks``, ``&lt;string:st&gt;`` in code): those are decoded, once.
    """
    return exact(html.unescape(value if isinstance(value, str) else ""))
