"""Titles and summaries read exactly once, by what the format says they are.

``tests/data/text-cases.tsv`` lists real documents (captures from real feeds,
feed parsers' own fixtures, a real calendar) with the text a person should
read for one field, as read off the raw document; provenance of every file is
in ``tests/data/PROVENANCE.tsv``. The two cases of issue 16 that no stored
document holds are written out below.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.models import Entry, ParsedFeed, ReadContext
from aggregator.parse.registry import parse_feed
from aggregator.sanitize import html_to_text

DATA = Path(__file__).parents[1] / "data"
NOW = datetime(2019, 2, 16, tzinfo=UTC)  # the calendar's export date: its events are ahead


def cases() -> list[dict[str, str]]:
    with (DATA / "text-cases.tsv").open(encoding="utf-8", newline="") as table:
        return list(csv.DictReader(table, delimiter="\t", quoting=csv.QUOTE_NONE))


def parsed(path: str) -> ParsedFeed:
    content = (DATA / path).read_bytes()
    return parse_feed(content, {}, "https://example.org/feed", context=ReadContext(NOW))


def field(entry: Entry | ParsedFeed, name: str) -> str:
    if name == "summary":
        assert isinstance(entry, Entry)
        return html_to_text(entry.summary)
    return getattr(entry, name)


def chosen(feed: ParsedFeed, which: str) -> list[Entry | ParsedFeed]:
    if which == "feed":
        return [feed]
    if which == "*":
        return list(feed.entries)
    if which.isdigit():
        return [feed.entries[int(which)]]
    return [entry for entry in feed.entries if entry.title == which][:1]


@pytest.mark.parametrize(
    "case", cases(), ids=lambda case: f"{Path(case['file']).name}-{case['field']}"
)
def test_real_cases_read_once(case: dict[str, str]) -> None:
    targets = chosen(parsed(case["file"]), case["entry"])
    assert targets, f"no entry {case['entry']!r} in {case['file']}"
    name = case["field"].rstrip("~")
    values = [field(target, name) for target in targets]
    if case["field"].endswith("~"):
        assert any(case["expected"] in value for value in values), case[
            "why (read off the raw document)"
        ]
    else:
        assert values == [case["expected"]], case["why (read off the raw document)"]


def test_the_table_covers_every_format() -> None:
    files = {case["file"] for case in cases()}
    assert {Path(name).suffix for name in files} >= {".json", ".xml", ".ics"}
    assert len(cases()) >= 15


def test_a_json_feed_title_is_plain_text_and_its_summary_read_once() -> None:
    """Issue 16, defect 6: "Why <canvas> beats <svg> for charts" was stored as "Why beats for
    charts", and a summary holding &amp; was shown as "&amp;"."""
    document = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "Charts",
      "items": [{"id": "1", "url": "https://charts.example/1",
                 "title": "Why <canvas> beats <svg> for charts",
                 "summary": "Speed &amp; memory, measured",
                 "content_text": "if a < b && b > c"}]}"""
    (entry,) = parse_feed(document, {}, "https://charts.example/feed.json").entries
    assert entry.title == "Why <canvas> beats <svg> for charts"
    assert html_to_text(entry.summary) == "Speed & memory, measured"
    assert entry.text == "if a < b && b > c"
    assert "&lt;canvas&gt;" not in entry.summary  # the summary is its own text


def test_an_atom_text_title_keeps_a_literal_reference() -> None:
    """Issue 16, defect 6: an Atom text title's literal &amp; became &."""
    document = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
      <entry><id>1</id><title type="text">Escaping: write &amp;amp; for &amp;</title>
      <summary type="text">Use &lt;b&gt; sparingly</summary></entry></feed>"""
    (entry,) = parse_feed(document, {}, "https://atom.example/feed").entries
    assert entry.title == "Escaping: write &amp; for &"
    assert html_to_text(entry.summary) == "Use <b> sparingly"
