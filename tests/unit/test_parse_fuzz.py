"""A fuzz run of the parse stage over mutated real feeds (tests/data/feeds).

Each real feed is damaged the ways networks, servers and hostile publishers damage
documents: flipped bytes, truncation, random bytes, XML/HTML fragments and duplicated
elements spliced in. The parse stage may reject a document only with FeedParseError, and
whatever it returns must be safe to store: sanitized HTML and safe (or empty) links. The
mutations are seeded, so a failure names a reproducible case.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from aggregator.errors import FeedParseError
from aggregator.models import Entry
from aggregator.parse.registry import parse_feed
from aggregator.sanitize import sanitize_html
from aggregator.urls import is_safe_link, is_web_link
from tests.unit.test_properties import assert_nothing_executable

FEEDS = Path(__file__).parents[1] / "data" / "feeds"
SAMPLES = sorted(
    path
    for path in FEEDS.rglob("*")
    if path.is_file() and path.suffix in (".xml", ".rss", ".json", ".atom")
)
MUTATIONS_PER_FEED = 14
SEED = 20260301
FEED_URL = "https://feeds.example/dir/feed.xml"

FRAGMENTS: tuple[bytes, ...] = (
    b"<script>alert(1)</script>",
    b"<![CDATA[<img src=x onerror=alert(1)>]]>",
    b"&lt;iframe src=javascript:alert(1)&gt;",
    b"<item><title>x</title><link>javascript:alert(1)</link></item>",
    b"<entry><link href='data:text/html,x'/><content type='html'>&lt;svg onload=alert(1)&gt;"
    b"</content></entry>",
    b"<description><![CDATA[<a href=' jAvAsCrIpT:alert(1)'>x</a><math><mi xlink:href="
    b"'javascript:1'>m</mi></math>]]></description>",
    b"<pubDate>Mon, 99 Foo 99999 99:99:99 +9999</pubDate>",
    b"<updated>0001-01-01T00:00:00+14:00</updated>",
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
    b"&undefined; &#0; &#xFFFFFFFF; \x00",
    b"</channel></rss>",
    b'"content_html": "<script>x</script>", "url": "javascript:alert(1)",',
    b'{"id": [], "url": {}, "date_published": "9999-12-31T23:59:59-23:59"}',
    b'"date_published": "0001-01-01T00:00:00+01:00",',
    b"\xef\xbb\xbf",
    b"\xff\xfe\x00<",
)
ELEMENT = re.compile(rb"<(item|entry)\b.*?</\1>", re.S)
JSON_ITEM = re.compile(rb"\{[^{}]*\"(?:id|url)\"[^{}]*\}", re.S)


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
    return bytes(buffer)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, len(data))]


def insert_random_bytes(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randint(1, 32)) + data[at:]


def insert_fragment(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(FRAGMENTS) + data[at:]


def duplicate_element(data: bytes, rng: random.Random) -> bytes:
    elements = list(ELEMENT.finditer(data)) or list(JSON_ITEM.finditer(data))
    if not elements:
        return insert_fragment(data, rng)
    chosen = rng.choice(elements)
    copies = chosen.group(0) * rng.randint(2, 5)
    separator = b"," if chosen.group(0).startswith(b"{") else b""
    return data[: chosen.end()] + separator + copies.replace(b"}{", b"},{") + data[chosen.end() :]


MUTATORS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    flip_bytes,
    truncate,
    insert_random_bytes,
    insert_fragment,
    duplicate_element,
)


def assert_safe(entry: Entry) -> None:
    assert entry.url == "" or is_web_link(entry.url), entry.url
    assert entry.enclosure_url == "" or is_safe_link(entry.enclosure_url), entry.enclosure_url
    for html in (entry.summary, entry.content):
        assert_nothing_executable(html)
        # Sanitized once at ingest: running it again must change nothing that matters.
        assert_nothing_executable(sanitize_html(html, FEED_URL))
    assert entry.published is None or entry.published.utcoffset() is not None


def test_there_are_feeds_to_mutate() -> None:
    assert len(SAMPLES) >= 15


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: str(p.relative_to(FEEDS)))
def test_mutated_feeds_parse_or_fail_cleanly(sample: Path) -> None:
    original = sample.read_bytes()
    rng = random.Random(f"{SEED}:{sample.relative_to(FEEDS)}")
    headers_choices = (
        {},
        {"content-type": "application/rss+xml; charset=utf-8"},
        {"content-type": "application/feed+json"},
        {"content-type": "text/html; charset=latin-1"},
    )
    for number in range(MUTATIONS_PER_FEED):
        data = original
        for _ in range(rng.randint(1, 3)):
            data = rng.choice(MUTATORS)(data or b" ", rng)
        headers = rng.choice(headers_choices)
        try:
            feed = parse_feed(data, headers, FEED_URL)
        except FeedParseError:
            continue
        except Exception as error:  # the finding: report the reproducible case, then fail
            pytest.fail(f"mutation {number} of {sample.name} raised {error!r} (seed {SEED})")
        assert feed.link == "" or is_web_link(feed.link)
        for entry in feed.entries:
            assert_safe(entry)
