"""iCalendar both ways: calendars read as sources of events, and one .ics written per event.

Pure: bytes in, values out, and text out for ``render`` to write. Reading
uses the ``icalendar`` library, which copes with folded lines, escaped
commas and the ``TZID`` parameters real exports are full of.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from aggregator.events import EventTime

if TYPE_CHECKING:
    import icalendar

PRODID = "-//Learnplace//Learnplace digest//EN"


def is_calendar(content: bytes) -> bool:
    """An iCalendar document starts with ``BEGIN:VCALENDAR`` (after a BOM or blank lines)."""
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR"


def read_events(content: bytes) -> Iterator[tuple[icalendar.Event, EventTime | None]]:
    """Every VEVENT of every calendar in ``content`` with its time (None when it has none).

    Raises ``ValueError`` when the document is not iCalendar at all.
    """
    # Imported on first need (~0.15 s): every parse process imports this module,
    # few ever see a calendar.
    import icalendar

    for calendar in icalendar.Calendar.from_ical(content, multiple=True):
        for event in calendar.walk("VEVENT"):
            yield event, event_time(event)


def event_time(event: icalendar.Event) -> EventTime | None:
    """A VEVENT's start, end (DTEND, else DTSTART + DURATION) and time zone."""
    start_prop = event.get("DTSTART")
    if start_prop is None:
        return None
    start, zone, all_day = _moment(start_prop.dt)
    end = None
    if event.get("DTEND") is not None:
        end = _moment(event["DTEND"].dt)[0]
    elif event.get("DURATION") is not None and event["DURATION"].dt > timedelta(0):
        end = _within_calendar(lambda: start + event["DURATION"].dt)
    return EventTime(
        start=start,
        end=end if end is not None and end >= start else None,
        timezone=zone,
        all_day=all_day,
        location=str(event.get("LOCATION", "")).strip(),
        source="ical",
    )


def moment_of(prop: Any) -> datetime | None:
    """An iCalendar date property (DTSTAMP, LAST-MODIFIED...) as an aware UTC datetime."""
    value = getattr(prop, "dt", None)
    if not isinstance(value, date):
        return None
    return _within_calendar(lambda: _moment(value)[0].astimezone(UTC))


def _within_calendar(moment: Callable[[], datetime]) -> datetime | None:
    """``moment()``, or None where it would fall outside years 1 to 9999 (DTSTART 9999-12-31
    plus a week, a year-1 time moved into UTC)."""
    try:
        return moment()
    except OverflowError:
        return None


def _moment(value: date | datetime) -> tuple[datetime, str, bool]:
    """An aware datetime, the IANA zone name if there is one, and whether it was a bare date."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC), "", True
    if value.tzinfo is None:
        # A "floating" time: the calendar meant local time wherever one is; UTC is the honest guess.
        return value.replace(tzinfo=UTC), "", False
    return value, _zone_name(value.tzinfo), False


def _zone_name(zone: tzinfo) -> str:
    key = getattr(zone, "key", None) or getattr(zone, "zone", None)
    return key if isinstance(key, str) and "/" in key else ""


def event_uid(key: str) -> str:
    """A UID that stays the same across days: calendars update the event instead of copying it."""
    digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{digest}@learnplace"


def event_ics(
    *,
    uid_key: str,
    title: str,
    start: datetime,
    end: datetime | None,
    all_day: bool,
    url: str,
    description: str,
    location: str,
    now: datetime,
) -> str:
    """One event as an iCalendar document ("add to calendar").

    Times are written in UTC, which every calendar program converts to the
    reader's own zone; an all-day event keeps its date. An event without an
    end gets one hour (all-day: one day), since many programs need a DTEND.
    """
    import icalendar  # on first need, as in read_events

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", event_uid(uid_key))
    event.add("dtstamp", now.astimezone(UTC))
    if all_day:
        first = start.date()
        event.add("dtstart", first)
        last = end.date() if end is not None and end.date() > first else first
        event.add("dtend", last + timedelta(days=1))
    else:
        event.add("dtstart", start.astimezone(UTC))
        event.add("dtend", (end or start + timedelta(hours=1)).astimezone(UTC))
    event.add("summary", title)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    if url:
        event.add("url", url)
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")
