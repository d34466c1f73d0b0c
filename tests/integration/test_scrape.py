"""Pages without feeds: [source.scrape] selectors on real captured pages, and through a run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator import app as application
from aggregator.config.files import parse_config
from aggregator.errors import ConfigError, FeedParseError
from aggregator.models import Profile, ScrapeRules
from aggregator.parse.scrape import scrape_page
from aggregator.store import SqliteStore

PAGES = Path(__file__).parents[1] / "data" / "html" / "no-feed"
SONGKICK = (PAGES / "tovestyrke.html").read_bytes()
HCALENDAR = (PAGES / "langeNacht_events.html").read_bytes()
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def test_listing_items_get_absolute_links_and_summaries():
    rules = ScrapeRules(item="li.event", title=".name", summary=".venue")

    feed = scrape_page(SONGKICK, "https://www.songkick.com/concerts/1-x", rules, "events")

    assert len(feed.entries) == 10
    first = feed.entries[0]
    assert first.title == "Beach House"
    assert first.url == "https://www.songkick.com/concerts/33118744-beach-house-at-troxy"
    assert "Troxy" in first.summary and first.text == "Troxy"
    assert first.item_type == "event"
    assert len({entry.guid for entry in feed.entries}) == 10


def test_hcalendar_dates_come_from_the_title_attribute():
    rules = ScrapeRules(item=".vevent", title=".summary", date=".dtstart")

    feed = scrape_page(HCALENDAR, "https://jellyfish.example/night", rules, "events")

    assert [e.title for e in feed.entries][:2] == [
        "See Jellyfish Play Guitar",
        "See Jellyfish Play Piano",
    ]
    assert feed.entries[0].published == datetime(2011, 7, 20, 13, 0, tzinfo=UTC)
    assert feed.entries[0].url == ""  # no link on the page: not invented
    assert not feed.problems


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (ScrapeRules(item="article.course", title="h2"), "item selector 'article.course'"),
        (ScrapeRules(item="li.event", title="h3.missing"), "title selector 'h3.missing'"),
    ],
)
def test_a_selector_that_matches_nothing_is_an_error(rules, message):
    with pytest.raises(FeedParseError, match=message):
        scrape_page(SONGKICK, "https://www.songkick.com/", rules, "events")


def test_an_invalid_selector_is_a_config_error(tmp_path):
    text = '[[source]]\nname = "x"\nurl = "https://x.example/"\n[source.scrape]\nitem = "li[["\n'
    text += 'title = "h2"\n'
    with pytest.raises(ConfigError, match="invalid CSS selector"):
        parse_config(text, tmp_path / "feeds.toml")


def test_a_run_stores_scraped_items_and_reports_a_broken_page(static_server, tmp_path):
    good = static_server.add("/events", HCALENDAR, headers={"Content-Type": "text/html"})
    broken = static_server.add("/listing", SONGKICK, headers={"Content-Type": "text/html"})
    text = f"""
[settings]
allow_private_networks = true

[[source]]
name = "Jellyfish night"
url = "{good}"
kind = "event"
[source.scrape]
item = ".vevent"
title = ".summary"
date = ".dtstart"

[[source]]
name = "Changed listing"
url = "{broken}"
[source.scrape]
item = "div.gone"
title = "h2"
"""
    config = parse_config(text, tmp_path / "feeds.toml")
    summary = application.refresh(application.Project.at(tmp_path), now=NOW, config=config)

    assert summary.new_items == 3
    assert summary.failures == [
        ("Changed listing", "scrape: item selector 'div.gone' matches nothing")
    ]
    with SqliteStore(application.Project.at(tmp_path).store_path) as store:
        items = list(store.iter_items())
    assert {item.item_type for item in items} == {"event"}


UPCOMING_V3 = (PAGES / "events-calagator" / "hcal_upcoming_v3.html").read_bytes()


def test_start_end_and_location_selectors_make_events_in_the_sources_zone():
    """Defect 5: a scraped event's date went into `published`; no event start was stored."""
    rules = ScrapeRules(item=".vevent", title=".summary", start=".dtstart", location=".location")

    feed = scrape_page(
        HCALENDAR, "https://jellyfish.example/night", rules, "blog", timezone="Europe/Berlin"
    )

    first = feed.entries[0]
    assert first.item_type == "event"  # a start says so, whatever the source's kind
    assert first.details.event_start == datetime(
        2011, 7, 20, 13, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )
    assert first.details.event_timezone == "Europe/Berlin"
    assert first.details.location == "Kaffee Mitte, 2 Weinmeisterstrasse, Berlin"
    assert first.published is None  # not invented from the event's date


def test_a_real_hcalendar_page_gives_the_time_of_day_not_only_the_date():
    """``content="2009-02-19"`` beside ``title="20090219T190000"``: the time wins; without a
    zone anywhere it stays a local (floating) time."""
    rules = ScrapeRules(item=".vevent", title=".summary", start=".dtstart", end=".dtend")

    (entry,) = scrape_page(UPCOMING_V3, "https://upcoming.example/event/1", rules, "events").entries

    assert entry.details.event_start == datetime(2009, 2, 19, 19, 0, tzinfo=UTC)
    assert entry.details.event_floating
    assert not entry.details.event_all_day


def test_changing_the_link_selector_keeps_each_items_id():
    """Smaller: a changed ``link`` selector gave every scraped item a new id (a duplicate)."""
    before = ScrapeRules(item="li.event", title=".name")
    after = ScrapeRules(item="li.event", title=".name", link="a.col")
    url = "https://www.songkick.com/metro-areas/24426-uk-london"

    first = scrape_page(SONGKICK, url, before, "events").entries
    second = scrape_page(SONGKICK, url, after, "events").entries

    assert [e.guid for e in first] == [e.guid for e in second]
    # Items stored by the version that used the link as id are found under it.
    assert first[0].former_guids == (first[0].url,)


def test_a_scraped_event_reaches_upcoming_in_a_run(static_server, tmp_path):
    page = static_server.add("/events", HCALENDAR, headers={"Content-Type": "text/html"})
    text = f"""
[settings]
allow_private_networks = true

[[source]]
name = "Jellyfish night"
url = "{page}"
kind = "event"
timezone = "Europe/Berlin"
[source.scrape]
item = ".vevent"
title = ".summary"
start = ".dtstart"
location = ".location"
"""
    config = parse_config(text, tmp_path / "feeds.toml")
    profile = Profile(name="jo", display_name="Jo", interests={"jellyfish": 1.0})
    now = datetime(2011, 7, 19, 9, 0, tzinfo=UTC)
    application.run(application.Project.at(tmp_path), now=now, config=config, profiles=[profile])

    digest = (tmp_path / "output" / "jo" / "2011-07-19.html").read_text(encoding="utf-8")
    upcoming = LexborHTMLParser(digest).css_first("#section-upcoming").parent
    assert [n.text(strip=True) for n in upcoming.css(".when")][:1] == [
        "Wed 20 Jul 2011, 13:00 Europe/Berlin"
    ]
    assert "new today" not in upcoming.text()
