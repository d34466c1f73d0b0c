"""When an event happens, from whatever an item offers: structured data first, then its words.

Pure: callers hand in strings (element values, HTML, plain text) and the
item's publication date; nothing here fetches or reads files. The order of
trust is

    iCalendar / xCal / RSS ``ev:`` / schema.org Event JSON-LD / HTML ``<time>``
    > a cue in the text ("When: 15 June 2026, 14:00 UTC")
    > any date in the text (only for items already known to be events)

because a structured field says what the publisher meant, while free text
mentions other dates ("recorded in 2019", "use it on Monday").
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from selectolax.lexbor import LexborHTMLParser

MAX_TEXT_SCAN = 2_000
"""Characters of an item's text searched for a date: event details sit near the top."""

CUE = re.compile(
    r"\b(?:when|date|dates|time|starts?|starting|begins?|on air"
    r"|quand|wann|datum|termin|cu[aá]ndo|fecha|quando|data|wanneer)\s*[:\-\u2013\u2014]\s*"
    r"(?P<when>[^\n|]{4,80}?)(?=\s*(?:\n|\||\bwhere\b|\blocation\b|\bvenue\b|$))",
    re.IGNORECASE,
)
"""A labelled date in prose (English and a few common labels elsewhere), up to the end of its
line or the next label."""

HAS_DAY = re.compile(r"\d")
"""A date found in free text must carry a number: "Monday" alone is not an event date."""

EVENT_SCHEMA_TYPES = frozenset(
    {
        "event",
        "educationevent",
        "businessevent",
        "socialevent",
        "courseinstance",
        "exhibitionevent",
        "festival",
        "hackathon",
    }
)


@dataclass(frozen=True, slots=True)
class EventTime:
    """An event's time: ``start`` always aware; ``timezone`` an IANA name when one was given."""

    start: datetime
    end: datetime | None = None
    timezone: str = ""
    all_day: bool = False
    floating: bool = False
    """A local time the source gave without a zone: ``start`` holds it as if it were UTC."""
    location: str = ""
    source: str = ""
    """Which signal gave the date (``ev``, ``xcal``, ``ical``, ``json-ld``, ``time``, ``cue``,
    ``text``): the benchmark reports accuracy per signal."""


# --------------------------------------------------------------------------- structured values


def parse_moment(value: str, timezone: str = "") -> tuple[datetime, bool] | None:
    """An ISO 8601 / RFC 3339 date or date-time as an aware datetime and whether it is all-day.

    A value without an offset is read in ``timezone`` if given (an IANA name),
    else as UTC. Returns ``None`` for anything that is not such a value.
    """
    text = value.strip()
    if not text:
        return None
    compact = re.fullmatch(r"(\d{8})(?:T(\d{4,6})(Z?))?", text)
    if compact:
        day, clock, zulu = compact.groups()
        text = f"{day[:4]}-{day[4:6]}-{day[6:]}"
        if clock:
            clock = clock.ljust(6, "0")
            text += f"T{clock[:2]}:{clock[2:4]}:{clock[4:]}{'+00:00' if zulu else ''}"
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            # A date is the same day everywhere: midnight UTC, as calendars store it.
            return datetime.combine(date.fromisoformat(text), time(), UTC), True
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone) or UTC)
    return moment, False


EVENT_YEARS = (1900, 2200)
"""Event years read as meant; others (``99991231T235959Z``) are damage, and adding an hour or
a duration to them would overflow."""

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
"""How an ISO 8601 time ends when it says its offset."""


def zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None for "" and for names this machine does not know."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def from_fields(
    start: str, end: str = "", *, timezone: str = "", location: str = "", source: str
) -> EventTime | None:
    """An event from start/end strings of a structured element (``ev:``, xCal, JSON-LD)."""
    parsed = parse_moment(start, timezone)
    if parsed is None:
        return None
    moment, all_day = parsed
    if not EVENT_YEARS[0] <= moment.year <= EVENT_YEARS[1]:
        return None
    ended = parse_moment(end, timezone) if end else None
    if ended is not None and not (moment <= ended[0] and ended[0].year <= EVENT_YEARS[1]):
        ended = None
    known = timezone if zone(timezone) else ""
    return EventTime(
        start=moment,
        end=ended[0] if ended else None,
        timezone=known,
        all_day=all_day,
        floating=not all_day and not known and not _OFFSET.search(start.strip()),
        location=location.strip(),
        source=source,
    )


def from_json_ld(html: str) -> EventTime | None:
    """The first schema.org Event (or subtype) in a page's ``application/ld+json`` blocks."""
    for thing, names in _json_ld(html):
        if not any(name in EVENT_SCHEMA_TYPES for name in names):
            continue
        found = from_fields(
            _text(thing.get("startDate")),
            _text(thing.get("endDate")),
            location=_place(thing.get("location")),
            source="json-ld",
        )
        if found is not None:
            return found
    return None


def json_ld_types(html: str) -> tuple[str, ...]:
    """The schema.org ``@type`` values (lower-cased) of every object in the HTML's JSON-LD."""
    return tuple(dict.fromkeys(name for _, names in _json_ld(html) for name in names))


def _json_ld(html: str) -> Iterator[tuple[Mapping[str, Any], list[str]]]:
    """Every object of the page's JSON-LD blocks with its ``@type`` names, lower-cased."""
    if "ld+json" not in html:
        return
    for node in LexborHTMLParser(html).css('script[type="application/ld+json"]'):
        try:
            data = json.loads(node.text(deep=True))
        except ValueError:
            continue
        for thing in _things(data):
            kinds = thing.get("@type")
            names = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
            yield thing, [name.lower() for name in names if isinstance(name, str)]


def _things(data: Any) -> Iterable[Mapping[str, Any]]:
    """Every object in a JSON-LD document, through lists and ``@graph``."""
    if isinstance(data, list):
        for element in data:
            yield from _things(element)
    elif isinstance(data, dict):
        yield data
        yield from _things(data.get("@graph"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _place(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _text(value.get("name")) or _text(value.get("address"))
    return ""


def from_time_element(html: str) -> EventTime | None:
    """An HTML ``<time datetime>`` in an item's body: machine-readable, though not typed."""
    if "<time" not in html:
        return None
    for node in LexborHTMLParser(html).css("time[datetime]"):
        found = from_fields(node.attributes.get("datetime") or "", source="time")
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- free text


MONTH_FIRST_LANGUAGES = frozenset({"en-us", "en-ph", "en-ca"})
"""Where 03/09 is March 9th. Elsewhere (and when a feed does not say) day comes first, as in
most of the world; a feed that states ``en-US`` gets month first."""


def _date_order(language: str) -> str:
    return "MDY" if language.strip().lower().replace("_", "-") in MONTH_FIRST_LANGUAGES else "DMY"


def _settings(published: datetime, language: str = "") -> dict[str, Any]:
    return {
        "DATE_ORDER": _date_order(language),
        "RELATIVE_BASE": published.astimezone(UTC).replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
    }


UNSTATED_LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es", "it", "pt", "nl")
"""What dateparser chooses among when an item does not state its language: those :data:`CUE`
has labels for. Detecting among all of its ~200 locales costs ~0.1 s per item (seconds on first
use, to compile them) and reads words such as "to" or a bare "11" as dates."""


def _languages(language: str) -> list[str]:
    """dateparser's code for the item's language (``en-GB`` -> ``en``), else the usual ones."""
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return [code] if re.fullmatch(r"[a-z]{2,3}", code) else list(UNSTATED_LANGUAGES)


MONTHS: dict[str, int] = {
    name: number
    for number, full in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
    for name in (full, full[:3])
} | {"sept": 9}
"""English month names and their usual abbreviations, for :func:`_absolute`."""

_CLOCK = r"(?:,?\s+(?:at\s+)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?::(?P<second>\d{2}))?)?"
_UTC = r"(?:\s*(?:UTC|GMT|Z|\(UTC\)|\(GMT\)))?"
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_MONTH = r"(?P<month_name>[a-z]{3,9})\.?"
ISO_DATE = re.compile(
    rf"(?P<year>\d{{4}})-(?P<month>\d{{2}})-(?P<day>\d{{2}})"
    rf"(?:[T ](?P<hour>\d{{2}}):(?P<minute>\d{{2}})(?::(?P<second>\d{{2}}))?)?{_UTC}",
    re.IGNORECASE,
)
NUMERIC_DATE = re.compile(
    rf"(?P<first>\d{{1,2}})/(?P<second_part>\d{{1,2}})/(?P<year>\d{{4}}){_CLOCK}{_UTC}",
    re.IGNORECASE,
)
DAY_MONTH_DATE = re.compile(
    rf"{_WEEKDAY}(?P<day>\d{{1,2}})\s+{_MONTH}\s+(?P<year>\d{{4}}){_CLOCK}{_UTC}", re.IGNORECASE
)
MONTH_DAY_DATE = re.compile(
    rf"{_WEEKDAY}{_MONTH}\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}}){_CLOCK}{_UTC}", re.IGNORECASE
)


def _absolute(fragment: str, language: str) -> datetime | None:
    """The common, unambiguous shapes of a full date in UTC, read without dateparser.

    dateparser costs milliseconds per call and most event feeds write one of
    these ("2026-07-28 18:00 UTC", "10/09/2026 14:00 GMT", "Sep 30, 2026 at
    14:00 (UTC)"); anything else, or a date that does not exist, is left to
    dateparser. Numeric dates follow the same day/month order as dateparser;
    English month names are read only when the item is English or says nothing.
    """
    text = fragment.strip()
    found = ISO_DATE.fullmatch(text)
    if found is not None:
        return _moment(found, int(found["month"]), int(found["day"]))
    found = NUMERIC_DATE.fullmatch(text)
    if found is not None:
        first, second = int(found["first"]), int(found["second_part"])
        month_first = _date_order(language) == "MDY"
        return _moment(found, *((first, second) if month_first else (second, first)))
    if "en" not in _languages(language):
        return None
    found = DAY_MONTH_DATE.fullmatch(text) or MONTH_DAY_DATE.fullmatch(text)
    month = MONTHS.get(found["month_name"].lower()) if found is not None else None
    if found is None or month is None:
        return None
    return _moment(found, month, int(found["day"]))


def _moment(found: re.Match[str], month: int, day: int) -> datetime | None:
    hour, minute, second = (int(found[name] or 0) for name in ("hour", "minute", "second"))
    try:
        return datetime(int(found["year"]), month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _parse(fragment: str, published: datetime, language: str) -> datetime | None:
    """A full date the cheap way when it has a common shape, else dateparser's reading."""
    quick = _absolute(fragment, language)
    if quick is not None:
        return quick
    # Imported on first need: dateparser takes ~0.25 s to import, and a run of
    # 304s, or of dates _absolute reads, never needs it.
    import dateparser

    settings = _settings(published, language)
    try:
        found = dateparser.parse(fragment, languages=_languages(language), settings=settings)
    except ValueError:  # a language dateparser does not know
        found = dateparser.parse(fragment, languages=list(UNSTATED_LANGUAGES), settings=settings)
    return found.astimezone(UTC) if found is not None else None


def from_cue(text: str, published: datetime, language: str = "") -> EventTime | None:
    """A date after a label such as "When:" or "Date:", read in the item's language.

    Relative words ("next Tuesday") count from the publication date, not from today.
    """
    for match in CUE.finditer(text[:MAX_TEXT_SCAN]):
        fragment = match.group("when").strip(" .,;")
        if not HAS_DAY.search(fragment) and not re.search(r"\b(next|tomorrow)\b", fragment, re.I):
            continue
        start = _parse(fragment, published, language)
        if start is not None:
            return EventTime(
                start=start, all_day=not re.search(r"\d[:.h]\d|\d\s*[ap]m", fragment), source="cue"
            )
    return None


_MONTH_STEMS = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"  # English, and most of the others
    r"|janv|f[ée]vr|avr|mai|juin|juil|ao[uû]t"  # French
    r"|m[äa]e?r|okt|dez"  # German (mai, jun, jul, aug: above)
    r"|ene|abr|ago|dic|set"  # Spanish, Italian, Portuguese
    r"|gen|mag|giu|lug|ott"  # Italian
    r"|fev|out"  # Portuguese
    r"|maa|mei)"  # Dutch
)
"""Month names of :data:`UNSTATED_LANGUAGES` by their first letters."""

ENGLISH_DATE_HINT = re.compile(
    r"\d(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d"
    r"|\d[/.-]\d{1,2}[/.-]\d|\d\s*[ap]\.?m\b|\d[:.]\d\d\b"
    r"|\b(?:today|tonight|tomorrow|next\s+\w+)\b",
    re.IGNORECASE,
)
"""What an English date in prose looks like: a day next to a month, a numeric date, a clock
time or a relative word. Text without one is not searched: dateparser costs ~5 ms per item and
without such a hint only finds things like "#95" (the year 2095) or "10, and"."""


UNSTATED_DATE_HINT = re.compile(
    r"\d(?:st|nd|rd|th|er|e|º|ª)?\.?\s+(?:of\s+|de\s+)?"
    + _MONTH_STEMS
    + r"|\b"
    + _MONTH_STEMS
    + r"[a-zäéûç]*\.?\s+\d"
    r"|\d[/.-]\d{1,2}[/.-]\d|\d\s*[ap]\.?m\b|\d[:.]\d\d\b|\d\s?h(?:\s?\d\d)?\b"
    r"|\b(?:today|tonight|tomorrow|next\s+\w+|aujourd'hui|demain|prochaine?|heute|morgen"
    r"|nächsten?|hoy|mañana|manana|próxim[oa]|proxim[oa]|oggi|domani|prossim[oa]|hoje|amanhã"
    r"|amanha|vandaag|volgende)\b",
    re.IGNORECASE,
)
""":data:`ENGLISH_DATE_HINT` for an item that states no language, in every language of
:data:`UNSTATED_LANGUAGES`: a day next to a month name (``3 octobre``, ``3. Oktober``,
``3 de octubre``), a numeric date, a clock time (``18h00``) or a relative word. Searching such
text among seven languages costs dateparser 10-40 ms per item, and a phrase without a number
is never taken (:data:`HAS_DAY`), so text without one of these shapes is not searched."""


def _date_hint(languages: list[str]) -> re.Pattern[str] | None:
    """The shape a date must have in text of these languages, or None to search any text."""
    if languages == ["en"]:
        return ENGLISH_DATE_HINT
    if languages == list(UNSTATED_LANGUAGES):
        return UNSTATED_DATE_HINT
    return None


def from_text(text: str, published: datetime, language: str = "") -> EventTime | None:
    """Any dated phrase in the text on or after the publication day; the last resort."""
    scanned = text[:MAX_TEXT_SCAN]
    hint = _date_hint(_languages(language))
    if hint is not None and not hint.search(scanned):
        return None
    from dateparser.search import search_dates  # on first need, as in _parse

    try:
        found = search_dates(
            scanned,
            languages=_languages(language),
            settings=_settings(published, language),
        )
    except ValueError:
        return None
    earliest = published - timedelta(days=1)
    for phrase, moment in found or ():
        if HAS_DAY.search(phrase) and moment.astimezone(UTC) >= earliest:
            return EventTime(start=moment.astimezone(UTC), source="text")
    return None


def find_event_time(
    *,
    structured: Iterable[EventTime | None],
    html: str,
    text: str,
    published: datetime | None,
    language: str = "",
    is_event: bool,
    now: datetime | None = None,
) -> EventTime | None:
    """The best event time from every signal, most trusted first.

    ``structured`` are already-read structured values (``ev:``, xCal, iCalendar)
    in order of trust. Free text is read only when ``is_event`` (a post that
    mentions a date is not an event); ``published`` (or ``now``) anchors
    relative words.
    """
    for candidate in structured:
        if candidate is not None:
            return candidate
    found = from_json_ld(html) or from_time_element(html)
    if found is not None or not is_event:
        return found
    anchor = published or now
    if anchor is None:
        return None
    return from_cue(text, anchor, language) or from_text(text, anchor, language)
