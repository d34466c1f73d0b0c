"""When to fetch a source next, decided from its last fetch: pure, so plain data tests it.

``decide(result, previous, now)`` returns the source's new :class:`SourceState`;
the store only persists it and the pipeline only asks :func:`is_due`.

* 200/304: healthy; ``Cache-Control: max-age`` or ``Expires`` sets the earliest
  next fetch (capped, so a year-long max-age cannot silence a source).
* every hop 301/308: the source now lives at the final URL; any 302/307 hop
  keeps the old one.
* 410: retired, never fetched again unless forced.
* 429/503 with ``Retry-After`` (seconds or an HTTP date): wait that long (capped).
* any other failure: exponential backoff from the number of failures in a row.
"""

from __future__ import annotations

import dataclasses
import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from aggregator.models import FetchResult, SourceState

BACKOFF_BASE = timedelta(minutes=30)
"""Wait after the first failure; doubled for each further failure in a row."""
BACKOFF_MAX = timedelta(days=1)
"""A dead source is still tried daily, so a fixed one recovers within a day."""
CACHE_MAX = timedelta(hours=12)
"""The most a server's freshness lifetime may delay the next fetch."""
RETRY_AFTER_MAX = timedelta(days=7)
"""The most a ``Retry-After`` may delay the next fetch."""
RETRY_AFTER_STATUSES = (429, 503)
GONE = 410

_DELTA_SECONDS = re.compile(r"[0-9]+")
"""RFC 9110 delta-seconds are ASCII digits; ``str.isdigit`` and ``\\d`` also take "²" or "٣"."""
_MAX_AGE = re.compile(r"(?:^|,)\s*(s-maxage|max-age)\s*=\s*\"?([0-9]+)\"?", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|,)\s*(no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)


def is_due(state: SourceState, now: datetime, *, force: bool = False) -> bool:
    """Whether a run should fetch this source now; ``force`` ignores backoff and retirement."""
    if force:
        return True
    if state.retired:
        return False
    return state.next_attempt is None or state.next_attempt <= now


def decide(result: FetchResult, previous: SourceState, now: datetime) -> SourceState:
    """The source's state after ``result``; ``result.error`` may have been set by parsing."""
    if result.ok:
        return _success(result, previous, now)
    failures = previous.failures + 1
    error = result.error or f"HTTP {result.status}"
    state = dataclasses.replace(
        previous, last_status=result.status, last_error=error, failures=failures
    )
    if result.status == GONE:
        return dataclasses.replace(state, retired=True, next_attempt=None)
    delay = backoff(failures)
    if result.status in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(result.headers.get("retry-after", ""), now)
        if retry_after is not None:
            delay = min(retry_after, RETRY_AFTER_MAX)
    return dataclasses.replace(state, next_attempt=now + delay)


def _success(result: FetchResult, previous: SourceState, now: datetime) -> SourceState:
    moved = result.moved_permanently and result.final_url != previous.fetch_url
    fresh_for = freshness(result.headers, now)
    return SourceState(
        fetch_url=result.final_url if moved else previous.fetch_url,
        last_status=result.status,
        last_error=None,
        last_success=now,
        failures=0,
        next_attempt=now + fresh_for if fresh_for else None,
        retired=False,
        moved_from=previous.fetch_url if moved else previous.moved_from,
    )


def backoff(failures: int) -> timedelta:
    """30 min, 1 h, 2 h, ... capped at a day."""
    if failures <= 0:
        return timedelta(0)
    return min(BACKOFF_BASE * 2 ** min(failures - 1, 32), BACKOFF_MAX)


def parse_retry_after(value: str, now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay from ``now``: delta-seconds or an HTTP date; junk is None."""
    value = value.strip()
    if not value:
        return None
    if _DELTA_SECONDS.fullmatch(value):
        return _seconds(value, RETRY_AFTER_MAX)
    when = _http_date(value)
    if when is None:
        return None
    return max(when - now, timedelta(0))


def freshness(headers: Mapping[str, str], now: datetime) -> timedelta:
    """How long the response stays fresh (RFC 9111): max-age wins over Expires; capped."""
    cache_control = headers.get("cache-control", "")
    if _NO_STORE.search(cache_control):
        return timedelta(0)
    match = _MAX_AGE.search(cache_control)
    if match:
        lifetime = _seconds(match.group(2), CACHE_MAX)
    else:
        expires = _http_date(headers.get("expires", ""))
        lifetime = max(expires - now, timedelta(0)) if expires else timedelta(0)
    return min(lifetime, CACHE_MAX)


def _seconds(digits: str, cap: timedelta) -> timedelta:
    """A header's delta-seconds, clamped before it becomes a ``timedelta``.

    Servers send absurd values (``max-age=86400000000000``) that overflow
    ``timedelta`` (or, past 4,300 digits, ``int`` itself); anything beyond the
    cap means "as long as allowed".
    """
    cap_seconds = int(cap.total_seconds())
    if len(digits.lstrip("0")) > len(str(cap_seconds)):
        return cap
    return timedelta(seconds=min(int(digits), cap_seconds))


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110 dates are GMT
    return when
