"""The generated site in headless Chromium: what a person sees, and that nothing runs or leaks.

One browser for the module (Debian's /usr/bin/chromium driven by Playwright).
Screenshots go to tests/artifacts/ (git-ignored) for a person to review.
Every XSS vector of tests/data/xss is served in feeds, fetched, parsed, stored
and rendered by the real pipeline, then loaded in Chromium.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from xml.sax.saxutils import escape

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator import app as application
from aggregator.config.files import load_profiles
from aggregator.models import Digest, Pick
from aggregator.render.site import SiteWriter, make_environment
from aggregator.store import SqliteStore
from tests.chromium import launch_chromium
from tests.digest_site import make_project, rss

playwright_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
XSS_DIR = Path(__file__).parents[1] / "data" / "xss"
OWASP_SEPARATOR = "\n\x1e\n"
NOW = datetime.now(UTC).replace(microsecond=0)
T = TypeVar("T")
PAGE_SIZE = 250
"""Vectors per rendered page: a few pages instead of thousands of page loads."""

TRAP = """
window.__xss = [];
for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
  window[name] = (...args) => { window.__xss.push(name + ":" + String(args[0])); };
}
"""
"""Installed before any page script: a payload calling these leaves a mark instead of a dialog."""


def in_thread(func: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Call ``func`` on another thread: Playwright's sync API keeps an event loop running
    on this one, and the pipeline starts its own with ``asyncio.run``."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func, *args, **kwargs).result()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log in test output."""


@pytest.fixture(scope="module")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1: feeds and generated sites both live in it."""
    root = tmp_path_factory.mktemp("web")
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as play:
        browser = launch_chromium(play)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(web_root: tuple[Path, str]) -> tuple[Path, str]:
    """A project run twice (two days) with a share in between; returns (output dir, its URL)."""
    root, base = web_root
    (root / "feeds").mkdir()
    (root / "feeds" / "learning.xml").write_bytes(rss(NOW - timedelta(days=1)))
    project_dir = root / "site"
    project_dir.mkdir()
    make_project(project_dir, f"{base}/feeds/learning.xml")
    project = application.Project.at(project_dir)
    in_thread(application.run, project, now=NOW - timedelta(days=1))
    application.Application(project).share(
        "bob",
        "1",
        "The best onboarding read this year",
        now=NOW - timedelta(hours=23),
    )
    feed = root / "feeds" / "learning.xml"
    feed.write_bytes(rss(NOW, first=50))
    # Rewritten within the same second, the file would answer If-Modified-Since with 304.
    os.utime(feed, (NOW.timestamp() + 3600, NOW.timestamp() + 3600))
    in_thread(application.run, project, now=NOW)
    return project.output_dir, f"{base}/site/output"


class PageCheck:
    """Loads pages in one context, collecting console errors, dialogs and every request."""

    def __init__(self, browser: object, width: int, *, dark: bool = False) -> None:
        self.context = browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": width, "height": 900},
            color_scheme="dark" if dark else "light",
        )
        self.context.add_init_script(TRAP)
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))

    def open(self, url: str) -> object:
        page = self.context.new_page()
        page.on(
            "console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None
        )
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url, wait_until="load")
        return page

    def close(self) -> None:
        self.context.close()


def local_links(page: object) -> list[str]:
    # Links into `learnplace serve` (.in-app) are hidden wherever else a page is read.
    hrefs = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "a[href]:not(.in-app a)", "nodes => nodes.map(n => n.href)"
    )
    return [h for h in hrefs if h.startswith(("http://127.0.0.1", "file:"))]


@pytest.mark.parametrize(("width", "dark"), [(1280, False), (390, False), (390, True)])
def test_pages_render_cleanly_over_http(
    browser: object, site: tuple[Path, str], width: int, dark: bool
) -> None:
    _, base = site
    check = PageCheck(browser, width, dark=dark)
    ARTIFACTS.mkdir(exist_ok=True)
    scheme = "dark" if dark else "light"
    try:
        pages = {
            "digest": f"{base}/alice/index.html",
            "colleagues": f"{base}/carol/index.html",
            "archive": f"{base}/alice/archive.html",
            "team": f"{base}/teams/core.html",
            "index": f"{base}/index.html",
        }
        for name, url in pages.items():
            page = check.open(url)
            assert page.evaluate("window.__xss") == []  # type: ignore[attr-defined]
            # The stylesheet applied: CSP allowed it ('self').
            assert (
                page.evaluate(  # type: ignore[attr-defined]
                    "getComputedStyle(document.querySelector('.site-header')).maxWidth"
                )
                != "none"
            )
            for link in local_links(page):
                response = check.context.request.get(link)
                assert response.ok, f"{url} -> {link}"
            page.screenshot(  # type: ignore[attr-defined]
                path=str(ARTIFACTS / f"{name}-{width}-{scheme}.png"), full_page=True
            )
            page.close()  # type: ignore[attr-defined]
    finally:
        check.close()
    assert check.errors == []
    assert check.dialogs == []
    outside = [url for url in check.requests if not url.startswith(base + "/")]
    assert outside == []
    for name in pages:
        assert (ARTIFACTS / f"{name}-{width}-{scheme}.png").stat().st_size > 5_000


def test_pages_work_from_the_file_system(browser: object, site: tuple[Path, str]) -> None:
    output, _ = site
    check = PageCheck(browser, 1280)
    try:
        page = check.open((output / "alice" / "index.html").as_uri())
        assert (
            page.evaluate(  # type: ignore[attr-defined]
                "getComputedStyle(document.querySelector('.site-header')).maxWidth"
            )
            != "none"
        )
        for link in local_links(page):
            if link.startswith("file:"):
                assert Path(link.removeprefix("file://").split("#")[0]).is_file(), link
    finally:
        check.close()
    assert check.errors == []
    outside = [url for url in check.requests if not url.startswith(output.as_uri() + "/")]
    assert outside == []


def test_keyboard_reaches_skip_link_then_navigation(
    browser: object, site: tuple[Path, str]
) -> None:
    _, base = site
    check = PageCheck(browser, 1280)
    try:
        page = check.open(f"{base}/alice/index.html")
        page.keyboard.press("Tab")  # type: ignore[attr-defined]
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"  # type: ignore[attr-defined]
        page.keyboard.press("Enter")  # type: ignore[attr-defined]
        assert page.evaluate("location.hash") == "#main"  # type: ignore[attr-defined]
        landmarks = page.evaluate(  # type: ignore[attr-defined]
            "['header','nav','main','footer'].map(t => document.querySelectorAll(t).length)"
        )
        assert landmarks == [1, 1, 1, 1]
        assert page.evaluate("document.querySelectorAll('h1').length") == 1  # type: ignore[attr-defined]
        # The share action opens from the keyboard and shows a ready command.
        page.focus("details.share summary")  # type: ignore[attr-defined]
        page.keyboard.press("Enter")  # type: ignore[attr-defined]
        value = page.input_value("details.share[open] input.share-command")  # type: ignore[attr-defined]
        assert value.startswith("learnplace share alice ")
    finally:
        check.close()


def xss_vectors() -> list[str]:
    """Every vector in tests/data/xss that is a string (the feedparser fixtures are whole feeds)."""
    vectors: list[str] = []
    extract = (XSS_DIR / "owasp" / "XSS_Filter_Evasion_vectors_extracted.txt").read_text("utf-8")
    vectors += [v for v in extract.split(OWASP_SEPARATOR) if v.strip()]
    for path in sorted((XSS_DIR / "payloadsallthethings").glob("*.txt")):
        vectors += [line for line in path.read_text("utf-8").splitlines() if line.strip()]
    for case in sorted((XSS_DIR / "bleach").glob("*.test")):
        vectors.append(case.read_text("utf-8").split("\n--\n")[0])
    return vectors


def vector_feed(vectors: list[str], start: int) -> bytes:
    """RSS whose items carry a vector as title, as HTML description and (for URLs) as link."""
    items = []
    for n, vector in enumerate(vectors, start=start):
        clean = "".join(ch for ch in vector if ch in "\t\n\r" or ord(ch) >= 0x20)
        url = clean.strip()
        link = url if url.lower().startswith(("javascript:", "data:", "vbscript:")) else ""
        items.append(
            f"<item><title>{escape(clean[:300])}</title>"
            f"<link>{escape(link or f'https://xss.example/{n}')}</link>"
            f"<guid isPermaLink='false'>xss-{n}</guid>"
            f"<description>{escape(clean)}</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>x</title>"
        "<link>https://xss.example/</link><description>x</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def test_every_xss_vector_renders_inert(
    browser: object, web_root: tuple[Path, str], tmp_path: Path
) -> None:
    root, base = web_root
    vectors = xss_vectors()
    fixtures = sorted((XSS_DIR / "feedparser_sanitize").glob("*.xml"))
    assert len(vectors) > 2500 and len(fixtures) > 300
    feeds = root / "xss-feeds"
    feeds.mkdir()
    sources = []
    for n in range(0, len(vectors), 500):
        (feeds / f"vectors-{n}.xml").write_bytes(vector_feed(vectors[n : n + 500], n))
        sources.append(f"vectors-{n}.xml")
    for fixture in fixtures:
        (feeds / fixture.name).write_bytes(fixture.read_bytes())
        sources.append(fixture.name)
    project_dir = root / "xss-site"
    project_dir.mkdir()
    (project_dir / "feeds.toml").write_text(
        "[settings]\nallow_private_networks = true\nconcurrency = 16\n"
        + "".join(
            f'[[source]]\nname = "{name}"\nurl = "{base}/xss-feeds/{name}"\n' for name in sources
        ),
        encoding="utf-8",
    )
    (project_dir / "profiles").mkdir()
    (project_dir / "profiles" / "victim.toml").write_text(
        'name = "Victim"\n[interests]\nalert = 1\n', encoding="utf-8"
    )
    project = application.Project.at(project_dir)
    summary = in_thread(application.run, project, now=NOW)
    assert summary.sources_ok == len(sources), summary.failures
    # Every stored item goes on a page, not just the ranked few: render them all.
    with SqliteStore(project.store_path) as store:
        items = list(store.iter_items())
    assert len(items) >= len(vectors)
    profile = next(p for p in load_profiles(project.profiles_dir))
    writer = SiteWriter(project.output_dir, make_environment([]))
    writer.write_assets()
    chunks = [items[n : n + PAGE_SIZE] for n in range(0, len(items), PAGE_SIZE)]
    days = [date(2000, 1, 1) + timedelta(days=n) for n in range(len(chunks))]
    for day, chunk in zip(days, chunks, strict=True):
        picks = tuple(Pick(item, 1.0, (item.title,)) for item in chunk)
        writer.write_digest(Digest(profile, day, picks), days)

    pages = sorted((project.output_dir / "victim").glob("2000-*.html"))
    assert len(pages) == len(chunks)
    for path in pages:
        tree = LexborHTMLParser(path.read_text("utf-8"))
        assert not tree.css("script, iframe, object, embed, svg, math, base, style, img")
        for node in tree.css("*"):
            for name, value in node.attributes.items():
                assert not name.lower().startswith("on"), (path.name, node.tag, name)
                lowered = (value or "").strip().lower()
                assert not lowered.startswith(("javascript:", "data:", "vbscript:")), value

    check = PageCheck(browser, 1280)
    try:
        for path in pages:
            page = check.open(f"{base}/xss-site/output/victim/{path.name}")
            page.wait_for_timeout(50)  # type: ignore[attr-defined]
            assert page.evaluate("window.__xss") == [], path.name  # type: ignore[attr-defined]
            assert page.evaluate("document.querySelectorAll('script').length") == 0  # type: ignore[attr-defined]
            page.close()  # type: ignore[attr-defined]
    finally:
        check.close()
    assert check.dialogs == []
    assert check.errors == []
    outside = [url for url in check.requests if not url.startswith(f"{base}/xss-site/output/")]
    assert outside == []
    print(
        f"XSS: {len(vectors)} string vectors + {len(fixtures)} feedparser fixture feeds, "
        f"{len(items)} items on {len(pages)} pages, none executed"
    )
