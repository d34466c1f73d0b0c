"""iCalendar both ways: calendars read as sources of events, and one .ics written per event.

Pure: bytes in, values out, and text out for ``render`` to write. Reading uses
``icalendar`` (folded lines, escapes, ``TZID`` parameters), ``x-wr-timezone``
(a calendar's ``X-WR-TIMEZONE`` made into real zones, as Google Calendar
exports need) and ``recurring-ical-events`` (RRULE, RDATE, EXDATE and
``RECURRENCE-ID`` exceptions per RFC 5545): recurrence by hand is a known
source of bugs.

A series is expanded from ``now`` over the horizon a person sees, and each
occurrence is its own event, with an id made of the series' UID and the
occurrence's RECURRENCE-ID, so a moved occurrence keeps its id and one
occurrence never overwrites another. Nothing a calendar holds raises out of
:func:`read_calendar` except a document that is no iCalendar at all: a
component it cannot read (a date past 9999, a rule it cannot expand) is left
out and named in ``problems``.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.process.events import EVENT_YEARS as YEARS
from aggregator.process.events import EventTime
from aggregator.process.events import zone as _zone
from aggregator.sanitize import html_to_text, sanitize_html

PRODID = "-//Learnplace//Learnplace digest//EN"

MAX_EVENTS = 5_000
"""Events one calendar gives at most: more is a dump of years, not a list to act on."""

MAX_OCCURRENCES = 200
"""Occurrences of one series within the horizon: a daily series over a year, and a bound on
what a hostile rule can produce."""

MAX_RULE_STEPS = 200_000
"""Steps a recurrence rule may take from its DTSTART to the end of the horizon (see
:func:`_refusal`): a daily rule since 1900 with a few BYxxx values."""

SERIES_BUDGET_S = 5.0
"""Seconds one calendar's series may take to expand in all; the rest are left out. A rule
that can never match walks to the year 9999 (a few seconds for a daily one)."""

RULE_PERIODS: dict[str, timedelta] = {
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
    "MONTHLY": timedelta(days=28),
    "YEARLY": timedelta(days=365),
}

REPEAT_WORDS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}

UNREADABLE: tuple[type[Exception], ...] = (
    ValueError,  # also recurring_ical_events' InvalidCalendar and icalendar's parse errors
    TypeError,
    OverflowError,
    KeyError,
    AttributeError,
    IndexError,
)
"""What icalendar, dateutil and recurring-ical-events raise on damaged components."""


def is_calendar(content: bytes) -> bool:
    """An iCalendar document starts with ``BEGIN:VCALENDAR`` (after a BOM or blank lines)."""
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR"


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """One event to store: a single VEVENT, or one occurrence of a series.

    ``guid`` is the UID for a single event and ``UID/RECURRENCE-ID`` (in UTC)
    for an occurrence; ``series`` is the series' UID, "" for a single event.
    """

    guid: str
    component: Any
    """The ``icalendar.Event`` the occurrence was made from (summary, URL, description)."""
    time: EventTime | None
    series: str = ""
    repeats: str = ""
    """How the series repeats, in words ("every week", "every 2 weeks"); "" if it does not."""
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class CalendarRead:
    """What one calendar document holds, and up to when its occurrences are complete."""

    events: tuple[CalendarEvent, ...]
    complete_until: datetime
    problems: tuple[str, ...] = ()
    title: str = ""
    """The calendar's name (``X-WR-CALNAME``), if it has one."""


def read_calendar(
    content: bytes, *, now: datetime, horizon: timedelta, timezone: str = ""
) -> CalendarRead:
    """Every single event, and every occurrence of every series from ``now`` to ``now +
    horizon``, of every calendar in ``content``.

    Floating times (no zone, no ``Z``) are read in the calendar's
    ``X-WR-TIMEZONE``, else its only ``VTIMEZONE``, else ``timezone`` (the
    source's configured zone); with none of them they stay floating. Raises
    ``ValueError`` when the document is not iCalendar at all.
    """
    # Imported on first need (~0.2 s): every parse process imports this module,
    # few ever see a calendar.
    import icalendar

    until = now + horizon
    found: list[CalendarEvent] = []
    problems: list[str] = []
    title = ""
    for calendar in icalendar.Calendar.from_ical(content, multiple=True):
        title = title or str(calendar.get("X-WR-CALNAME", "")).strip()
        standard = _standard(calendar, timezone, problems)
        singles, series = _partition(standard, problems)
        found.extend(_singles(singles, problems))
        deadline = monotonic() + SERIES_BUDGET_S
        for number, (uid, components) in enumerate(series.items()):
            if monotonic() > deadline:
                problems.append(f"expanding took too long: {len(series) - number} series left out")
                break
            found.extend(_occurrences(standard, uid, components, now, until, problems))
        if len(found) >= MAX_EVENTS:
            problems.append(f"more than {MAX_EVENTS} events: the rest are left out")
            break
    return CalendarRead(tuple(found[:MAX_EVENTS]), until, tuple(dict.fromkeys(problems)), title)


def _standard(calendar: Any, configured: str, problems: list[str]) -> Any:
    """The calendar with every floating time in its zone, as far as one is known."""
    import x_wr_timezone

    stated = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if stated and _zone(stated) is None:
        problems.append(f"unknown X-WR-TIMEZONE {stated!r}: floating times left floating")
        stated = ""
    zone = stated or _sole_zone(calendar) or (configured if _zone(configured) else "")
    if not zone:
        return calendar
    try:
        return x_wr_timezone.to_standard(calendar, timezone=ZoneInfo(zone))
    except UNREADABLE as error:
        problems.append(f"times not converted to {zone}: {_describe(error)}")
        return calendar


def _sole_zone(calendar: Any) -> str:
    """The TZID of a calendar's only VTIMEZONE, when it is a zone this machine knows."""
    names = {str(tz.get("TZID", "")) for tz in calendar.walk("VTIMEZONE")}
    if len(names) != 1:
        return ""
    (name,) = names
    return name if _zone(name) else ""


def _partition(calendar: Any, problems: list[str]) -> tuple[list[Any], dict[str, list[Any]]]:
    """Single events, and the components of each series by UID (the master and its exceptions).

    A series is a UID with an RRULE or RDATE, or with a RECURRENCE-ID exception.
    """
    components = list(itertools.islice(calendar.walk("VEVENT"), MAX_EVENTS * 2))
    series_uids = {str(c.get("UID", "")).strip() for c in components if _recurs(c)} - {""}
    singles: list[Any] = []
    series: dict[str, list[Any]] = {}
    for component in components:
        uid = str(component.get("UID", "")).strip()
        if uid in series_uids:
            series.setdefault(uid, []).append(component)
        elif _recurs(component):
            problems.append(f"a recurring event without a UID ({_summary(component)!r}) skipped")
        else:
            singles.append(component)
    return singles, series


def _recurs(component: Any) -> bool:
    """Whether a component is part of a series: a rule with a frequency (an empty ``RRULE:``,
    as some exports write, is none), RDATEs, or an exception's RECURRENCE-ID."""
    if component.get("RDATE") is not None or component.get("RECURRENCE-ID") is not None:
        return True
    rule = component.get("RRULE")
    rules = rule if isinstance(rule, list) else [rule] if rule is not None else []
    try:
        return any(each.get("FREQ") for each in rules)
    except UNREADABLE:
        return True  # a broken rule: the series' expansion reports it


def _singles(components: Iterable[Any], problems: list[str]) -> Iterator[CalendarEvent]:
    for component in components:
        try:
            when = event_time(component)
        except UNREADABLE as error:
            problems.append(f"event {_summary(component)!r}: unreadable date ({_describe(error)})")
            continue
        if when is None and component.get("DTSTART") is not None:
            problems.append(f"event {_summary(component)!r}: no start it can read, skipped")
            continue
        yield CalendarEvent(
            guid=str(component.get("UID", "")).strip(),
            component=component,
            time=when,
            cancelled=_cancelled(component),
        )


def _occurrences(
    calendar: Any,
    uid: str,
    components: list[Any],
    now: datetime,
    until: datetime,
    problems: list[str],
) -> list[CalendarEvent]:
    """The occurrences of one series that have not ended by ``now`` and start by ``until``.

    Each series is expanded on its own (with the calendar's zones), so a rule
    the library cannot read costs only its own series.
    """
    import icalendar
    import recurring_ical_events

    master = next((c for c in components if c.get("RECURRENCE-ID") is None), components[0])
    label = _summary(master)
    try:
        refusal = _refusal(master, until)
        if refusal:
            problems.append(f"series {label!r} {refusal}: skipped")
            return []
        repeats = _repeats(master)
        single = icalendar.Calendar()
        for zone in calendar.walk("VTIMEZONE"):
            single.add_component(zone)
        for component in components:
            single.add_component(component)
        query = recurring_ical_events.of(single)
        found = list(itertools.islice(_until(query.after(now), until), MAX_OCCURRENCES))
        occurrences = [
            (occurrence, event_time(occurrence), _stamp(occurrence["RECURRENCE-ID"].dt))
            for occurrence in found
        ]
    except UNREADABLE as error:
        problems.append(f"series {label!r} could not be expanded: {_describe(error)}")
        return []
    return [
        CalendarEvent(
            guid=f"{uid}/{recurrence}",
            component=occurrence,
            time=when,
            series=uid,
            repeats=repeats,
            cancelled=_cancelled(occurrence),
        )
        for occurrence, when, recurrence in occurrences
    ]


def _until(occurrences: Iterator[Any], until: datetime) -> Iterator[Any]:
    """Occurrences (in start order) up to the one that starts after ``until``."""
    for occurrence in occurrences:
        start = occurrence.get("DTSTART")
        if start is not None and _moment(start.dt)[0] > until:
            return
        yield occurrence


def _refusal(master: Any, until: datetime) -> str:
    """Why a series' rule is not expanded, or "".

    The expansion walks every step of a rule from its first occurrence, and a
    rule that can never match (February 30th) walks to the year 9999: rules
    finer than a day, an interval of 0 and rules of too many steps up to
    ``until`` are refused. Learning events do not repeat by the hour.
    """
    rule = master.get("RRULE")
    start = master.get("DTSTART")
    if rule is None or start is None or not isinstance(start.dt, date):
        return ""
    elapsed = until - _moment(start.dt)[0]
    steps = 0
    for each in rule if isinstance(rule, list) else [rule]:
        frequency = str((each.get("FREQ") or [""])[0]).upper()
        if frequency not in RULE_PERIODS:
            return f"repeats {frequency.lower() or 'without a frequency'}, more often than daily"
        interval = int((each.get("INTERVAL") or [1])[0])
        if interval < 1:
            return f"has an interval of {interval}"
        if not _possible(each):
            return "names days no month has"
        spread = 1
        for part in ("BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY", "BYYEARDAY"):
            spread *= max(1, len(each.get(part) or ()))
        steps += max(0, int(elapsed / RULE_PERIODS[frequency]) // interval) * spread
    return f"repeats too often ({steps:,} steps)" if steps > MAX_RULE_STEPS else ""


MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _possible(rule: Any) -> bool:
    """Whether BYMONTH and BYMONTHDAY together name a day that exists (not February 30th)."""
    months = [int(m) for m in rule.get("BYMONTH") or ()] or list(range(1, 13))
    days = [int(d) for d in rule.get("BYMONTHDAY") or ()]
    if not days:
        return True
    return any(
        0 < abs(day) <= MONTH_DAYS[month - 1]
        for month in months
        if 1 <= month <= 12
        for day in days
    )


def _repeats(master: Any) -> str:
    """ "every week", "every 2 weeks"..., or "repeats" for dates given one by one (RDATE)."""
    rule = master.get("RRULE")
    if isinstance(rule, list):
        rule = rule[0] if rule else None
    if rule is None:
        return "repeats" if master.get("RDATE") is not None else ""
    try:
        frequency = str((rule.get("FREQ") or [""])[0]).upper()
        interval = int((rule.get("INTERVAL") or [1])[0])
    except UNREADABLE:
        return "repeats"
    word = REPEAT_WORDS.get(frequency)
    if word is None:
        return "repeats"
    return f"every {word}" if interval <= 1 else f"every {interval} {word}s"


def _cancelled(component: Any) -> bool:
    return str(component.get("STATUS", "")).strip().upper() == "CANCELLED"


def _summary(component: Any) -> str:
    return str(component.get("SUMMARY", "")).strip()[:60] or "untitled"


def _stamp(value: date | datetime) -> str:
    """A RECURRENCE-ID as text that stays the same across fetches: UTC, or the bare date."""
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")
    if value.tzinfo is None:
        return value.strftime("%Y%m%dT%H%M%S")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:160]


def event_time(event: Any) -> EventTime | None:
    """A VEVENT's start, end (DTEND, else DTSTART + DURATION) and time zone.

    None when it has no start, or one outside :data:`YEARS`.
    """
    start_prop = event.get("DTSTART")
    if start_prop is None or not isinstance(start_prop.dt, date):
        return None
    start, zone, all_day, floating = _moment(start_prop.dt)
    if not YEARS[0] <= start.year <= YEARS[1]:
        return None
    end = None
    end_prop = event.get("DTEND")
    duration = event.get("DURATION")
    if end_prop is not None and isinstance(end_prop.dt, date):
        end = _moment(end_prop.dt)[0]
    elif duration is not None and isinstance(duration.dt, timedelta) and duration.dt > timedelta():
        end = start + duration.dt
    if end is not None and not (start <= end and end.year <= YEARS[1]):
        end = None
    return EventTime(
        start=start,
        end=end,
        timezone=zone,
        all_day=all_day,
        floating=floating,
        location=str(event.get("LOCATION", "")).strip(),
        source="ical",
    )


def moment_of(prop: Any) -> datetime | None:
    """An iCalendar date property (DTSTAMP, LAST-MODIFIED...) as an aware UTC datetime."""
    value = getattr(prop, "dt", None)
    if not isinstance(value, date):
        return None
    moment = _moment(value)[0]
    return moment.astimezone(UTC) if YEARS[0] <= moment.year <= YEARS[1] else None


def _moment(value: date | datetime) -> tuple[datetime, str, bool, bool]:
    """An aware datetime, the IANA zone name if there is one, whether it was a bare date, and
    whether it was floating (its nominal time is then kept as if it were UTC)."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC), "", True, False
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC), "", False, True
    return value, _zone_name(value.tzinfo), False, False


def _zone_name(zone: tzinfo) -> str:
    key = getattr(zone, "key", None) or getattr(zone, "zone", None)
    return key if isinstance(key, str) and "/" in key else ""


# --------------------------------------------------------------------------- text of a component


def text_of(value: Any) -> str:
    """An iCalendar text value as the exact text it holds (icalendar undid its escapes)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def description_html(component: Any, base: str) -> str:
    """Sanitized HTML of an event's description.

    ``X-ALT-DESC;FMTTYPE=text/html`` is HTML by its own statement; DESCRIPTION
    is plain text by RFC 5545, except that calendar programs (Google Calendar,
    Discourse) write HTML links and line breaks into it: markup of that kind
    makes it HTML, anything else is escaped once.
    """
    alternative = component.get("X-ALT-DESC")
    if alternative is not None and "html" in str(alternative.params.get("FMTTYPE", "")).lower():
        html_text = text_of(alternative)
        if html_to_text(html_text):
            return sanitize_html(html_text, base)
    description = text_of(component.get("DESCRIPTION"))
    if not description:
        return ""
    if HTML_MARKUP.search(description):
        return sanitize_html(description, base)
    return sanitize_html(html.escape(description).replace("\n", "<br>"), base)


HTML_MARKUP = re.compile(
    r"<(?:a\s+href|br\s*/?>|p>|/p>|b>|i>|em>|strong>|ul>|ol>|li>|div[\s>]|span[\s>])", re.I
)
"""Markup that only HTML has: a plain-text description that mentions ``<canvas>`` is still text."""


def sequence(component: Any) -> int:
    """A component's SEQUENCE (its revision), 0 when it has none it can read."""
    try:
        return int(str(component.get("SEQUENCE", "0")).strip() or 0)
    except ValueError:
        return 0


def categories(component: Any) -> list[str]:
    """Every CATEGORIES term of a component."""
    found = component.get("CATEGORIES")
    values = found if isinstance(found, list) else [found] if found else []
    return [str(term) for value in values for term in getattr(value, "cats", [value])]


# --------------------------------------------------------------------------- writing


def event_uid(key: str) -> str:
    """A UID that stays the same across days: calendars update the event instead of copying it."""
    digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{digest}@learnplace"


@dataclass(frozen=True, slots=True)
class IcsEvent:
    """What one "add to calendar" file says."""

    uid_key: str
    title: str
    start: datetime
    end: datetime | None = None
    all_day: bool = False
    timezone: str = ""
    """The IANA zone the event happens in: times are written in it, with TZID and VTIMEZONE."""
    floating: bool = False
    """The source gave a local time without a zone: written floating, as it came."""
    url: str = ""
    description: str = ""
    location: str = ""


def event_ics(event: IcsEvent, *, now: datetime) -> str:
    """One event as an iCalendar document ("add to calendar").

    Times go out in the event's own zone (``DTSTART;TZID=Europe/Berlin:...``
    with its VTIMEZONE), so a calendar program shows the local time wherever
    the reader is and daylight saving is right; a floating time stays
    floating; otherwise UTC. An all-day event keeps its date. An event without
    an end gets one hour (all-day: one day), since many programs need a DTEND.
    """
    import icalendar  # on first need, as in read_calendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    component = icalendar.Event()
    component.add("uid", event_uid(event.uid_key))
    component.add("dtstamp", now.astimezone(UTC))
    start = event.start
    if event.all_day:
        first = start.date()
        component.add("dtstart", first)
        last = event.end.date() if event.end is not None and event.end.date() > first else first
        component.add("dtend", last + timedelta(days=1))
    else:
        end = event.end or start + timedelta(hours=1)
        zone = _zone(event.timezone) if event.timezone else None
        if event.floating:
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        elif zone is not None:
            start, end = start.astimezone(zone), end.astimezone(zone)
        else:
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        component.add("dtstart", start)
        component.add("dtend", end)
    component.add("summary", event.title)
    for name, value in (
        ("description", event.description),
        ("location", event.location),
        ("url", event.url),
    ):
        if value:
            component.add(name, value)
    calendar.add_component(component)
    if event.timezone and not event.all_day and not event.floating:
        year = timedelta(days=366)
        calendar.add_missing_timezones((start - year).date(), (start + year).date())
    return calendar.to_ical().decode("utf-8")
