"""`learnplace demo`: the offline pipeline on the bundled samples, as a newcomer runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

REPO = Path(__file__).resolve().parents[2]


def demo(project: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "aggregator", "--project", str(project), "demo", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "profiles", root / "profiles")
    return root


def test_demo_writes_a_full_digest_for_every_example_profile(project: Path) -> None:
    summary = demo(project)
    people = sorted(path.stem for path in (REPO / "profiles").glob("*.toml"))
    assert summary["failed"] == []
    assert summary["new_items"] >= 80
    assert sorted(d["person"] for d in summary["digests"]) == people
    for digest in summary["digests"]:
        assert digest["items"] >= 10, digest
        page = project / "output" / digest["person"] / "index.html"
        assert page.is_file()
    site = (project / "output" / "index.html").read_text(encoding="utf-8")
    assert all(f"{person}/index.html" in site for person in people)


def test_demo_rerun_gets_304s_and_adds_nothing(project: Path) -> None:
    first = demo(project)
    second = demo(project)
    if first["not_modified"] == 0:
        # The samples are re-dated at each full hour; a rerun across it is a fresh fetch.
        second = demo(project)
    assert second["not_modified"] == second["sources_ok"] == 9
    assert second["new_items"] == 0
    assert [d["items"] for d in second["digests"]] == [d["items"] for d in first["digests"]]


def test_demo_sanitizes_the_hostile_sample(project: Path) -> None:
    pages = "".join(p.read_text(encoding="utf-8") for p in (project / "output").rglob("*.html"))
    assert "onerror" not in pages
    assert "javascript:" not in pages.lower()
    assert "<script" not in pages.lower()


def test_demo_upcoming_lists_a_weekly_series_in_local_time_with_a_tzid_calendar_file(
    project: Path,
) -> None:
    """Issue 16: the demo's Upcoming shows the sample calendar's weekly office hours, each
    occurrence at 17:30 in Amsterdam, with an .ics whose DTSTART carries its TZID."""
    demo(project)
    page = project / "output" / "data-engineer" / "index.html"
    tree = LexborHTMLParser(page.read_text(encoding="utf-8"))
    lines = [
        (li.css_first(".when").text(strip=True), li.css_first("a.add-to-calendar").attributes)
        for li in tree.css_first("#section-upcoming").parent.css("li.item")
        if li.css_first(".item-title").text(strip=True) == "Data quality office hours"
    ]
    assert len(lines) >= 4
    for when, link in lines:
        assert when.startswith("Tue ") and when.endswith(", 17:30 Europe/Amsterdam (every week)")
        text = (page.parent / link["href"]).read_text(encoding="utf-8")
        assert re.search(r"^DTSTART;TZID=Europe/Amsterdam:\d{8}T173000$", text, re.M)


def test_demo_shows_a_learned_item_its_reflection_goal_and_a_saved_search_section(
    project: Path,
) -> None:
    """Issue 18's samples: one record with minutes and a shared reflection, on the log page,
    the reflections feed and the digest (goal progress, the saved search's own section)."""
    demo(project)
    person = project / "output" / "lnd-adviser"
    reflection = "A sample reflection from the demo: one idea to try this week."
    log = LexborHTMLParser((person / "learning.html").read_text(encoding="utf-8"))
    assert reflection in log.text()
    assert "15 min" in log.text()
    assert reflection in (person / "reflections.xml").read_text(encoding="utf-8")
    digest = LexborHTMLParser((person / "index.html").read_text(encoding="utf-8"))
    assert "15 of 60 minutes this week" in digest.text()
    headings = [h.text(strip=True) for h in digest.css("h2")]
    assert any(h.startswith("Saved search: Coaching and mentoring(") for h in headings), headings
    (feed,) = person.glob("search-coaching-and-mentoring-*.xml")
    assert "<entry>" in feed.read_text(encoding="utf-8")
