"""What the readers of every format share: the document's context, the caps on what an
entry may carry, links checked as web links, and the hand-over to :mod:`aggregator.process`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from aggregator.models import Entry, ReadContext
from aggregator.plaintext import exact
from aggregator.process.classify import enclosure_kind
from aggregator.process.details import with_type_and_details
from aggregator.urls import has_hidden_characters, is_web_link

HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


MAX_TEXT_CHARS = 20_000
"""Plain text kept per entry for the index; long posts rank fine on their first pages."""


MAX_TAGS = 10


MAX_TAG_CHARS = 60


MAX_PROBLEM_CHARS = 200


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What every entry of one document shares: where it came from and what the person said."""

    url: str
    kind: str
    item_type: str | None
    language: str = ""
    title: str = ""
    version: str = ""
    """feedparser's name for the format (``rss20``, ``atom10``...), "" for others."""
    context: ReadContext = field(default_factory=lambda: ReadContext(datetime.now(UTC)))

    @property
    def is_rss(self) -> bool:
        """RSS (0.9x, 1.0, 2.0) says nothing of whether its text is HTML; Atom does."""
        return self.version.startswith("rss")


MAX_NOTES = 3
"""Problems of single entries (a wrong date) named per feed; the rest are counted."""


def summarized(notes: Sequence[str]) -> tuple[str, ...]:
    unique = list(dict.fromkeys(notes))
    if len(unique) <= MAX_NOTES:
        return tuple(unique)
    return (*unique[:MAX_NOTES], f"and {len(unique) - MAX_NOTES} more like these")


def typed_entry(parsed: Entry, feed: FeedContext, **evidence: Any) -> Entry:
    """The entry with its type and details (:mod:`aggregator.process.details`); ``evidence``
    is what the reader found: ``media``, ``structured`` event times, ``raw_html``, ``duration``."""
    return with_type_and_details(
        parsed,
        kind=feed.kind,
        item_type=feed.item_type,
        language=feed.language,
        feed_title=feed.title,
        **evidence,
    )


def fallback_guid(title: str, entry: Mapping[str, Any]) -> str:
    """A stable id for entries with neither id nor link: same title and date, same id."""
    published = first_field(entry, DATE_FIELDS) or ""
    digest = hashlib.sha1(f"{title}\n{published}".encode(), usedforsecurity=False)
    return f"sha1:{digest.hexdigest()}"


def refused_links(links: Sequence[Any], entries: Sequence[Entry]) -> tuple[str, ...]:
    """A problem naming how many entries gave a link that :func:`web_link` refused."""
    refused = sum(
        1
        for link, entry in zip(links, entries, strict=True)
        if isinstance(link, str) and link.strip() and not entry.url
    )
    if not refused:
        return ()
    return (
        f"{refused} of {len(entries)} links refused: not http(s), or holding control characters",
    )


def web_link(link: str, base: str) -> str:
    """``link`` made absolute against ``base``; "" unless it is a safe http(s) link."""
    # A space is the one character feeds put in links by mistake that a link can carry encoded.
    link = link.strip().replace(" ", "%20") if isinstance(link, str) else ""
    if not link or has_hidden_characters(link):
        return ""
    try:
        absolute = urljoin(base, link)
    except ValueError:
        return ""
    return absolute if is_web_link(absolute) else ""


def tags_of(terms: Iterable[str]) -> tuple[str, ...]:
    """Categories stripped and deduplicated (ignoring case), at most :data:`MAX_TAGS`."""
    seen: dict[str, str] = {}
    for term in terms:
        tag = exact(term)[:MAX_TAG_CHARS]
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
        if len(seen) == MAX_TAGS:
            break
    return tuple(seen.values())


def describe(error: BaseException | str) -> str:
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    return text[:MAX_PROBLEM_CHARS]


DATE_FIELDS: tuple[str, ...] = ("published", "updated", "created")


def first_field(entry: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The first present field, read with ``dict.get``.

    feedparser's own ``get`` maps a missing ``updated`` to ``published``
    with a DeprecationWarning; reading the dict directly avoids both.
    """
    for name in names:
        value = dict.get(entry, name) if isinstance(entry, dict) else entry.get(name)
        if value:
            return value
    return None


def enclosures_of(enclosures: Iterable[Mapping[str, Any]], base: str) -> list[tuple[str, str]]:
    """Every enclosure (or attachment) with a safe link, as (URL, MIME type), in order."""
    found = []
    for enclosure in enclosures:
        href = web_link(enclosure.get("href") or enclosure.get("url") or "", base)
        if href:
            media_type = str(enclosure.get("type") or enclosure.get("mime_type") or "")
            found.append((href, media_type.partition(";")[0].strip().lower()))
    return found


def main_enclosure(enclosures: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """The enclosure to keep: the first audio or video one (a cover image often comes first),
    else the first."""
    for url, media_type in enclosures:
        if enclosure_kind(url, media_type):
            return url, media_type
    return enclosures[0] if enclosures else ("", "")


def duration_of(value: Any) -> int | None:
    """Seconds from ``itunes:duration`` (``H:MM:SS``, ``MM:SS``, seconds) or media ``duration``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if value > 0 else None
    if not isinstance(value, str) or not re.fullmatch(r"\d+(\.\d+)?(:\d{1,2}){0,2}", value.strip()):
        return None
    seconds = 0.0
    for part in value.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return int(seconds) if seconds > 0 else None
