"""JSON Feed 1.0 and 1.1, which feedparser does not read, mapped to sanitized entries."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from aggregator.errors import FeedParseError
from aggregator.models import Entry, ParsedFeed
from aggregator.parse.common import (
    MAX_TEXT_CHARS,
    FeedContext,
    duration_of,
    enclosures_of,
    fallback_guid,
    main_enclosure,
    refused_links,
    summarized,
    tags_of,
    typed_entry,
    web_link,
)
from aggregator.plaintext import json_text
from aggregator.process import dates
from aggregator.process.details import Media
from aggregator.sanitize import html_to_text, sanitize_html

JSON_FEED_VERSIONS: dict[str, str] = {
    "https://jsonfeed.org/version/1": "json10",
    "https://jsonfeed.org/version/1.1": "json11",
}


def parse_json_feed(content: bytes, feed: FeedContext) -> ParsedFeed:
    url = feed.url
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as error:
        raise FeedParseError(f"not a feed: invalid JSON ({error})") from error
    if not isinstance(document, dict):
        raise FeedParseError("not a feed: JSON document is not an object")
    version = str(document.get("version", ""))
    if "jsonfeed.org" not in version:
        raise FeedParseError(f"not a feed: JSON document without a JSON Feed version ({version!r})")
    items = document.get("items", [])
    if not isinstance(items, list):
        raise FeedParseError("not a feed: JSON Feed 'items' is not a list")
    feed = replace(
        feed,
        language=_string(document.get("language")),
        title=json_text(document.get("title")),
    )
    problems: list[str] = []
    if version not in JSON_FEED_VERSIONS:
        problems.append(f"unknown JSON Feed version {version!r}, read as 1.1")
    entries = []
    notes: list[str] = []
    for position, item in enumerate(items):
        if isinstance(item, dict):
            entries.append(_json_entry(item, feed, notes))
        else:
            problems.append(f"item {position} is not an object, skipped")
    links = [
        _string(item.get("url")) or _string(item.get("external_url"))
        for item in items
        if isinstance(item, dict)
    ]
    problems += refused_links(links, entries)
    return ParsedFeed(
        title=feed.title,
        link=web_link(_string(document.get("home_page_url")), url),
        entries=tuple(entries),
        format=JSON_FEED_VERSIONS.get(version, "json11"),
        problems=(*problems, *summarized(notes)),
    )


def _json_entry(item: Mapping[str, Any], feed: FeedContext, notes: list[str]) -> Entry:
    feed_url = feed.url
    link = web_link(_string(item.get("url")) or _string(item.get("external_url")), feed_url)
    base = link or feed_url
    content_html = _string(item.get("content_html"))
    # Plain text read as _json_text reads it (references decoded once), then escaped once.
    content_text = html.unescape(_string(item.get("content_text")))
    content = sanitize_html(content_html or html.escape(content_text), base)
    summary_text = json_text(item.get("summary"))
    summary = sanitize_html(html.escape(summary_text), base) if summary_text else ""
    title = json_text(item.get("title"))
    raw_date = _string(item.get("date_published")) or _string(item.get("date_modified"))
    attachments = enclosures_of(_dicts(item.get("attachments")), base)
    enclosure_url, enclosure_type = main_enclosure(attachments)
    text = html_to_text(content or summary)[:MAX_TEXT_CHARS]
    item_id = item.get("id")
    guid = (str(item_id).strip() if item_id is not None else "") or link
    parsed = Entry(
        guid=guid or fallback_guid(title, {"published": raw_date}),
        url=link,
        title=title,
        summary=summary,
        content=content,
        text=text,
        published=_json_date(raw_date, feed.context.timezone, notes),
        author=_json_author(item),
        tags=tags_of(html.unescape(tag) for tag in _strings(item.get("tags"))),
        enclosure_url=enclosure_url,
        enclosure_type=enclosure_type,
    )
    seconds = next(
        (
            duration_of(a.get("duration_in_seconds"))
            for a in _dicts(item.get("attachments"))
            if a.get("duration_in_seconds")
        ),
        None,
    )
    return typed_entry(
        parsed,
        replace(feed, language=_string(item.get("language")) or feed.language),
        media=Media(enclosures=tuple(attachments)),
        raw_html=content_html,
        duration=seconds,
    )


def _json_author(item: Mapping[str, Any]) -> str:
    """JSON Feed 1.1 has ``authors`` (a list), 1.0 a single ``author``."""
    authors = _dicts(item.get("authors")) or _dicts([item.get("author")])
    names = [json_text(author.get("name")) for author in authors]
    return ", ".join(name for name in names if name)


def _json_date(value: str, timezone: str, notes: list[str]) -> datetime | None:
    """JSON Feed dates are RFC 3339; a date in another shape read strictly or not at all, and
    one without an offset in the source's zone, else as UTC."""
    moment, problem = dates.checked_date(value, None, timezone)
    if problem:
        notes.append(problem)
    return moment


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [element for element in value if isinstance(element, dict)]


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [element for element in value if isinstance(element, str)]


def _string(value: Any) -> str:
    """JSON fields of the wrong type are treated as absent rather than failing the feed."""
    return value if isinstance(value, str) else ""
