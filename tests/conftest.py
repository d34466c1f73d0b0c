"""Shared fixtures: real HTTP servers on 127.0.0.1 and a small feedfarm corpus.

* ``feedfarm_corpus`` — a generated corpus directory (12 feeds x 10 items, seed 7).
* ``feedfarm_server`` — feedfarm's server for that corpus, with its fault endpoints
  shortened for tests (see ``FEEDFARM_OPTIONS``); ``.base``, ``.url()``, ``.stats()``,
  ``.reset()``.
* ``static_server`` — a tiny server whose routes a test fills in; answers
  ``If-None-Match`` / ``If-Modified-Since`` with 304 and counts requests per path.
* ``serve_static()`` — the same as a context manager, for module-scoped fixtures;
* ``serve_app(app)`` — an ASGI app on a real uvicorn at 127.0.0.1 (yields the port).
* ``whooshs_schema`` — the index's schema with Whoosh's own positions format.
* ``postgres`` — a throwaway PostgreSQL cluster for the session (:mod:`tests.postgres`);
  ``.database()`` makes a fresh database and returns its URL.
* ``backend`` — "sqlite" and "postgres", for tests that run on both store backends;
  ``store_location`` — a fresh store's location for that backend (a path, or a URL).
"""

from __future__ import annotations

import copy
import email.utils
import json
import os
import random
import threading
import time
import urllib.request
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from whoosh import formats
from whoosh.fields import Schema

from aggregator.search.postings import Positions
from aggregator.search.schema import SCHEMA
from feedfarm import corpus as ff_corpus
from feedfarm import server as ff_server
from tests import postgres as pg
from tests.stores import fresh_database

KINDS = ("unit", "integration", "e2e", "browser")
"""Test folders, each its own marker (declared in pyproject.toml): ``pytest -m unit``."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with the kind its folder names, so a run can pick one kind."""
    for item in items:
        kind = item.path.parent.name
        if kind in KINDS:
            item.add_marker(getattr(pytest.mark, kind))


# Property and fuzz tests (tests/unit/test_properties.py, tests/unit/test_parse_fuzz.py) share
# one budget:
# enough examples to find the classic bugs, few enough that the suite stays fast on two busy
# cores. No deadline: a loaded machine would make timing flaky. HYPOTHESIS_PROFILE=thorough
# runs many more examples on demand.
settings.register_profile(
    "learnplace",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("learnplace"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "learnplace"))

POLL_S = 0.05
"""How often a server thread checks for shutdown; the stdlib's 0.5 s slows every teardown."""
FEEDFARM_FEEDS = 12
FEEDFARM_ITEMS = 10
FEEDFARM_SEED = "7"
FEEDFARM_OPTIONS = {
    "latency_ms": 0,
    "jitter_ms": 0,
    "drip_s": 10,  # /faults/slow-drip: one chunk a second for 10 s
    "hang_s": 10,  # /faults/hang holds the connection at most this long (or until shutdown)
    "huge_mib": 16,  # /faults/huge
    "bomb_mib": 160,  # /faults/gzip-bomb inflates to this; larger than the RSS bound tests assert
    "lifetime": 0,
    "log": False,
}


@pytest.fixture(scope="session")
def feedfarm_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deterministic feedfarm corpus on disk (read its ``truth.jsonl`` for expectations)."""
    out = tmp_path_factory.mktemp("feedfarm")
    ff_corpus.build(str(out), FEEDFARM_FEEDS, FEEDFARM_ITEMS, FEEDFARM_SEED, 0)
    return out


@dataclass
class FeedfarmServer:
    """Handle on a running feedfarm server."""

    base: str
    server: ff_server.Server

    def url(self, path: str) -> str:
        return self.base + path

    def stats(self) -> dict:
        """The server's counters (GET /stats): requests, "200", "304", faults, user_agents..."""
        with urllib.request.urlopen(self.base + "/stats") as response:
            return json.load(response)

    def reset(self) -> None:
        """Zero the counters so a test sees only its own requests."""
        urllib.request.urlopen(self.base + "/stats/reset").close()


@contextmanager
def serve_feedfarm(
    corpus: Path, handler: type[ff_server.Handler] = ff_server.Handler, **options: object
) -> Iterator[FeedfarmServer]:
    """feedfarm's server for ``corpus`` on 127.0.0.1:0 in a thread; ``options`` override
    ``FEEDFARM_OPTIONS`` (``latency_ms``, say); ``handler`` may count what it serves."""
    srv = ff_server.Server(("127.0.0.1", 0), handler)
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    # The same wiring as feedfarm.server.serve(), which blocks and cannot pick port 0 for us.
    srv.opts, srv.stats, srv.rand = FEEDFARM_OPTIONS | options, ff_server.Stats(), random.Random(0)
    srv.stop, srv.bomb, srv.bomb_lock = threading.Event(), None, threading.Lock()
    with warnings.catch_warnings():
        # feedfarm (carried unchanged) leaves closing its open(...).read() files to GC.
        warnings.simplefilter("ignore", ResourceWarning)
        srv.corpus = ff_server.Corpus(str(corpus), srv.base)
    thread = threading.Thread(
        target=srv.serve_forever, kwargs={"poll_interval": POLL_S}, name="feedfarm", daemon=True
    )
    thread.start()
    try:
        yield FeedfarmServer(srv.base, srv)
    finally:
        srv.stop.set()  # releases /faults/hang handlers
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def feedfarm_server(feedfarm_corpus: Path) -> Iterator[FeedfarmServer]:
    """feedfarm's server on 127.0.0.1:0 in a background thread, stopped at session end."""
    with serve_feedfarm(feedfarm_corpus) as server:
        yield server


Route = tuple[int, Mapping[str, str], bytes]
"""(status, headers, body) served for one path."""


@dataclass
class StaticServer:
    """A loopback server serving ``routes``; fill them in, then fetch ``url(path)``.

    ``routes[path] = (status, headers, body)``. A route with an ``ETag`` answers a
    matching ``If-None-Match`` with 304; one with ``Last-Modified`` answers an
    ``If-Modified-Since`` that is not older with 304. Unknown paths are 404.
    ``hits`` counts requests per path (query strings ignored) and
    ``requests[path]`` keeps the headers of each request, in order;
    ``client_ports`` the client side of each TCP connection seen.
    """

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    requests: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    client_ports: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def add(
        self, path: str, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> str:
        """Serve ``body`` at ``path``; returns the absolute URL."""
        self.routes[path] = (status, dict(headers or {}), body)
        return self.url(path)

    def record(self, path: str, headers: Mapping[str, str]) -> None:
        with self.lock:
            self.hits[path] += 1
            self.requests.setdefault(path, []).append(dict(headers))


def _not_modified(request_headers: Mapping[str, str], route_headers: Mapping[str, str]) -> bool:
    """RFC 9110: If-None-Match wins; If-Modified-Since only when no ETag was sent."""
    headers = {k.lower(): v for k, v in route_headers.items()}
    inm = request_headers.get("If-None-Match")
    if inm is not None:
        tags = {tag.strip() for tag in inm.split(",")}
        return "etag" in headers and (headers["etag"] in tags or "*" in tags)
    ims = request_headers.get("If-Modified-Since")
    if ims and "last-modified" in headers:
        try:
            since = email.utils.parsedate_to_datetime(ims)
            modified = email.utils.parsedate_to_datetime(headers["last-modified"])
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False


class _StaticHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StaticHTTPServer

    def do_GET(self) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        state.record(path, dict(self.headers.items()))
        state.client_ports.add(self.client_address[1])
        status, headers, body = state.routes.get(path, (404, {}, b"not found\n"))
        if status == 200 and _not_modified(self.headers, headers):
            status, body = 304, b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows failures, not access logs."""


class _StaticHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: StaticServer) -> None:
        super().__init__(("127.0.0.1", 0), _StaticHandler)
        self.state = state


@contextmanager
def serve_static() -> Iterator[StaticServer]:
    """A :class:`StaticServer` on 127.0.0.1:0 in a thread, stopped on leaving."""
    state = StaticServer()
    httpd = _StaticHTTPServer(state)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": POLL_S}, name="static", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def static_server() -> Iterator[StaticServer]:
    """A fresh :class:`StaticServer` on 127.0.0.1:0 for one test."""
    with serve_static() as state:
        yield state


@contextmanager
def serve_app(app: Starlette) -> Iterator[int]:
    """``app`` on a real uvicorn at 127.0.0.1, on a free port (yielded), in a thread."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def whooshs_schema() -> Schema:
    """The index's schema with Whoosh's own positions format (pickled lists), as an earlier
    version wrote it."""
    fields = {}
    for name in SCHEMA.names():
        if name.startswith("spell_"):
            continue  # Schema adds it again for the title
        fields[name] = copy.deepcopy(SCHEMA[name])
        if type(fields[name].format) is Positions:
            fields[name].format = formats.Positions(field_boost=fields[name].format.field_boost)
    return Schema(**fields)


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg.Cluster]:
    """One PostgreSQL cluster for the whole session; skips (or fails in CI) without one."""
    with pg.cluster() as found:
        yield found


BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each store backend in turn: a test using it runs once on SQLite, once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def store_location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh store of ``backend`` lives: a file in ``tmp_path``, or a new database."""
    if backend == "sqlite":
        yield str(tmp_path / "store.sqlite3")
        return
    with fresh_database(request) as url:
        yield url


@pytest.fixture
def index_location(store_location: str, backend: str, tmp_path: Path) -> str:
    """Where a fresh search index of ``backend`` lives: a Whoosh folder beside the SQLite
    file, or the search tables in the same PostgreSQL database as the store."""
    return str(tmp_path / "index") if backend == "sqlite" else store_location
