"""The content Learnplace ships: the real source list, the example profiles and the demo corpus.

These files are data, not code, so nothing else checks them: a typo in a
TOML key or a feed that feedparser calls ill-formed would only show up as an
empty demo. The demo corpus must also give every example profile enough to
read, or `learnplace demo` shows thin, unconvincing digests.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest

from aggregator.app.demo import fill_placeholders
from aggregator.config import files as config
from aggregator.models import ITEM_TYPES, ReadContext
from aggregator.parse.registry import parse_feed

ROOT = Path(__file__).resolve().parents[2]
FEEDS_TOML = ROOT / "feeds.toml"
PROFILES_DIR = ROOT / "profiles"
SAMPLES_DIR = ROOT / "aggregator" / "samples"
SAMPLES_TOML = SAMPLES_DIR / "feeds.toml"

SAMPLE_FILES = sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix not in (".toml", ".ics"))
"""The sample feeds; the sample calendar is checked on its own (below)."""
CALENDAR = SAMPLES_DIR / "community-calendar.ics"
PROFILES = sorted(PROFILES_DIR.glob("*.toml"))

MIN_REAL_SOURCES = 22
MIN_SAMPLE_ITEMS = 90
MIN_MATCHES_PER_PROFILE = 15
OLDEST_POST_DAYS = 12
FARTHEST_EVENT_DAYS = 60
BASE = "http://127.0.0.1:8765"
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
PLACEHOLDER = re.compile(r"@@(RFC822|ISO):(-?\d+)@@")
XSS_MARKERS = ("<script", "onerror", "javascript:")


@dataclass(frozen=True)
class SampleItem:
    """One item of the demo corpus, reduced to what these checks look at."""

    feed: str
    title: str
    link: str
    html: str


def fill(text: str, now: datetime = NOW) -> str:
    """The sample text as the demo server serves it, with a fixed `now`."""
    return fill_placeholders(text, BASE, now)


def load_items(path: Path) -> list[SampleItem]:
    """Parse a sample file: feedparser for XML, json for JSON Feed (feedparser 6 cannot)."""
    text = fill(path.read_text(encoding="utf-8"))
    if path.suffix == ".json":
        return [
            SampleItem(path.name, item["title"], item["url"], item["content_html"])
            for item in json.loads(text)["items"]
        ]
    parsed = feedparser.parse(text.encode("utf-8"))
    items = []
    for entry in parsed.entries:
        bodies = [entry.get("summary", "")] + [c.value for c in entry.get("content", [])]
        items.append(SampleItem(path.name, entry.title, entry.link, "\n".join(bodies)))
    return items


def all_items() -> list[SampleItem]:
    return [item for path in SAMPLE_FILES for item in load_items(path)]


def mentions(text: str, phrase: str) -> bool:
    """Whole-word, case-insensitive: "sql" must not be found inside an unrelated longer word."""
    return re.search(rf"\b{re.escape(phrase)}\b", text, re.IGNORECASE) is not None


def read_toml(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


# --- feeds.toml and samples/feeds.toml -------------------------------------------------


@pytest.mark.parametrize("path", [FEEDS_TOML, SAMPLES_TOML], ids=["feeds", "samples"])
def test_source_list_has_settings_and_complete_sources(path: Path) -> None:
    data = read_toml(path)
    assert set(data) == {"settings", "source"}
    assert set(data["settings"]) == set(config.SETTINGS_KEYS)
    sources = data["source"]
    for source in sources:
        # `type`, `scrape` and `timezone` are what a person adds only where needed.
        optional = {"type", "scrape", "timezone", "disabled"}
        assert set(source) | optional == set(config.SOURCE_KEYS), source.get("name")
        assert source["kind"] in ITEM_TYPES, source["name"]  # the one vocabulary, no old names
        assert source["tags"], source["name"]
        assert all(isinstance(tag, str) and tag for tag in source["tags"])
    names = [s["name"] for s in sources]
    urls = [s["url"] for s in sources]
    assert len(set(names)) == len(names), "source names must be unique"
    assert len(set(urls)) == len(urls), "source URLs must be unique"


def test_real_source_list_is_broad_public_https() -> None:
    data = read_toml(FEEDS_TOML)
    sources = data["source"]
    assert len(sources) >= MIN_REAL_SOURCES
    assert data["settings"]["allow_private_networks"] is False
    for source in sources:
        parts = urlsplit(source["url"])
        assert parts.scheme == "https", source["name"]
        assert "example" not in parts.netloc, source["name"]
    kinds = {s["kind"] for s in sources}
    assert {"article", "course", "event", "podcast", "paper", "video"} <= kinds


def test_real_source_list_loads_with_the_project_loader() -> None:
    loaded = config.load_config(FEEDS_TOML)
    assert len(loaded.sources) == len(read_toml(FEEDS_TOML)["source"])
    assert loaded.settings.allow_private_networks is False


def test_sample_source_list_names_every_sample_file_once() -> None:
    data = read_toml(SAMPLES_TOML)
    assert data["settings"]["allow_private_networks"] is True
    listed = []
    for source in data["source"]:
        assert source["url"].startswith("@@BASE@@/"), source["name"]
        listed.append(source["url"].removeprefix("@@BASE@@/"))
    assert sorted(listed) == sorted(p.name for p in (*SAMPLE_FILES, CALENDAR))


# --- the sample feeds ------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_feed_is_well_formed_after_filling_placeholders(path: Path) -> None:
    text = fill(path.read_text(encoding="utf-8"))
    assert "@@" not in text, "an unknown or malformed placeholder was left in"
    if path.suffix == ".json":
        feed = json.loads(text)
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert feed["items"]
        for item in feed["items"]:
            assert {"id", "url", "title", "content_html", "date_published"} <= set(item)
            assert datetime.fromisoformat(item["date_published"]).tzinfo is not None
        return
    parsed = feedparser.parse(text.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.entries
    for entry in parsed.entries:
        assert entry.title and entry.link
        assert entry.get("published_parsed") or entry.get("updated_parsed"), entry.title


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_dates_are_recent_posts_or_near_future_events(path: Path) -> None:
    days = [int(n) for _, n in PLACEHOLDER.findall(path.read_text(encoding="utf-8"))]
    assert days
    assert max(days) <= OLDEST_POST_DAYS
    assert min(days) >= -FARTHEST_EVENT_DAYS
    if path.name != "events-webinars.xml":
        assert min(days) >= 0, "only events may be dated in the future"


def test_sample_corpus_covers_every_format() -> None:
    versions = set()
    for path in SAMPLE_FILES:
        if path.suffix == ".json":
            versions.add("json11")
        else:
            versions.add(feedparser.parse(fill(path.read_text(encoding="utf-8"))).version)
    assert versions == {"rss20", "atom10", "rss10", "json11"}
    assert len(all_items()) >= MIN_SAMPLE_ITEMS


def test_podcast_sample_has_audio_enclosures_and_durations() -> None:
    text = fill((SAMPLES_DIR / "learning-podcast.xml").read_text(encoding="utf-8"))
    entries = feedparser.parse(text).entries
    assert entries
    for entry in entries:
        assert [e.type for e in entry.enclosures] == ["audio/mpeg"], entry.title
        assert entry.itunes_duration, entry.title


def test_events_sample_has_future_start_dates() -> None:
    entries = feedparser.parse(fill((SAMPLES_DIR / "events-webinars.xml").read_text())).entries
    starts = [datetime.fromisoformat(e.ev_startdate) for e in entries]
    assert sum(start > NOW for start in starts) >= len(starts) - 1


def test_exactly_one_item_carries_the_xss_payload() -> None:
    hostile = [i for i in all_items() if any(m in i.html for m in XSS_MARKERS)]
    assert len(hostile) == 1
    assert all(marker in hostile[0].html for marker in XSS_MARKERS)


def test_some_articles_are_syndicated_with_tracking_parameters() -> None:
    items = all_items()
    originals = {(i.link, i.title): i.feed for i in items if "utm_" not in i.link}
    syndicated = []
    for item in items:
        if "utm_" not in item.link:
            continue
        bare = urlunsplit(urlsplit(item.link)._replace(query=""))
        feed = originals.get((bare, item.title))
        if feed is not None and feed != item.feed:
            syndicated.append(item.title)
    assert len(syndicated) >= 2


# --- profiles --------------------------------------------------------------------------


def test_the_example_profiles_are_shipped() -> None:
    assert {p.stem for p in PROFILES} >= {"lnd-adviser", "data-engineer", "team-lead"}


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_profile_is_valid(path: Path) -> None:
    assert re.fullmatch(r"[a-z0-9-]+", path.stem)
    data = read_toml(path)
    assert data["name"].strip()
    assert isinstance(data["digest_size"], int) and data["digest_size"] > 0
    assert isinstance(data["freshness_days"], int) and data["freshness_days"] > 0
    interests = data["interests"]
    assert interests
    assert all(isinstance(w, int | float) and w > 0 for w in interests.values())
    assert set(data["exclude"]) == {"words", "sources"}
    assert set(data["types"]) <= set(ITEM_TYPES)
    assert "#" in path.read_text(encoding="utf-8"), "examples teach by their comments"
    assert config.load_profile(path).interests


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_sample_corpus_gives_each_profile_enough_to_read(path: Path) -> None:
    profile = read_toml(path)
    excluded = profile["exclude"]["words"]
    matching = [
        item
        for item in all_items()
        if any(mentions(f"{item.title}\n{item.html}", p) for p in profile["interests"])
        and not any(mentions(f"{item.title}\n{item.html}", w) for w in excluded)
    ]
    assert len(matching) >= MIN_MATCHES_PER_PROFILE, [i.title for i in matching]


def test_profiles_want_clearly_different_things() -> None:
    interests = [set(read_toml(p)["interests"]) for p in PROFILES]
    for i, mine in enumerate(interests):
        for theirs in interests[i + 1 :]:
            assert len(mine & theirs) <= 1


def test_the_sample_calendar_has_series_in_a_named_zone_that_run_on() -> None:
    """Made for the demo: weekly, fortnightly and monthly series in Europe/Amsterdam, fixed in
    the past, so every day's demo finds their next occurrences in Upcoming."""
    feed = parse_feed(
        CALENDAR.read_bytes(),
        {},
        "http://127.0.0.1/community-calendar.ics",
        "events",
        context=ReadContext(NOW, timedelta(days=30)),
    )
    assert not feed.problems
    by_series = {}
    for entry in feed.entries:
        by_series.setdefault(entry.title, []).append(entry.details)
    office = by_series["Data quality office hours"]
    assert {d.event_repeats for d in office} == {"every week"}
    assert {d.event_timezone for d in office} == {"Europe/Amsterdam"}
    local = [d.event_start.astimezone(ZoneInfo("Europe/Amsterdam")) for d in office]
    assert {(t.weekday(), t.hour, t.minute) for t in local} == {(1, 17, 30)}  # Tuesdays 17:30
    assert len(office) == 4
    assert {d.event_repeats for d in by_series["Onboarding design lab"]} == {"every 2 weeks"}
    assert {d.event_repeats for d in by_series["Mentoring circle: coaching new team leads"]} == {
        "every month"
    }
