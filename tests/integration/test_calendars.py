"""Calendars as sources of events people act on, read from real calendar exports.

The calendars are recurring-ical-events' test calendars (a hackerspace's
Google Calendar export, weekly series with a deleted or moved occurrence,
X-WR-TIMEZONE without zones in the times); provenance is in
``tests/data/PROVENANCE.tsv``. Runs go through real HTTP on 127.0.0.1, a real
SQLite store, a Whoosh index and the written pages and .ics files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator import app as application
from aggregator.app.collect import CALENDAR_REREAD
from aggregator.config.files import parse_config
from aggregator.models import Profile, ReadContext
from aggregator.parse.registry import parse_feed
from aggregator.store import SqliteStore
from tests.e2e.test_end_to_end import learnplace

CALENDARS = Path(__file__).parents[1] / "data" / "feeds" / "events" / "recurring-ical-events"
BERLIN = ZoneInfo("Europe/Berlin")


def calendar(name: str) -> bytes:
    return (CALENDARS / name).read_bytes()


def read(name: str, now: datetime, days: int = 60, timezone: str = ""):
    return parse_feed(
        calendar(name),
        {},
        "https://cal.example/events.ics",
        "events",
        context=ReadContext(now, timedelta(days=days), timezone),
    )


def run(root: Path, static_server, now: datetime, profile: Profile, body: bytes, **source):
    url = static_server.add("/calendar.ics", body, headers={"ETag": source.pop("etag", '"1"')})
    extra = "".join(f'{key} = "{value}"\n' for key, value in source.items())
    config = parse_config(
        f"""
[settings]
allow_private_networks = true

[[source]]
name = "Community calendar"
url = "{url}"
kind = "event"
{extra}""",
        root / "feeds.toml",
    )
    return application.run(application.Project.at(root), now=now, config=config, profiles=[profile])


def upcoming_lines(page: Path) -> list[tuple[str, str]]:
    """(title, when) of each line of a page's Upcoming section."""
    tree = LexborHTMLParser(page.read_text(encoding="utf-8"))
    heading = tree.css_first("#section-upcoming")
    if heading is None:
        return []
    return [
        (node.css_first(".item-title").text(strip=True), node.css_first(".when").text(strip=True))
        for node in heading.parent.css("li.item")
    ]


# --------------------------------------------------------------------------- reading


def test_weekly_series_of_a_real_calendar_is_expanded_over_the_horizon() -> None:
    """Defect 1: RRULE was read nowhere; the hackerspace's weekly Chaostreff never showed."""
    now = datetime(2019, 2, 16, 12, 0, tzinfo=UTC)
    feed = read("machbar_16_feb_2019.ics", now, days=45)
    chaostreff = [e for e in feed.entries if e.title == "Chaostreff - CCCP"]
    starts = [e.details.event_start for e in chaostreff]
    # Every Wednesday at 19:00 in Berlin, from the first after `now` to 45 days on.
    assert starts == [
        datetime(2019, 2, 20, 19, 0, tzinfo=BERLIN) + timedelta(weeks=n) for n in range(6)
    ]
    assert len({e.guid for e in chaostreff}) == 6
    assert all(e.guid.startswith("7uartkcnhf0elbvs8md0itrf6c@google.com/") for e in chaostreff)
    assert {e.details.event_repeats for e in chaostreff} == {"every week"}
    assert {e.details.event_timezone for e in chaostreff} == {"Europe/Berlin"}
    assert not feed.problems
    # Most events in those 45 days belong to a series, as in the real calendar the issue read.
    ahead = [e for e in feed.entries if now <= e.details.event_start <= now + timedelta(days=45)]
    assert sum(bool(e.details.event_series) for e in ahead) > len(ahead) / 2


def test_an_exdate_leaves_out_the_deleted_occurrence_and_the_series_ends_by_its_count() -> None:
    now = datetime(2019, 3, 1, tzinfo=UTC)
    feed = read("each_week_but_one_deleted.ics", now)
    days = [e.details.event_start.astimezone(BERLIN).date().isoformat() for e in feed.entries]
    # COUNT=8 weekly from 4 March; EXDATE 20190310T233000Z is Monday 11 March 00:30 in Berlin.
    assert days == [
        "2019-03-04",
        "2019-03-18",
        "2019-03-25",
        "2019-04-01",
        "2019-04-08",
        "2019-04-15",
        "2019-04-22",
    ]
    # Daylight saving started on 31 March: still 00:30 local, an hour earlier in UTC.
    assert {e.details.event_start.astimezone(BERLIN).hour for e in feed.entries} == {0}


def test_exdates_in_utc_remove_occurrences_of_a_series_in_local_time() -> None:
    """Thunderbird's EXDATEs are in UTC while the series runs in Berlin time, across DST."""
    feed = read("issue_20_exdate_ignored.ics", datetime(2019, 10, 1, tzinfo=UTC), days=150)
    days = [e.details.event_start.date().isoformat() for e in feed.entries]
    assert days == [
        "2019-10-29",
        "2019-11-12",
        "2019-12-10",
        "2020-01-07",
        "2020-01-14",
        "2020-01-21",
        "2020-01-28",
    ]
    assert {(e.details.event_start.hour, e.details.event_start.minute) for e in feed.entries} == {
        (16, 15)
    }
    assert {e.details.event_end - e.details.event_start for e in feed.entries} == {
        timedelta(hours=1, minutes=30)
    }


def test_an_empty_rrule_is_no_series() -> None:
    """A real holiday export writes ``RRULE:`` with nothing after it on every event."""
    feed = read("Germany_Holidays.ics", datetime(2019, 2, 16, tzinfo=UTC))
    assert len(feed.entries) == 34 and not feed.problems
    first = feed.entries[0]
    assert (first.title, first.details.event_start.date(), first.details.event_all_day) == (
        "New Year's Day",
        date(2019, 1, 1),
        True,
    )
    assert not any(entry.details.event_series for entry in feed.entries)


def test_a_moved_occurrence_keeps_its_slot_id_and_does_not_replace_the_series() -> None:
    """Defect 3: the exception (same UID, RECURRENCE-ID 31 Dec) replaced the whole series."""
    feed = read("issue_62_moved_event.ics", datetime(2021, 11, 20, tzinfo=UTC), days=100)
    by_guid = {e.guid: e for e in feed.entries}
    uid = "38m812jicsrer5gorh3mlp7qhc@google.com"
    moved = by_guid[f"{uid}/20211231T203000Z"]  # the slot of the last Friday of December
    assert moved.details.event_start == datetime(2021, 12, 17, 21, 30, tzinfo=BERLIN)
    assert by_guid[f"{uid}/20211126T203000Z"].details.event_start == datetime(
        2021, 11, 26, 21, 30, tzinfo=BERLIN
    )
    assert {e.title for e in feed.entries} == {"Karaoke"}
    assert len(feed.entries) == 4  # Nov, Dec (moved), Jan, Feb: one each
    assert {e.details.event_series for e in feed.entries} == {uid}


def test_floating_times_are_read_in_the_calendars_x_wr_timezone() -> None:
    """Defect 4: ``DTSTART:20210916T210000`` with X-WR-TIMEZONE was shown as 21:00 UTC."""
    (entry,) = read(
        "issue_86_x_wr_timezone_without_time_zone_in_dt.ics", datetime(2021, 9, 1, tzinfo=UTC)
    ).entries
    brussels = ZoneInfo("Europe/Brussels")
    assert entry.details.event_start == datetime(2021, 9, 16, 21, 0, tzinfo=brussels)
    assert entry.details.event_end == datetime(2021, 9, 16, 22, 45, tzinfo=brussels)
    assert entry.details.event_timezone == "Europe/Brussels"
    assert not entry.details.event_floating


def test_floating_times_without_any_zone_stay_local_unless_the_source_names_one() -> None:
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # the 30th's 08:00-10:00 is over anywhere
    floating = read("issue_243_recurrence_id_is_not_identical_to_dtstart.ics", now, days=3)
    first = floating.entries[0].details
    assert (first.event_start.hour, first.event_floating, first.event_timezone) == (8, True, "")
    zoned = read(
        "issue_243_recurrence_id_is_not_identical_to_dtstart.ics", now, 3, "America/Chicago"
    )
    first = zoned.entries[0].details
    assert first.event_start == datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert (first.event_floating, first.event_timezone) == (False, "America/Chicago")


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ("DTSTART:99991231T235959Z\r\nDURATION:P1W", "no start it can read"),
        ("DTSTART:99991231T235959Z\r\nDURATION:P1W\r\nRRULE:FREQ=DAILY", "could not be expanded"),
        ("DTSTART:19700101T000000Z\r\nRRULE:FREQ=SECONDLY", "more often than daily"),
        ("DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY;INTERVAL=0", "interval of 0"),
        ("DTSTART:20261201T100000Z\r\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "no month has"),
        ("DTSTART:20261201T100000Z\r\nRRULE:FREQ=FOO", "could not be expanded"),
        ("DTSTART:20261201T100000Z\r\nDURATION:P99999999W", "unreadable date"),
        ("DTSTART:tomorrow", "unreadable date"),
        ("RRULE:FREQ=DAILY", "could not be expanded"),
    ],
)
def test_a_hostile_event_is_left_out_with_a_problem_and_the_rest_is_read(
    event: str, problem: str
) -> None:
    body = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n"
        f"BEGIN:VEVENT\r\nUID:bad\r\nSUMMARY:bad\r\n{event}\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:good\r\nSUMMARY:good\r\nDTSTART:20261202T100000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()
    feed = parse_feed(
        body,
        {},
        "https://cal.example/x.ics",
        context=ReadContext(datetime(2026, 11, 30, tzinfo=UTC)),
    )
    assert [e.title for e in feed.entries] == ["good"]
    assert any(problem in found for found in feed.problems), feed.problems


# --------------------------------------------------------------------------- through a run


CHAOS = Profile(
    name="ada",
    display_name="Ada",
    interests={"chaostreff": 3.0, "netzpolitik": 2.0},
    freshness_days=7,
    upcoming_days=30,
)


def test_upcoming_lists_each_weekly_occurrence_in_local_time_with_a_tzid_calendar_file(
    tmp_path: Path, static_server
) -> None:
    """Defects 1, 2 and 4 end to end: the series was announced (DTSTAMP 5 March) more than the
    profile's 7 freshness days before `now`, yet its occurrences in the next 30 days show,
    each in Berlin time, each with its own .ics in that zone."""
    now = datetime(2019, 4, 1, 8, 0, tzinfo=UTC)
    run(tmp_path, static_server, now, CHAOS, calendar("machbar_16_feb_2019.ics"))
    page = tmp_path / "output" / "ada" / "2019-04-01.html"
    lines = [line for line in upcoming_lines(page) if line[0] == "Chaostreff - CCCP"]
    assert lines == [
        ("Chaostreff - CCCP", "Wed 3 Apr 2019, 19:00 Europe/Berlin (every week)"),
        ("Chaostreff - CCCP", "Wed 10 Apr 2019, 19:00 Europe/Berlin (every week)"),
        ("Chaostreff - CCCP", "Wed 17 Apr 2019, 19:00 Europe/Berlin (every week)"),
        ("Chaostreff - CCCP", "Wed 24 Apr 2019, 19:00 Europe/Berlin (every week)"),
    ]
    tree = LexborHTMLParser(page.read_text(encoding="utf-8"))
    links = [a.attributes["href"] for a in tree.css("#section-upcoming ~ ol a.add-to-calendar")]
    uids, starts = set(), []
    for link in links:
        text = (page.parent / link).read_text(encoding="utf-8")
        (parsed,) = icalendar.Calendar.from_ical(text, multiple=True)
        (event,) = parsed.walk("VEVENT")
        if str(event["SUMMARY"]) != "Chaostreff - CCCP":
            continue
        assert "DTSTART;TZID=Europe/Berlin:201904" in text
        assert "BEGIN:VTIMEZONE" in text
        uids.add(str(event["UID"]))
        starts.append(event["DTSTART"].dt)
    assert starts[0] == datetime(2019, 4, 3, 19, 0, tzinfo=BERLIN)
    assert len(uids) == len(starts) == 4  # one calendar entry per occurrence


def test_an_unchanged_calendar_reports_no_updated_items_and_occurrences_stay_apart(
    tmp_path: Path, static_server
) -> None:
    """Defect 3: exception and series overwrote each other on every run."""
    now = datetime(2021, 11, 20, 8, 0, tzinfo=UTC)
    profile = Profile(name="kai", display_name="Kai", interests={"karaoke": 1.0}, upcoming_days=90)
    body = calendar("issue_62_moved_event.ics")
    first = run(tmp_path, static_server, now, profile, body, etag='"a"')
    # A new ETag: the same calendar is downloaded and read again in full.
    second = run(tmp_path, static_server, now + timedelta(hours=1), profile, body, etag='"b"')
    assert (first.new_items, first.updated_items) == (3, 0)  # Nov 26, Dec 17 (moved), Jan 28
    assert (second.new_items, second.updated_items) == (0, 0)
    with SqliteStore(tmp_path / "state" / "learnplace.sqlite3") as store:
        items = list(store.iter_items())
    assert sorted(i.details.event_start for i in items) == [
        datetime(2021, 11, 26, 21, 30, tzinfo=BERLIN),
        datetime(2021, 12, 17, 21, 30, tzinfo=BERLIN),
        datetime(2022, 1, 28, 21, 30, tzinfo=BERLIN),
    ]


def test_an_occurrence_the_calendar_drops_later_leaves_upcoming(
    tmp_path: Path, static_server
) -> None:
    now = datetime(2019, 4, 1, 8, 0, tzinfo=UTC)
    body = calendar("machbar_16_feb_2019.ics")
    run(tmp_path, static_server, now, CHAOS, body, etag='"a"')
    # The same export, with the Chaostreff of 10 April deleted (an EXDATE added).
    edited = body.replace(
        b"RRULE:FREQ=WEEKLY;BYDAY=WE\r\nDTSTAMP:20190305T185732Z\r\nUID:7uartkcnhf0elbvs8md0itrf6c",
        b"RRULE:FREQ=WEEKLY;BYDAY=WE\r\nEXDATE;TZID=Europe/Berlin:20190410T190000\r\n"
        b"DTSTAMP:20190305T185732Z\r\nUID:7uartkcnhf0elbvs8md0itrf6c",
    )
    assert edited != body
    summary = run(tmp_path, static_server, now + timedelta(hours=2), CHAOS, edited, etag='"b"')
    assert summary.updated_items == 1
    page = tmp_path / "output" / "ada" / "2019-04-01.html"
    days = [when for title, when in upcoming_lines(page) if title == "Chaostreff - CCCP"]
    assert [when[:15] for when in days] == ["Wed 3 Apr 2019,", "Wed 17 Apr 2019", "Wed 24 Apr 2019"]


def test_a_calendar_answering_304_is_read_in_full_again_before_its_series_run_out(
    tmp_path: Path, static_server
) -> None:
    now = datetime(2019, 4, 1, 8, 0, tzinfo=UTC)
    body = calendar("machbar_16_feb_2019.ics")
    run(tmp_path, static_server, now, CHAOS, body)
    run(tmp_path, static_server, now + timedelta(days=1), CHAOS, body)
    later = run(tmp_path, static_server, now + CALENDAR_REREAD, CHAOS, body)
    sent = [headers.get("If-None-Match") for headers in static_server.requests["/calendar.ics"]]
    assert sent == [None, '"1"', None]  # a week on, fetched without validators
    assert later.new_items > 0  # the occurrences that came into the horizon
    page = tmp_path / "output" / "ada" / "2019-04-08.html"
    days = [when[:15] for title, when in upcoming_lines(page) if title == "Chaostreff - CCCP"]
    assert days[0] == "Wed 10 Apr 2019"


def test_floating_calendar_times_are_shown_and_exported_as_local_time(
    tmp_path: Path, static_server
) -> None:
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    profile = Profile(name="lu", display_name="Lu", interests={"testing": 1.0}, upcoming_days=3)
    run(
        tmp_path,
        static_server,
        now,
        profile,
        calendar("issue_243_recurrence_id_is_not_identical_to_dtstart.ics"),
    )
    page = tmp_path / "output" / "lu" / "2026-11-30.html"
    assert upcoming_lines(page)[0] == (
        "daily testing",
        "Tue 1 Dec 2026, 08:00 local time (every day)",
    )
    link = LexborHTMLParser(page.read_text(encoding="utf-8")).css_first("a.add-to-calendar")
    text = (page.parent / link.attributes["href"]).read_text(encoding="utf-8")
    assert "DTSTART:20261201T080000\n" in text  # floating, as the calendar wrote it


def test_the_preview_command_prints_upcoming(tmp_path: Path, static_server) -> None:
    """Smaller: ``learnplace preview`` never printed the Upcoming section."""
    url = static_server.add("/calendar.ics", calendar("machbar_16_feb_2019.ics"))
    (tmp_path / "feeds.toml").write_text(
        f'[settings]\nallow_private_networks = true\n\n[[source]]\nname = "machBar"\n'
        f'url = "{url}"\nkind = "event"\n',
        encoding="utf-8",
    )
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "ada.toml").write_text(
        "upcoming_days = 30\n[interests]\nchaostreff = 3\n", encoding="utf-8"
    )
    project = application.Project.at(tmp_path)
    application.run(project, now=datetime(2019, 4, 1, 8, 0, tzinfo=UTC))
    result = learnplace(tmp_path, "preview", "ada", "--date", "2019-04-01")
    assert result.returncode == 0, result.stderr
    assert "Upcoming (next 30 days): " in result.stdout
    assert "Wed 3 Apr 2019, 19:00 Europe/Berlin (every week)" in result.stdout
    assert "why: “chaostreff” in title" in result.stdout


def test_a_profile_that_wants_no_events_gets_no_upcoming(tmp_path: Path, static_server) -> None:
    now = datetime(2019, 4, 1, 8, 0, tzinfo=UTC)
    articles_only = Profile(
        name="ada", display_name="Ada", interests={"chaostreff": 3.0}, wanted_types=("article",)
    )
    run(tmp_path, static_server, now, articles_only, calendar("machbar_16_feb_2019.ics"))
    assert upcoming_lines(tmp_path / "output" / "ada" / "2019-04-01.html") == []
