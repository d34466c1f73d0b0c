"""parse_feed on real captured feeds (tests/data/feeds, see PROVENANCE.tsv) and on what the
feedfarm server really sends, over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.errors import FeedParseError
from aggregator.models import ITEM_TYPES, ParsedFeed
from aggregator.parse.common import MAX_TAGS, MAX_TEXT_CHARS
from aggregator.parse.registry import parse_feed

ROOT = Path(__file__).parents[2]
FEEDS = Path(__file__).parents[1] / "data" / "feeds"
FEED_URL = "https://feeds.example/dir/feed.xml"
RSS = {"content-type": "application/rss+xml; charset=utf-8"}


def parse_file(
    relative: str, headers: dict[str, str] | None = None, kind: str = "blog"
) -> ParsedFeed:
    return parse_feed((FEEDS / relative).read_bytes(), headers or {}, FEED_URL, kind)


def assert_complete(feed: ParsedFeed) -> None:
    """Every entry has a title, an absolute http(s) link and a UTC date."""
    assert feed.entries
    for entry in feed.entries:
        assert entry.title
        assert entry.url.startswith(("http://", "https://"))
        assert entry.published is not None
        assert entry.published.utcoffset() is not None
        assert entry.published.tzinfo is UTC


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("relative", "content_type", "version", "count"),
    [
        ("real/feed-rs/rss1/rss_1.0_debian.xml", "application/rdf+xml", "rss10", 1),
        ("real/feed-rs/rss1/rss_1.0_iso8859.xml", "application/rdf+xml", "rss10", 1),
        ("real/newsboat/rss.xml", "application/rss+xml", "rss20", 8),
        ("real/feed-rs/atom/atom_example_6.xml", "application/atom+xml", "atom10", 4),
        ("real/feed-extractor/json-feed-standard-realworld.json", "application/json", "json10", 10),
        ("synthetic/reader/full.json", "application/feed+json", "json11", 2),
    ],
)
def test_formats_yield_complete_entries(
    relative: str, content_type: str, version: str, count: int
) -> None:
    feed = parse_file(relative, {"content-type": content_type})
    assert feed.format == version
    assert len(feed.entries) == count
    assert feed.problems == ()
    if relative.endswith("full.json"):  # its second item has no title, on purpose
        assert feed.entries[0].title == "Title"
        assert all(entry.published for entry in feed.entries)
    else:
        assert_complete(feed)


def test_rss_091_iso_8859_1_decodes() -> None:
    feed = parse_file("real/feed-rs/rss0/rss_0.91_encoding_1.xml", {"content-type": "text/xml"})
    assert feed.format == "rss091u"
    assert feed.title == "Dicas-L: Dicas técnicas de Linux e Software Livre"
    (entry,) = feed.entries
    assert entry.title == "bash - Expansão de Parâmetros"
    assert entry.url == "http://www.Dicas-L.com.br/dicas-l/20200406.php"
    assert entry.guid == entry.url  # no <guid>: the link is the id
    assert entry.published is None  # RSS 0.91 items carry no date


def test_json_feed_11_with_rfc_822_dates() -> None:
    """JSON Feed says RFC 3339; this real feed writes RFC 822, which is unambiguous: read."""
    feed = parse_file("real/feed-rs/jsonfeed/jsonfeed_elastic_1.1.json")
    assert feed.format == "json11"
    assert [entry.title for entry in feed.entries] == [
        "InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark",
        "InfluxDB vs. Elasticsearch for Time Series Data & Metrics Benchmark",
        "Fake item",
    ]
    assert all(entry.url.startswith("https://") for entry in feed.entries)
    assert feed.entries[0].author == "Chris Churilo, Fake Author 1"
    assert feed.entries[0].tags[:3] == ("InfluxDB", "Community", "Elasticsearch")
    assert [entry.published for entry in feed.entries] == [
        datetime(2019, 5, 31, 19, 17, 58, tzinfo=UTC),
        datetime(2018, 2, 6, 13, 34, 12, tzinfo=UTC),
        None,
    ]


def test_golden_atom() -> None:
    feed = parse_file(
        "real/feed-rs/atom/atom_example_6.xml", {"content-type": "application/atom+xml"}
    )
    assert feed.title == "Release notes from feed-rs"
    assert feed.link == "https://github.com/feed-rs/feed-rs/releases"
    first = feed.entries[0]
    assert (first.title, first.url, first.guid, first.author) == (
        "0.2.0",
        "https://github.com/feed-rs/feed-rs/releases/tag/v0.2.0",
        "tag:github.com,2008:Repository/90976281/v0.2.0",
        "markpritchard",
    )
    assert first.published == datetime(2020, 1, 19, 5, 8, 59, tzinfo=UTC)
    assert first.content.startswith("<p>A range of maintenance work, including:</p>")
    assert first.text.startswith("A range of maintenance work, including: migrate to Rust 2018")
    assert [entry.title for entry in feed.entries] == ["0.2.0", "0.1.3", "0.1.1", "0.1.0"]


def test_golden_rss() -> None:
    feed = parse_file("real/newsboat/rss.xml", {"content-type": "application/rss+xml"})
    assert feed.title == "AK's moblog"
    assert [entry.title for entry in feed.entries[:3]] == [
        "Teh Saxxi",
        "Das Geburtstagskind",
        "Maronistand im Spaetsommer",
    ]
    first = feed.entries[0]
    assert first.url == "http://aksmoblog.blogspot.com/2006/12/teh-saxxi.html"
    assert first.published == datetime(2006, 12, 20, 21, 42, 6, tzinfo=UTC)
    assert first.author == "ak"
    assert 'rel="noopener noreferrer nofollow"' in first.summary


def test_golden_json_feed_10() -> None:
    feed = parse_file("real/feed-extractor/json-feed-standard-realworld.json")
    assert feed.title == "Adactio: Journal"
    first = feed.entries[0]
    assert (first.guid, first.title, first.url) == (
        "19317",
        "The line-up for dConstruct 2022 …revealed!",
        "https://adactio.com/journal/19317",
    )
    assert first.published == datetime(2022, 7, 26, 13, 1, 1, tzinfo=UTC)
    assert first.tags[:3] == ("dconstruct", "conferences", "events")
    assert (
        first.summary
        == "Eight fantastic people who are going to provoke, entertain, and stimulate you."
    )
    assert (
        '<a href="https://2022.dconstruct.org" rel="noopener noreferrer nofollow">' in first.content
    )


def test_non_utf8_feed_decodes() -> None:
    feed = parse_file("real/rss-parser-kmp/feed-test-greek.xml", RSS)
    assert feed.title == "Liberal - ΕΠΙΚΑΙΡΟΤΗΤΑ"
    (entry,) = feed.entries
    # Greek letters are the point of this test (RUF001 flags them as look-alikes).
    assert entry.title == "«Πορτραίτα καραντίνας» για έμπνευση από τη συλλογή Φέλιου"  # noqa: RUF001
    assert entry.text.startswith("Η συνθήκη του αναγκαστικού εγκλεισμού")  # noqa: RUF001


def test_podcast_feed_has_enclosures_and_type() -> None:
    feed = parse_file("real/feedjira/itunes_feedburner.xml", RSS)
    assert len(feed.entries) == 3
    for entry in feed.entries:
        assert entry.item_type == "podcast"  # from the audio enclosure: the source kind is "blog"
        assert entry.enclosure_type == "audio/mpeg"
        assert entry.enclosure_url.startswith("https://www.podtrac.com/")
    assert feed.entries[1].title == "234 - The Boy"


def test_relative_links_resolve_against_the_feed_url() -> None:
    feed = parse_file("real/node-feedparser/rss-with-relative-urls.xml", RSS)
    assert feed.link == "https://feeds.example/en/games/neverwinter/news"
    assert feed.entries[0].url == (
        "https://feeds.example/en/games/neverwinter/news/detail/"
        "10743874-neverwinter-%26-jingle-jam-humble-bundle%21"
    )


def test_relative_links_in_html_and_enclosures() -> None:
    (entry,) = parse_file("synthetic/reader/relative.rss", RSS).entries
    assert entry.url == "https://feeds.example/dir/blog/post/1"
    assert entry.enclosure_url == "https://feeds.example/dir/blog/post/enclosure?q=a#fragment"
    assert entry.summary == (
        'one <a href="https://feeds.example/dir/target" rel="noopener noreferrer nofollow">two</a>'
        " three"
    )
    assert "<script" not in entry.content


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("entry_content_xml_base.xml", 'Example <a href="http://example.com/test/test.html"'),
        ("entry_content_xml_base_inherit_2.xml", '<a href="http://example.com/test/test.html"'),
        ("entry_summary_xml_base_inherit_2.xml", '<a href="http://example.com/test/test.html"'),
        ("http_entry_content_base_docuri.xml", '<a href="https://feeds.example/relative/uri"'),
        ("rel_uri_with_unicode_character.xml", '<a href="http://any.test/%C3%80"'),
    ],
)
def test_relative_links_follow_xml_base_then_the_document(relative: str, expected: str) -> None:
    """feedparser's own test files: the nearest xml:base wins over the document's URL."""
    (entry,) = parse_file(f"synthetic/feedparser/base/{relative}").entries
    fragments = [html for html in (entry.content, entry.summary) if html]
    assert fragments
    assert all(expected in html for html in fragments)


def test_each_entry_resolves_against_its_own_xml_base_on_every_parse() -> None:
    """feedparser's base resolution is cached: siblings with different bases, an unsafe
    base and a second parse of the same document must all read as without the cache."""
    document = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://one.example/a/">
  <title>t</title>
  <entry xml:base="https://two.example/b/"><id>1</id><title>1</title>
    <content type="html">&lt;a href="x.html"&gt;x&lt;/a&gt;</content></entry>
  <entry xml:base="javascript:alert(1)//"><id>2</id><title>2</title>
    <content type="html">&lt;a href="y.html"&gt;y&lt;/a&gt;</content></entry>
  <entry><id>3</id><title>3</title>
    <content type="html">&lt;a href="z.html"&gt;z&lt;/a&gt;</content></entry>
</feed>"""
    for _ in range(2):
        feed = parse_feed(
            document, {"content-type": "application/atom+xml"}, "https://doc.example/"
        )
        first, unsafe, inherited = (entry.content for entry in feed.entries)
        assert 'href="https://two.example/b/x.html"' in first
        assert 'href="https://one.example/a/y.html"' in unsafe
        assert 'href="https://one.example/a/z.html"' in inherited


# --------------------------------------------------------------------------- damaged documents


@pytest.mark.parametrize(
    "relative",
    ["real/rss-parser-js/unrecognized.rss", "html-no-feed/node-feedparser_notafeed.html"],
)
@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/rss+xml"])
def test_html_page_is_not_a_feed(relative: str, content_type: str) -> None:
    with pytest.raises(FeedParseError, match="HTML"):
        parse_file(relative, {"content-type": content_type})


def test_bozo_feed_with_items_keeps_them_and_records_the_problem() -> None:
    feed = parse_file("synthetic/node-feedparser/saxerror.xml", RSS)
    assert [entry.title for entry in feed.entries] == ["Good Item", "Bad Item", "Item After Error"]
    assert len(feed.problems) == 1
    assert feed.problems[0].startswith("SAXParseException")


def test_empty_valid_feed_has_no_entries_and_no_error() -> None:
    feed = parse_file("synthetic/rust-rss/channel.xml", RSS)
    assert (feed.title, feed.entries, feed.problems) == ("Title", (), ())


@pytest.mark.parametrize(
    ("content", "headers", "message"),
    [
        (b"", RSS, "empty"),
        (b"  \n", RSS, "empty"),
        (b"just some text", {"content-type": "text/plain"}, "not a feed"),
        (b"<rss version='2.0'><channel><title>cut", RSS, "broken"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": ', {}, "invalid JSON"),
        (b"{not json", {"content-type": "application/feed+json"}, "invalid JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, "not an object"),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
            {},
            "'items' is not a list",
        ),
    ],
)
def test_not_a_feed_raises(content: bytes, headers: dict[str, str], message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(content, headers, FEED_URL)


def test_json_without_jsonfeed_version_is_not_a_feed() -> None:
    body = b'{"version": 1, "items": []}'
    with pytest.raises(FeedParseError, match="without a JSON Feed version"):
        parse_feed(body, {"content-type": "application/json"}, FEED_URL)


def test_unknown_json_feed_version_is_read_as_the_newest_with_a_problem() -> None:
    feed = parse_file("synthetic/reader/unknown.json", {"content-type": "application/json"})
    assert (feed.format, feed.entries) == ("json11", ())
    assert feed.problems == (
        "unknown JSON Feed version 'https://jsonfeed.org/version/1234', read as 1.1",
    )


def test_feed_parse_error_is_a_value_error() -> None:
    assert issubclass(FeedParseError, ValueError)


# --------------------------------------------------------------------------- entry fields


def rss_item(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<link>https://site.example/</link><item>{inner}</item></channel></rss>"
    ).encode()


def test_guid_falls_back_to_a_stable_hash() -> None:
    content = rss_item("<title>No id</title><pubDate>Tue, 01 Sep 2026 10:00:00 GMT</pubDate>")
    first = parse_feed(content, RSS, FEED_URL).entries[0]
    again = parse_feed(content, RSS, FEED_URL).entries[0]
    other = parse_feed(content.replace(b"No id", b"Other"), RSS, FEED_URL).entries[0]
    assert first.guid.startswith("sha1:")
    assert first.guid == again.guid != other.guid
    assert first.url == ""


def test_unsafe_item_link_is_dropped() -> None:
    item = '<title>x</title><link>javascript:alert(1)</link><guid isPermaLink="false">g1</guid>'
    entry = parse_feed(rss_item(item), RSS, FEED_URL).entries[0]
    assert entry.url == ""
    assert entry.guid == "g1"


def test_dates_are_converted_to_utc() -> None:
    entry = parse_feed(
        rss_item("<title>x</title><pubDate>Tue, 01 Sep 2026 12:30:00 +0200</pubDate>"),
        RSS,
        FEED_URL,
    ).entries[0]
    assert entry.published == datetime(2026, 9, 1, 10, 30, tzinfo=UTC)


def test_unparseable_date_is_none() -> None:
    entry = parse_feed(rss_item("<title>x</title><pubDate>soon</pubDate>"), RSS, FEED_URL).entries[
        0
    ]
    assert entry.published is None


def test_title_is_plain_text() -> None:
    entry = parse_feed(
        rss_item(
            "<title>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; &lt;script&gt;x()&lt;/script&gt;more</title>"
        ),
        RSS,
        FEED_URL,
    ).entries[0]
    assert entry.title == "Bold & more"


def test_tags_are_stripped_deduplicated_and_capped() -> None:
    categories = "".join(f"<category> tag{i % 12} </category>" for i in range(30))
    entry = parse_feed(
        rss_item(
            f"<title>x</title><category>Python</category><category>python</category>{categories}"
        ),
        RSS,
        FEED_URL,
    ).entries[0]
    assert entry.tags[:3] == ("Python", "tag0", "tag1")
    assert len(entry.tags) == MAX_TAGS


def test_text_is_capped() -> None:
    body = "word " * (MAX_TEXT_CHARS // 2)
    entry = parse_feed(
        rss_item(f"<title>long</title><description>{body}</description>"), RSS, FEED_URL
    ).entries[0]
    assert len(entry.text) == MAX_TEXT_CHARS
    assert entry.summary.startswith("word word")


def test_json_feed_mapping() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1",
        "title": "J &amp; co",
        "home_page_url": "https://j.example/",
        "items": [
            {
                "id": 42,
                "url": "/posts/42",
                "title": "Webinar: SQLite in practice",
                "content_text": "Plain <text> & more",
                "date_published": "2026-09-01T12:00:00+02:00",
                "author": {"name": "Ann"},
                "tags": ["db", "DB", 7, " sqlite "],
                "attachments": [
                    {"url": "javascript:alert(1)", "mime_type": "audio/mpeg"},
                    {"url": "/a/42.mp3", "mime_type": "audio/mpeg"},
                ],
            },
            "not an item",
            {"id": "", "external_url": "https://else.example/x", "date_modified": "garbage"},
        ],
    }
    feed = parse_feed(json.dumps(document).encode(), {}, "https://j.example/feed.json")
    assert (feed.title, feed.link, feed.format) == ("J & co", "https://j.example/", "json10")
    assert feed.problems == (
        "item 1 is not an object, skipped",
        "unreadable date 'garbage': left undated",
    )
    first, second = feed.entries
    assert (first.guid, first.url, first.author) == ("42", "https://j.example/posts/42", "Ann")
    assert first.content == "Plain &lt;text&gt; &amp; more"
    assert first.text == "Plain <text> & more"
    assert first.published == datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
    assert first.tags == ("db", "sqlite")
    assert (first.enclosure_url, first.enclosure_type) == (
        "https://j.example/a/42.mp3",
        "audio/mpeg",
    )
    assert first.item_type == "podcast"
    assert (second.guid, second.url, second.published) == (
        "https://else.example/x",
        "https://else.example/x",
        None,
    )


def test_xml_served_as_json_is_still_parsed() -> None:
    content = rss_item("<title>mislabelled</title>")
    feed = parse_feed(content, {"content-type": "application/json"}, FEED_URL)
    assert (feed.format, feed.entries[0].title) == ("rss20", "mislabelled")


def test_json_feed_detected_by_body_without_content_type() -> None:
    body = b'\n {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": []}'
    feed = parse_feed(body, {"Content-Type": "text/plain"}, FEED_URL)
    assert (feed.format, feed.entries) == ("json11", ())


# --------------------------------------------------------------------------- feedfarm over HTTP


@pytest.fixture(scope="module")
def feedfarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real feedfarm server on 127.0.0.1 with a small generated corpus; yields its base URL."""
    corpus = tmp_path_factory.mktemp("feedfarm")
    python = sys.executable
    subprocess.run(
        [python, "-m", "feedfarm", "generate", "--feeds", "40", "--items", "4", "--out", corpus],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [python, "-m", "feedfarm", "serve", "--dir", corpus, "--port", "0", "--lifetime", "120"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = server.stdout.readline() if server.stdout else ""
        base = banner.split(" on ")[1].split()[0]
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout:
            server.stdout.close()


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(), {k.lower(): v for k, v in response.headers.items()}


def feedfarm_feeds(base: str) -> list[dict[str, object]]:
    content, _ = fetch(base + "/opml")
    return [
        {"url": line.split('xmlUrl="')[1].split('"')[0]}
        for line in content.decode().splitlines()
        if "xmlUrl=" in line
    ]


@pytest.mark.parametrize("suffix", ["rss.xml", "atom.xml", "index.rdf", "feed.json"])
def test_feedfarm_corpus_feeds(feedfarm: str, suffix: str) -> None:
    url = next(
        feed["url"] for feed in feedfarm_feeds(feedfarm) if str(feed["url"]).endswith(suffix)
    )
    content, headers = fetch(str(url))
    feed = parse_feed(content, headers, str(url))
    assert feed.problems == ()
    assert_complete(feed)
    for entry in feed.entries:
        assert entry.guid
        assert entry.item_type in ITEM_TYPES
        assert "<script" not in entry.summary + entry.content


def test_feedfarm_xss_fault(feedfarm: str) -> None:
    content, headers = fetch(feedfarm + "/faults/xss")
    feed = parse_feed(content, headers, feedfarm + "/faults/xss")
    assert len(feed.entries) == 9
    assert feed.entries[0].title == "Script in title"
    assert feed.entries[1].url == ""  # its <link> is javascript:alert(0)
    html = "".join(entry.summary + entry.content for entry in feed.entries).lower()
    for needle in ("<script", "onerror", "onload", "onclick", "javascript:", "data:", "<iframe"):
        assert needle not in html
    assert "style=" not in html
    assert "<form" not in html


def test_feedfarm_malformed_fault_keeps_items(feedfarm: str) -> None:
    content, headers = fetch(feedfarm + "/faults/malformed")
    feed = parse_feed(content, headers, feedfarm + "/faults/malformed")
    assert feed.entries
    assert feed.entries[0].url == "https://faults.example/m1"
    assert feed.problems


def test_feedfarm_wrong_charset_fault_still_decodes(feedfarm: str) -> None:
    content, headers = fetch(feedfarm + "/faults/wrong-charset")
    feed = parse_feed(content, headers, feedfarm + "/faults/wrong-charset")
    assert len(feed.entries) == 2
    assert feed.entries[0].title.startswith("Caf")
    assert feed.problems


@pytest.mark.parametrize(("fault", "message"), [("html-no-feed", "HTML"), ("empty", "empty")])
def test_feedfarm_non_feeds_raise(feedfarm: str, fault: str, message: str) -> None:
    content, headers = fetch(f"{feedfarm}/faults/{fault}")
    with pytest.raises(FeedParseError, match=message):
        parse_feed(content, headers, f"{feedfarm}/faults/{fault}")


def test_feedfarm_is_reachable_only_on_loopback(feedfarm: str) -> None:
    assert feedfarm.startswith("http://127.0.0.1:")
    with pytest.raises(urllib.error.HTTPError):
        fetch(feedfarm + "/faults/404")
