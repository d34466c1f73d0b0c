"""RSS 0.9x/1.0/2.0 and Atom documents read by feedparser into sanitized entries.

feedparser's own sanitizer and relative-URI pass are off: every fragment goes through
:func:`sanitize_html` (nh3, stricter), and every link is checked, because feedparser
keeps ``javascript:`` item links and some unsafe markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from time import struct_time
from typing import Any

import feedparser

from aggregator.errors import FeedParseError
from aggregator.models import Entry, ParsedFeed
from aggregator.parse import entities
from aggregator.parse.common import (
    DATE_FIELDS,
    HTML_START,
    MAX_TEXT_CHARS,
    FeedContext,
    describe,
    duration_of,
    enclosures_of,
    fallback_guid,
    first_field,
    main_enclosure,
    refused_links,
    summarized,
    tags_of,
    typed_entry,
    web_link,
)
from aggregator.parse.entities import without_entity_declarations
from aggregator.plaintext import exact, text_of
from aggregator.process import dates, events
from aggregator.process.details import Media
from aggregator.sanitize import html_to_text, sanitize_html

DATE_FIELDS_PARSED: tuple[str, ...] = tuple(f"{name}_parsed" for name in DATE_FIELDS)


FEEDPARSER_CRASHES: tuple[type[Exception], ...] = (ValueError, TypeError, OverflowError)
"""What feedparser 6 raises on damaged documents instead of flagging them, found by
tests/unit/test_parse_fuzz.py: ``&#xFFFFFFFF;`` (OverflowError in its entity decoder), a
mangled ``encoding=`` declaration (UnicodeDecodeError) and a broken element (TypeError
from ``int(None)`` when a ``<width>`` element is cut open). A damaged feed is the source's
problem, never a crash of the run."""


def parse_xml_feed(content: bytes, headers: dict[str, str], feed: FeedContext) -> ParsedFeed:
    url = feed.url
    content, headers, had_entities = without_entity_declarations(content, headers)
    # feedparser's own sanitizer is off: every fragment goes through nh3 below,
    # which is stricter, and skipping the first pass makes parsing ~1.5x faster.
    # Its relative-URI pass (another HTML parse per fragment, ~20% of the time)
    # is off too: nh3 resolves links against the base feedparser records for
    # each fragment (its xml:base, else the document's URL).
    try:
        result = feedparser.parse(
            content,
            response_headers={**headers, "content-location": url},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except FEEDPARSER_CRASHES as error:
        raise FeedParseError(f"not a feed: the parser gave up ({describe(error)})") from error
    version = result.get("version", "")
    problems = ((entities.PROBLEM,) if had_entities else ()) + _problems(result, headers)
    if not result.entries:
        _require_feed(content, headers, version, problems)
    channel = result.feed
    feed = replace(feed, language=str(channel.get("language") or ""), version=version)
    title = text_of(channel.get("title_detail"), channel.get("title", ""), rss=feed.is_rss)
    feed = replace(feed, title=title)
    notes: list[str] = []
    entries = tuple(_xml_entry(entry, feed, notes) for entry in result.entries)
    links = [entry.get("link", "") for entry in result.entries]
    return ParsedFeed(
        title=feed.title,
        link=web_link(channel.get("link", ""), url),
        entries=entries,
        format=version or "unknown",
        problems=(*problems, *summarized(notes), *refused_links(links, entries)),
    )


def _problems(result: Mapping[str, Any], headers: Mapping[str, str]) -> tuple[str, ...]:
    """feedparser's complaint, if any, as a short string.

    A missing Content-Type is not worth a problem of its own: feedparser
    flags it, but the body decides, and many servers omit it.
    """
    error = result.get("bozo_exception") if result.get("bozo") else None
    if error is None:
        return ()
    if isinstance(error, feedparser.NonXMLContentType) and "content-type" not in headers:
        return ()
    return (describe(error),)


def _require_feed(
    content: bytes, headers: Mapping[str, str], version: str, problems: tuple[str, ...]
) -> None:
    """Raise unless an entry-less document is a valid (empty) feed."""
    content_type = headers.get("content-type", "").lower()
    if HTML_START.match(content) or (not version and "html" in content_type):
        raise FeedParseError("not a feed: the document is an HTML page")
    if problems:
        raise FeedParseError(f"not a feed: no entries and the document is broken ({problems[0]})")
    if not version:
        raise FeedParseError("not a feed: no RSS, Atom or JSON Feed document found")


def _xml_entry(entry: Mapping[str, Any], feed: FeedContext, notes: list[str]) -> Entry:
    feed_url = feed.url
    link = web_link(entry.get("link", ""), feed_url)
    base = link or feed_url
    # A summary feedparser copied from the content has no detail of its own.
    summary_detail = entry.get("summary_detail") or next(iter(entry.get("content", ())), None)
    summary = sanitized_detail(summary_detail, entry.get("summary", ""), base)
    content = _first_content(entry.get("content", ()), base)
    title = text_of(entry.get("title_detail"), entry.get("title", ""), rss=feed.is_rss)
    published = _entry_date(entry, feed.context.timezone, notes)
    enclosures = enclosures_of(entry.get("enclosures", ()), base)
    enclosure_url, enclosure_type = main_enclosure(enclosures)
    guid = (entry.get("id") or "").strip() or link or fallback_guid(title, entry)
    text = html_to_text(content or summary)[:MAX_TEXT_CHARS]
    parsed = Entry(
        guid=guid,
        url=link,
        title=title,
        summary=summary,
        content=content,
        text=text,
        published=published,
        author=exact(entry.get("author", "")),
        tags=tags_of(tag.get("term") or tag.get("label") or "" for tag in entry.get("tags", ())),
        enclosure_url=enclosure_url,
        enclosure_type=enclosure_type,
    )
    media = _media_content(entry)
    structured = (
        _element_event(entry, "ev", "startdate", "enddate", feed.context.timezone),
        _element_event(entry, "xcal", "dtstart", "dtend", feed.context.timezone),
    )
    raw_html = " ".join(
        [str(entry.get("summary", ""))]
        + [str(part.get("value", "")) for part in entry.get("content", ())]
    )
    return typed_entry(
        parsed,
        feed,
        media=Media(
            enclosures=tuple(enclosures),
            podcast_tags=any(key.startswith(("itunes_", "podcast_")) for key in entry),
            audio=any(_is_media(part, "audio") for part in media),
            video=any(_is_media(part, "video") for part in media),
        ),
        structured=structured,
        raw_html=raw_html,
        duration=duration_of(entry.get("itunes_duration"))
        or next((d for d in (duration_of(part.get("duration")) for part in media) if d), None),
    )


def _media_content(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = entry.get("media_content", ())
    return [part for part in parts if isinstance(part, Mapping)] if isinstance(parts, list) else []


def _is_media(part: Mapping[str, Any], kind: str) -> bool:
    """A media:content element of this medium (``audio``, ``video``), by its medium or type."""
    return part.get("medium") == kind or str(part.get("type", "")).startswith(f"{kind}/")


def _element_event(
    entry: Mapping[str, Any], prefix: str, start: str, end: str, timezone: str
) -> events.EventTime | None:
    """An event from namespaced elements feedparser kept as ``<prefix>_<name>`` keys; a time
    without an offset is read in the element's own zone, else in ``timezone``."""
    value = entry.get(f"{prefix}_{start}")
    if not isinstance(value, str):
        return None
    stated = str(entry.get(f"{prefix}_tzid") or entry.get(f"{prefix}_timezone") or "")
    return events.from_fields(
        value,
        str(entry.get(f"{prefix}_{end}") or ""),
        timezone=stated or timezone,
        location=str(entry.get(f"{prefix}_location") or ""),
        source=prefix,
    )


def sanitized_detail(detail: Mapping[str, Any] | None, value: str, base: str) -> str:
    """Sanitized HTML for a feedparser text construct, escaping it first when it is plain text.

    Relative links resolve against the construct's own base (xml:base in
    scope, else the document URL), as feedparser records it; ``base`` is the
    fallback when it recorded none.
    """
    if not value:
        return ""
    if detail is None:
        return sanitize_html(value, base)
    if detail.get("type") == "text/plain":
        value = html.escape(value)
    return sanitize_html(value, web_link(str(detail.get("base") or ""), base) or base)


def _first_content(contents: Iterable[Mapping[str, Any]], base: str) -> str:
    for content in contents:
        sanitized = sanitized_detail(content, content.get("value", ""), base)
        if sanitized:
            return sanitized
    return ""


def _entry_date(entry: Mapping[str, Any], timezone: str, notes: list[str]) -> datetime | None:
    """The entry's first readable date (published, updated, created), checked against the
    feed's own string: feedparser's reading is not taken where the string contradicts it."""
    for name in DATE_FIELDS:
        raw = first_field(entry, (name,))
        parsed = _from_struct(first_field(entry, (f"{name}_parsed",)))
        if not raw:
            if parsed is not None:
                return parsed
            continue
        moment, problem = dates.checked_date(str(raw), parsed, timezone)
        if problem:
            notes.append(problem)
        if moment is not None:
            return moment
    return None


def _from_struct(value: struct_time | None) -> datetime | None:
    """feedparser's parsed dates are UTC ``struct_time``; out-of-range ones become None."""
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None
