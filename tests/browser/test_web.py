"""The local web app over HTTP (Starlette's TestClient) on a project the real pipeline filled."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import whoosh.index
from playwright.sync_api import Page, expect, sync_playwright
from starlette.testclient import TestClient

from aggregator import app as application
from aggregator.config.files import load_profile
from aggregator.errors import InsecureBindError
from aggregator.models import ITEM_TYPES
from aggregator.web.app import create_app, is_loopback
from tests.chromium import launch_chromium
from tests.conftest import serve_app
from tests.e2e.test_end_to_end import learnplace

if TYPE_CHECKING:
    from tests.conftest import FeedfarmServer

PROFILE = """\
# Ana's profile: hand-written, with comments the form must keep.
name = "Ana"
digest_size = 5  # small on purpose
freshness_days = 3650

[interests]
python = 3  # her main language
"data pipelines" = 2

[exclude]
words = ["sponsored"]
"""
ORIGIN = "http://127.0.0.1"
"""The app answers to loopback names only (Starlette's TestClient would say "testserver")."""
BROAD = "data OR python OR learning OR course OR podcast OR design"


@pytest.fixture(scope="module")
def web_project(
    tmp_path_factory: pytest.TempPathFactory, feedfarm_server: FeedfarmServer, feedfarm_corpus: Path
) -> Path:
    root = tmp_path_factory.mktemp("web")
    feeds = json.loads((feedfarm_corpus / "feeds.json").read_text(encoding="utf-8"))
    sources = [
        f'[[source]]\nname = "{feed["title"]}"\nurl = "{feedfarm_server.url(feed["path"])}"\n'
        for feed in feeds
    ]
    sources.append(f'[[source]]\nname = "Gone"\nurl = "{feedfarm_server.url("/faults/404")}"\n')
    (root / "feeds.toml").write_text(
        "[settings]\nallow_private_networks = true\n\n" + "\n".join(sources), encoding="utf-8"
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "ana.toml").write_text(PROFILE, encoding="utf-8")
    application.run(application.Project.at(root), now=datetime.now(UTC))
    return root


@pytest.fixture
def project(web_project: Path) -> Iterator[Path]:
    """The shared project, with Ana's profile restored after each test."""
    yield web_project
    (web_project / "profiles" / "ana.toml").write_text(PROFILE, encoding="utf-8")


@pytest.fixture
def client(project: Path) -> Iterator[TestClient]:
    with TestClient(
        create_app(application.Application.at(project)), base_url=ORIGIN
    ) as test_client:
        yield test_client


def csrf_of(client: TestClient) -> str:
    """The CSRF token of the client's session, as the profile form carries it."""
    page = client.get("/profiles/ana").text
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def form(csrf: str, **fields: str) -> dict[str, str]:
    values = {
        "csrf": csrf,
        "interests": 'python = 3\n"data pipelines" = 2',
        "digest_size": "5",
        "freshness_days": "3650",
        "exclude_words": "sponsored",
        "exclude_sources": "",
    }
    values.update(fields)
    return values


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


def test_non_loopback_bind_needs_a_token(project: Path) -> None:
    with pytest.raises(InsecureBindError, match="needs an access token"):
        create_app(application.Application.at(project), host="0.0.0.0")
    result = learnplace(project, "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 1
    assert "needs an access token" in result.stderr


def test_every_request_without_the_token_is_refused(project: Path) -> None:
    app = create_app(application.Application.at(project), host="0.0.0.0", token="s3cret")
    with TestClient(app, base_url=ORIGIN) as anonymous:
        for path in ("/", "/search?q=python", "/profiles/ana", "/sources", "/site/index.html"):
            assert anonymous.get(path).status_code == 401, path
        assert anonymous.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert anonymous.get("/login?token=wrong").status_code == 401
        assert anonymous.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    with TestClient(app, base_url=ORIGIN) as browser:
        assert browser.get("/login?token=s3cret").status_code == 200  # redirected home
        assert browser.get("/search?q=python").status_code == 200  # the cookie carries it


@pytest.mark.parametrize(
    "path",
    [
        "/profiles/..%2Ffeeds",
        "/profiles/..%2F..%2Fetc%2Fpasswd",
        "/profiles/%2E%2E",
        "/profiles/Ana",
        "/profiles/nobody",
    ],
)
def test_profile_names_cannot_escape_profiles(client: TestClient, project: Path, path: str) -> None:
    feeds = (project / "feeds.toml").read_bytes()
    assert client.get(path).status_code == 404
    response = client.post(path, data=form(csrf_of(client)), headers={"Origin": ORIGIN})
    assert response.status_code == 404
    assert (project / "feeds.toml").read_bytes() == feeds


def test_forms_without_csrf_token_or_from_another_origin_are_refused(
    client: TestClient, project: Path
) -> None:
    csrf = csrf_of(client)
    changed = form(csrf, digest_size="9")
    refused = [
        client.post("/profiles/ana", data={**changed, "csrf": ""}, headers={"Origin": ORIGIN}),
        client.post("/profiles/ana", data={**changed, "csrf": "x" * 9}, headers={"Origin": ORIGIN}),
        client.post("/profiles/ana", data=changed, headers={"Origin": "http://evil.example"}),
        client.post("/profiles/ana", data=changed),  # no Origin, no Referer
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert (project / "profiles" / "ana.toml").read_text(encoding="utf-8") == PROFILE
    accepted = client.post("/profiles/ana", data=changed, headers={"Origin": ORIGIN})
    assert accepted.status_code == 200
    assert load_profile(project / "profiles" / "ana.toml").digest_size == 9


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("interests", "python = 500", "weight must be between 0 and 100"),
        ("interests", "python is great", "phrase = weight"),
        ("digest_size", "0", "must be between 1 and 200"),
        ("digest_size", "ten", "a whole number"),
        ("type_course", "lots", "a number"),
    ],
)
def test_invalid_form_shows_the_error_by_its_field_and_saves_nothing(
    client: TestClient, project: Path, field: str, value: str, message: str
) -> None:
    response = client.post(
        "/profiles/ana", data=form(csrf_of(client), **{field: value}), headers={"Origin": ORIGIN}
    )
    assert response.status_code == 400
    error_id = "types" if field.startswith("type_") else field
    assert f'id="{error_id}-error"' in response.text
    assert message in response.text
    assert value in response.text  # the person's input is kept in the form
    assert (project / "profiles" / "ana.toml").read_text(encoding="utf-8") == PROFILE


def test_valid_form_saves_and_keeps_comments(client: TestClient, project: Path) -> None:
    response = client.post(
        "/profiles/ana",
        data=form(
            csrf_of(client),
            interests='python = 1.5\n"data pipelines" = 2\nsql = 4',
            type_course="2",
            exclude_sources="Gone",
        ),
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 200
    assert "Saved." in response.text
    text = (project / "profiles" / "ana.toml").read_text(encoding="utf-8")
    assert "# Ana's profile: hand-written, with comments the form must keep." in text
    assert "# small on purpose" in text
    assert "python = 1.5  # her main language" in text
    profile = load_profile(project / "profiles" / "ana.toml")
    assert profile.interests == {"python": 1.5, "data pipelines": 2.0, "sql": 4.0}
    assert profile.types == {"course": 2.0}
    assert profile.exclude_sources == ("Gone",)


def test_preview_shows_what_the_unsaved_profile_would_get(
    client: TestClient, project: Path
) -> None:
    csrf = csrf_of(client)
    headers = {"Origin": ORIGIN}
    python = client.post("/profiles/ana/preview", data=form(csrf), headers=headers)
    other = client.post(
        "/profiles/ana/preview", data=form(csrf, interests="kubernetes = 3"), headers=headers
    )
    assert python.status_code == other.status_code == 200
    assert "<li>" in python.text and python.text != other.text
    bad = client.post("/profiles/ana/preview", data=form(csrf, digest_size="0"), headers=headers)
    assert bad.status_code == 400
    assert (project / "profiles" / "ana.toml").read_text(encoding="utf-8") == PROFILE


def rarest_type(project: Path, text: str) -> str:
    request = application.SearchRequest(text)
    with application.Application.at(project) as app:
        found = app.search(request, now=datetime.now(UTC))
    assert len(found.facets["type"]) > 1
    return list(found.facets["type"])[-1]


def test_search_page_filters_highlights_and_facets(client: TestClient, project: Path) -> None:
    everything = client.get("/search", params={"q": "python"})
    assert everything.status_code == 200
    assert "<mark>" in everything.text
    assert "By type" in everything.text and "By source" in everything.text
    kind = rarest_type(project, BROAD)
    filtered = client.get("/search", params={"q": BROAD, "type": kind})
    assert filtered.status_code == 200
    results = filtered.text.split('class="results"')[1]
    assert f'class="type">{kind}<' in results
    assert all(f'class="type">{other}<' not in results for other in ITEM_TYPES if other != kind)
    malformed = client.get("/search", params={"q": 'title:"unclosed'})
    assert malformed.status_code == 400
    assert "unclosed quote" in malformed.text
    assert "Traceback" not in malformed.text
    hostile = client.get("/search", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)" not in hostile.text


def test_before_the_first_run_search_says_so_and_items_are_not_found(tmp_path: Path) -> None:
    (tmp_path / "feeds.toml").write_text("", encoding="utf-8")
    (tmp_path / "profiles").mkdir()
    with TestClient(create_app(application.Application.at(tmp_path)), base_url=ORIGIN) as fresh:
        response = fresh.get("/search?q=python")
        assert response.status_code == 200
        assert "nothing collected yet" in response.text and "run `learnplace run`" in response.text
        assert fresh.get("/items/1").status_code == 404
        assert fresh.get("/sources").status_code == 200
    assert not (tmp_path / "state").exists()  # reading made no store


def test_sources_page_shows_health(client: TestClient) -> None:
    response = client.get("/sources")
    assert response.status_code == 200
    assert "Gone" in response.text and "404" in response.text
    assert "Content-Security-Policy" in response.headers


def test_cli_search_filters_facets_profile_and_suggestion(project: Path) -> None:
    kind = rarest_type(project, BROAD)
    result = learnplace(project, "search", "--json", BROAD, "--type", kind, "--limit", "5")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["results"] and {row["type"] for row in found["results"]} == {kind}
    assert set(found["facets"]["type"]) == {kind}
    ranked = learnplace(project, "search", "--json", "python", "--profile", "ana")
    assert ranked.returncode == 0, ranked.stderr
    nothing = learnplace(project, "search", "--json", "pythn")
    assert json.loads(nothing.stdout)["suggestion"] == "python"
    traversal = learnplace(project, "search", "python", "--profile", "../feeds")
    assert traversal.returncode == 1 and "no such profile" in traversal.stderr
    table = learnplace(project, "search", "python")
    assert "By type:" in table.stdout


@pytest.fixture
def live_url(project: Path) -> Iterator[str]:
    """The app served by a real uvicorn on 127.0.0.1, on a free port, in a thread."""
    with serve_app(create_app(application.Application.at(project))) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def page(live_url: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser.new_page(base_url=live_url)
        finally:
            browser.close()


def test_browser_search_with_filters_and_open_a_result(page: Page, project: Path) -> None:
    kind = rarest_type(project, BROAD)
    page.goto("/search")
    page.fill("#q", BROAD)
    page.select_option("#type", kind)
    page.press("#q", "Enter")
    page.wait_for_selector(".result")
    assert f"type={kind}" in page.url  # the URL is the search: shareable
    shown = page.locator(".result .type").all_inner_texts()
    assert shown and set(shown) == {kind}
    assert page.locator(".result mark").count() > 0
    first = page.locator(".result-title").first
    title = first.inner_text()
    first.click()
    page.wait_for_selector("article.item h1")
    assert page.locator("article.item h1").inner_text() == title


def test_browser_edit_profile_invalid_then_valid_with_live_preview(
    page: Page, project: Path
) -> None:
    path = project / "profiles" / "ana.toml"
    page.goto("/profiles/ana")
    preview = page.locator("#preview")
    before = preview.inner_text()
    assert "Nothing collected yet" not in before
    page.fill("#digest_size", "0")
    expect(preview).to_contain_text("No preview until the form is valid")  # live: not submitted
    page.click("button[type=submit]")
    page.wait_for_selector("#digest_size-error")
    assert "must be between 1 and 200" in page.locator("#digest_size-error").inner_text()
    assert path.read_text(encoding="utf-8") == PROFILE
    page.fill("#digest_size", "3")
    page.fill("#interests", "kubernetes = 3\nsecurity = 2")
    expect(preview).not_to_contain_text("No preview until")
    expect(preview).not_to_have_text(before)
    assert preview.locator("li").count() <= 3
    assert preview.inner_text() != before
    page.click("button[type=submit]")
    page.wait_for_selector(".saved")
    saved = load_profile(path)
    assert saved.digest_size == 3
    assert saved.interests == {"kubernetes": 3.0, "security": 2.0}
    assert "# small on purpose" in path.read_text(encoding="utf-8")


def test_app_reads_while_a_run_holds_the_write_locks(client: TestClient, project: Path) -> None:
    """A run mid-write (SQLite write transaction open, Whoosh writer open) blocks no page."""
    state = project / "state"
    db = sqlite3.connect(state / "learnplace.sqlite3", isolation_level=None)
    ix = whoosh.index.open_dir(str(state / "index"))
    writer = ix.writer()
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE sources SET failures = failures + 100")
        assert client.get("/search", params={"q": "python"}).status_code == 200
        sources = client.get("/sources")
        assert sources.status_code == 200
        assert "<td>100</td>" not in sources.text  # the uncommitted write is not seen
        response = client.post(
            "/profiles/ana/preview", data=form(csrf_of(client)), headers={"Origin": ORIGIN}
        )
        assert response.status_code == 200
    finally:
        writer.cancel()
        ix.close()
        db.execute("ROLLBACK")
        db.close()
