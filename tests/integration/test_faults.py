"""Every feedfarm fault endpoint through a real pipeline refresh: recorded, bounded, isolated.

One refresh fetches all fault endpoints plus the good corpus feeds; each
source's recorded state is then checked, the good feeds' items must all be
there, and the run must end within the deadline plus a margin.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import app as application
from aggregator.config.files import parse_config
from aggregator.fetch.schedule import BACKOFF_BASE
from aggregator.store import open_store
from feedfarm.server import FAULTS
from tests.conftest import BACKENDS
from tests.stores import project_database

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
DEADLINE_S = 5.0
MARGIN_S = 8.0  # process-pool start-up, parsing and the in-process server on 2 shared cores
MIB = 1024 * 1024


def vm_hwm_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("VmHWM not in /proc/self/status")


def feeds_toml(urls: dict[str, str]) -> str:
    lines = [
        "[settings]",
        "allow_private_networks = true",
        "timeout = 2",
        f"deadline = {DEADLINE_S}",
        "max_body_mb = 2",
        "concurrency = 32",
        "per_host_concurrency = 32",
    ]
    for name, url in urls.items():
        lines += ["[[source]]", f'name = "{name}"', f'url = "{url}"']
    return "\n".join(lines)


@pytest.fixture(scope="module", params=BACKENDS)
def fault_run(request, feedfarm_server, feedfarm_corpus, tmp_path_factory):
    """One refresh over every fault endpoint and every good corpus feed, on each backend."""
    with project_database(request.param, request) as store_table:
        yield _fault_run(feedfarm_server, feedfarm_corpus, tmp_path_factory, store_table)


def _fault_run(feedfarm_server, feedfarm_corpus, tmp_path_factory, store_table):
    root = tmp_path_factory.mktemp("faults")
    good = [f["path"] for f in json.loads((feedfarm_corpus / "feeds.json").read_text())]
    urls = {f"fault {name}": feedfarm_server.url(f"/faults/{name}") for name in FAULTS}
    urls |= {f"good {path}": feedfarm_server.url(path) for path in good}
    (root / "feeds.toml").write_text(feeds_toml(urls) + store_table, encoding="utf-8")
    config = parse_config((root / "feeds.toml").read_text(encoding="utf-8"), root / "feeds.toml")
    project = application.Project.at(root)
    # feedfarm builds its bomb on the first request (~4 s): not the deadline under test.
    with urllib.request.urlopen(feedfarm_server.url("/faults/gzip-bomb")) as response:
        response.read(1)
    hwm_before = vm_hwm_kib()
    started = time.monotonic()
    summary = application.refresh(project, now=NOW, config=config)
    elapsed = time.monotonic() - started
    with open_store(project.store_location) as store:
        statuses = {s.name: s for s in store.source_statuses()}
        states = {name: store.source_state(s.url) for name, s in statuses.items()}
    return {
        "project": project,
        "config": config,
        "summary": summary,
        "elapsed": elapsed,
        "statuses": statuses,
        "states": states,
        "hwm_growth_kib": vm_hwm_kib() - hwm_before,
        "good": good,
    }


def test_the_run_ends_within_the_deadline_despite_hang_and_slow_drip(fault_run):
    assert fault_run["elapsed"] < DEADLINE_S + MARGIN_S
    for name in ("fault hang", "fault slow-drip"):
        status = fault_run["statuses"][name]
        assert "deadline" in status.last_error or "Timeout" in status.last_error


def test_gzip_bomb_and_huge_body_keep_memory_bounded(fault_run):
    for name in ("fault gzip-bomb", "fault huge"):
        assert fault_run["statuses"][name].last_error == f"body larger than {2 * MIB} bytes"
    # The bomb inflates to 160 MiB and huge is 16 MiB: neither may reach memory.
    assert fault_run["hwm_growth_kib"] < 60 * 1024


def test_every_good_feed_is_stored_in_full(fault_run, feedfarm_corpus):
    lines = (feedfarm_corpus / "truth.jsonl").read_text().splitlines()
    truth = [json.loads(line) for line in lines]
    in_window = {(t["feed"], t["id"]) for t in truth if t["in_window"]}
    for path in fault_run["good"]:
        status = fault_run["statuses"][f"good {path}"]
        assert (status.last_status, status.last_error) == (200, None), path
    stored = sum(fault_run["statuses"][f"good {p}"].items for p in fault_run["good"])
    # Syndicated copies are counted once per source they came from.
    assert stored == len(in_window)


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("500", 500, "HTTP 500 Internal Server Error"),
        ("404", 404, "HTTP 404 Not Found"),
        ("redirect-loop", None, "more than 5 redirects"),
        ("redirect-loop-b", None, "more than 5 redirects"),
        ("redirect-scheme", None, "refusing file URL"),
        ("empty", 200, "empty document"),
        ("html-no-feed", 200, "not a feed"),
        ("autodiscovery", 200, "not a feed"),
    ],
)
def test_failures_are_recorded_and_backed_off(fault_run, name, status, error):
    state = fault_run["states"][f"fault {name}"]
    assert state.last_status == status
    assert state.last_error.startswith(error), state.last_error
    assert (state.failures, state.next_attempt) == (1, NOW + BACKOFF_BASE)


@pytest.mark.parametrize(("name", "wait"), [("503", 120), ("429", 3600)])
def test_retry_after_sets_the_next_attempt(fault_run, name, wait):
    state = fault_run["states"][f"fault {name}"]
    assert state.last_status == int(name)
    assert state.next_attempt == NOW + timedelta(seconds=wait)


def test_410_retires_the_source(fault_run):
    state = fault_run["states"]["fault 410"]
    assert state.retired and state.last_status == 410
    assert "fault 410" in fault_run["summary"].retired


def test_301_moves_the_source_and_302_keeps_it(fault_run, feedfarm_server):
    moved = fault_run["states"]["fault 301"]
    assert moved.moved_from == feedfarm_server.url("/faults/301")
    assert moved.fetch_url != moved.moved_from and "/feeds/" in moved.fetch_url
    kept = fault_run["states"]["fault 302"]
    assert kept.fetch_url == feedfarm_server.url("/faults/302") and kept.moved_from is None
    assert ("fault 301", moved.fetch_url) in fault_run["summary"].moved


@pytest.mark.parametrize("name", ["malformed", "wrong-charset", "xss"])
def test_damaged_feeds_keep_their_items_and_record_problems(fault_run, name):
    status = fault_run["statuses"][f"fault {name}"]
    assert status.last_error is None and status.items > 0
    if name != "xss":
        assert status.problems, "the damage is recorded on the source"


def test_a_second_run_skips_what_is_not_due_and_force_fetches_it(fault_run, feedfarm_server):
    project, config = fault_run["project"], fault_run["config"]
    feedfarm_server.reset()
    later = NOW + timedelta(minutes=1)
    summary = application.refresh(project, now=later, config=config)
    faults = feedfarm_server.stats()["faults"]
    # Backing off, rate-limited and retired sources were not asked at all.
    for name in ("500", "404", "503", "429", "410", "hang", "slow-drip", "gzip-bomb", "huge"):
        assert faults.get(f"/faults/{name}", 0) == 0, name
    assert summary.skipped >= 9
    # The moved source is fetched at its new address, not at /faults/301.
    assert faults.get("/faults/301", 0) == 0
    forced = application.refresh(
        project, now=later, config=_only(config, "fault 410", "fault 429"), force=True
    )
    assert forced.skipped == 0 and len(forced.failures) == 2


def _only(config, *names):
    import dataclasses

    return dataclasses.replace(config, sources=tuple(s for s in config.sources if s.name in names))
