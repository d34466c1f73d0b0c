"""Which reader a document needs, told by its bytes before its labels, and the one entry point.

Pure: the parser is handed what ``fetch`` received and never fetches anything itself
(feedparser gets bytes, never a URL). iCalendar is told by its ``BEGIN:VCALENDAR``;
JSON Feed by its first byte (servers label feeds wrongly in both directions); everything
else goes to feedparser (:mod:`aggregator.parse.feeds`), which reads RSS and Atom.
Whatever reader runs, every piece of HTML is sanitized and every link checked, and the
result is bounded (:func:`aggregator.bounds.bounded`). A new format is a reader module
returning a :class:`ParsedFeed` and a detection rule in :func:`parse_feed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from aggregator.bounds import bounded
from aggregator.errors import FeedParseError
from aggregator.models import Entry, ParsedFeed, ReadContext
from aggregator.parse import ical
from aggregator.parse.common import (
    MAX_TEXT_CHARS,
    FeedContext,
    describe,
    fallback_guid,
    tags_of,
    typed_entry,
    web_link,
)
from aggregator.parse.feeds import parse_xml_feed
from aggregator.parse.jsonfeed import parse_json_feed
from aggregator.sanitize import html_to_text


def parse_feed(
    content: bytes,
    headers: Mapping[str, str],
    url: str,
    kind: str = "article",
    item_type: str | None = None,
    *,
    context: ReadContext | None = None,
) -> ParsedFeed:
    """Parse one fetched feed document (RSS, Atom, JSON Feed or an iCalendar file).

    ``headers`` are the response headers (any case); ``url`` is where the
    document came from, used to resolve relative links. ``kind`` is the
    source's hint; ``item_type``, when given, is the person's own choice for
    every entry and skips guessing. ``context`` says when the document is
    read (recurring events are expanded from then over its horizon; the
    current time if not given) and the zone for times given without one.
    Survivable damage (a feed that is not well-formed but still yields
    entries, a wrong charset) is recorded in ``problems``; a document that is
    no feed raises :class:`FeedParseError`. An empty but valid feed has zero
    entries. Whatever the document holds, the
    result is within :func:`aggregator.bounds.bounded`.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if not content.strip():
        raise FeedParseError("empty document: no feed to parse")
    feed = FeedContext(url, kind, item_type, context=context or ReadContext(datetime.now(UTC)))
    if ical.is_calendar(content):
        return bounded(_parse_calendar(content, feed))
    if _is_json_feed(content, lowered.get("content-type", "")):
        return bounded(parse_json_feed(content, feed))
    return bounded(parse_xml_feed(content, lowered, feed))


def _is_json_feed(content: bytes, content_type: str) -> bool:
    """JSON by its body first: servers label feeds wrongly in both directions.

    A body starting with ``{`` can only be JSON; one starting with ``<``
    is XML even when served as ``application/json``.
    """
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return head.startswith(b"{") or media_type in JSON_CONTENT_TYPES


JSON_CONTENT_TYPES: tuple[str, ...] = ("application/feed+json", "application/json")


def _parse_calendar(content: bytes, feed: FeedContext) -> ParsedFeed:
    """Each single VEVENT, and each occurrence of a series over the horizon, as an event entry.

    An entry's date is the component's DTSTAMP (when it was announced or exported).
    Two components with one id (a calendar that repeats an event) give one entry:
    the higher SEQUENCE, else the later one.
    """
    context = feed.context
    try:
        read = ical.read_calendar(
            content, now=context.now, horizon=context.horizon, timezone=context.timezone
        )
    except ical.UNREADABLE as error:
        raise FeedParseError(f"not a feed: broken iCalendar ({describe(error)})") from error
    typed = replace(feed, item_type=feed.item_type or "event")
    entries: dict[str, tuple[int, Entry]] = {}
    for event in read.events:
        entry = _calendar_entry(event, typed)
        sequence = ical.sequence(event.component)
        kept = entries.get(entry.guid)
        if kept is None or sequence >= kept[0]:
            entries[entry.guid] = (sequence, entry)
    return ParsedFeed(
        title=" ".join(ical.text_of(read.title).split()),
        link="",
        entries=tuple(entry for _, entry in entries.values()),
        format="ical",
        problems=read.problems,
        complete_until=read.complete_until,
    )


def _calendar_entry(event: ical.CalendarEvent, feed: FeedContext) -> Entry:
    component = event.component
    title = " ".join(ical.text_of(component.get("SUMMARY")).split())
    link = web_link(ical.text_of(component.get("URL")), feed.url)
    summary = ical.description_html(component, link or feed.url)
    stamp = component.get("DTSTAMP") or component.get("LAST-MODIFIED") or component.get("CREATED")
    parsed = Entry(
        guid=event.guid or link or fallback_guid(title, {}),
        url=link,
        title=title,
        summary=summary,
        text=html_to_text(summary)[:MAX_TEXT_CHARS],
        published=ical.moment_of(stamp),
        tags=tags_of(ical.categories(component)),
    )
    entry = typed_entry(parsed, feed, structured=(event.time,))
    details = replace(
        entry.details,
        event_series=event.series,
        event_repeats=event.repeats,
        event_cancelled=event.cancelled,
    )
    return replace(entry, details=details)
