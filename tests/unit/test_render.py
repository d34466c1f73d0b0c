"""The render stage against real files: pages, feeds and the site index written under tmp_path."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator.atomic import write_atomic
from aggregator.models import Digest, Item, Pick, Profile
from aggregator.render.learning import write_learning
from aggregator.render.site import (
    SiteWriter,
    day_label,
    item_entry_id,
    make_environment,
    packaged_templates_dir,
)

DAY1, DAY2, DAY3 = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'"
EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)

ALICE = Profile(name="alice", display_name="Alice Example", interests={"onboarding": 2.0})
BOB = Profile(name="bob", display_name="Bob", interests={"rust": 1.0})


def make_item(n: int, title: str, item_type: str = "article", **changes: object) -> Item:
    published = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    item = Item(
        id=n,
        source_url="https://feeds.example.org/learning.xml",
        source_name="Example Learning",
        guid=f"guid-{n}",
        url=f"https://example.org/items/{n}?utm_source=feed",
        canonical_url=f"https://example.org/items/{n}",
        title=title,
        summary=f"<p>Summary of item {n} with <b>bold</b> words.</p>",
        content="",
        text=f"Summary of item {n}",
        published=published,
        first_seen=published,
        item_type=item_type,
    )
    return replace(item, **changes)


def pick(item: Item, *reasons: str) -> Pick:
    return Pick(item=item, score=1.0, reasons=reasons or ("recent",))


def digest_for(day: date, *picks: Pick, profile: Profile = ALICE) -> Digest:
    return Digest(profile=profile, day=day, picks=picks)


DAY3_DIGEST = digest_for(
    DAY3,
    pick(make_item(1, "Onboarding that sticks"), "matches “onboarding” (title)", "recent"),
    pick(make_item(2, "Intro to Rust", "course"), "preferred type: course"),
    pick(make_item(3, "Team learning meetup", "event"), "recent"),
    pick(make_item(4, "Async Python, the course", "course"), "recent"),
)


@pytest.fixture
def writer(tmp_path: Path) -> SiteWriter:
    return SiteWriter(tmp_path / "output", make_environment([]), site_title="Learnplace")


def parse_page(path: Path) -> LexborHTMLParser:
    return LexborHTMLParser(path.read_text(encoding="utf-8"))


def feed_of(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def test_digest_pages_show_titles_reasons_and_sections(writer: SiteWriter) -> None:
    written = writer.write_digest(DAY3_DIGEST, [DAY3])

    person = writer.output_dir / "alice"
    assert written == [person / "2026-11-30.html", person / "index.html"]
    tree = parse_page(person / "2026-11-30.html")
    titles = [a.text(strip=True) for a in tree.css(".item-title a")]
    # Events first (dated), then the default order; rank order kept inside each section.
    assert titles == [
        "Team learning meetup",
        "Onboarding that sticks",
        "Intro to Rust",
        "Async Python, the course",
    ]
    headings = [h.text(strip=True, deep=False) for h in tree.css("section h2")]
    assert headings == ["Events", "Articles", "Courses"]
    reasons = [li.text(strip=True) for li in tree.css(".item")[1].css(".reasons li")]
    assert reasons == ["matches “onboarding” (title)", "recent"]
    first = tree.css(".item-title a")[1]
    assert first.attributes["href"] == "https://example.org/items/1?utm_source=feed"
    assert "noopener" in (first.attributes["rel"] or "").split()
    assert "Mon 30 Nov 2026" in tree.css_first("h1").text()
    meta = tree.css_first(".item .meta").text()
    assert "Fri 27 Nov 2026" in meta and "1 min read" in meta
    # The summary is plain text: no markup from the source reaches the page.
    summary = tree.css(".item .summary")[1]
    assert summary.text() == "Summary of item 1 with bold words."
    assert summary.css_first("b") is None


def test_title_with_markup_is_escaped(writer: SiteWriter) -> None:
    evil = make_item(9, "<script>alert(1)</script> & friends")
    writer.write_digest(digest_for(DAY3, pick(evil, "<img src=x onerror=alert(1)>")), [DAY3])

    source = (writer.output_dir / "alice" / "2026-11-30.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in source
    assert "&lt;img src=x onerror=alert(1)&gt;" in source
    assert "<script" not in source
    assert "<img src=x" not in source


def test_unsafe_item_link_is_not_linked(writer: SiteWriter) -> None:
    sneaky = make_item(10, "Click me", url="javascript:alert(1)")
    writer.write_digest(digest_for(DAY3, pick(sneaky)), [DAY3])

    tree = parse_page(writer.output_dir / "alice" / "index.html")
    assert tree.css_first(".item-title").text(strip=True) == "Click me"
    assert tree.css_first(".item-title a") is None
    assert "javascript:" not in (writer.output_dir / "alice" / "index.html").read_text()


def test_every_page_carries_csp_and_referrer_policy(writer: SiteWriter) -> None:
    pages = writer.write_digest(DAY3_DIGEST, [DAY3])
    pages.append(writer.write_site_index([(ALICE, 4)], NOW))

    for page in pages:
        tree = parse_page(page)
        csp = tree.css_first('meta[http-equiv="Content-Security-Policy"]')
        assert csp is not None and csp.attributes["content"] == CSP, page
        referrer = tree.css_first('meta[name="referrer"]')
        assert referrer is not None and referrer.attributes["content"] == "no-referrer", page
        stylesheets = [n.attributes["href"] for n in tree.css('link[rel="stylesheet"]')]
        assert not any(EXTERNAL.match(href) for href in stylesheets)
        resolved = [(page.parent / href).resolve() for href in stylesheets]
        shared = [writer.output_dir / "base.css", writer.output_dir / "style.css"]
        in_app = [writer.output_dir / "in-app.css"] if page.parent.name == "alice" else []
        assert sorted(resolved) == sorted(shared + in_app), page


def test_no_external_assets_not_even_item_images(writer: SiteWriter) -> None:
    with_image = make_item(
        11, "Pictured", summary='<p><img src="https://img.example.org/a.png"></p>'
    )
    pages = writer.write_digest(digest_for(DAY3, pick(with_image), *DAY3_DIGEST.picks), [DAY3])
    pages.append(writer.write_site_index([(ALICE, 5), (BOB, 0)], NOW))
    writer.write_assets()

    for page in pages:
        tree = parse_page(page)
        assert not tree.css("script"), page
        for node in tree.css("link[href]"):
            assert not EXTERNAL.match(node.attributes["href"] or ""), page
        assert not tree.css("[src]"), page
    css = "".join(
        (writer.output_dir / name).read_text(encoding="utf-8") for name in ("base.css", "style.css")
    )
    assert "@import" not in css
    assert not re.search(r"url\(|https?:", css)


def test_prev_next_links_resolve_to_written_pages(writer: SiteWriter) -> None:
    days = [DAY1, DAY2, DAY3]
    for n, day in enumerate(days):
        writer.write_digest(digest_for(day, pick(make_item(n, f"Item of {day}"))), days)
    writer.write_feed(ALICE, [], NOW)
    writer.write_archive(ALICE, [(day, 1) for day in days])
    write_learning(writer, ALICE, [], [], NOW)
    writer.write_site_index([(ALICE, 1)], NOW)

    person = writer.output_dir / "alice"
    middle = parse_page(person / "2026-11-29.html")
    assert middle.css_first('a[rel="prev"]').attributes["href"] == "2026-11-28.html"
    assert middle.css_first('a[rel="next"]').attributes["href"] == "2026-11-30.html"
    assert parse_page(person / "2026-11-28.html").css_first('a[rel="prev"]') is None
    assert parse_page(person / "2026-11-30.html").css_first('a[rel="next"]') is None
    for page in person.glob("*.html"):
        tree = parse_page(page)
        # Links into `learnplace serve` are hidden (in-app.css) wherever else a page is read.
        in_app = {node.attributes["href"] for node in tree.css(".in-app a[href]")}
        assert in_app <= {f"../../people/alice?item={n}#item-{n}" for n in range(3)}
        for link in tree.css("a[href]"):
            if link.attributes["href"] in in_app:
                continue
            href = link.attributes["href"] or ""
            if not EXTERNAL.match(href) and not href.startswith(("#", "mailto:")):
                assert (page.parent / href).is_file(), f"{page.name} -> {href}"


def test_index_html_is_the_latest_day_only(writer: SiteWriter) -> None:
    days = [DAY2, DAY3]
    writer.write_digest(digest_for(DAY3, pick(make_item(1, "Newest thing"))), days)
    written = writer.write_digest(digest_for(DAY2, pick(make_item(2, "Older thing"))), days)

    person = writer.output_dir / "alice"
    assert written == [person / "2026-11-29.html"]
    latest = parse_page(person / "index.html")
    assert latest.css_first(".item-title").text(strip=True) == "Newest thing"
    permalink = [a for a in latest.css(".day-nav a") if a.text() == "Permalink"]
    assert permalink[0].attributes["href"] == "2026-11-30.html"


def test_feed_is_valid_atom_with_expected_entries(writer: SiteWriter) -> None:
    older = digest_for(DAY2, pick(make_item(5, "Yesterday's find"), "recent"))
    path = writer.write_feed(ALICE, [older, DAY3_DIGEST], NOW)

    assert path == writer.output_dir / "alice" / "feed.xml"
    parsed = feed_of(path)
    assert parsed.version == "atom10"
    assert parsed.feed.id == "urn:learnplace:feed:alice"
    assert parsed.feed.title == "Learnplace: Alice Example\u2019s digest"
    assert [e.title for e in parsed.entries] == [
        "Onboarding that sticks",
        "Intro to Rust",
        "Team learning meetup",
        "Async Python, the course",
        "Yesterday's find",
    ]
    first = parsed.entries[0]
    assert first.link == "https://example.org/items/1?utm_source=feed"
    assert first.id == item_entry_id(DAY3_DIGEST.picks[0].item)
    assert re.fullmatch(r"urn:learnplace:item:[0-9a-f]{40}", first.id)
    assert first.updated == "2026-11-30T00:00:00Z"
    assert parsed.entries[-1].updated == "2026-11-29T00:00:00Z"
    assert "<b>bold</b>" in first.summary
    assert b"&lt;p&gt;Summary of item 1 with &lt;b&gt;bold&lt;/b&gt;" in path.read_bytes()
    assert "Why: matches “onboarding” (title) · recent" in first.summary
    assert len({e.id for e in parsed.entries}) == len(parsed.entries)


def test_feed_ids_stable_across_reruns_and_days(writer: SiteWriter) -> None:
    first_run = feed_of(writer.write_feed(ALICE, [DAY3_DIGEST], NOW)).entries
    rerun = feed_of(writer.write_feed(ALICE, [DAY3_DIGEST], NOW)).entries
    # Next day: same item found again via a different feed (other guid, same canonical URL).
    again = replace(DAY3_DIGEST.picks[0].item, id=99, guid="elsewhere", source_name="Mirror")
    next_day = digest_for(DAY3 + timedelta(days=1), pick(again), pick(make_item(7, "Fresh")))
    later = feed_of(
        writer.write_feed(ALICE, [next_day, DAY3_DIGEST], NOW + timedelta(days=1))
    ).entries

    ids = [e.id for e in first_run]
    assert [e.id for e in rerun] == ids
    by_title = {e.title: e for e in later}
    assert len(later) == len(first_run) + 1  # the re-found item appears once
    for entry in first_run:
        assert by_title[entry.title].id == entry.id
        assert by_title[entry.title].updated == entry.updated


def test_feed_without_url_uses_guid_and_survives_control_characters(writer: SiteWriter) -> None:
    bare = make_item(8, "Bell\x07 & <i>tab</i>\tkept", url="", canonical_url="")
    parsed = feed_of(writer.write_feed(ALICE, [digest_for(DAY3, pick(bare))], NOW))

    entry = parsed.entries[0]
    assert entry.title == "Bell & <i>tab</i>\tkept"
    assert entry.id == item_entry_id(bare) != item_entry_id(make_item(8, "x"))
    assert entry.get("links", []) == []


def test_feed_refuses_someone_elses_digest(writer: SiteWriter) -> None:
    bobs = digest_for(DAY3, pick(make_item(1, "x")), profile=BOB)
    with pytest.raises(ValueError, match="bob"):
        writer.write_feed(ALICE, [bobs], NOW)
    assert not (writer.output_dir / "alice" / "feed.xml").exists()


def test_site_index_lists_people_with_counts_and_feeds(writer: SiteWriter) -> None:
    for profile in (ALICE, BOB):
        writer.write_digest(digest_for(DAY3, profile=profile), [DAY3])
        writer.write_feed(profile, [], NOW)
        writer.write_archive(profile, [(DAY3, 1)])
    writer.write_assets()
    path = writer.write_site_index([(ALICE, 4), (BOB, 1)], NOW)

    tree = parse_page(path)
    people = tree.css(".person")
    assert [p.css_first("h2").text(strip=True) for p in people] == ["Alice Example", "Bob"]
    assert [p.css_first(".meta").text(strip=True) for p in people] == [
        "4 items today",
        "1 item today",
    ]
    assert "Mon 30 Nov 2026" in tree.css_first("h1").text()
    for link in tree.css("a[href]"):
        href = link.attributes["href"] or ""
        if not href.startswith("#"):
            assert (path.parent / href).is_file(), href
    assert people[1].css_first(".subscribe a").attributes["href"] == "bob/feed.xml"
    empty = parse_page(writer.output_dir / "bob" / "index.html")
    assert empty.css_first(".empty").text(strip=True) == "Nothing new today."


def test_user_templates_override_packaged_ones(tmp_path: Path) -> None:
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "digest.html").write_text(
        '{% extends "base.html" %}{% block main %}MINE {{ digest.profile.display_name }}'
        "{% endblock %}",
        encoding="utf-8",
    )
    (mine / "style.css").write_text("body { color: rebeccapurple; }\n", encoding="utf-8")
    writer = SiteWriter(tmp_path / "out", make_environment([mine]))

    writer.write_digest(digest_for(DAY3, profile=replace(ALICE, display_name="<A&B>")), [DAY3])
    writer.write_assets()

    page = (tmp_path / "out" / "alice" / "index.html").read_text(encoding="utf-8")
    assert "MINE &lt;A&amp;B&gt;" in page  # autoescape holds for user templates too
    assert 'http-equiv="Content-Security-Policy"' in page  # base.html still packaged
    assert (tmp_path / "out" / "style.css").read_text() == "body { color: rebeccapurple; }\n"


def test_packaged_stylesheet_copied_verbatim(writer: SiteWriter) -> None:
    writer.write_assets()
    packaged = (packaged_templates_dir() / "style.css").read_text(encoding="utf-8")
    assert (writer.output_dir / "style.css").read_text(encoding="utf-8") == packaged
    shared = (packaged_templates_dir() / "web" / "static" / "base.css").read_text(encoding="utf-8")
    assert (writer.output_dir / "base.css").read_text(encoding="utf-8") == shared
    assert "prefers-color-scheme: dark" in shared
    assert "@media print" in packaged


def test_writes_leave_no_temp_files(writer: SiteWriter) -> None:
    writer.write_assets()
    writer.write_digest(DAY3_DIGEST, [DAY2, DAY3])
    writer.write_digest(DAY3_DIGEST, [DAY2, DAY3])
    writer.write_feed(ALICE, [DAY3_DIGEST], NOW)
    writer.write_site_index([(ALICE, 4)], NOW)

    names = sorted(str(p.relative_to(writer.output_dir)) for p in writer.output_dir.rglob("*"))
    assert names == [
        "alice",
        "alice/2026-11-30.html",
        "alice/feed.xml",
        "alice/index.html",
        "base.css",
        "favicon.svg",
        "in-app.css",
        "index.html",
        "style.css",
    ]
    assert (writer.output_dir / "index.html").stat().st_mode & 0o777 == 0o644


def test_failed_write_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    write_atomic(target, "old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "new \ud800 unencodable")

    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


@pytest.mark.parametrize("name", ["../evil", "Alice", "a/b", "", ".", "a b"])
def test_unsafe_person_names_are_refused(writer: SiteWriter, name: str) -> None:
    with pytest.raises(ValueError, match="refusing person name"):
        writer.write_digest(digest_for(DAY3, profile=replace(ALICE, name=name)), [DAY3])
    with pytest.raises(ValueError, match="refusing person name"):
        writer.write_site_index([(replace(ALICE, name=name), 1)], NOW)
    assert not writer.output_dir.exists() or not any(writer.output_dir.rglob("*.html"))


def test_day_label_is_short_and_locale_free() -> None:
    assert day_label(date(2026, 11, 30)) == "Mon 30 Nov 2026"
    assert day_label(datetime(2026, 12, 1, 23, 59, tzinfo=UTC)) == "Tue 1 Dec 2026"


def test_an_unchanged_file_is_not_rewritten(tmp_path: Path) -> None:
    """Same text, same file: its modification time (a server's Last-Modified) stays."""
    page = tmp_path / "page.html"
    write_atomic(page, "<p>one</p>")
    os.utime(page, (1_000_000, 1_000_000))
    write_atomic(page, "<p>one</p>")
    assert page.stat().st_mtime == 1_000_000
    write_atomic(page, "<p>two</p>")
    assert page.read_text(encoding="utf-8") == "<p>two</p>" and page.stat().st_mtime > 1_000_000
    calendar = tmp_path / "event.ics"
    write_atomic(calendar, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    os.utime(calendar, (1_000_000, 1_000_000))
    write_atomic(calendar, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    assert calendar.stat().st_mtime == 1_000_000
