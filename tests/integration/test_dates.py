"""Dates checked against the feed's own string; undated items dated when first seen, and marked.

The real feeds are captures copied from ../shared/corpus (provenance in
tests/data/PROVENANCE.tsv).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from aggregator import app as application
from aggregator.config.files import parse_config
from aggregator.models import Profile, ReadContext
from aggregator.parse.registry import parse_feed
from aggregator.process.dates import checked_date
from aggregator.rank import daily
from aggregator.search import WhooshIndex
from aggregator.store import SqliteStore

FEEDS = Path(__file__).parents[1] / "data" / "feeds"


def rss(pub_date: str) -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>
    <link>https://blog.example/</link><item><title>A post</title>
    <link>https://blog.example/1</link><pubDate>{pub_date}</pubDate></item></channel></rss>""".encode()


def test_a_slash_date_feedparser_misreads_is_read_from_the_string() -> None:
    """Defect 7: ``2020/1/10 14:33:00`` was stored as 2020-12-01 00:00."""
    feed = parse_feed(rss("2020/1/10 14:33:00"), {}, "https://blog.example/feed")
    assert feed.entries[0].published == datetime(2020, 1, 10, 14, 33, tzinfo=UTC)
    assert feed.problems == (
        "date '2020/1/10 14:33:00' read as 2020-01-10 14:33 UTC, not 2020-12-01 00:00 UTC",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20200110T143300Z", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),  # feedparser: 00:00
        ("2020.01.10", datetime(2020, 1, 10, tzinfo=UTC)),  # feedparser: 1 December
        ("2020-13-45", None),  # feedparser: 1 January 2021; no such day, so no date
        ("Fri, 10 Jan 2020 14:33:00 -0500", datetime(2020, 1, 10, 19, 33, tzinfo=UTC)),
        ("Fri Jan 10 14:33:00 2020", datetime(2020, 1, 10, 14, 33, tzinfo=UTC)),  # feedparser's
    ],
)
def test_dates_feedparser_reads_wrongly_are_corrected_or_dropped(
    raw: str, expected: datetime | None
) -> None:
    assert parse_feed(rss(raw), {}, "https://b.example/f").entries[0].published == expected


def test_the_check_agrees_with_feedparser_on_every_dated_entry_of_the_real_feeds() -> None:
    """The check must not change a date feedparser read right: on every real capture here,
    whatever feedparser dated is dated the same."""
    checked = 0
    for path in sorted((FEEDS / "real").rglob("*")):
        if path.suffix not in (".xml", ".rss", ".atom", ".rdf"):
            continue
        result = feedparser.parse(path.read_bytes(), sanitize_html=False)
        for entry in result.entries:
            for name in ("published", "updated", "created"):
                raw, parsed = dict.get(entry, name), dict.get(entry, f"{name}_parsed")
                if raw and parsed:
                    theirs = datetime(*parsed[:6], tzinfo=UTC)
                    assert checked_date(raw, theirs) == (theirs, ""), (path.name, raw)
                    checked += 1
                    break
    assert checked >= 50


def test_a_time_without_offset_is_read_in_the_sources_zone() -> None:
    context = ReadContext(datetime(2026, 1, 1, tzinfo=UTC), timezone="Europe/Berlin")
    feed = parse_feed(rss("2020/1/10 14:33:00"), {}, "https://b.example/f", context=context)
    assert feed.entries[0].published == datetime(2020, 1, 10, 13, 33, tzinfo=UTC)


def test_an_undated_item_keeps_its_first_day_marked_and_is_never_new_on_later_runs(
    tmp_path: Path, static_server
) -> None:
    """Defect 7: undated items got the run's time and showed as "new today"."""
    body = (FEEDS / "real" / "feed-rs" / "rss0" / "rss_0.91_encoding_1.xml").read_bytes()
    url = static_server.add("/index.xml", body, headers={"Content-Type": "text/xml"})
    text = f'[settings]\nallow_private_networks = true\n\n[[source]]\nname = "D"\nurl = "{url}"\n'
    config = parse_config(text, tmp_path / "feeds.toml")
    ada = Profile(name="ada", display_name="Ada", interests={"bash": 1.0})
    bo = Profile(name="bo", display_name="Bo", interests={"bash": 1.0})
    project = application.Project.at(tmp_path)
    day1 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    application.run(project, now=day1, config=config, profiles=[ada])
    application.run(project, now=day1 + timedelta(days=2), config=config, profiles=[ada])
    with SqliteStore(project.store_path) as store, WhooshIndex.open(project.index_dir) as index:
        (item,) = store.iter_items()
        first = store.digest("ada", day1.date())
        later = daily.digest_for(store, index, bo, day1 + timedelta(days=2))
    assert item.title == "bash - Expansão de Parâmetros"
    assert (item.dated, item.published, item.first_seen) == (False, day1, day1)
    assert first[0][2][-1] == "undated, first seen today"
    (pick,) = later.picks
    assert not any("new today" in reason for reason in pick.reasons)
    assert not any("first seen" in reason for reason in pick.reasons)
