"""HTML from sources made safe to show, and made into plain text to index.

Sanitizing happens once, at ingest, with an allowlist (nh3, the Rust
ammonia library): anything not listed is dropped, so a new browser feature
does not become a hole. Rendering still autoescapes; this module is what
lets sanitized HTML through that escaping.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

import nh3
from selectolax.lexbor import LexborHTMLParser

from aggregator.urls import WEB_SCHEMES

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "hr", "div", "span",
        "a", "ul", "ol", "li", "dl", "dt", "dd",
        "strong", "em", "b", "i", "u", "s", "small", "mark", "sub", "sup",
        "del", "ins", "q", "cite", "abbr", "time",
        "code", "pre", "kbd", "samp", "var", "blockquote",
        "h2", "h3", "h4", "h5", "h6",
        "img", "figure", "figcaption",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
    }
)  # fmt: skip
"""No h1 (the page title owns it); no style, form, media or embedding tags."""

ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "ol": {"start"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
}
"""No ``style``, ``class``, ``id`` or ``on*``: sources must not restyle or script our pages."""

DROPPED_WITH_CONTENT: frozenset[str] = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "textarea"}
)
"""Tags whose text is code or markup, never prose: keeping it would put junk in the page."""

LINK_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
CLEANER_CACHE_SIZE = 1024
"""A cleaner is built per base URL (about 16 µs); entries of one feed often share it."""

MAX_INPUT_CHARS = 400_000
"""HTML read per fragment: twice what :mod:`aggregator.bounds` keeps of it, so one field
cannot cost more than a fixed amount (nh3 took 4 s on a megabyte of ``&amp;e;``)."""

_TEXT_DROPPED_TAGS: tuple[str, ...] = ("script", "style", "template", "noscript")
_WHITESPACE = re.compile(r"\s+")


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """Allowlisted HTML with relative ``href``/``src`` made absolute against ``base_url``.

    Relative URLs are resolved before the scheme check, so a relative link
    can only become an http(s) link of the source. Without an http(s)
    base, relative URLs are dropped: they would point into our own site.
    """
    if not html:
        return ""
    return _cleaner(_web_base(base_url)).clean(html[:MAX_INPUT_CHARS])


_INLINE_TAGS = (
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "em",
    "i",
    "mark",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "time",
    "u",
)
_INLINE_SELECTOR = ",".join(_INLINE_TAGS)
_TEXT_DROPPED_STARTS = tuple(f"<{tag}" for tag in _TEXT_DROPPED_TAGS)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, on one line, for titles and the search index.

    Block boundaries become spaces (``<p>a</p><p>b</p>`` is ``a b``, not
    ``ab``); code in script and style elements is not text.
    """
    html = html[:MAX_INPUT_CHARS]
    if "<" not in html and "&" not in html:
        return _collapse(html)
    tree = LexborHTMLParser(html)
    # Such an element can only come from its start tag, so most fragments (sanitized
    # ones never have one) skip the four searches of the whole tree.
    lowered = html.lower()
    if any(start in lowered for start in _TEXT_DROPPED_STARTS):
        tree.strip_tags(list(_TEXT_DROPPED_TAGS))
    # Inline elements are part of the words around them: "<b>design</b>:" is "design:".
    # One selector list walks the tree once (unwrap_tags walks it once per tag); the
    # order of unwrapping does not change the text.
    for node in tree.css(_INLINE_SELECTOR):
        node.unwrap()
    root = tree.root
    if root is None:
        return ""
    root.merge_text_nodes()
    return _collapse(root.text(separator=" "))


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _web_base(base_url: str | None) -> str | None:
    if not base_url:
        return None
    try:
        parts = urlsplit(base_url.strip())
    except ValueError:
        return None
    return base_url.strip() if parts.scheme.lower() in WEB_SCHEMES and parts.hostname else None


@lru_cache(maxsize=CLEANER_CACHE_SIZE)
def _cleaner(base_url: str | None) -> nh3.Cleaner:
    relative: Literal["deny"] | tuple[Literal["rewrite_with_base"], str] = (
        ("rewrite_with_base", base_url) if base_url else "deny"
    )
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_images_from_the_web_only,
        url_schemes=set(LINK_SCHEMES),
        link_rel=LINK_REL,
        url_relative=relative,
    )


def _images_from_the_web_only(tag: str, attribute: str, value: str) -> str | None:
    """``mailto:`` is fine in a link but meaningless as an image source, and an http(s)
    address without a host is no address at all.

    nh3 calls this before it resolves relative URLs, so only values with a
    scheme are judged here; relative ones are resolved (or denied) later.
    """
    if (tag, attribute) not in (("img", "src"), ("a", "href")):
        return value
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if tag == "img" and scheme and scheme not in WEB_SCHEMES:
        return None
    if scheme in WEB_SCHEMES and not parts.hostname:
        return None  # "https:/'x.example/": no host; browsers would guess one
    return value
