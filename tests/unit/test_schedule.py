"""schedule.decide / is_due on plain data: what one fetch means for the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.fetch.schedule import (
    BACKOFF_MAX,
    CACHE_MAX,
    RETRY_AFTER_MAX,
    SourceState,
    backoff,
    decide,
    freshness,
    is_due,
    parse_retry_after,
)
from aggregator.models import FetchResult

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
URL = "https://example.org/feed"
NEW = "https://example.org/new-feed"
START = SourceState(fetch_url=URL)


def result(status: int | None, headers=None, error=None, **extra) -> FetchResult:
    if error is None and status not in (200, 304):
        error = f"HTTP {status}"
    return FetchResult(
        URL, extra.pop("final_url", URL), status, None, headers or {}, error, **extra
    )


def test_success_clears_failures_and_is_due_again():
    failing = SourceState(URL, 500, "HTTP 500", None, 3, NOW + timedelta(hours=2))
    state = decide(result(200), failing, NOW)
    assert (state.failures, state.last_error, state.last_success) == (0, None, NOW)
    assert state.next_attempt is None and is_due(state, NOW)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"cache-control": "public, max-age=3600"}, timedelta(hours=1)),
        ({"cache-control": "max-age=0"}, timedelta(0)),
        ({"cache-control": "max-age=99999999"}, CACHE_MAX),
        ({"cache-control": "no-cache, max-age=600"}, timedelta(0)),
        ({"expires": "Mon, 30 Nov 2026 14:00:00 GMT"}, timedelta(hours=2)),
        (
            {"expires": "Mon, 30 Nov 2026 14:00:00 GMT", "cache-control": "max-age=60"},
            timedelta(minutes=1),
        ),
        ({"expires": "0"}, timedelta(0)),
    ],
)
def test_freshness_sets_the_earliest_next_fetch(headers, wait):
    assert freshness(headers, NOW) == wait
    state = decide(result(304, headers), START, NOW)
    assert state.next_attempt == (NOW + wait if wait else None)
    assert not is_due(state, NOW + wait - timedelta(seconds=1)) or not wait


def test_failures_back_off_exponentially_up_to_a_cap():
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (30, 60, 120)]
    assert backoff(40) == BACKOFF_MAX
    state = START
    for _ in range(3):
        state = decide(result(500), state, NOW)
    assert state.failures == 3 and state.last_error == "HTTP 500"
    assert state.next_attempt == NOW + timedelta(hours=2)
    assert not is_due(state, NOW + timedelta(hours=1))
    assert is_due(state, NOW + timedelta(hours=1), force=True)
    assert is_due(state, NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    ("status", "value", "wait"),
    [
        (429, "3600", timedelta(hours=1)),
        (503, "120", timedelta(minutes=2)),
        (503, "Mon, 30 Nov 2026 15:00:00 GMT", timedelta(hours=3)),
        (429, "99999999", RETRY_AFTER_MAX),
        (503, "soon", timedelta(minutes=30)),  # junk: plain backoff
    ],
)
def test_retry_after_is_honoured(status, value, wait):
    state = decide(result(status, {"retry-after": value}), START, NOW)
    assert state.next_attempt == NOW + wait


def test_retry_after_in_the_past_means_now():
    assert parse_retry_after("Mon, 30 Nov 2026 10:00:00 GMT", NOW) == timedelta(0)
    assert parse_retry_after("", NOW) is None


def test_410_retires_until_forced():
    state = decide(result(410), START, NOW)
    assert state.retired and state.last_status == 410
    assert not is_due(state, NOW + timedelta(days=365))
    assert is_due(state, NOW, force=True)
    assert not decide(result(200), state, NOW).retired


@pytest.mark.parametrize(
    ("chain", "moved"),
    [
        (((301, NEW),), True),
        (((308, NEW),), True),
        (((301, "https://example.org/x"), (308, NEW)), True),
        (((302, NEW),), False),
        (((307, NEW),), False),
        (((301, "https://example.org/x"), (302, NEW)), False),
    ],
)
def test_only_an_all_permanent_chain_moves_the_source(chain, moved):
    state = decide(result(200, final_url=NEW, redirects=chain), START, NOW)
    assert state.fetch_url == (NEW if moved else URL)
    assert state.moved_from == (URL if moved else None)


def test_a_failed_permanent_redirect_does_not_move_the_source():
    failed = result(404, final_url=NEW, redirects=((301, NEW),))
    assert decide(failed, START, NOW).fetch_url == URL
