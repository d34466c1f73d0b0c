"""Saved searches and hard rules on a real run: a saved search's section and Atom feed, a
mute rule's preview listing exactly the stored items it hides, a keep rule that brings an
item in and says so, and the rules applied to what is already stored."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.app import Application, Project, run
from aggregator.models import SavedSearch
from aggregator.store import open_store
from tests.conftest import StaticServer, serve_static
from tests.digest_site import ITEMS, make_project, rss

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
KNITTING = ("Knitting patterns for long meetings", "article", "wool yarn needles")
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, StaticServer]]:
    with serve_static() as feed:
        feed.add("/feed.xml", rss(NOW, (*ITEMS, KNITTING)))
        root = make_project(tmp_path, feed.url("/feed.xml"))
        alice = root / "profiles" / "alice.toml"
        alice.write_text(alice.read_text().replace("digest_size = 10", "digest_size = 2"), "utf-8")
        yield root, feed


@pytest.fixture
def opened() -> Iterator[list[Application]]:
    """Applications a test opens, closed after it (their index readers hold files)."""
    apps: list[Application] = []
    yield apps
    for app in apps:
        app.close()


def _open(apps: list[Application], root: Path) -> Application:
    apps.append(Application.at(root))
    return apps[-1]


def _titles(items: object) -> set[str]:
    return {item.title for item in items}  # type: ignore[attr-defined]


def test_a_saved_search_is_its_own_section_and_feed(
    project: tuple[Path, StaticServer], opened: list[Application]
) -> None:
    root, _ = project
    app = _open(opened, root)
    search = SavedSearch("Mentoring", "mentoring")
    run(Project.at(root), now=NOW)
    found = app.save_search("alice", search, now=NOW)
    assert "[[search]]" in (root / "profiles" / "alice.toml").read_text()
    run(Project.at(root), now=NOW)  # a rerun of the day: the section is saved with the digest
    digest = app.reading("alice").digest
    assert digest is not None
    ((name, picks),) = digest.searches
    picked = {pick.item.id for pick in digest.picks}
    mentoring = {t for t, _, words in ITEMS if "mentoring" in f"{t} {words}".lower()}
    assert name == "Mentoring"
    assert _titles(p.item for p in picks) == mentoring - _titles(p.item for p in digest.picks)
    assert not picked & {p.item.id for p in picks}  # never twice in one digest
    assert _titles(found) >= _titles(p.item for p in picks)
    assert all(p.reasons == ("your saved search “Mentoring”: mentoring",) for p in picks)
    page = (root / "output" / "alice" / "index.html").read_text()
    assert "Saved search: Mentoring" in page
    feeds = list((root / "output" / "alice").glob("search-mentoring-*.xml"))
    assert len(feeds) == 1 and f'href="{feeds[0].name}"' in page
    entries = ET.parse(feeds[0]).getroot().findall(f"{ATOM}entry")
    assert {e.findtext(f"{ATOM}title") for e in entries} == _titles(p.item for p in picks)


def test_a_mute_rule_previews_exactly_what_it_hides_and_applies_to_what_is_stored(
    project: tuple[Path, StaticServer], opened: list[Application]
) -> None:
    root, _ = project
    alice = root / "profiles" / "alice.toml"
    alice.write_text(alice.read_text().replace("digest_size = 2", "digest_size = 10"), "utf-8")
    run(Project.at(root), now=NOW)
    app = _open(opened, root)
    before = app.reading("alice").digest
    assert before is not None
    webinars = {p.item.id for p in before.picks if "webinar" in p.item.text.lower()}
    assert webinars  # the digest holds one before the rule
    app.add_rule("alice", "mute", "words", "webinar")
    (effect,) = app.rule_effects("alice", now=NOW)
    with open_store(Project.at(root).store_path, read_only=True) as store:
        stored = [item for item in store.iter_items() if "webinar" in item.text.lower()]
    assert {item.id for item in effect.items} == {item.id for item in stored}
    assert effect.rule.describe() == "mute any of the words “webinar”"
    assert app.preview_profile("alice", NOW).picks  # still a digest, without them:
    assert not webinars & {p.item.id for p in app.preview_profile("alice", NOW).picks}
    assert app.apply_rules("alice", now=NOW) == len(webinars)
    after = app.reading("alice").digest
    assert after is not None and not webinars & {p.item.id for p in after.picks}
    page = (root / "output" / "alice" / "index.html").read_text()
    assert "Webinar: learning in the flow of work" not in page


def test_a_keep_rule_brings_an_item_in_and_says_so(
    project: tuple[Path, StaticServer], opened: list[Application]
) -> None:
    root, _ = project
    run(Project.at(root), now=NOW)
    app = _open(opened, root)
    assert KNITTING[0] not in _titles(p.item for p in app.preview_profile("alice", NOW).picks)
    app.add_rule("alice", "keep", "field", "Knitting", field="title")
    (effect,) = app.rule_effects("alice", now=NOW)
    assert _titles(effect.items) == {KNITTING[0]}
    picks = app.preview_profile("alice", NOW).picks
    (kept,) = [p for p in picks if p.item.title == KNITTING[0]]
    assert kept.reasons[0] == "kept by your rule: keep title containing “Knitting”"
    run(Project.at(root), now=NOW)
    page = (root / "output" / "alice" / "index.html").read_text()
    assert "kept by your rule: keep title containing “Knitting”" in page
