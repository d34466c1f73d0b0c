"""Pages without feeds: [source.scrape] selectors on real captured pages, and through a run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator import pipeline
from aggregator.config import parse_config
from aggregator.errors import ConfigError
from aggregator.models import ScrapeRules
from aggregator.parse import FeedParseError
from aggregator.scrape import scrape_page
from aggregator.store import Store

PAGES = Path(__file__).parent / "data" / "html" / "no-feed"
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
kind = "events"
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
    summary = pipeline.refresh(pipeline.Project.at(tmp_path), now=NOW, config=config)

    assert summary.new_items == 3
    assert summary.failures == [
        ("Changed listing", "scrape: item selector 'div.gone' matches nothing")
    ]
    with Store(pipeline.Project.at(tmp_path).store_path) as store:
        items = list(store.iter_items())
    assert {item.item_type for item in items} == {"event"}
