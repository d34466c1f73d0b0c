"""Types, durations and event times on real captured podcast feeds and calendar exports.

The expected values were read off the files by hand (``itunes:duration``,
``DTSTART``/``DTEND``); provenance is in ``tests/data/PROVENANCE.tsv``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.models import ParsedFeed
from aggregator.parse.registry import parse_feed

DATA = Path(__file__).parents[1] / "data" / "feeds"


def parse(path: str, kind: str = "blog") -> ParsedFeed:
    return parse_feed((DATA / path).read_bytes(), {}, "https://example.org/feed", kind)


@pytest.mark.parametrize(
    ("path", "durations"),
    [
        (
            "real/podcast-feed-parser/start_podcast.xml",
            [754, 2144, 326, 1232, 1306, 1107, 1309, 1144, 1731, 1368, 114],
        ),
        ("real/podcast-feed-parser/replyall-sample-ordering.xml", [1339, 1346, 16]),
        ("real/podcast-feed-parser/orbita.xml", [813, 51]),
    ],
)
def test_real_podcasts_are_podcasts_with_durations(path: str, durations: list[int]) -> None:
    feed = parse(path)  # kind "blog": the type must come from the items themselves
    assert [entry.item_type for entry in feed.entries] == ["podcast"] * len(durations)
    assert [entry.details.duration_s for entry in feed.entries] == durations


def test_real_calendar_export_gives_dated_events() -> None:
    feed = parse("events/calagator/ical_eventful_many.ics")
    assert feed.format == "ical"
    assert len(feed.entries) == 15
    assert {entry.item_type for entry in feed.entries} == {"event"}
    by_title = {entry.title: entry.details for entry in feed.entries}
    pmug = by_title["Portland Macintosh Users Group (PMUG)"]
    assert (pmug.event_start, pmug.event_end) == (
        datetime(2008, 7, 8, 1, 30, tzinfo=UTC),
        datetime(2008, 7, 8, 4, 30, tzinfo=UTC),
    )
    python = by_title["Portland Python Users' Group"]
    assert python.event_start == datetime(2008, 7, 8, 19, 0, tzinfo=UTC)  # floating time
    assert python.location.startswith("CubeSpace")
    assert all(details.event_start is not None for details in by_title.values())


def test_real_single_event_export_with_zero_duration() -> None:
    (entry,) = parse("events/calagator/ical_upcoming_v2.ics").entries
    assert entry.title == "Demolicious - Portland Web Innovators"
    assert entry.url == "http://upcoming.yahoo.com/event/1908530/"
    assert entry.details.event_start == datetime(2009, 4, 1, 19, 0, tzinfo=UTC)
    assert entry.details.event_end is None  # DURATION:PT0S says nothing about the end
    assert entry.published == datetime(2009, 2, 25, 17, 13, 52, tzinfo=UTC)


def test_source_type_override_beats_every_signal() -> None:
    feed = parse_feed(
        (DATA / "real/podcast-feed-parser/orbita.xml").read_bytes(),
        {},
        "https://example.org/feed",
        "podcast",
        "course",
    )
    assert {entry.item_type for entry in feed.entries} == {"course"}
