"""A feed's date checked against the feed's own string.

feedparser reads dates in many shapes and sometimes guesses wrong without
saying so: ``2020/1/10 14:33:00`` comes back as 1 December 2020 at midnight.
Pure: the raw string and feedparser's reading in, the date to store (or
none) and what was wrong out. The shapes feeds are specified to use (RFC 822
for RSS, RFC 3339 for Atom) and the unambiguous year-first numeric one are
read here; when the two readings disagree, this one wins. A reading of a
shape not read here is kept only if the string agrees with it (its year and
day are in the string); otherwise the item is left undated, which the store
marks, rather than dated wrongly.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime, timedelta

from aggregator.process.events import zone

SLASH_DATE = re.compile(
    r"(?P<year>\d{4})(?P<sep>[/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})"
    r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
    r"\s*(?P<zone>Z|UTC|GMT|[+-]\d{2}:?\d{2})?"
)
"""Year first, then month and day (``2020/1/10``, ``2020.01.10``): the one order such a date is
written in with the year first. Day-first and month-first ones are ambiguous and left to the
consistency check."""

NAMED_ZONE = re.compile(r"[A-Za-z]{2,5}\s*$")
"""An RFC 822 date ending in a zone name (``CEST``) that the standard library may not know."""

KNOWN_ZONES = frozenset(
    {"UT", "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"}
)
"""The zone names RFC 822 defines, which :func:`email.utils.parsedate_tz` reads."""

SAME = timedelta(seconds=1)

SHOWN_CHARS = 60
"""Characters of a raw date a problem quotes."""


def checked_date(
    raw: str, theirs: datetime | None, timezone: str = ""
) -> tuple[datetime | None, str]:
    """The date to store for ``raw`` (feedparser read it as ``theirs``), and a problem or "".

    A date without an offset is read in ``timezone`` when given, else as UTC
    (as feedparser reads it).
    """
    text = " ".join(raw.split()) if isinstance(raw, str) else ""
    shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"
    ours = strict(text, timezone)
    if ours is not None:
        if theirs is None:
            return ours, ""
        if abs(ours - theirs) > SAME:
            return ours, f"date {shown!r} read as {_shown(ours)}, not {_shown(theirs)}"
        return theirs, ""  # the same moment, as feedparser gives it (whole seconds)
    if theirs is None:
        return None, f"unreadable date {shown!r}: left undated" if text else ""
    if agrees(text, theirs):
        return theirs, ""
    return None, f"date {shown!r} does not say {_shown(theirs)}: left undated"


def strict(text: str, timezone: str = "") -> datetime | None:
    """``text`` as RFC 3339 / ISO 8601, RFC 822 or a year-first slash date; else None."""
    if not text:
        return None
    moment = _iso(text) or _rfc822(text) or _slash(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone) or UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the year 1 or 9999 pushed past the calendar by its offset
        return None


def agrees(text: str, moment: datetime) -> bool:
    """Whether ``text`` holds the year and the day of the month of ``moment`` (in UTC or
    within a day of it, since a zone may have moved the day), and, when it is all numbers,
    its month too. Month names are not checked: feedparser reads some languages' names."""
    numbers = {int(n) for n in re.findall(r"\d+", text) if len(n) <= 4}
    if moment.year not in numbers and moment.year % 100 not in numbers:
        return False
    near = [day for shift in (-1, 0, 1) if (day := _shifted(moment, shift)) is not None]
    if not {day.day for day in near} & numbers:
        return False
    return bool(re.search(r"[^\W\d_]", text)) or bool({day.month for day in near} & numbers)


def _shifted(moment: datetime, days: int) -> datetime | None:
    try:
        return moment + timedelta(days=days)
    except OverflowError:  # a day past the year 9999
        return None


def _iso(text: str) -> datetime | None:
    if not re.match(r"\d{4}-\d{2}|\d{8}T\d", text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        return None


def _rfc822(text: str) -> datetime | None:
    """An RFC 822 date; None when its zone is a name the standard library does not know
    (it would read it as UTC and disagree with a parser that knows better)."""
    if not re.search(r"[A-Za-z]{3}", text):
        return None
    zone = NAMED_ZONE.search(text)
    if zone is not None and zone.group(0).strip().upper() not in KNOWN_ZONES:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment


def _slash(text: str) -> datetime | None:
    found = SLASH_DATE.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second = (
        int(found[name] or 0) for name in ("year", "month", "day", "hour", "minute", "second")
    )
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    zone = found["zone"]
    if zone is None:
        return moment
    if zone in ("Z", "UTC", "GMT"):
        return moment.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        return moment.replace(tzinfo=UTC) - sign * offset
    except OverflowError:
        return None


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
