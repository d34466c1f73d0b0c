"""``kill -9`` at random points of ``learnplace run``, and two processes at once.

The crash test kills the real CLI (its whole process group: parse workers
too) at random moments of runs against a feedfarm server with latency, so
kills land while fetching, inside store transactions, during index commits
and while pages are written; the corpus advances a day now and then so every
run has new items to store, index and render. After every kill it checks
what the crash left and then that the next run completes and repairs it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from feedfarm import corpus as ff_corpus
from tests.conftest import FeedfarmServer, serve_feedfarm
from tests.e2e.test_end_to_end import REPO, learnplace, pick_topics, profile_toml
from tests.stores import project_database, project_index, rows, whole

KILLS = {"sqlite": 20, "postgres": 8}
"""Kills per backend: PostgreSQL's runs are slower to start, and the ones it gets land in the
same stages (fetch, store transactions, index commits, page writes); see the printed tally."""
FEEDS = 10
ITEMS = 10


def cli(project: Path, *args: str) -> subprocess.Popen[str]:
    """The CLI in its own session, so a kill takes its parse workers with it."""
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--project", str(project), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def make_project(
    root: Path, corpus: Path, server: FeedfarmServer, *extra: str, store_table: str = ""
) -> Path:
    """A project of every corpus feed (and ``extra`` paths on the server), three profiles;
    ``store_table`` ends its feeds.toml (a ``[store]`` table, for PostgreSQL)."""
    feeds = json.loads((corpus / "feeds.json").read_text(encoding="utf-8"))
    paths = [(feed["title"], feed["path"]) for feed in feeds] + [(path, path) for path in extra]
    (root / "profiles").mkdir(parents=True)
    sources = [f'[[source]]\nname = "{name}"\nurl = "{server.url(path)}"\n' for name, path in paths]
    (root / "feeds.toml").write_text(
        "[settings]\nallow_private_networks = true\nconcurrency = 4\n\n"
        + "\n".join(sources)
        + store_table,
        encoding="utf-8",
    )
    for topic in pick_topics(corpus, 3):
        (root / "profiles" / f"{topic}.toml").write_text(profile_toml(topic), encoding="utf-8")
    return root


@pytest.fixture
def slow_farm(tmp_path: Path) -> Iterator[tuple[Path, FeedfarmServer]]:
    """A corpus of its own (the test advances its days) served with some latency."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    ff_corpus.build(str(corpus), FEEDS, ITEMS, "crash", 0)
    with serve_feedfarm(corpus, latency_ms=60, jitter_ms=20, drip_s=5) as server:
        yield corpus, server


def stored_items(project: Path) -> dict[int, tuple[int, str]]:
    """Item id -> (source id, guid), read as a crash left the store; integrity checked first."""
    whole(project)
    return {
        row[0]: (row[1], row[2]) for row in rows(project, "SELECT id, source_id, guid FROM items")
    }


def queued(project: Path) -> int:
    return int(rows(project, "SELECT COUNT(*) FROM index_queue")[0][0])


def temporary_files(output: Path) -> list[Path]:
    return [path for path in output.rglob(".*") if path.is_file()]


def assert_pages_whole(output: Path) -> int:
    """Every page is complete and parses; returns how many were checked."""
    checked = 0
    for path in output.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            assert text.rstrip().endswith("</html>"), path
            assert LexborHTMLParser(text).body is not None, path
        elif path.suffix == ".xml":
            ET.fromstring(text)
        elif path.suffix == ".ics":
            assert text.rstrip().endswith("END:VCALENDAR"), path
        checked += 1
    return checked


Items = dict[int, tuple[int, str]]


def assert_consistent(project: Path, known: Items) -> Items:
    """Store whole, nothing stored ever lost, index equal to the store, output clean."""
    items = stored_items(project)
    lost = {item_id: key for item_id, key in known.items() if items.get(item_id) != key}
    assert not lost, f"items lost after a kill: {sorted(lost)[:10]}"
    assert queued(project) == 0
    with project_index(project) as index:
        assert index.doc_count() == len(items)
        assert index.ids() == set(items)
    output = project / "output"
    assert temporary_files(output) == []
    assert assert_pages_whole(output) > 0
    return items


# feedfarm (carried unchanged) leaves closing its files to GC when it reloads a ticked corpus.
IGNORE_FEEDFARM_LEAKS = "ignore::pytest.PytestUnraisableExceptionWarning"


@pytest.mark.filterwarnings(IGNORE_FEEDFARM_LEAKS)
def test_kill_9_at_random_points_loses_nothing(
    tmp_path: Path,
    slow_farm: tuple[Path, FeedfarmServer],
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    corpus, server = slow_farm
    kills = KILLS[backend]
    with project_database(backend, request) as store_table:
        project = make_project(tmp_path / "project", corpus, server, store_table=store_table)
        seen, known = _kill_and_repair(project, corpus, kills)
    print(f"\nkill -9 test ({backend}): {dict(seen)}; {len(known)} items at the end")
    assert seen["killed"] == kills
    assert seen["new items stored before the kill"] >= 1


def _kill_and_repair(project: Path, corpus: Path, kills: int) -> tuple[Counter[str], Items]:
    """Runs killed at random moments, each followed by a run that must repair what it left."""
    started = time.monotonic()
    first = learnplace(project, "run", "--quiet")
    run_s = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    known = assert_consistent(project, {})
    rng = random.Random(8)
    seen: Counter[str] = Counter()
    for _ in range(2 * kills):
        if seen["killed"] == kills:
            break
        # New items before every run, so that each killed run has something to store (a run
        # with nothing new finishes its fetches fast, and under load a kill then lands
        # before any store write as often as not).
        ff_corpus.tick(str(corpus))
        time.sleep(1.1)  # the server reloads at most once a second
        run = cli(project, "run", "--quiet")
        try:
            run.wait(timeout=rng.uniform(0.1, 0.95 * run_s))
            seen["finished before the kill"] += 1
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            seen["killed"] += 1
        run.communicate()
        # What the kill left: a whole store that still holds every item it ever held.
        after_kill = stored_items(project)
        assert all(after_kill.get(item_id) == key for item_id, key in known.items())
        if len(after_kill) > len(known):
            seen["new items stored before the kill"] += 1
        if queued(project):
            seen["index behind the store"] += 1
        if temporary_files(project / "output"):
            seen["temporary files left in output/"] += 1
        # The next run completes and repairs everything.
        started = time.monotonic()
        repair = learnplace(project, "run", "--quiet")
        run_s = time.monotonic() - started
        assert repair.returncode == 0, repair.stderr
        known = assert_consistent(project, after_kill)
    return seen, known


@pytest.mark.filterwarnings(IGNORE_FEEDFARM_LEAKS)
def test_second_run_refuses_and_search_keeps_working(
    tmp_path: Path,
    slow_farm: tuple[Path, FeedfarmServer],
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """A source that drips its body over seconds holds the first run open meanwhile."""
    corpus, server = slow_farm
    with project_database(backend, request) as store_table:
        project = make_project(
            tmp_path / "project", corpus, server, "/faults/slow-drip", store_table=store_table
        )
        _second_run_refused(project, corpus, server)


def _second_run_refused(project: Path, corpus: Path, server: FeedfarmServer) -> None:
    assert learnplace(project, "run", "--quiet").returncode == 0
    word = pick_topics(corpus, 1)[0].split("-")[0]
    ff_corpus.tick(str(corpus))
    time.sleep(1.1)
    server.reset()
    running = cli(project, "run", "--quiet", "--force")
    wait_until_fetching(server, running)
    searches = 0
    try:
        second = None
        while running.poll() is None:
            result = learnplace(project, "search", "--json", word)
            assert result.returncode == 0, result.stderr
            searches += 1
            if second is None:
                second = learnplace(project, "run", "--quiet")
        assert running.wait() == 0, running.stderr.read() if running.stderr else ""
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)
        running.communicate()
    assert searches >= 1
    assert second is not None
    assert second.returncode == 1
    assert "another learnplace run is working on" in second.stderr


def wait_until_fetching(server: FeedfarmServer, run: subprocess.Popen[str]) -> None:
    """Until ``run`` (which holds the run lock before it fetches) sends its first request.

    On a busy machine its start-up can take seconds; a second run started
    before it would take the lock first.
    """
    while run.poll() is None and not server.stats()["requests"]:
        time.sleep(0.05)


def test_prune_and_reindex_keep_store_and_index_together(
    tmp_path: Path,
    feedfarm_server: FeedfarmServer,
    feedfarm_corpus: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    """The corpus is dated September 2026: all of it is older than 30 days now, except what
    was liked or shared (kept whatever its age)."""
    with project_database(backend, request) as store_table:
        project = make_project(
            tmp_path / "project", feedfarm_corpus, feedfarm_server, store_table=store_table
        )
        _prune_and_reindex(project)


def _prune_and_reindex(project: Path) -> None:
    assert learnplace(project, "run", "--quiet").returncode == 0
    before = stored_items(project)
    liked, disliked = sorted(before)[:2]
    assert learnplace(project, "feedback", *_judge(project, liked, "more")).returncode == 0
    assert learnplace(project, "feedback", *_judge(project, disliked, "less")).returncode == 0
    rows(project, "DELETE FROM deliveries")  # digests of today would keep their items
    pruned = learnplace(project, "prune", "--older-than", "30d")
    assert pruned.returncode == 0, pruned.stderr
    assert set(stored_items(project)) == {liked}
    with project_index(project) as index:
        assert index.ids() == {liked}
    rebuilt = learnplace(project, "reindex")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Indexed 1 items" in rebuilt.stdout
    assert not (project / "state" / "index.new").exists()
    assert learnplace(project, "prune", "--older-than", "soon").returncode == 2


def _judge(project: Path, item_id: int, how: str) -> list[str]:
    person = sorted(project.glob("profiles/*.toml"))[0].stem
    return [person, str(item_id), f"--{how}"]
