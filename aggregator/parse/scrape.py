"""Items from a web page that has no feed, by the CSS selectors of ``[source.scrape]``.

Events and course listings often exist only as HTML. The selectors are the
person's own, so a selector that finds nothing is an error of the source
(the page changed), reported like a broken feed rather than as an empty day.
Dates come from ``datetime``/``content``/``title`` attributes first (``<time>``,
microdata, hCalendar ``<abbr>``), then the element's text. ``date`` is when an
item was published; ``start`` and ``end`` are when the event it announces
happens, which makes it an event. A time without a zone is read in the
source's zone, else kept as a floating local time.

An item's id is its title and its date (the event's start, else its
published date), not its link: changing the ``link`` selector must not copy
every item of the source.
"""

from __future__ import annotations

import email.utils
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from aggregator.errors import FeedParseError
from aggregator.models import Details, Entry, ParsedFeed, ScrapeRules
from aggregator.process.classify import Signals, classify
from aggregator.process.events import EVENT_YEARS
from aggregator.process.events import zone as _zone
from aggregator.sanitize import html_to_text, sanitize_html
from aggregator.urls import is_web_link

DATE_ATTRIBUTES = ("datetime", "content", "title")
MAX_TEXT_CHARS = 20_000


def check_selector(selector: str) -> None:
    """Raise ``ValueError`` for a selector Lexbor cannot compile (config validation)."""
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except SelectolaxError as exc:
        raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from None


def scrape_page(
    content: bytes, url: str, rules: ScrapeRules, kind: str, *, timezone: str = ""
) -> ParsedFeed:
    """Entries of a listing page; :class:`FeedParseError` when a required selector finds nothing.

    ``timezone`` is the source's zone for times the page gives without one.
    """
    tree = LexborHTMLParser(content)
    nodes = tree.css(rules.item)
    if not nodes:
        raise FeedParseError(f"scrape: item selector {rules.item!r} matches nothing")
    base = _base(tree, url)
    entries: list[Entry] = []
    problems: list[str] = []
    for position, node in enumerate(nodes, start=1):
        title_node = node.css_first(rules.title)
        title = " ".join(title_node.text(separator=" ").split()) if title_node else ""
        if not title:
            problems.append(f"scrape: item {position} has no {rules.title!r}, skipped")
            continue
        entry = _entry(node, title, base, rules, kind, _Place(problems, position, timezone))
        entries.append(entry)
    if not entries:
        raise FeedParseError(f"scrape: title selector {rules.title!r} matches nothing")
    if rules.date and all(entry.published is None for entry in entries):
        problems.append(f"scrape: date selector {rules.date!r} gave no date")
    if rules.start and all(entry.details.event_start is None for entry in entries):
        problems.append(f"scrape: start selector {rules.start!r} gave no date")
    page_title = tree.css_first("title")
    return ParsedFeed(
        title=page_title.text().strip() if page_title else url,
        link=url,
        entries=tuple(entries),
        format="html-scrape",
        problems=tuple(problems),
    )


@dataclass(frozen=True, slots=True)
class _Place:
    """Where an item sits on the page, for its problems, and the zone of its times."""

    problems: list[str]
    position: int
    timezone: str


def _entry(
    node: LexborNode, title: str, base: str, rules: ScrapeRules, kind: str, place: _Place
) -> Entry:
    link_node = node.css_first(rules.link or "a[href]")
    if link_node is None and node.tag == "a":
        link_node = node
    href = (link_node.attributes.get("href") or "") if link_node else ""
    link = urljoin(base, href.strip()) if href.strip() else ""
    link = link if is_web_link(link) else ""
    summary_node = node.css_first(rules.summary) if rules.summary else None
    summary = sanitize_html(summary_node.html or "", link or base) if summary_node else ""
    published = _when(node, rules.date, "date", place)
    start = _when(node, rules.start, "start", place)
    end = _when(node, rules.end, "end", place) if start is not None else None
    text = html_to_text(summary)[:MAX_TEXT_CHARS] or title
    details = Details()
    if start is not None:
        ends = end.when if end is not None and end.when >= start.when else None
        details = Details(
            event_start=start.when,
            event_end=ends,
            event_timezone=place.timezone if not (start.floating or start.all_day) else "",
            event_all_day=start.all_day,
            event_floating=start.floating,
            location=_text(node, rules.location),
        )
    item_type = (
        "event"
        if start is not None
        else classify(Signals(kind=kind, title=title, text=text, url=link, guid=link))
    )
    dated = start or published
    return Entry(
        guid=_guid(base, title, dated.when if dated else None),
        former_guids=(link or f"{base}#{title}",),
        url=link,
        title=title,
        summary=summary,
        text=text,
        published=published.when if published else None,
        item_type=item_type,
        details=details,
    )


def _guid(base: str, title: str, when: datetime | None) -> str:
    """The page, the title and the date: what stays when a person edits the link selector."""
    key = f"{base}\n{' '.join(title.split()).casefold()}\n{when.isoformat() if when else ''}"
    return "scrape:" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()


def _text(node: LexborNode, selector: str) -> str:
    found = node.css_first(selector) if selector else None
    return " ".join(found.text(separator=" ").split()) if found is not None else ""


def _when(node: LexborNode, selector: str, name: str, place: _Place) -> _Moment | None:
    """The date the selector finds in the item, and whether it was floating; a selector
    that finds an element without a date is a problem of the page."""
    if not selector:
        return None
    found = node.css_first(selector)
    if found is None:
        return None
    when = _date(found, place.timezone)
    if when is None:
        place.problems.append(
            f"scrape: item {place.position}: unreadable {name} {found.text()[:80]!r}"
        )
    return when


def _base(tree: LexborHTMLParser, url: str) -> str:
    base = tree.css_first("base[href]")
    return urljoin(url, (base.attributes.get("href") or "").strip()) if base else url


@dataclass(frozen=True, slots=True)
class _Moment:
    when: datetime
    floating: bool = False
    """A time without a zone, in a source without one: kept as if it were UTC."""
    all_day: bool = False


def _date(node: LexborNode, timezone: str = "") -> _Moment | None:
    """The most precise date the element gives: of its attributes and its text, the first
    with a time of day, else the first date (``content="2009-02-19"`` beside
    ``title="20090219T190000"``, as hCalendar pages write it)."""
    candidates = [node.attributes.get(name) or "" for name in DATE_ATTRIBUTES]
    candidates.append(node.text())
    found = [_parse_date(candidate.strip(), timezone) for candidate in candidates]
    dated = [moment for moment in found if moment is not None]
    return next((m for m in dated if not m.all_day), dated[0] if dated else None)


def _parse_date(value: str, timezone: str = "") -> _Moment | None:
    """ISO 8601 (what machines put in attributes) or RFC 2822.

    A time without a zone is read in ``timezone`` when there is one, else kept
    as if it were UTC (floating).
    """
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if not EVENT_YEARS[0] <= when.year <= EVENT_YEARS[1]:
        return None
    all_day = len(value) <= len("2009-02-19") and ":" not in value
    if all_day:  # a date is the same day everywhere: midnight UTC, as calendars store it
        return _Moment(datetime.combine(when.date(), time(), UTC), all_day=True)
    if when.tzinfo is not None:
        return _Moment(when)
    zone = _zone(timezone)
    if zone is not None:
        return _Moment(when.replace(tzinfo=zone))
    return _Moment(when.replace(tzinfo=UTC), floating=True)
