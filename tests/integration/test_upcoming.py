"""The digest's Upcoming section end to end: real HTTP, store, index and pages, two days running.

Events come from an RSS feed with ``ev:`` dates served on 127.0.0.1; the
pipeline runs on one day and again the next, and the pages and their .ics
files are read back (the .ics with the icalendar library).
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
from selectolax.lexbor import LexborHTMLParser

from aggregator import app as application
from aggregator.config.files import parse_config
from aggregator.models import Profile
from aggregator.rank import daily
from aggregator.search import WhooshIndex
from aggregator.store import SqliteStore

DAY1 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SOON = DAY1 + timedelta(hours=10)  # tonight: over by the next day's run
LATER = DAY1 + timedelta(days=5, hours=3)
PAST = DAY1 - timedelta(days=2)
PROFILE = Profile(name="ada", display_name="Ada", interests={"data quality": 3.0})


def rfc822(moment: datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


def event_item(slug: str, title: str, published: datetime, start: datetime | None) -> str:
    dates = f"<ev:startdate>{start.isoformat()}</ev:startdate>" if start else ""
    return f"""<item><title>{title}</title><link>https://events.example/{slug}</link>
      <guid>https://events.example/{slug}</guid><pubDate>{rfc822(published)}</pubDate>
      <description>An evening on data quality.</description>{dates}
      <ev:location>Rotterdam</ev:location></item>"""


EVENTS_FEED = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:ev="http://purl.org/rss/1.0/modules/event/"><channel>
<title>Events</title><link>https://events.example/</link>
{event_item("later", "Meetup: data quality night", DAY1 - timedelta(days=2), LATER)}
{event_item("soon", "Webinar: data quality basics", DAY1 - timedelta(days=1), SOON)}
{event_item("past", "Workshop: data quality clinic", DAY1 - timedelta(days=5), PAST)}
{event_item("tba", "Conference: data quality summit (date to come)", DAY1, None)}
</channel></rss>""".encode()

PODCAST_FEED = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<title>Pod</title><link>https://pod.example/</link>
<item><title>Data quality in practice</title><link>https://pod.example/1</link>
<guid>pod-1</guid><pubDate>{rfc822(DAY1 - timedelta(hours=5))}</pubDate>
<description>Talking about data quality.</description>
<enclosure url="https://pod.example/1.mp3" type="audio/mpeg" length="1"/>
<itunes:duration>00:42:17</itunes:duration></item>
</channel></rss>""".encode()


def run(root: Path, static_server, now: datetime) -> application.RunSummary:
    events_url = static_server.add("/events.xml", EVENTS_FEED)
    podcast_url = static_server.add("/podcast.xml", PODCAST_FEED)
    config = parse_config(
        f"""
[settings]
allow_private_networks = true

[[source]]
name = "Events"
url = "{events_url}"
kind = "event"

[[source]]
name = "Pod"
url = "{podcast_url}"
""",
        root / "feeds.toml",
    )
    return application.run(application.Project.at(root), now=now, config=config, profiles=[PROFILE])


def section_titles(page: Path, section: str) -> list[str]:
    tree = LexborHTMLParser(page.read_text(encoding="utf-8"))
    heading = tree.css_first(f"#section-{section}")
    if heading is None:
        return []
    return [node.text(strip=True) for node in heading.parent.css(".item-title")]


def test_upcoming_section_lists_future_events_in_date_order_and_drops_them_once_past(
    tmp_path: Path, static_server
) -> None:
    run(tmp_path, static_server, DAY1)
    person = tmp_path / "output" / "ada"
    day1 = person / f"{DAY1.date().isoformat()}.html"
    assert section_titles(day1, "upcoming") == [
        "Webinar: data quality basics",
        "Meetup: data quality night",
    ]
    # The past workshop is nowhere; the undated conference stays an ordinary event pick.
    page = day1.read_text(encoding="utf-8")
    assert "data quality clinic" not in page
    assert section_titles(day1, "event") == ["Conference: data quality summit (date to come)"]
    assert "42 min" in page  # the podcast's itunes:duration

    links = LexborHTMLParser(page).css("a.add-to-calendar")
    calendars = [person / link.attributes["href"] for link in links]
    assert len(calendars) == 2
    starts = []
    for path in calendars:
        (calendar,) = icalendar.Calendar.from_ical(path.read_bytes(), multiple=True)
        (event,) = calendar.walk("VEVENT")
        starts.append((str(event["SUMMARY"]), event["DTSTART"].dt, str(event["LOCATION"])))
    assert starts == [
        ("Webinar: data quality basics", SOON, "Rotterdam"),
        ("Meetup: data quality night", LATER, "Rotterdam"),
    ]

    day2_now = DAY1 + timedelta(days=1)
    run(tmp_path, static_server, day2_now)
    day2 = person / f"{day2_now.date().isoformat()}.html"
    # Tonight's webinar is over; the meetup is listed again although day 1 showed it.
    assert section_titles(day2, "upcoming") == ["Meetup: data quality night"]
    assert "data quality basics" not in day2.read_text(encoding="utf-8")
    assert section_titles(person / "index.html", "upcoming") == ["Meetup: data quality night"]
    # Day 1's page, re-rendered for its "next day" link, still shows what it showed then.
    assert section_titles(day1, "upcoming") == [
        "Webinar: data quality basics",
        "Meetup: data quality night",
    ]


def test_preview_of_an_earlier_day_shows_nothing_published_after_it(
    tmp_path: Path, static_server
) -> None:
    """Smaller: ``preview --date`` in the past listed later items as "new today"."""
    later = DAY1 + timedelta(days=5)
    feed = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>
    <link>https://blog.example/</link>
    <item><title>Data quality, day one</title><link>https://blog.example/1</link>
    <pubDate>{rfc822(DAY1 - timedelta(hours=2))}</pubDate></item>
    <item><title>Data quality, five days on</title><link>https://blog.example/2</link>
    <pubDate>{rfc822(later)}</pubDate></item>
    </channel></rss>""".encode()
    url = static_server.add("/blog.xml", feed)
    config = parse_config(
        f'[settings]\nallow_private_networks = true\n\n[[source]]\nname = "Blog"\nurl = "{url}"\n',
        tmp_path / "feeds.toml",
    )
    project = application.Project.at(tmp_path)
    application.run(project, now=later + timedelta(hours=1), config=config, profiles=[PROFILE])
    with (
        SqliteStore(project.store_path) as store,
        WhooshIndex.open(project.index_dir) as index,
    ):
        then = daily.digest_for(store, index, PROFILE, DAY1)
        now = daily.digest_for(store, index, PROFILE, later + timedelta(hours=1))
    assert [pick.item.title for pick in then.picks] == ["Data quality, day one"]
    assert "new today" in then.picks[0].reasons
    assert now.picks[0].item.title == "Data quality, five days on"
