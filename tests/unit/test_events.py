"""Event times from structured data and from text; iCalendar read and written back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dateparser
import icalendar
import pytest

from aggregator.parse import ical
from aggregator.parse.registry import parse_feed
from aggregator.process import events

DATA = Path(__file__).parents[1] / "data" / "feeds"
PUBLISHED = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("value", "timezone", "expected", "all_day"),
    [
        ("2026-10-03T18:00:00+02:00", "", datetime(2026, 10, 3, 16, 0, tzinfo=UTC), False),
        ("2026-10-03T18:00:00Z", "", datetime(2026, 10, 3, 18, 0, tzinfo=UTC), False),
        ("2026-10-03T18:00", "Europe/Berlin", datetime(2026, 10, 3, 16, 0, tzinfo=UTC), False),
        ("20261003T180000Z", "", datetime(2026, 10, 3, 18, 0, tzinfo=UTC), False),
        ("2026-10-03", "", datetime(2026, 10, 3, tzinfo=UTC), True),
    ],
)
def test_parse_moment(value: str, timezone: str, expected: datetime, all_day: bool) -> None:
    moment, is_all_day = events.parse_moment(value, timezone) or (None, None)
    assert moment == expected
    assert is_all_day == all_day


@pytest.mark.parametrize("value", ["", "soon", "2026-13-45", "next week"])
def test_parse_moment_refuses_what_is_not_a_date(value: str) -> None:
    assert events.parse_moment(value) is None


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("When: Monday, 15 June 2026, 14:00 UTC Where: Online", "", datetime(2026, 6, 15, 14)),
        ("When: Jul 14, 2026 at 18:00 (UTC)", "en", datetime(2026, 7, 14, 18)),
        ("Date: 2026-09-25 18:00 UTC", "", datetime(2026, 9, 25, 18)),
        ("When: 10/09/2026 14:00 GMT", "en-GB", datetime(2026, 9, 10, 14)),
        ("When: 10/09/2026 14:00 GMT", "en-US", datetime(2026, 10, 9, 14)),
        ("Quand : le 3 octobre 2026 à 18h00", "fr", datetime(2026, 10, 3, 18)),
        ("Wann: 3. Oktober 2026, 18:00 UTC", "de-DE", datetime(2026, 10, 3, 18)),
        # Relative words count from the publication date, not from today.
        ("When: next Tuesday at 3pm", "en", datetime(2026, 9, 8, 15)),
    ],
)
def test_dates_from_labelled_text(text: str, language: str, expected: datetime) -> None:
    found = events.from_cue(text, PUBLISHED, language) or events.from_text(
        text, PUBLISHED, language
    )
    assert found is not None
    assert found.start == expected.replace(tzinfo=UTC)


def test_free_text_needs_a_number_and_is_read_only_for_events() -> None:
    text = "A checklist you can use on Monday. The meetup is on 3 October 2026 at 18:00."
    assert events.from_cue("Use it on Monday", PUBLISHED) is None
    found = events.find_event_time(
        structured=(), html="", text=text, published=PUBLISHED, is_event=True
    )
    assert found is not None and found.start == datetime(2026, 10, 3, 18, tzinfo=UTC)
    assert (
        events.find_event_time(
            structured=(), html="", text=text, published=PUBLISHED, is_event=False
        )
        is None
    )


def test_structured_data_wins_over_text() -> None:
    ev = events.from_fields("2026-11-02T09:00:00Z", source="ev")
    found = events.find_event_time(
        structured=(None, ev),
        html="",
        text="When: 1 January 2027",
        published=PUBLISHED,
        is_event=True,
    )
    assert found is ev


def test_schema_org_event_json_ld() -> None:
    page = """<html><head><script type="application/ld+json">
    {"@context": "https://schema.org", "@graph": [
      {"@type": "Organization", "name": "PyData"},
      {"@type": ["EducationEvent"], "name": "Intro to pandas",
       "startDate": "2026-10-03T18:00:00+02:00", "endDate": "2026-10-03T20:00:00+02:00",
       "location": {"@type": "Place", "name": "Impact Hub Berlin"}}]}
    </script></head><body>No date in the text.</body></html>"""
    found = events.from_json_ld(page)
    assert found is not None
    assert (found.start, found.end) == (
        datetime(2026, 10, 3, 16, tzinfo=UTC),
        datetime(2026, 10, 3, 18, tzinfo=UTC),
    )
    assert (found.location, found.source) == ("Impact Hub Berlin", "json-ld")
    assert events.from_json_ld('<script type="application/ld+json">{broken</script>') is None


def test_xcal_elements_in_rss() -> None:
    body = b"""<?xml version="1.0"?>
    <rss version="2.0" xmlns:xCal="urn:ietf:params:xml:ns:xcal"><channel><title>Events</title>
    <item><title>Data quality night</title><link>https://ev.example/1</link>
    <xCal:dtstart>2026-10-03T18:00:00</xCal:dtstart><xCal:dtend>2026-10-03T21:00:00</xCal:dtend>
    <xCal:tzid>Europe/Amsterdam</xCal:tzid><xCal:location>Rotterdam</xCal:location></item>
    </channel></rss>"""
    (entry,) = parse_feed(body, {}, "https://ev.example/rss").entries
    assert entry.item_type == "event"
    zone = ZoneInfo("Europe/Amsterdam")
    assert entry.details.event_start == datetime(2026, 10, 3, 18, tzinfo=zone)
    assert entry.details.event_end == datetime(2026, 10, 3, 21, tzinfo=zone)
    assert (entry.details.event_timezone, entry.details.location) == (
        "Europe/Amsterdam",
        "Rotterdam",
    )


def test_ical_with_tzid_keeps_its_zone() -> None:
    content = (DATA / "events/calagator/synthetic/ical_apple.ics").read_bytes()
    read = ical.read_calendar(content, now=PUBLISHED, horizon=timedelta(days=60))
    (event,) = read.events
    when = event.time
    assert when is not None
    assert when.start == datetime(2002, 11, 28, 22, 0, tzinfo=UTC)  # 14:00 US/Pacific
    assert when.end == datetime(2002, 11, 28, 23, 0, tzinfo=UTC)
    assert when.timezone == "US/Pacific"


def test_written_ics_parses_back_with_icalendar() -> None:
    start = datetime(2026, 10, 3, 16, 0, tzinfo=UTC)
    text = ical.event_ics(
        ical.IcsEvent(
            uid_key="https://ev.example/1",
            title="Data quality night, with commas; and semicolons",
            start=start,
            url="https://ev.example/1",
            description="Line one\nLine two",
            location="Rotterdam, NL",
        ),
        now=PUBLISHED,
    )
    assert "\r\n" in text
    (calendar,) = icalendar.Calendar.from_ical(text, multiple=True)
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Data quality night, with commas; and semicolons"
    assert event["DTSTART"].dt == start
    assert event["DTEND"].dt == start + timedelta(hours=1)
    assert str(event["LOCATION"]) == "Rotterdam, NL"
    assert str(event["DESCRIPTION"]) == "Line one\nLine two"
    assert str(event["UID"]) == ical.event_uid("https://ev.example/1")
    all_day = ical.event_ics(
        ical.IcsEvent(
            uid_key="x", title="Summit", start=start, end=start + timedelta(days=1), all_day=True
        ),
        now=PUBLISHED,
    )
    (day_event,) = icalendar.Calendar.from_ical(all_day).walk("VEVENT")
    assert (day_event["DTSTART"].dt, day_event["DTEND"].dt) == (
        date(2026, 10, 3),
        date(2026, 10, 5),
    )


def test_an_event_in_a_named_zone_is_written_with_its_tzid_and_vtimezone() -> None:
    """Defect 4: "add to calendar" wrote every time in UTC (or a floating one with ``Z``)."""
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 12, 3, 19, 0, tzinfo=berlin)
    text = ical.event_ics(
        ical.IcsEvent(uid_key="k", title="Meetup", start=start, timezone="Europe/Berlin"),
        now=PUBLISHED,
    )
    assert "DTSTART;TZID=Europe/Berlin:20261203T190000\r\n" in text
    assert "DTEND;TZID=Europe/Berlin:20261203T200000\r\n" in text
    (calendar,) = icalendar.Calendar.from_ical(text, multiple=True)
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    (event,) = calendar.walk("VEVENT")
    assert event["DTSTART"].dt == start
    floating = ical.event_ics(
        ical.IcsEvent(uid_key="k", title="Meetup", start=start.replace(tzinfo=UTC), floating=True),
        now=PUBLISHED,
    )
    assert "DTSTART:20261203T190000\r\n" in floating
    assert "VTIMEZONE" not in floating


@pytest.mark.parametrize(
    ("fragment", "language"),
    [
        ("2026-07-28 18:00 UTC", ""),
        ("2026-07-28T18:00:30Z", "fr"),
        ("2026-07-28", "de"),
        ("10/09/2026 14:00 GMT", "en-GB"),
        ("10/09/2026 14:00 GMT", "en-US"),
        ("Sep 30, 2026 at 14:00 (UTC)", "en"),
        ("Sept 3, 2026", ""),
        ("Tuesday, 15 September 2026, 09:05 UTC", ""),
        ("3 October 2026", "en-GB"),
    ],
)
def test_common_date_shapes_are_read_without_dateparser_and_agree_with_it(
    fragment: str, language: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = events._settings(PUBLISHED, language)
    expected = dateparser.parse(fragment, languages=events._languages(language), settings=settings)
    assert expected is not None

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dateparser was asked to read {fragment!r}")

    monkeypatch.setattr(dateparser, "parse", refuse)
    found = events.from_cue(f"When: {fragment}", PUBLISHED, language)
    assert found is not None and found.start == expected


@pytest.mark.parametrize(
    ("fragment", "language"),
    [("31/02/2026 10:00", ""), ("13/10/2026 09:30", "en-US"), ("30 septembre 2026", "fr")],
)
def test_dates_the_quick_reading_refuses_go_to_dateparser(fragment: str, language: str) -> None:
    settings = events._settings(PUBLISHED, language)
    expected = dateparser.parse(fragment, languages=events._languages(language), settings=settings)
    found = events.from_cue(f"When: {fragment}", PUBLISHED, language)
    assert (found.start if found else None) == (expected.astimezone(UTC) if expected else None)


def test_free_text_of_an_item_without_a_language_finds_no_date_in_plain_words() -> None:
    # Detecting among every locale dateparser has read the bare "25" as the 25th.
    text = "The piece closes with 25 questions to ask your team about container security."
    assert events.from_text(text, PUBLISHED) is None


def test_english_text_without_a_date_shape_is_not_searched() -> None:
    # dateparser alone reads "#95" as the year 2095 and "10, and" as the 10th.
    text = "Episode #95 covers chapters 9, 10, and 11 of the handbook."
    assert events.from_text(text, PUBLISHED, "en") is None
    found = events.from_text("Join us on 3 October 2026 at 18:00.", PUBLISHED, "en")
    assert found is not None and found.start == datetime(2026, 10, 3, 18, tzinfo=UTC)


def test_free_text_without_a_stated_language_is_searched_only_when_it_has_a_date_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = events.from_text("Rendez-vous le 3 octobre 2026 à 18h00.", PUBLISHED)
    assert found is not None and found.start == datetime(2026, 10, 3, 18, tzinfo=UTC)

    def no_search(*args: object, **kwargs: object) -> None:
        raise AssertionError("dateparser searched text without a date shape")

    monkeypatch.setattr("dateparser.search.search_dates", no_search)
    text = "This is aimed at data scientists who already know the basics. 7 questions to ask."
    assert events.from_text(text, PUBLISHED) is None
