"""What any source may put into the store, whatever its bytes.

Pure. Every parsed feed passes through :func:`bounded` before it leaves the
parser: text without control or bidirectional-override characters, fields of
bounded length, dates a calendar can show, and feeds of bounded size. A source
that sends more is cut, and the cut is recorded as one of its problems.
:func:`undated_if_future` is the one rule that needs ``now``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregator.models import Details, Entry, ParsedFeed
from aggregator.sanitize import sanitize_html
from aggregator.urls import is_web_link

MAX_TITLE_CHARS = 1_000
MAX_HTML_CHARS = 200_000
"""A summary or content, as sanitized HTML: a long article, not a book."""
MAX_TEXT_CHARS = 20_000
MAX_NAME_CHARS = 300
"""An author, a location, a course provider."""
MAX_URL_CHARS = 4_096
MAX_GUID_CHARS = 1_000
"""Longer ids are kept as their hash: still stable, still distinct."""
MAX_TYPE_CHARS = 100
MAX_DURATION_S = 7 * 24 * 3600
"""An episode or video longer than a week is a wrong number."""
MAX_FEED_ENTRIES = 10_000
MAX_FEED_CHARS = 20_000_000
"""Characters of titles, summaries, contents and texts one document may yield, in all."""
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 300

EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
"""An event or course date outside these cannot be shown in every time zone (shown in the
event's own, 9999-12-31T23:59Z is past year 9999): kept as no date at all. A publication
date needs no such bound (it is shown in UTC); one too far ahead is
:func:`undated_if_future`."""

FUTURE_TOLERANCE = timedelta(days=1)
"""A publication date later than this after the fetch is no date: it would top every digest."""

UNSAFE_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""C0 controls but tab and line breaks, DEL, C1 controls, bidirectional embeddings,
overrides and isolates (which make text read other than it is), lone surrogates."""


ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: parameters, intermediates, final byte
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, ended by BEL or ST
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -~]?"  # any other escape and the character it introduces
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x9c]*[\x07\x9c]?"  # 8-bit OSC and string controls
)
"""A whole terminal escape sequence (OSC 0 retitles a window, OSC 52 writes the clipboard),
removed with what it carries: ``]0;pwned`` is no text either."""


def clean_text(text: str) -> str:
    """``text`` without escape sequences and :data:`UNSAFE_CHARS`."""
    if not UNSAFE_CHARS.search(text):
        return text
    return UNSAFE_CHARS.sub("", ESCAPE_SEQUENCE.sub("", text))


def bounded(feed: ParsedFeed) -> ParsedFeed:
    """``feed`` as the store may take it: each entry cleaned and capped, the feed capped.

    What had to change is added to the feed's problems, once per kind of change.
    """
    entries: list[Entry] = []
    problems = [clean_text(problem)[:MAX_PROBLEM_CHARS] for problem in feed.problems]
    notes: Counter[str] = Counter()
    total = 0
    for position, entry in enumerate(feed.entries):
        kept = bounded_entry(entry, notes)
        total += len(kept.title) + len(kept.summary) + len(kept.content) + len(kept.text)
        if position == MAX_FEED_ENTRIES or total > MAX_FEED_CHARS:
            problems.append(
                f"kept the first {position} of {len(feed.entries)} entries: the document holds "
                f"more than {MAX_FEED_ENTRIES:,} entries or {MAX_FEED_CHARS:,} characters of text"
            )
            break
        entries.append(kept)
    problems += [
        f"{count} {'entry' if count == 1 else 'entries'}: {note}" for note, count in notes.items()
    ]
    return replace(
        feed,
        title=_cut(feed.title, MAX_TITLE_CHARS, Counter(), "title"),
        link=_link(feed.link),
        entries=tuple(entries),
        problems=tuple(problems[:MAX_PROBLEMS]),
    )


def bounded_entry(entry: Entry, notes: Counter[str] | None = None) -> Entry:
    """One entry with every field cleaned and within its cap; ``notes`` counts what changed."""
    notes = Counter() if notes is None else notes
    url = _link(entry.url)
    guid = clean_text(entry.guid).strip()
    if len(guid) > MAX_GUID_CHARS or not guid:
        # An id of nothing but control characters falls back to the link, else the title.
        guid = (not guid and url) or _hashed(guid or clean_text(entry.title))
    enclosure_url = _link(entry.enclosure_url)
    return replace(
        entry,
        guid=guid,
        url=url,
        title=_cut(entry.title, MAX_TITLE_CHARS, notes, "title"),
        summary=_html(entry.summary, notes, "summary"),
        content=_html(entry.content, notes, "content"),
        text=_cut(entry.text, MAX_TEXT_CHARS, notes),
        author=_cut(entry.author, MAX_NAME_CHARS, notes, "author"),
        tags=tuple(t for t in (_cut(t, MAX_NAME_CHARS, notes, "tag") for t in entry.tags) if t),
        enclosure_url=enclosure_url,
        enclosure_type=_cut(entry.enclosure_type, MAX_TYPE_CHARS, notes) if enclosure_url else "",
        details=_details(entry.details, notes),
    )


def undated_if_future(entries: Sequence[Entry], now: datetime) -> tuple[tuple[Entry, ...], str]:
    """Entries dated after ``now`` (and :data:`FUTURE_TOLERANCE`) lose the date; the problem.

    The store dates an undated entry by when it was first seen, so a post "from
    next year" ranks as new once, not first until then.
    """
    latest = now + FUTURE_TOLERANCE
    late = [entry.published is not None and entry.published > latest for entry in entries]
    if not any(late):
        return tuple(entries), ""
    undated = tuple(
        replace(entry, published=None) if future else entry
        for entry, future in zip(entries, late, strict=True)
    )
    return undated, f"{_entries(sum(late))}: dated after the fetch, kept without their date"


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


def _hashed(text: str) -> str:
    return "sha1:" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _cut(text: str, limit: int, notes: Counter[str], what: str = "") -> str:
    """``text`` cleaned and at most ``limit`` long; a named field's changes are noted."""
    cleaned = clean_text(text)
    if what and len(cleaned) < len(text):
        notes[f"control or bidirectional characters removed from the {what}"] += 1
    if len(cleaned) <= limit:
        return cleaned
    if what:
        notes[f"{what} cut at {limit:,} characters"] += 1
    return cleaned[: limit - 1].rstrip() + "…"


def _html(html: str, notes: Counter[str], what: str) -> str:
    """Sanitized HTML, cut and sanitized again when too long (which closes what the cut opened)."""
    html = clean_text(html)
    if len(html) <= MAX_HTML_CHARS:
        return html
    notes[f"{what} cut at {MAX_HTML_CHARS:,} characters"] += 1
    return sanitize_html(html[:MAX_HTML_CHARS])


def _link(url: str) -> str:
    url = url.strip()
    return url if len(url) <= MAX_URL_CHARS and is_web_link(url) else ""


def _in_range(moment: datetime | None, notes: Counter[str], what: str) -> datetime | None:
    if moment is None or EARLIEST <= moment < LATEST:
        return moment
    notes[f"{what} {moment.date().isoformat()} is outside the calendar: dropped"] += 1
    return None


def _details(details: Details, notes: Counter[str]) -> Details:
    start = _in_range(details.event_start, notes, "event start")
    return replace(
        details,
        event_start=start,
        event_end=_in_range(details.event_end, notes, "event end") if start is not None else None,
        event_all_day=details.event_all_day and start is not None,
        event_timezone=_zone(details.event_timezone, notes),
        location=_cut(details.location, MAX_NAME_CHARS, notes, "location"),
        provider=_cut(details.provider, MAX_NAME_CHARS, notes, "provider"),
        course_start=_in_range(details.course_start, notes, "course start"),
        duration_s=(
            details.duration_s
            if details.duration_s is not None and 0 < details.duration_s <= MAX_DURATION_S
            else None
        ),
    )


def _zone(name: str, notes: Counter[str]) -> str:
    """An IANA zone this machine knows, or "" (times then show in UTC)."""
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError, OSError):
        notes["unknown time zone dropped"] += 1
        return ""
    return name
