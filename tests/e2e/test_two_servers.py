"""Two ``learnplace serve`` processes over one PostgreSQL database, as behind one proxy.

Both answer to the proxy's name (``--allowed-host``) and are reached as the proxy
reaches them: the browser's ``Host`` and ``Origin`` are the proxy's, whichever server
gets the request. A form rendered by one is posted to the other; what one records the
other shows; a ``learnplace run`` in between sees it all; the run lock is the database's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator.store.postgres import shared
from tests.cli import REPO, learnplace
from tests.e2e.test_end_to_end import pick_topics, profile_toml
from tests.e2e.test_send_share import free_port
from tests.stores import location, project_database, rows

if TYPE_CHECKING:
    from tests.conftest import FeedfarmServer

PROXY = "learn.example"
"""The name the proxy gives both servers."""
BROWSER = {"Host": PROXY, "Origin": f"http://{PROXY}"}


@pytest.fixture
def project(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    feedfarm_server: FeedfarmServer,
    feedfarm_corpus: Path,
) -> Iterator[tuple[Path, str]]:
    """A project of the corpus feeds and one profile on a fresh database, run once."""
    feeds = json.loads((feedfarm_corpus / "feeds.json").read_text(encoding="utf-8"))
    topic = pick_topics(feedfarm_corpus, 1)[0]
    with project_database("postgres", request) as store_table:
        sources = [
            f'[[source]]\nname = "{feed["title"]}"\nurl = "{feedfarm_server.url(feed["path"])}"\n'
            for feed in feeds
        ]
        (tmp_path / "feeds.toml").write_text(
            "[settings]\nallow_private_networks = true\n\n" + "\n".join(sources) + store_table,
            encoding="utf-8",
        )
        (tmp_path / "profiles").mkdir()
        (tmp_path / "profiles" / f"{topic}.toml").write_text(profile_toml(topic), "utf-8")
        first = learnplace(tmp_path, "run", "--quiet")
        assert first.returncode == 0, first.stderr
        yield tmp_path, topic


@pytest.fixture
def servers(project: tuple[Path, str]) -> Iterator[list[str]]:
    """Two ``learnplace serve`` processes on two ports; their base URLs."""
    root, _ = project
    ports = [free_port(), free_port()]
    started = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aggregator",
                "--project",
                str(root),
                "serve",
                "--port",
                str(port),
                "--allowed-host",
                PROXY,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, process in zip(bases, started, strict=True):
            _wait_until_up(base, process)
        yield bases
    finally:
        for process in started:
            process.terminate()
            process.communicate(timeout=20)


def _wait_until_up(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            httpx.get(base + "/", headers={"Host": PROXY}, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not start")


def person_page(base: str, name: str, cookies: httpx.Cookies) -> LexborHTMLParser:
    response = httpx.get(f"{base}/people/{name}", headers=BROWSER, cookies=cookies)
    assert response.status_code == 200, response.text
    cookies.update(response.cookies)
    return LexborHTMLParser(response.text)


def post(base: str, path: str, fields: dict[str, str], cookies: httpx.Cookies) -> httpx.Response:
    return httpx.post(base + path, data=fields, headers=BROWSER, cookies=cookies)


def form_fields(page: LexborHTMLParser, action: str, item: str = "") -> dict[str, str]:
    """The hidden fields of the first form posting to ``action`` (for ``item``)."""
    for form in page.css(f'form[action="{action}"]'):
        fields = {
            str(node.attributes["name"]): str(node.attributes.get("value") or "")
            for node in form.css("input[type=hidden]")
        }
        if not item or fields["item"] == item:
            return fields
    raise AssertionError(f"no form for {action} {item}")


def test_a_form_from_one_server_posts_to_the_other_and_both_show_it(
    project: tuple[Path, str], servers: list[str]
) -> None:
    root, name = project
    one, other = servers
    cookies = httpx.Cookies()
    page = person_page(one, name, cookies)
    share = form_fields(page, f"/people/{name}/share")
    item = share["item"]
    shared_it = post(other, f"/people/{name}/share", share | {"note": "read this one"}, cookies)
    assert shared_it.status_code == 303, shared_it.text  # the other server took one's token
    assert "read this one" in person_page(one, name, cookies).css_first(f"#item-{item}").html

    forged = post(one, f"/people/{name}/share", share | {"csrf": "0" * 64}, cookies)
    assert forged.status_code == 403  # a token is still checked

    ran = learnplace(root, "run", "--quiet")  # between the two servers' writes
    assert ran.returncode == 0, ran.stderr

    feedback = form_fields(person_page(other, name, cookies), f"/people/{name}/feedback", item)
    judged = post(one, f"/people/{name}/feedback", feedback, cookies)
    assert judged.status_code == 303, judged.text
    again = form_fields(person_page(other, name, cookies), f"/people/{name}/feedback", item)
    assert again["judgement"] == "clear"  # "more like this" is pressed: pressing takes it back
    assert rows(root, "SELECT person, item_id, note FROM shares") == [
        (name, int(item), "read this one")
    ]
    assert not (root / "state").exists()  # nothing of the project's state is on this machine


def test_the_run_lock_is_the_databases(project: tuple[Path, str], servers: list[str]) -> None:
    """Held from another process through the database only, it stops both servers' writes
    and a run; released, both write again."""
    root, name = project
    cookies = httpx.Cookies()
    share = form_fields(person_page(servers[0], name, cookies), f"/people/{name}/share")
    with shared.run_lock(location(root)) as held:
        assert held
        for base in servers:
            refused = post(base, f"/people/{name}/share", share | {"note": "later"}, cookies)
            assert refused.status_code == 303
            assert "another+learnplace+run+is+working" in refused.headers["location"]
        run = learnplace(root, "run", "--quiet")
        assert run.returncode == 1
        assert "another learnplace run is working on" in run.stderr
    assert rows(root, "SELECT COUNT(*) FROM shares") == [(0,)]
    for base in servers:
        done = post(base, f"/people/{name}/share", share | {"note": base}, cookies)
        assert "error" not in done.headers["location"]
    assert rows(root, "SELECT note FROM shares") == [(servers[1],)]
