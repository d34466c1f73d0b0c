"""Feed documents (bytes and headers) turned into sanitized :class:`Entry` values.

Pure: the parser is handed what ``fetch`` received and never fetches
anything itself (feedparser gets bytes, never a URL). RSS 0.9x/1.0/2.0 and
Atom go through feedparser; JSON Feed 1.0/1.1, which feedparser does not
read, through ``json`` and the mapping below. Either way every piece of
HTML is sanitized here with :func:`sanitize_html`, and every link is
checked with :func:`is_safe_link`, because feedparser keeps ``javascript:``
item links and some unsafe markup.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from time import struct_time
from typing import Any
from urllib.parse import urljoin

import feedparser

from aggregator.bounds import bounded
from aggregator.errors import FeedParseError
from aggregator.models import Details, Entry, ParsedFeed, ReadContext
from aggregator.parse import entities, ical
from aggregator.parse.entities import without_entity_declarations
from aggregator.plaintext import exact, json_text, text_of
from aggregator.process import dates, events
from aggregator.process.classify import Signals, classify, enclosure_kind
from aggregator.sanitize import html_to_text, sanitize_html
from aggregator.urls import has_hidden_characters, is_web_link

MAX_TEXT_CHARS = 20_000
"""Plain text kept per entry for the index; long posts rank fine on their first pages."""

MAX_TAGS = 10
MAX_TAG_CHARS = 60
MAX_PROBLEM_CHARS = 200
JSON_CONTENT_TYPES: tuple[str, ...] = ("application/feed+json", "application/json")
JSON_FEED_VERSIONS: dict[str, str] = {
    "https://jsonfeed.org/version/1": "json10",
    "https://jsonfeed.org/version/1.1": "json11",
}
DATE_FIELDS: tuple[str, ...] = ("published", "updated", "created")
DATE_FIELDS_PARSED: tuple[str, ...] = tuple(f"{name}_parsed" for name in DATE_FIELDS)
FEEDPARSER_CRASHES: tuple[type[Exception], ...] = (ValueError, TypeError, OverflowError)
"""What feedparser 6 raises on damaged documents instead of flagging them, found by
tests/test_parse_fuzz.py: ``&#xFFFFFFFF;`` (OverflowError in its entity decoder), a
mangled ``encoding=`` declaration (UnicodeDecodeError) and a broken element (TypeError
from ``int(None)`` when a ``<width>`` element is cut open). A damaged feed is the source's
problem, never a crash of the run."""
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True, slots=True)
class _Feed:
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
    feed = _Feed(url, kind, item_type, context=context or ReadContext(datetime.now(UTC)))
    if ical.is_calendar(content):
        return bounded(_parse_calendar(content, feed))
    if _is_json_feed(content, lowered.get("content-type", "")):
        return bounded(_parse_json_feed(content, feed))
    return bounded(_parse_xml_feed(content, lowered, feed))


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


# --------------------------------------------------------------------------- RSS and Atom


def _parse_xml_feed(content: bytes, headers: dict[str, str], feed: _Feed) -> ParsedFeed:
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
        raise FeedParseError(f"not a feed: the parser gave up ({_describe(error)})") from error
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
        link=_web_link(channel.get("link", ""), url),
        entries=entries,
        format=version or "unknown",
        problems=(*problems, *_summarized(notes), *_refused_links(links, entries)),
    )


MAX_NOTES = 3
"""Problems of single entries (a wrong date) named per feed; the rest are counted."""


def _summarized(notes: Sequence[str]) -> tuple[str, ...]:
    unique = list(dict.fromkeys(notes))
    if len(unique) <= MAX_NOTES:
        return tuple(unique)
    return (*unique[:MAX_NOTES], f"and {len(unique) - MAX_NOTES} more like these")


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
    return (_describe(error),)


def _require_feed(
    content: bytes, headers: Mapping[str, str], version: str, problems: tuple[str, ...]
) -> None:
    """Raise unless an entry-less document is a valid (empty) feed."""
    content_type = headers.get("content-type", "").lower()
    if _HTML_START.match(content) or (not version and "html" in content_type):
        raise FeedParseError("not a feed: the document is an HTML page")
    if problems:
        raise FeedParseError(f"not a feed: no entries and the document is broken ({problems[0]})")
    if not version:
        raise FeedParseError("not a feed: no RSS, Atom or JSON Feed document found")


def _xml_entry(entry: Mapping[str, Any], feed: _Feed, notes: list[str]) -> Entry:
    feed_url = feed.url
    link = _web_link(entry.get("link", ""), feed_url)
    base = link or feed_url
    # A summary feedparser copied from the content has no detail of its own.
    summary_detail = entry.get("summary_detail") or next(iter(entry.get("content", ())), None)
    summary = _sanitized_detail(summary_detail, entry.get("summary", ""), base)
    content = _first_content(entry.get("content", ()), base)
    title = text_of(entry.get("title_detail"), entry.get("title", ""), rss=feed.is_rss)
    published = _entry_date(entry, feed.context.timezone, notes)
    enclosures = _enclosures(entry.get("enclosures", ()), base)
    enclosure_url, enclosure_type = _main_enclosure(enclosures)
    guid = (entry.get("id") or "").strip() or link or _fallback_guid(title, entry)
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
        tags=_tags(tag.get("term") or tag.get("label") or "" for tag in entry.get("tags", ())),
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
    return _typed(
        parsed,
        feed,
        media=_Media(
            enclosures=tuple(enclosures),
            podcast_tags=any(key.startswith(("itunes_", "podcast_")) for key in entry),
            audio=any(_is_media(part, "audio") for part in media),
            video=any(_is_media(part, "video") for part in media),
        ),
        structured=structured,
        raw_html=raw_html,
        duration=_duration(entry.get("itunes_duration"))
        or next((d for d in (_duration(part.get("duration")) for part in media) if d), None),
    )


def _media_content(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = entry.get("media_content", ())
    return [part for part in parts if isinstance(part, Mapping)] if isinstance(parts, list) else []


def _is_media(part: Mapping[str, Any], kind: str) -> bool:
    """A media:content element of this medium (``audio``, ``video``), by its medium or type."""
    return part.get("medium") == kind or str(part.get("type", "")).startswith(f"{kind}/")


@dataclass(frozen=True, slots=True)
class _Media:
    """What an entry carries to listen to or watch: the evidence of its type."""

    enclosures: tuple[tuple[str, str], ...] = ()
    podcast_tags: bool = False
    audio: bool = False
    video: bool = False


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


def _duration(value: Any) -> int | None:
    """Seconds from ``itunes:duration`` (``H:MM:SS``, ``MM:SS``, seconds) or media ``duration``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if value > 0 else None
    if not isinstance(value, str) or not re.fullmatch(r"\d+(\.\d+)?(:\d{1,2}){0,2}", value.strip()):
        return None
    seconds = 0.0
    for part in value.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return int(seconds) if seconds > 0 else None


def _typed(
    parsed: Entry,
    feed: _Feed,
    *,
    media: _Media = _Media(),
    structured: tuple[events.EventTime | None, ...] = (),
    raw_html: str = "",
    duration: int | None = None,
) -> Entry:
    """The entry with its type and details, from every signal the feed gave."""
    has_event_data = any(found is not None for found in structured) or (
        "ld+json" in raw_html and events.from_json_ld(raw_html) is not None
    )
    item_type = feed.item_type or classify(
        Signals(
            kind=feed.kind,
            title=parsed.title,
            text=parsed.text,
            url=parsed.url,
            guid=parsed.guid,
            enclosure_type=parsed.enclosure_type,
            enclosures=media.enclosures,
            categories=parsed.tags,
            has_podcast_tags=media.podcast_tags,
            has_audio_media=media.audio,
            has_video_media=media.video,
            has_event_data=has_event_data,
            schema_types=events.json_ld_types(raw_html),
            html=raw_html,
        )
    )
    details = Details(
        duration_s=duration if item_type in ("podcast", "video") else None,
    )
    if item_type == "event":
        when = events.find_event_time(
            structured=structured,
            html=raw_html,
            text=parsed.text,
            published=parsed.published,
            language=feed.language,
            is_event=True,
        )
        if when is not None:
            details = replace(
                details,
                event_start=when.start,
                event_end=when.end,
                event_timezone=when.timezone,
                event_all_day=when.all_day,
                event_floating=when.floating,
                location=when.location,
            )
    elif item_type == "course":
        starts = (
            events.from_cue(parsed.text, parsed.published, feed.language)
            if parsed.published is not None
            else None
        )
        details = replace(
            details,
            provider=parsed.author or feed.title,
            course_start=starts.start if starts is not None else None,
        )
    return replace(parsed, item_type=item_type, details=details)


# --------------------------------------------------------------------------- iCalendar


def _parse_calendar(content: bytes, feed: _Feed) -> ParsedFeed:
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
        raise FeedParseError(f"not a feed: broken iCalendar ({_describe(error)})") from error
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


def _calendar_entry(event: ical.CalendarEvent, feed: _Feed) -> Entry:
    component = event.component
    title = " ".join(ical.text_of(component.get("SUMMARY")).split())
    link = _web_link(ical.text_of(component.get("URL")), feed.url)
    summary = ical.description_html(component, link or feed.url)
    stamp = component.get("DTSTAMP") or component.get("LAST-MODIFIED") or component.get("CREATED")
    parsed = Entry(
        guid=event.guid or link or _fallback_guid(title, {}),
        url=link,
        title=title,
        summary=summary,
        text=html_to_text(summary)[:MAX_TEXT_CHARS],
        published=ical.moment_of(stamp),
        tags=_tags(ical.categories(component)),
    )
    entry = _typed(parsed, feed, structured=(event.time,))
    details = replace(
        entry.details,
        event_series=event.series,
        event_repeats=event.repeats,
        event_cancelled=event.cancelled,
    )
    return replace(entry, details=details)


def _sanitized_detail(detail: Mapping[str, Any] | None, value: str, base: str) -> str:
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
    return sanitize_html(value, _web_link(str(detail.get("base") or ""), base) or base)


def _first_content(contents: Iterable[Mapping[str, Any]], base: str) -> str:
    for content in contents:
        sanitized = _sanitized_detail(content, content.get("value", ""), base)
        if sanitized:
            return sanitized
    return ""


def _enclosures(enclosures: Iterable[Mapping[str, Any]], base: str) -> list[tuple[str, str]]:
    """Every enclosure (or attachment) with a safe link, as (URL, MIME type), in order."""
    found = []
    for enclosure in enclosures:
        href = _web_link(enclosure.get("href") or enclosure.get("url") or "", base)
        if href:
            media_type = str(enclosure.get("type") or enclosure.get("mime_type") or "")
            found.append((href, media_type.partition(";")[0].strip().lower()))
    return found


def _main_enclosure(enclosures: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """The enclosure to keep: the first audio or video one (a cover image often comes first),
    else the first."""
    for url, media_type in enclosures:
        if enclosure_kind(url, media_type):
            return url, media_type
    return enclosures[0] if enclosures else ("", "")


def _first_field(entry: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The first present field, read with ``dict.get``.

    feedparser's own ``get`` maps a missing ``updated`` to ``published``
    with a DeprecationWarning; reading the dict directly avoids both.
    """
    for name in names:
        value = dict.get(entry, name) if isinstance(entry, dict) else entry.get(name)
        if value:
            return value
    return None


def _entry_date(entry: Mapping[str, Any], timezone: str, notes: list[str]) -> datetime | None:
    """The entry's first readable date (published, updated, created), checked against the
    feed's own string: feedparser's reading is not taken where the string contradicts it."""
    for name in DATE_FIELDS:
        raw = _first_field(entry, (name,))
        parsed = _from_struct(_first_field(entry, (f"{name}_parsed",)))
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


def _fallback_guid(title: str, entry: Mapping[str, Any]) -> str:
    """A stable id for entries with neither id nor link: same title and date, same id."""
    published = _first_field(entry, DATE_FIELDS) or ""
    digest = hashlib.sha1(f"{title}\n{published}".encode(), usedforsecurity=False)
    return f"sha1:{digest.hexdigest()}"


# --------------------------------------------------------------------------- JSON Feed


def _parse_json_feed(content: bytes, feed: _Feed) -> ParsedFeed:
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
    problems += _refused_links(links, entries)
    return ParsedFeed(
        title=feed.title,
        link=_web_link(_string(document.get("home_page_url")), url),
        entries=tuple(entries),
        format=JSON_FEED_VERSIONS.get(version, "json11"),
        problems=(*problems, *_summarized(notes)),
    )


def _json_entry(item: Mapping[str, Any], feed: _Feed, notes: list[str]) -> Entry:
    feed_url = feed.url
    link = _web_link(_string(item.get("url")) or _string(item.get("external_url")), feed_url)
    base = link or feed_url
    content_html = _string(item.get("content_html"))
    # Plain text read as _json_text reads it (references decoded once), then escaped once.
    content_text = html.unescape(_string(item.get("content_text")))
    content = sanitize_html(content_html or html.escape(content_text), base)
    summary_text = json_text(item.get("summary"))
    summary = sanitize_html(html.escape(summary_text), base) if summary_text else ""
    title = json_text(item.get("title"))
    raw_date = _string(item.get("date_published")) or _string(item.get("date_modified"))
    attachments = _enclosures(_dicts(item.get("attachments")), base)
    enclosure_url, enclosure_type = _main_enclosure(attachments)
    text = html_to_text(content or summary)[:MAX_TEXT_CHARS]
    item_id = item.get("id")
    guid = (str(item_id).strip() if item_id is not None else "") or link
    parsed = Entry(
        guid=guid or _fallback_guid(title, {"published": raw_date}),
        url=link,
        title=title,
        summary=summary,
        content=content,
        text=text,
        published=_json_date(raw_date, feed.context.timezone, notes),
        author=_json_author(item),
        tags=_tags(html.unescape(tag) for tag in _strings(item.get("tags"))),
        enclosure_url=enclosure_url,
        enclosure_type=enclosure_type,
    )
    seconds = next(
        (
            _duration(a.get("duration_in_seconds"))
            for a in _dicts(item.get("attachments"))
            if a.get("duration_in_seconds")
        ),
        None,
    )
    return _typed(
        parsed,
        replace(feed, language=_string(item.get("language")) or feed.language),
        media=_Media(enclosures=tuple(attachments)),
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


# --------------------------------------------------------------------------- shared helpers


def _refused_links(links: Sequence[Any], entries: Sequence[Entry]) -> tuple[str, ...]:
    """A problem naming how many entries gave a link that :func:`_web_link` refused."""
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


def _web_link(link: str, base: str) -> str:
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


def _tags(terms: Iterable[str]) -> tuple[str, ...]:
    """Categories stripped and deduplicated (ignoring case), at most :data:`MAX_TAGS`."""
    seen: dict[str, str] = {}
    for term in terms:
        tag = exact(term)[:MAX_TAG_CHARS]
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
        if len(seen) == MAX_TAGS:
            break
    return tuple(seen.values())


def _describe(error: BaseException | str) -> str:
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    return text[:MAX_PROBLEM_CHARS]
