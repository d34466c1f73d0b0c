"""The hostile documents of issue 15 (tests/hostile.py): parsed within bounds, and a whole run
over them beside good sources stores the good ones and records each hostile one.

The suite turns warnings into errors, so none of these may reach the "a bug" path of
aggregator.app.collect: each is handled on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import app as application
from aggregator import bounds
from aggregator.bounds import MAX_FEED_CHARS, MAX_FEED_ENTRIES, UNSAFE_CHARS, bounded
from aggregator.config.files import load_config
from aggregator.models import Entry, ParsedFeed
from aggregator.parse.registry import parse_feed
from aggregator.store import SqliteStore
from aggregator.urls import is_safe_link
from tests import hostile
from tests.e2e.test_end_to_end import REPO

URL = "https://hostile.example/feed"


def test_an_event_a_week_past_year_9999_is_skipped_and_said() -> None:
    """An event is its time: one whose start cannot be read is no event to list."""
    feed = parse_feed(hostile.ICAL_OVERFLOW, {"Content-Type": "text/calendar"}, URL, "events")
    assert feed.entries == ()
    assert feed.problems == ("event 'Overflow workshop': no start it can read, skipped",)


def test_a_json_feed_date_before_year_one_is_kept_undated_and_said() -> None:
    feed = parse_feed(hostile.JSON_YEAR_ONE, {}, URL)
    (entry,) = feed.entries
    assert entry.title == "Posted before the calendar began" and entry.published is None
    assert feed.problems == ("unreadable date '0001-01-01T00:00:00+14:00': left undated",)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-7"])
def test_declared_entities_are_never_expanded_whatever_the_encoding(encoding: str) -> None:
    """35,000 references to a 1,000-character entity were a 35 MB summary (1 GB at 111 KB)."""
    document = hostile.entity_bomb(encoding=encoding)
    assert len(document) < 250_000
    tracemalloc.start()
    try:
        feed = parse_feed(document, {}, URL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (entry,) = feed.entries
    assert entry.title == "Expanding python"
    assert "AAAA" not in entry.summary and "&amp;e;" in entry.summary  # left as written
    assert len(entry.summary) <= bounds.MAX_HTML_CHARS + 10
    assert feed.problems[0].startswith("entity declarations ignored")
    assert peak < 50 * len(document)  # expanded, the summary alone was 330 times the document


def test_titles_summaries_and_texts_are_capped() -> None:
    feed = parse_feed(hostile.LONG_FIELDS_FEED, {}, URL)
    (entry,) = feed.entries
    assert len(entry.title) == bounds.MAX_TITLE_CHARS and entry.title.endswith("…")
    assert len(entry.summary) <= bounds.MAX_HTML_CHARS + 10
    assert len(entry.text) <= bounds.MAX_TEXT_CHARS
    assert "1 entry: title cut at 1,000 characters" in feed.problems
    assert "1 entry: summary cut at 200,000 characters" in feed.problems


def test_control_and_bidirectional_override_characters_are_removed() -> None:
    feed = parse_feed(hostile.ESCAPES_FEED, {}, URL)
    (entry,) = feed.entries
    for text in (feed.title, entry.title, entry.summary, entry.text):
        assert text and not UNSAFE_CHARS.search(text)
    assert "window title" in entry.title and "evil" in entry.title
    assert "1 entry: control or bidirectional characters removed from the title" in feed.problems


def test_links_with_line_breaks_or_controls_are_refused() -> None:
    first, second = parse_feed(hostile.NEWLINE_LINK_FEED, {}, URL).entries
    assert first.url == "" and not UNSAFE_CHARS.search(first.guid)
    assert second.url == "https://hostile.example/plain"
    for link in (
        "https://x.example/a\nb",
        "https://x.example/\r\nSet-Cookie",
        "https://x.example/\u202e",
    ):
        assert not is_safe_link(link)
    assert is_safe_link("https://x.example/a%20b")


def test_a_feed_is_capped_in_entries_and_in_text() -> None:
    many = ParsedFeed(
        "t", "", tuple(Entry(f"g{n}", "", f"t{n}") for n in range(MAX_FEED_ENTRIES + 5)), "rss20"
    )
    kept = bounded(many)
    assert len(kept.entries) == MAX_FEED_ENTRIES
    assert kept.problems[-1].startswith(f"kept the first {MAX_FEED_ENTRIES} of")
    wordy = Entry("g", "", "t", text="x" * bounds.MAX_TEXT_CHARS)
    heavy = ParsedFeed("t", "", (wordy,) * (MAX_FEED_CHARS // bounds.MAX_TEXT_CHARS + 10), "rss20")
    assert len(bounded(heavy).entries) <= MAX_FEED_CHARS // bounds.MAX_TEXT_CHARS


def test_an_entry_dated_far_ahead_loses_its_date_at_the_fetch() -> None:
    (entry,) = parse_feed(hostile.FAR_FUTURE_FEED, {}, URL).entries
    assert entry.published == datetime(9999, 12, 31, tzinfo=UTC)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    soon = replace(entry, published=now + timedelta(hours=20))
    kept, problem = bounds.undated_if_future((entry, soon), now)
    assert kept == (replace(entry, published=None), soon)
    assert problem == "1 entry: dated after the fetch, kept without their date"


HOSTILE = {
    "ical-overflow": (hostile.ICAL_OVERFLOW, "text/calendar"),
    "json-year-one": (hostile.JSON_YEAR_ONE, "application/feed+json"),
    "entities": (hostile.entity_bomb(), "application/rss+xml"),
    "entities-1mb": (hostile.entity_bomb(references=350_000), "application/rss+xml"),
    "entities-utf16": (hostile.entity_bomb(encoding="utf-16"), "application/rss+xml"),
    "entities-utf7": (hostile.entity_bomb(encoding="utf-7"), "application/rss+xml"),
    "escapes": (hostile.ESCAPES_FEED, "application/rss+xml"),
    "far-future": (hostile.FAR_FUTURE_FEED, "application/rss+xml"),
    "newline-link": (hostile.NEWLINE_LINK_FEED, "application/feed+json"),
    "long-fields": (hostile.LONG_FIELDS_FEED, "application/rss+xml"),
}


def project_with(root: Path, static_server, names: list[str], max_body_mb: int) -> Path:
    lines = ["[settings]", "allow_private_networks = true", f"max_body_mb = {max_body_mb}"]
    for name in names:
        body, media_type = HOSTILE.get(name, (hostile.GOOD_FEED, "application/rss+xml"))
        url = static_server.add(f"/{name}", body, headers={"Content-Type": media_type})
        lines += ["[[source]]", f'name = "{name}"', f'url = "{url}"']
    root.mkdir()
    (root / "feeds.toml").write_text("\n".join(lines), encoding="utf-8")
    (root / "profiles").mkdir()
    (root / "profiles" / "ana.toml").write_text("[interests]\npython = 3\n", encoding="utf-8")
    return root


MEASURED_RUN = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(done.returncode, peak, done.stdout, sep='\\n')\n"
    "print(done.stderr, file=sys.stderr)\n"
)
"""Run a command; print its exit status, the peak RSS in KiB of its largest process (the
CLI or a parse worker: waited-for descendants count), and its output."""


def measured_run(project: Path) -> tuple[int, int, dict]:
    command = [sys.executable, "-c", MEASURED_RUN, sys.executable, "-m", "aggregator"]
    done = subprocess.run(
        [*command, "--project", str(project), "run", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=True,
    )
    status, peak, output = done.stdout.split("\n", 2)
    return int(status), int(peak), json.loads(output) if output.strip() else {}


def test_a_run_over_every_hostile_feed_stores_the_good_ones_and_records_each(
    tmp_path: Path, static_server
) -> None:
    cap_mb = 10
    good = ["good-1", "good-2"]
    baseline = project_with(tmp_path / "good", static_server, good, cap_mb)
    project = project_with(tmp_path / "hostile", static_server, [*good, *HOSTILE], cap_mb)
    _, good_peak_kib, _ = measured_run(baseline)
    status, peak_kib, summary = measured_run(project)
    assert status == 0, summary
    assert summary["failed"] == []
    assert summary["digests"][0]["person"] == "ana"
    # What the hostile feeds add is bounded by the body cap (expanded, they were gigabytes).
    assert peak_kib < good_peak_kib + 2 * cap_mb * 1024
    with SqliteStore(project / "state" / "learnplace.sqlite3") as store:
        statuses = {status.name: status for status in store.source_statuses()}
        items = store.items(range(1, 1000))
    for name in good:
        assert statuses[name].items == 12 and statuses[name].last_error is None
    for name in HOSTILE:
        assert statuses[name].problems, name  # each says what was wrong with it
    for item_ in items.values():
        assert item_.published <= item_.first_seen + bounds.FUTURE_TOLERANCE
        assert not UNSAFE_CHARS.search(item_.title + item_.summary + item_.url)
        assert len(item_.title) <= bounds.MAX_TITLE_CHARS
    assert max(len(item_.summary) for item_ in items.values()) <= bounds.MAX_HTML_CHARS + 10


def test_sources_add_reads_the_hostile_documents_as_feeds(tmp_path: Path, static_server) -> None:
    """``sources add`` parses in the CLI's own process, where no worker isolates it."""
    (tmp_path / "feeds.toml").write_text("[settings]\nallow_private_networks = true\n", "utf-8")
    project = application.Project.at(tmp_path)
    for name in ("ical-overflow", "json-year-one", "entities-utf7", "escapes"):
        body, media_type = HOSTILE[name]
        url = static_server.add(f"/{name}", body, headers={"Content-Type": media_type})
        source = application.Application(project).add_source(url, kind="event").source
        assert source.url == url and not UNSAFE_CHARS.search(source.name)
    assert len(load_config(project.feeds_path).sources) == 4


def test_a_feed_declaring_html_entity_names_still_reads_them_as_html() -> None:
    """Old feeds declare ``nbsp`` to use it in XML; the name is read as HTML's own."""
    document = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY x "XXXX">]>\n'
        b'<rss version="2.0"><channel><title>t</title><link>https://n.example/</link><item>'
        b"<title>a&nbsp;b &x;</title><link>https://n.example/1</link></item></channel></rss>"
    )
    (entry,) = parse_feed(document, {}, URL).entries
    assert entry.title == "a\xa0b &x;"  # the no-break space as the feed's HTML means it
    assert not any(
        "SAXParseException" in p for p in parse_feed(hostile.entity_bomb(), {}, URL).problems
    )
