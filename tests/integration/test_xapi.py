"""xAPI export on a real run: statements that a maintained xAPI model library (ralph's
pydantic models of xAPI 1.0.3) accepts, sent to a real LRS stand-in on 127.0.0.1 that checks
Basic auth and the version header and keeps what it took; each record sent once, a failed
send retried by the next one, plain http beyond loopback refused."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ralph.models.xapi.base.statements import BaseXapiStatement

from aggregator.app import Application, Project, run
from aggregator.errors import InsecureLrsError, LrsError
from aggregator.store import open_store
from tests.cli import learnplace
from tests.conftest import serve_static
from tests.digest_site import make_project, rss

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PASSWORD = "s3cret-lrs"
VERB = "http://adlnet.gov/expapi/verbs/"


@dataclass
class Lrs:
    """What the stand-in took, and how it answers next (``status`` 200 takes the batch)."""

    port: int = 0
    status: int = 200
    reply_bytes: int = 0
    statements: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xapi/"


def _handler(lrs: Lrs) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"learnplace:{PASSWORD}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/xapi/statements":
                return self._answer(404, "no such resource")
            if self.headers.get("Authorization") != expected:
                return self._answer(401, "bad credentials")
            if self.headers.get("X-Experience-API-Version") != "1.0.3":
                return self._answer(400, "X-Experience-API-Version 1.0.3 is required")
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                return self._answer(400, "statements are JSON")
            if lrs.status != 200:
                return self._answer(lrs.status, "not now")
            batch = json.loads(body)
            lrs.statements.extend(batch)
            reply = json.dumps([s["id"] for s in batch]) + " " * lrs.reply_bytes
            self._answer(200, reply, "application/json")

        def _answer(self, status: int, text: str, kind: str = "text/plain") -> None:
            if status != 200:
                lrs.refused.append(f"{status} {text}")
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads what the stand-in kept."""

    return Handler


@pytest.fixture
def lrs() -> Iterator[Lrs]:
    found = Lrs()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def project(tmp_path: Path, lrs: Lrs, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A run's items, three people's records (shared, private, bare), and [xapi] set."""
    monkeypatch.setenv("TEST_LRS_PASSWORD", PASSWORD)
    with serve_static() as feed:
        feed.add("/feed.xml", rss(NOW))
        root = make_project(tmp_path, feed.url("/feed.xml"))
        _set_xapi(root, lrs.endpoint)
        run(Project.at(root), now=NOW)
    with Application.at(root) as app:
        app.learned("alice", "https://learn.example.org/0", now=NOW, minutes=90, shared=True,
                    note="Pair new hires for their first month.")  # fmt: skip
        app.learned("bob", "https://learn.example.org/2", now=NOW, minutes=45,
                    note="Private: I dozed off.")  # fmt: skip
        app.learned("carol", "https://learn.example.org/1", now=NOW)
    yield root


def _set_xapi(root: Path, endpoint: str, extra: str = "") -> None:
    feeds = root / "feeds.toml"
    text = feeds.read_text(encoding="utf-8").split("\n[xapi]")[0]
    feeds.write_text(
        f'{text}\n[xapi]\nendpoint = "{endpoint}"\nusername = "learnplace"\n'
        f'password_env = "TEST_LRS_PASSWORD"\ntimeout = 5\n{extra}',
        encoding="utf-8",
    )


def _by_person(lrs: Lrs) -> dict[str, dict[str, Any]]:
    found = {}
    for sent in lrs.statements:
        actor = sent["actor"]
        name = actor["account"]["name"] if "account" in actor else actor["mbox"]
        found[name] = sent
    return found


def test_statements_pass_the_xapi_models_and_each_record_goes_once(project: Path, lrs: Lrs) -> None:
    with Application.at(project) as app:
        reports = app.send_xapi(now=NOW)
        assert [(r.person, r.sent, r.waiting, r.error) for r in reports] == [
            ("alice", 1, 0, None),
            ("bob", 1, 0, None),
            ("carol", 1, 0, None),
        ]
        assert lrs.refused == []
        for sent in lrs.statements:
            model = BaseXapiStatement(**sent)
            assert model.version == "1.0.3"
        by = _by_person(lrs)
        alice, bob, carol = (
            by["mailto:alice@example.org"],
            by["mailto:bob@example.org"],
            by["carol"],
        )
        assert alice["verb"]["id"] == VERB + "completed"
        assert alice["object"] == {
            "objectType": "Activity",
            "id": "https://learn.example.org/0",
            "definition": {"name": {"en": "Onboarding that sticks: a field guide"}},
        }
        assert alice["result"] == {
            "completion": True,
            "duration": "PT1H30M",
            "response": "Pair new hires for their first month.",
        }
        assert bob["verb"]["id"] == VERB + "attended"  # the webinar is an event
        assert bob["result"] == {"completion": True, "duration": "PT45M"}  # private: no words
        assert "dozed" not in json.dumps(lrs.statements)
        assert carol["actor"]["account"] == {
            "homePage": f"http://127.0.0.1:{lrs.port}/",
            "name": "carol",
        }
        assert carol["result"] == {"completion": True}

        assert [r.sent for r in app.send_xapi(now=NOW)] == [0, 0, 0]  # once only
        app.learned("carol", "https://learn.example.org/3", now=NOW + timedelta(days=1), minutes=20)
        assert [r.sent for r in app.send_xapi(now=NOW, only="carol")] == [1]
    assert len(lrs.statements) == 4
    assert len({s["id"] for s in lrs.statements}) == 4


def test_a_send_the_lrs_refuses_is_kept_and_sent_again_next_time(project: Path, lrs: Lrs) -> None:
    lrs.status = 503
    with Application.at(project) as app:
        reports = app.send_xapi(now=NOW)
        assert [(r.sent, r.waiting) for r in reports] == [(0, 1), (0, 1), (0, 1)]
        assert all(r.error and "HTTP 503" in r.error for r in reports)
        with open_store(project / "state" / "learnplace.sqlite3", read_only=True) as store:
            assert store.xapi_sent(lrs.endpoint, "alice") == set()
        lrs.status = 200
        assert [(r.sent, r.waiting, r.error) for r in app.send_xapi(now=NOW)] == [(1, 0, None)] * 3
    assert lrs.refused == ["503 not now"]  # the first failure stops the send


def test_a_wrong_password_or_an_endless_reply_is_an_lrs_error_and_nothing_counts_as_sent(
    project: Path, lrs: Lrs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_LRS_PASSWORD", "wrong")
    with Application.at(project) as app:
        (report, *_) = app.send_xapi(now=NOW, only="alice")
        assert report.error is not None and "HTTP 401" in report.error
        monkeypatch.setenv("TEST_LRS_PASSWORD", PASSWORD)
        lrs.reply_bytes = 2_000_000
        (report,) = app.send_xapi(now=NOW, only="alice")
        assert report.error is not None and "over 1,000,000 bytes" in report.error
        assert report.waiting == 1
        monkeypatch.delenv("TEST_LRS_PASSWORD")
        with pytest.raises(LrsError, match="set the environment variable TEST_LRS_PASSWORD"):
            app.send_xapi(now=NOW)


def test_plain_http_beyond_loopback_is_refused_unless_allowed(project: Path, lrs: Lrs) -> None:
    _set_xapi(project, "http://lrs.example.org/xapi/")
    with (
        Application.at(project) as app,
        pytest.raises(InsecureLrsError, match="plain http: use https://"),
    ):
        app.send_xapi(now=NOW)
    assert lrs.statements == []


def test_the_cli_sends_and_says_what_waits(project: Path, lrs: Lrs) -> None:
    done = learnplace(project, "xapi", "send", "alice")
    assert (done.returncode, done.stdout, done.stderr) == (0, "alice: sent 1 statements\n", "")
    lrs.status = 500
    app = learnplace(project, "xapi", "send")
    assert app.returncode == 1
    assert app.stdout.splitlines() == [
        "alice: sent 0 statements",
        "bob: sent 0 statements, 1 waiting for the next send",
        "carol: sent 0 statements, 1 waiting for the next send",
    ]
    assert "The LRS did not take them:" in app.stderr and "HTTP 500" in app.stderr
    assert "Traceback" not in app.stderr
