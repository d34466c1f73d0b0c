"""The web app against the attacks of issue 15, on a real uvicorn server and in real Chromium:
DNS rebinding (finding 1), work that held the event loop (finding 5), and the weaker spots
(session cookie, CSRF binding, images, framing, odd requests)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import sync_playwright
from starlette.testclient import TestClient

from aggregator import app as application
from aggregator.web.app import MAX_PAGE, create_app
from aggregator.web.guard import SESSION_COOKIE
from tests import hostile
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import StaticServer, serve_app, serve_static

PROFILE = '# Ana\nname = "Ana"\nfreshness_days = 3650\n\n[interests]\npython = 3\n'
LOOPBACK = "http://127.0.0.1"


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[StaticServer]:
    """Another origin: it serves a feed, an image a feed points at, and a page that frames."""
    with serve_static() as server:
        yield server


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, elsewhere: StaticServer) -> Path:
    pixel = elsewhere.add("/pixel.gif", b"GIF89a", headers={"Content-Type": "image/gif"})
    feed = hostile.rss(
        hostile.item(
            "Python with a picture", "https://pic.example/1", f'&lt;img src="{pixel}"&gt;'
        ),
        *(hostile.item(f"Python data {n}", f"https://data.example/{n}") for n in range(30)),
    )
    url = elsewhere.add("/feed.xml", feed, headers={"Content-Type": "application/rss+xml"})
    root = tmp_path_factory.mktemp("websec")
    (root / "feeds.toml").write_text(
        f'[settings]\nallow_private_networks = true\n[[source]]\nname = "Pics"\nurl = "{url}"\n',
        encoding="utf-8",
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "ana.toml").write_text(PROFILE, encoding="utf-8")
    application.run(application.Project.at(root), now=datetime.now(UTC))
    return root


@pytest.fixture
def project(root: Path) -> Iterator[Path]:
    yield root
    (root / "profiles" / "ana.toml").write_text(PROFILE, encoding="utf-8")


@pytest.fixture
def port(project: Path) -> Iterator[int]:
    with serve_app(create_app(application.Application.at(project))) as number:
        yield number


def raw(
    port: int, method: str, path: str, host: str, body: str = "", **headers: str
) -> tuple[int, str, dict[str, str]]:
    """One request with exactly the headers given, as a rebinding page's browser sends it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        sent = {"Host": host, **{k.replace("_", "-"): v for k, v in headers.items()}}
        if body:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body or None, headers=sent)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, text, {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def csrf_in(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_a_rebound_host_name_gets_nothing(project: Path, port: int) -> None:
    """Finding 1: Host evil.example:PORT read the profile page and its CSRF token, then saved."""
    evil = f"evil.example:{port}"
    for path in ("/profiles/ana", "/sources", "/search?q=python", "/site/index.html"):
        status, body, _ = raw(port, "GET", path, evil)
        assert (status, body) == (400, "Invalid host header"), path
    status, _, _ = raw(
        port, "POST", "/profiles/ana", evil, "csrf=x&interests=evil+%3D+1", Origin=f"http://{evil}"
    )
    assert status == 400
    assert (project / "profiles" / "ana.toml").read_text(encoding="utf-8") == PROFILE
    for name in ("127.0.0.1", "localhost"):
        assert raw(port, "GET", "/profiles/ana", f"{name}:{port}")[0] == 200


def test_a_page_on_a_rebound_name_in_chromium_cannot_read_or_save(project: Path, port: int) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    rules = "--host-resolver-rules=MAP evil.example 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, rules], headless=True
        )
        try:
            page = browser.new_page()
            response = page.goto(f"http://evil.example:{port}/")
            assert response is not None and response.status == 400
            statuses = page.evaluate(
                """async () => {
                    const sources = await fetch("/sources");
                    const save = await fetch("/profiles/ana", {method: "POST",
                        body: new URLSearchParams({csrf: "x", interests: "evil = 1"})});
                    return [sources.status, save.status, await sources.text()];
                }"""
            )
            assert statuses == [400, 400, "Invalid host header"]
            assert page.goto(f"http://127.0.0.1:{port}/profiles/ana").status == 200
        finally:
            browser.close()
    assert (project / "profiles" / "ana.toml").read_text(encoding="utf-8") == PROFILE


def form_of(client: TestClient, **fields: str) -> dict[str, str]:
    page = client.get("/profiles/ana").text
    return {"csrf": csrf_in(page), "interests": "python = 2", "digest_size": "5", **fields}


def test_a_post_must_come_from_an_allowed_name_of_this_app(project: Path) -> None:
    app = create_app(application.Application.at(project), extra_hosts=["learn.example"])
    with TestClient(app, base_url=LOOPBACK) as client:
        data = form_of(client)
        for origin in ("http://evil.example", "http://localhost", "http://127.0.0.1:1", "null"):
            response = client.post("/profiles/ana", data=data, headers={"Origin": origin})
            assert response.status_code == 403, origin
        assert (
            client.post("/profiles/ana", data=data, headers={"Origin": LOOPBACK}).status_code == 200
        )
    with TestClient(app, base_url="http://learn.example") as proxied:
        data = form_of(proxied)
        answer = proxied.post(
            "/profiles/ana", data=data, headers={"Origin": "http://learn.example"}
        )
        assert answer.status_code == 200


def cookie_header(response: object) -> str:
    return response.headers["set-cookie"]  # type: ignore[attr-defined]


def test_the_session_cookie_is_signed_secure_over_https_and_a_stale_one_never_blocks(
    project: Path,
) -> None:
    app = create_app(application.Application.at(project), host="0.0.0.0", token="s3cret-token")
    with TestClient(app, base_url=LOOPBACK, follow_redirects=False) as browser:
        login = browser.get("/login?token=s3cret-token")
        assert login.status_code == 303
        header = cookie_header(login)
        assert "s3cret" not in header and "HttpOnly" in header and "SameSite=strict" in header
        assert "Secure" not in header
        assert browser.get("/search?q=python").status_code == 200
        browser.cookies.clear()
        browser.cookies.set(SESSION_COOKIE, "stale.1700000000.0000")
        assert browser.get("/search?q=python").status_code == 401
        assert browser.get("/login?token=s3cret-token").status_code == 303
        assert browser.get("/search?q=python").status_code == 200
    other = create_app(application.Application.at(project), host="0.0.0.0", token="a-new-token")
    with TestClient(other, base_url=LOOPBACK, follow_redirects=False) as browser:
        browser.cookies.set(SESSION_COOKIE, header.split(";")[0].split("=", 1)[1])
        assert browser.get("/").status_code == 401  # signed for the old token
        assert browser.get("/login?token=a-new-token").status_code == 303
        assert browser.get("/").status_code == 200
    with TestClient(app, base_url="https://127.0.0.1", follow_redirects=False) as secure:
        assert "Secure" in cookie_header(secure.get("/login?token=s3cret-token"))


def test_a_csrf_token_is_good_for_its_own_session_only(project: Path) -> None:
    app = create_app(application.Application.at(project))
    with TestClient(app, base_url=LOOPBACK) as ana, TestClient(app, base_url=LOOPBACK) as eve:
        eves = form_of(eve)
        headers = {"Origin": LOOPBACK}
        assert (
            ana.post(
                "/profiles/ana", data={**form_of(ana), "csrf": eves["csrf"]}, headers=headers
            ).status_code
            == 403
        )
        ana.cookies.clear()
        ana.cookies.set(SESSION_COOKIE, "forged.1.abc")  # not signed by the app: a new session
        assert ana.post("/profiles/ana", data=eves, headers=headers).status_code == 403
        assert eve.post("/profiles/ana", data=eves, headers=headers).status_code == 200


def test_pages_show_no_remote_image_and_cannot_be_framed(
    project: Path, port: int, elsewhere: StaticServer
) -> None:
    with TestClient(create_app(application.Application.at(project)), base_url=LOOPBACK) as client:
        for path in ("/", "/items/1", "/site/index.html"):
            headers = client.get(path).headers
            assert "img-src 'self' data:;" in headers["content-security-policy"]
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY"
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    framing = elsewhere.add(
        "/frame.html",
        f'<iframe id="f" src="http://127.0.0.1:{port}/site/index.html"></iframe>'.encode(),
        headers={"Content-Type": "text/html"},
    )
    elsewhere.hits.clear()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            page = browser.new_page()
            items = page.goto(f"http://127.0.0.1:{port}/search?q=picture")
            assert items is not None and items.status == 200
            page.click(".result-title")
            page.wait_for_selector("article.item")
            page.goto(framing)
            page.wait_for_timeout(500)
            framed = [frame for frame in page.frames if frame != page.main_frame]
            assert framed and all(urlsplit(frame.url).port != port for frame in framed)
        finally:
            browser.close()
    assert elsewhere.hits["/pixel.gif"] == 0


def many_interests(count: int) -> str:
    return "\n".join(f"topic{n} data = 1" for n in range(count))


def test_the_app_answers_while_previews_rank(project: Path, port: int) -> None:
    """Finding 5: preview and save ran on the event loop; now they wait in worker threads."""
    host = f"127.0.0.1:{port}"
    _, page, headers = raw(port, "GET", "/profiles/ana", host)
    session = headers["set-cookie"].split(";")[0]
    body = urlencode({"csrf": csrf_in(page), "digest_size": "5", "interests": many_interests(200)})
    finished: dict[str, float] = {}

    def preview(n: int) -> None:
        status, _, _ = raw(
            port,
            "POST",
            "/profiles/ana/preview",
            host,
            body,
            Origin=f"http://{host}",
            Cookie=session,
        )
        assert status == 200
        finished[f"preview {n}"] = time.monotonic()

    threads = [threading.Thread(target=preview, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)  # the previews have reached the server
    assert raw(port, "GET", "/", host)[0] == 200
    home = time.monotonic()
    for thread in threads:
        thread.join(timeout=120)
    assert len(finished) == 4
    # Requests on a blocked loop are served in arrival order: the home page would come after
    # all four previews. (The first preview may finish first: an open index ranks quickly.)
    assert home < max(finished.values())


@pytest.mark.parametrize(
    ("interests", "status", "says"),
    [
        (many_interests(20_000), 413, "a form of more than 64 KB"),
        ("a" + " " * 100_000 + "b = 1", 413, "a form of more than 64 KB"),
        ("a" + " " * 60_000 + "b = 1", 400, "a line of 60,006 characters"),
        (many_interests(201), 400, "201 interests: at most 200"),
        (many_interests(2_000), 400, "2,000 interests: at most 200"),
    ],
)
def test_a_profile_form_too_large_is_refused_at_once(
    project: Path, interests: str, status: int, says: str
) -> None:
    with TestClient(create_app(application.Application.at(project)), base_url=LOOPBACK) as client:
        data = form_of(client, interests=interests)
        preview = client.post("/profiles/ana/preview", data=data, headers={"Origin": LOOPBACK})
        assert preview.status_code == status
        save = client.post("/profiles/ana", data=data, headers={"Origin": LOOPBACK})
        assert save.status_code == status and says in save.text
    assert (project / "profiles" / "ana.toml").read_text(encoding="utf-8") == PROFILE


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/search?q=python&page=0", 400, f"pages are numbered 1 to {MAX_PAGE}"),
        ("/search?q=python&page=-1", 400, "pages are numbered"),
        ("/search?q=python&page=abc", 400, "pages are numbered"),
        ("/search?q=python&page=%C2%B2", 400, "pages are numbered"),  # "²" passes isdigit
        (f"/search?q=python&page={MAX_PAGE + 1}", 400, "pages are numbered"),
        ("/search?q=python&page=" + "9" * 5000, 400, "pages are numbered"),
        ("/search?q=python&since=2026-13-40", 400, "dates look like"),
        ("/search?q=published:[x+TO+y]", 400, "cannot understand the query"),
        ("/search?q=published:2026-99-99", 400, "cannot understand the query"),
        ("/search?q=" + "(" * 50 + "python" + ")" * 50, 400, "nested more than"),
        ("/search?q=" + "x" * 1500, 400, "a query of 1,500 characters"),
        ("/items/99999999999999999999", 404, "no such item"),
        ("/items/" + "9" * 5000, 404, "no such item"),
        ("/items/-1", 404, "no such item"),
    ],
)
def test_odd_requests_get_a_clear_4xx(project: Path, path: str, status: int, says: str) -> None:
    with TestClient(create_app(application.Application.at(project)), base_url=LOOPBACK) as client:
        response = client.get(path)
    assert response.status_code == status and says in response.text
    assert "Traceback" not in response.text
