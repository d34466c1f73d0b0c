"""The whole learning loop in Chromium, with the test's own clock: a digest, "I learned
this" with minutes and a reflection, the log, the team page showing the shared reflection,
the goal's progress on the next day's digest, and the item coming back on its day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

from aggregator.app import Application, Project, run
from aggregator.web.app import create_app
from tests.browser.test_browser import in_thread
from tests.chromium import launch_chromium
from tests.conftest import serve_app, serve_static
from tests.digest_site import ITEMS, make_project, rss

MONDAY = datetime(2026, 11, 30, 12, tzinfo=UTC)
REFLECTION = "Pair each new hire with a mentor in week one, not week three."


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_digest_learned_log_team_goal_and_revisit(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    with serve_static() as feed:
        feed.add("/feed.xml", rss(MONDAY))
        root = make_project(tmp_path, feed.url("/feed.xml"))
        alice = root / "profiles" / "alice.toml"
        alice.write_text(
            alice.read_text().replace("digest_size", "weekly_minutes = 60\ndigest_size"), "utf-8"
        )
        project = Project.at(root)

        def run_on(day: datetime) -> None:
            clock.now = day
            feed.add("/feed.xml", rss(day, ITEMS, first=int((day - MONDAY).days) * 100))
            in_thread(run, project, now=day)  # Playwright's loop holds this thread

        run_on(MONDAY)
        app = Application(project)
        with serve_app(create_app(app, clock=clock)) as port, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                page = browser.new_page(base_url=f"http://127.0.0.1:{port}")
                page.goto("/people/alice")
                first = page.locator("li.item").first
                title = first.locator("h3").inner_text()
                first.get_by_role("button", name="I learned this").click()
                page.wait_for_selector("p.saved")
                assert "Logged" in page.locator("p.saved").inner_text()
                editor = page.locator("details.learned[open]")
                editor.get_by_label("Minutes spent").fill("35")
                editor.get_by_label("What you took from it").fill(REFLECTION)
                editor.get_by_label("Share this reflection with my teams").check()
                editor.get_by_role("button", name="Save").click()
                page.wait_for_selector("p.saved")
                assert "shared with your teams" in page.locator("p.saved").inner_text()

                page.goto("/people/alice/log")
                entry = page.locator("li.learned-entry")
                assert entry.count() == 1
                assert entry.locator("h3").inner_text() == title
                assert "35 minutes" in entry.locator(".minutes").inner_text()
                assert entry.locator("blockquote.reflection").inner_text() == REFLECTION
                assert "(35 minutes)" in page.locator("h2").first.inner_text()

                page.goto("/site/teams/core.html")
                learned = page.locator("section.team-learned")
                assert learned.locator("h2").inner_text() == "What we learned this week"
                assert REFLECTION in learned.locator("blockquote").inner_text()
                assert learned.locator("h3").inner_text() == title

                run_on(MONDAY + timedelta(days=1))
                page.goto("/people/alice")
                assert page.locator("p.goal").inner_text().startswith("35 of 60 minutes this week")
                assert page.locator("section.revisit").count() == 0

                page.goto("/site/alice/index.html")  # the static page says the same
                assert "35 of 60 minutes this week" in page.locator("p.goal").inner_text()

                page.goto("/sources")  # the source that helped says so
                assert page.locator("td.helped").first.inner_text() == (
                    "0 liked · 1 learned · 0 shared"
                )

                run_on(MONDAY + timedelta(days=3))
                page.goto("/people/alice")
                revisit = page.locator("section.revisit")
                assert revisit.locator("h3").inner_text() == title
                assert REFLECTION in revisit.locator("blockquote").inner_text()
            finally:
                browser.close()
