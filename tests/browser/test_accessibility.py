"""The web app as a person uses it after ``learnplace demo``, in headless Chromium: read a
digest, more/less like this, share with a note, act on sources, all without script; and
an axe-core audit of every static and app page, light and dark, at 1280 and 390 px.

axe-core is vendored in tests/axe/ (see PROVENANCE.md there) and injected by Playwright.
The audit's table goes to tests/artifacts/axe-table.md (and to the terminal with -s).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator import app as application
from aggregator.web import create_app
from tests.browser.test_browser import in_thread
from tests.chromium import launch_chromium
from tests.conftest import serve_app

playwright_api = pytest.importorskip("playwright.sync_api")

AXE = Path(__file__).parents[1] / "axe" / "axe.min.js"
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
WIDTHS = (1280, 390)
THEMES = ("light", "dark")
PERSON = "lnd-adviser"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> application.Project:
    """A folder after ``learnplace demo``: the project a newcomer has."""
    root = tmp_path_factory.mktemp("demo-app")
    in_thread(application.run_demo, root, now=NOW)
    project = application.Project.at(root)
    with project.feeds_path.open("a", encoding="utf-8") as feeds:
        feeds.write('\n[teams]\nlearning = ["lnd-adviser", "team-lead"]\n')
    with application.Application(project) as app:
        in_thread(app.share, "team-lead", "1", "A team page to audit", now=NOW)
    return project


@pytest.fixture(scope="module")
def app_url(demo: application.Project) -> Iterator[str]:
    with application.Application(demo) as app, serve_app(create_app(app)) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Any]:
    """A page with script off: every action must work as a plain form."""
    context = browser.new_context(base_url=app_url, java_script_enabled=False)
    try:
        yield context.new_page()
    finally:
        context.close()


def first_item(page: Any) -> Any:
    return page.locator("li.item").first


def test_a_persons_digest_in_the_app_with_reversible_more_like_this(page: Any) -> None:
    page.goto(f"/people/{PERSON}")
    assert page.locator("h1").inner_text().startswith("Priya Shah")
    assert page.get_by_role("link", name="Team page: learning").count() == 1
    assert page.locator("li.item[id^='item-']").count() == 12  # picks: the saved search has its own
    item = first_item(page)
    title = item.locator("h3").inner_text()
    more = item.get_by_role("button", name="More like this")
    assert more.get_attribute("aria-pressed") == "false"
    more.click()
    assert page.locator(".saved").inner_text().startswith(f"“{title}”: more like this")
    pressed = first_item(page).get_by_role("button", name="More like this")
    assert pressed.get_attribute("aria-pressed") == "true"
    pressed.click()  # the same button takes it back
    assert "taken back" in page.locator(".saved").inner_text()
    again = first_item(page).get_by_role("button", name="More like this")
    assert again.get_attribute("aria-pressed") == "false"


def test_share_with_a_note_then_edit_it_not_silently_replace_it(
    page: Any, demo: application.Project
) -> None:
    page.goto(f"/people/{PERSON}")
    item = page.locator("li.item").nth(1)
    item.locator("summary").click()
    item.locator("textarea").fill("Short and practical.")
    item.get_by_role("button", name="Share").click()
    assert "Shared: on the team page of learning now" in page.locator(".saved").inner_text()
    item = page.locator("li.item").nth(1)
    assert "edit the note" in item.locator("summary").inner_text()
    assert item.locator("textarea").input_value() == "Short and practical."
    item.locator("textarea").fill("Short, practical, and about onboarding.")
    item.get_by_role("button", name="Update the note").click()
    assert "it was: “Short and practical.”" in page.locator(".saved").inner_text()


def test_sources_page_in_words_with_actions(page: Any, demo: application.Project) -> None:
    page.goto("/sources")
    rows = page.locator("table.sources tbody tr")
    assert rows.count() >= 9
    text = page.locator("table.sources").inner_text()
    assert "Not fetched yet" in text and "Collected earlier" in text
    listed = demo.feeds_path.read_text(encoding="utf-8")
    first = page.locator("table.sources tbody tr").first
    first.get_by_role("button", name="Fetch at the next run").click()
    assert "is fetched at the next run" in page.locator(".saved").inner_text()
    page.locator("table.sources tbody tr").first.get_by_role("button", name="Remove").click()
    assert page.locator(".saved").inner_text().startswith("Removed ")
    assert demo.feeds_path.read_text(encoding="utf-8") != listed
    demo.feeds_path.write_text(listed, encoding="utf-8")


def test_sharing_in_no_team_says_so_rather_than_promise_a_team_page(page: Any) -> None:
    page.goto("/people/data-engineer")
    item = page.locator("li.item").first
    assert "(you are in no team yet)" in item.locator("summary").inner_text()
    item.locator("summary").click()
    item.locator("textarea").fill("For later.")
    item.get_by_role("button", name="Share").click()
    said = page.locator(".saved").inner_text()
    assert "you are in no team yet, so no team page or teammate sees it" in said
    assert "on the team page" not in said


def test_the_static_share_box_leads_into_the_app(page: Any) -> None:
    page.goto(f"/site/{PERSON}/index.html")
    item = page.locator("article:has(details.share)").first
    item_id = str(item.get_attribute("aria-labelledby")).removeprefix("item-")
    item.locator("details.share summary").click()
    item.get_by_role("link", name="Share it with a note in the app").click()
    assert page.url.endswith(f"/people/{PERSON}?item={item_id}#item-{item_id}")
    shared = page.locator(f"#item-{item_id} details.share")
    assert shared.get_attribute("open") is not None
    assert shared.locator("textarea").is_visible()


def test_read_outside_the_app_the_share_box_shows_only_what_works_there(
    browser: Any, demo: application.Project
) -> None:
    """From the file system (or any static server) the app is not there: only the CLI line."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto((demo.output_dir / PERSON / "index.html").as_uri())
        box = page.locator("details.share").first
        box.locator("summary").click()
        assert not box.locator(".in-app a").is_visible()
        assert (
            box.locator("input.share-command")
            .input_value()
            .startswith(f"learnplace share {PERSON} ")
        )
    finally:
        context.close()


def test_sources_page_shows_the_last_check_and_turns_a_source_off_and_on(
    page: Any, demo: application.Project
) -> None:
    listed = demo.feeds_path.read_text(encoding="utf-8")
    page.goto("/sources")
    headers = page.locator("table.sources thead th").all_inner_texts()
    assert "Last check" in headers
    sample = page.locator("table.sources tbody tr", has_text="Collected earlier").first
    assert sample.locator("td[data-label='Last check']").inner_text() != "never"
    first = page.locator("table.sources tbody tr").first
    name = first.locator("th").inner_text().splitlines()[0]
    first.get_by_role("button", name="Disable").click()
    assert page.locator(".saved").inner_text() == f"Disabled {name}: runs skip it."
    row = page.locator("table.sources tbody tr", has_text=name).first
    assert row.locator("td[data-label='Status']").inner_text().startswith("Disabled")
    assert "disabled = true" in demo.feeds_path.read_text(encoding="utf-8")
    row.get_by_role("button", name="Enable").click()
    assert page.locator(".saved").inner_text() == f"Enabled {name}: the next run fetches it."
    assert demo.feeds_path.read_text(encoding="utf-8") == listed


def test_names_typed_in_the_app_are_checked_with_the_closest(
    page: Any, demo: application.Project
) -> None:
    response = page.goto("/search?q=onboarding&source=Community+Pick")
    assert response.status == 400
    assert "did you mean 'Community Picks'?" in page.locator("p.error").inner_text()
    profile = demo.profiles_dir / f"{PERSON}.toml"
    before = profile.read_text(encoding="utf-8")
    page.goto(f"/profiles/{PERSON}")
    page.locator("#exclude_sources").fill("Community Pick")
    page.locator("#interests").fill("onboarding = 3\ncoaching = nope")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#interests-error").is_visible(), "every error of the form at once"
    page.locator("#interests").fill("onboarding = 3")
    page.get_by_role("button", name="Save").click()
    said = page.locator("#exclude_sources-error").inner_text()
    assert "did you mean 'Community Picks'?" in said
    assert profile.read_text(encoding="utf-8") == before


def test_the_app_and_the_static_pages_share_one_stylesheet(page: Any) -> None:
    seen = []
    for path in ("/sources", f"/site/{PERSON}/index.html"):
        page.goto(path)
        sheets = page.evaluate("[...document.styleSheets].map(s => s.href.split('/').pop())")
        focus = page.evaluate(
            "getComputedStyle(document.documentElement).getPropertyValue('--focus').trim()"
        )
        seen.append((sheets[0], focus))
    assert seen == [("base.css", "#c2410c"), ("base.css", "#c2410c")]


def test_errors_are_pages_of_the_app(page: Any) -> None:
    response = page.goto("/no/such/page")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert page.locator("a.skip-link").count() == 1
    assert page.goto("/people/nobody").status == 404


def app_pages(item_id: int) -> list[str]:
    return [
        "/",
        "/search",
        "/search?q=onboarding",
        "/search?q=onbording",
        f"/items/{item_id}",
        f"/people/{PERSON}",
        f"/profiles/{PERSON}",
        "/sources",
        "/no/such/page",
    ]


def static_pages(demo: application.Project) -> list[str]:
    out = demo.output_dir
    pages = [out / "index.html", out / PERSON / "index.html", out / PERSON / "archive.html"]
    pages += sorted(out.glob("teams/*.html"))
    return ["/site/" + str(path.relative_to(out)) for path in pages]


def audit(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return json.loads(result)


def test_axe_audit_light_and_dark_at_1280_and_390(
    browser: Any, app_url: str, demo: application.Project
) -> None:
    with application.Application(demo) as app:
        found = in_thread(app.search, application.SearchRequest("onboarding"), now=NOW)
    item_id = found.results[0][0].id
    targets = [("app", p) for p in app_pages(item_id)] + [("static", p) for p in static_pages(demo)]
    rows, problems = [], []
    for theme in THEMES:
        for width in WIDTHS:
            context = browser.new_context(
                base_url=app_url,
                viewport={"width": width, "height": 900},
                color_scheme=theme,
                bypass_csp=True,  # axe is injected as a script the pages never allow
            )
            page = context.new_page()
            for kind, path in targets:
                page.goto(path)
                violations = audit(page)
                impacts = Counter(v["impact"] for v in violations)
                overflow = page.evaluate("document.documentElement.scrollWidth") - width
                rows.append((kind, path, theme, width, len(violations), impacts, overflow))
                ids = ", ".join(v["id"] for v in violations)
                if impacts["serious"] or impacts["critical"] or (kind == "app" and violations):
                    problems.append(f"{path} {theme} {width}px: {ids}")
                if overflow > 0:
                    problems.append(f"{path} {theme} {width}px: {overflow}px wider than the window")
            context.close()
    table = write_table(rows)
    print("\n" + table)
    assert not problems, "\n".join(problems)


def write_table(rows: list[tuple[Any, ...]]) -> str:
    lines = [
        "| page | kind | theme | width | violations | serious+critical | horizontal overflow |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, path, theme, width, total, impacts, overflow in rows:
        severe = impacts["serious"] + impacts["critical"]
        cells = (f"`{path}`", kind, theme, width, total, severe, f"{max(overflow, 0)} px")
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    table = "\n".join(lines)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "axe-table.md").write_text(table + "\n", encoding="utf-8")
    return table
