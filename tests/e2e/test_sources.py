"""``learnplace sources``: autodiscovery from a real page, feeds.toml edits, OPML round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli import cli
from aggregator.config.files import load_config, parse_config
from aggregator.config.sources import read_opml, write_opml
from aggregator.fetch.discover import discover_feeds

DATA = Path(__file__).parents[1] / "data"
PAGES = DATA / "html" / "autodiscovery"
ATOM = (DATA / "feeds" / "real" / "feedjira" / "itunes_feedburner.xml").read_bytes()
FEEDS_TOML = """\
# My sources: keep this comment
[settings]
allow_private_networks = true  # the test servers are on 127.0.0.1

[[source]]
name = "First"  # a comment on a source
url = "https://first.example/feed"
kind = "podcast"
tags = ["audio", "pkm"]
"""


def learnplace(project: Path, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)
    assert (result.exit_code == 0) is ok, result.output
    return result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "feeds.toml").write_text(FEEDS_TOML, encoding="utf-8")
    return tmp_path


def test_discovery_finds_feed_links_in_real_pages():
    daring = discover_feeds((PAGES / "DaringFireball.html").read_bytes(), "https://df.example/")
    assert daring == ["https://df.example/feeds/main"]
    inessential = discover_feeds((PAGES / "inessential.html").read_bytes(), "https://x.example/")
    assert inessential == [
        "https://inessential.com/xml/rss.xml",
        "https://inessential.com/feed.json",
    ]
    no_feed = DATA / "feeds" / "html-no-feed" / "node-feedparser_notafeed.html"
    assert discover_feeds(no_feed.read_bytes(), "https://x.example/") == []


def test_add_finds_the_feed_of_a_web_page_and_keeps_comments(project, static_server):
    page = static_server.add(
        "/", (PAGES / "DaringFireball.html").read_bytes(), headers={"Content-Type": "text/html"}
    )
    static_server.add("/feeds/main", ATOM, headers={"Content-Type": "application/rss+xml"})

    output = learnplace(project, "sources", "add", page, "--kind", "podcast")

    feed_url = static_server.url("/feeds/main")
    assert feed_url in output
    text = (project / "feeds.toml").read_text()
    assert "# My sources: keep this comment" in text and "# a comment on a source" in text
    added = load_config(project / "feeds.toml").sources[-1]
    assert (added.url, added.kind) == (feed_url, "podcast")
    assert added.name  # the feed's own title
    listed = json.loads(learnplace(project, "sources", "--json"))
    assert [s["url"] for s in listed] == ["https://first.example/feed", feed_url]
    assert listed[1]["status"] == "new"


def test_add_refuses_a_page_without_feeds_and_leaves_the_file(project, static_server):
    page = static_server.add(
        "/",
        (DATA / "feeds" / "html-no-feed" / "node-feedparser_notafeed.html").read_bytes(),
        headers={"Content-Type": "text/html"},
    )
    before = (project / "feeds.toml").read_text()

    output = learnplace(project, "sources", "add", page, ok=False)

    assert "web page without a working feed" in output
    assert (project / "feeds.toml").read_text() == before


def test_add_a_feed_url_directly_and_refuse_it_twice(project, static_server):
    url = static_server.add("/feed.xml", ATOM, headers={"Content-Type": "application/rss+xml"})
    learnplace(project, "sources", "add", url, "--name", "Direct")
    assert "already in" in learnplace(project, "sources", "add", url, ok=False)
    assert [s.name for s in load_config(project / "feeds.toml").sources] == ["First", "Direct"]


def test_remove_by_name(project):
    learnplace(project, "sources", "remove", "First")
    assert load_config(project / "feeds.toml").sources == ()
    assert "no source" in learnplace(project, "sources", "remove", "First", ok=False)


def test_opml_round_trip_into_an_empty_project(project, tmp_path_factory):
    opml = learnplace(project, "sources", "export")
    assert opml.startswith("<?xml") and '<opml version="2.0">' in opml
    empty = tmp_path_factory.mktemp("empty")
    (empty / "export.opml").write_text(opml, encoding="utf-8")

    assert "Added 1 sources (unchecked: fetched at the next run)." in learnplace(
        empty, "sources", "import", "--no-check", str(empty / "export.opml")
    )
    assert load_config(empty / "feeds.toml").sources == load_config(project / "feeds.toml").sources
    assert "Skipped 1 already in feeds.toml." in learnplace(
        empty, "sources", "import", str(empty / "export.opml")
    )


def test_opml_keeps_a_tag_that_names_the_kind():
    """Readers drop repeated categories: a news source tagged "news" must keep the tag."""
    config = parse_config(
        '[[source]]\nname = "InfoQ"\nurl = "https://feed.infoq.com/"\nkind = "course"\n'
        'tags = ["architecture", "course"]\n',
        Path("feeds.toml"),
    )
    (source,) = read_opml(write_opml(config, datetime(2026, 11, 30, tzinfo=UTC))).sources
    assert (source.kind, source.tags) == ("course", ("architecture", "course"))
    older = b"""<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline type="rss" text="P" xmlUrl="https://p.example/f" category="podcast,design"/>
      </body></opml>"""
    assert [(s.kind, s.tags) for s in read_opml(older).sources] == [("podcast", ("design",))]


def test_opml_from_another_reader_with_folders():
    opml = b"""<?xml version="1.0"?><opml version="1.0"><head/><body>
      <outline text="Learning"><outline text="A &amp; B" type="rss" xmlUrl="https://a.example/f"/>
      <outline text="No feed" htmlUrl="https://c.example/"/></outline>
      <outline text="Local" xmlUrl="file:///etc/passwd"/></body></opml>"""
    listed = read_opml(opml)
    assert [(s.name, s.url, s.kind) for s in listed.sources] == [
        ("A & B", "https://a.example/f", "article")
    ]
    assert listed.unreadable == [("Local", "not an http(s) feed address: 'file:///etc/passwd'")]


LEMIRE = (PAGES / "trafilatura-cache" / "lemire.me.json.html").read_bytes()
"""A real WordPress post page: it announces the blog's feed, then its comments feeds."""


def lemire_page(static_server) -> str:
    """The page served on 127.0.0.1, its feed links pointing there instead of lemire.me."""
    body = LEMIRE.replace(b"https://lemire.me/", static_server.url("/").encode())
    return static_server.add("/blog/post/", body, headers={"Content-Type": "text/html"})


def test_add_refuses_when_the_pages_main_feed_fails_and_lists_the_candidates(
    project, static_server
):
    """Defect 9: the comments feed was added silently when the main feed failed."""
    page = lemire_page(static_server)
    static_server.add("/blog/feed/", b"gone", status=404)
    static_server.add("/blog/comments/feed/", ATOM, headers={"Content-Type": "application/rss+xml"})
    before = (project / "feeds.toml").read_text()

    output = learnplace(project, "sources", "add", page, ok=False)

    assert f"its main feed {static_server.url('/blog/feed/')} failed (HTTP 404" in output
    assert f"1. {static_server.url('/blog/feed/')}" in output
    assert f"2. {static_server.url('/blog/comments/feed/')}" in output
    assert "Comments Feed" in output
    assert "3. " in output
    assert (project / "feeds.toml").read_text() == before


def test_add_says_which_feed_it_chose_and_why(project, static_server):
    page = lemire_page(static_server)
    static_server.add("/blog/feed/", ATOM, headers={"Content-Type": "application/rss+xml"})

    output = learnplace(project, "sources", "add", page)

    assert "Added " in output and static_server.url("/blog/feed/") in output
    assert "chosen: the page's main feed \"Daniel Lemire's blog » Feed\", the first of the 3" in (
        output
    )
    assert load_config(project / "feeds.toml").sources[-1].url == static_server.url("/blog/feed/")
