"""Feed autodiscovery: the feeds an HTML page announces with ``<link rel="alternate">``.

Pure: bytes and the page's URL in, absolute feed URLs out, in page order
(sites list their preferred feed first). selectolax parses real-world HTML
at ~13,000 pages/s here, where the stdlib's parser managed ~900.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/json",
    "text/xml",
    "application/xml",
)
"""``type`` values of an alternate link that name a feed (not a translation or print view)."""


def looks_like_html(content: bytes, content_type: str) -> bool:
    """Whether a response is a web page rather than a feed document."""
    if "html" in content_type.lower():
        return True
    head = content[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


@dataclass(frozen=True, slots=True)
class AnnouncedFeed:
    """A feed a page links to: where, what the page calls it, and its media type."""

    url: str
    title: str = ""
    media_type: str = ""


def discover_feeds(html: bytes, page_url: str) -> list[str]:
    """Absolute URLs of the feeds ``html`` links to, without duplicates, in page order."""
    return [feed.url for feed in announced_feeds(html, page_url)]


def announced_feeds(html: bytes, page_url: str) -> list[AnnouncedFeed]:
    """The feeds ``html`` links to with their titles, in page order: the first is the page's
    main feed (blogs list it before their comments feeds)."""
    tree = LexborHTMLParser(html)
    base = page_url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = urljoin(page_url, (base_node.attributes.get("href") or "").strip())
    found: dict[str, AnnouncedFeed] = {}
    for link in tree.css("link[rel][href]"):
        attrs = link.attributes
        rels = (attrs.get("rel") or "").lower().split()
        kind = (attrs.get("type") or "").split(";")[0].strip().lower()
        href = (attrs.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            url = urljoin(base, href)
            if url.startswith(("http://", "https://")) and url not in found:
                title = " ".join((attrs.get("title") or "").split())
                found[url] = AnnouncedFeed(url, title, kind)
    return list(found.values())
