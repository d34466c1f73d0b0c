"""First use and daily use as a person meets them: the demo is the project's first run, a
failed run is never silent nor destructive, and a project that never ran says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from aggregator import app as application
from aggregator.config.files import parse_config
from tests.cli import REPO, learnplace
from tests.conftest import StaticServer, serve_static
from tests.digest_site import make_project, rss


def page_items(page: Path) -> list[str]:
    tree = LexborHTMLParser(page.read_text(encoding="utf-8"))
    return [node.text(strip=True) for node in tree.css(".item-title")]


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``learnplace demo`` in an empty folder, as a newcomer runs it; its printed output."""
    root = tmp_path_factory.mktemp("first-use")
    result = learnplace(root, "demo")
    assert result.returncode == 0, result.stderr
    return root, result.stdout


def test_demo_in_an_empty_folder_makes_a_project_and_says_what_to_try(
    demo_project: tuple[Path, str],
) -> None:
    root, out = demo_project
    assert (root / "feeds.toml").is_file()
    people = sorted(path.stem for path in (root / "profiles").glob("*.toml"))
    assert people == sorted(path.stem for path in (REPO / "profiles").glob("*.toml"))
    tail = out.rstrip().splitlines()[-9:]
    assert tail[0] == "Try next:"
    assert any("learnplace search onboarding" in line for line in tail)
    assert any("learnplace serve" in line for line in tail)
    assert (root / "state" / "learnplace.sqlite3").is_file()
    assert not (root / "state" / "demo").exists()


def test_after_the_demo_search_feedback_preview_share_and_sources_work(
    demo_project: tuple[Path, str],
) -> None:
    root, _ = demo_project
    found = learnplace(root, "search", "onboarding", "--json")
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert results, "the demo's items are searchable"
    item_id = str(results[0]["id"])
    plain = learnplace(root, "search", "onboarding", "--limit", "1")
    assert plain.stdout.splitlines()[1].split("┃")[1].strip() == "ID"
    assert item_id in plain.stdout
    liked = learnplace(root, "feedback", "lnd-adviser", item_id, "--more")
    assert liked.returncode == 0, liked.stderr
    preview = learnplace(root, "preview", "lnd-adviser")
    assert preview.returncode == 0, preview.stderr
    assert "No items" not in preview.stdout
    shared = learnplace(root, "share", "lnd-adviser", item_id, "--note", "worth it")
    assert shared.returncode == 0, shared.stderr
    edited = learnplace(root, "share", "lnd-adviser", item_id, "--note", "worth an hour")
    assert f"Updated lnd-adviser's note on item {item_id} (it was: 'worth it')" in edited.stdout
    sources = json.loads(learnplace(root, "sources", "--json").stdout)
    samples = [s for s in sources if not s["listed"]]
    assert samples and all(s["items"] > 0 and s["status"] == "not in feeds.toml" for s in samples)


def test_an_offline_run_after_the_demo_keeps_its_pages_and_says_sources_failed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "offline"
    assert learnplace(root, "demo", "--quiet").returncode == 0
    before = page_items(root / "output" / "lnd-adviser" / "index.html")
    with serve_static() as down:  # every listed source answers 503: as good as offline
        for n in range(3):
            down.add(f"/feed{n}.xml", b"down", status=503)
        _point_feeds_at(root, down)
        result = learnplace(root, "run", "--quiet")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "3 of 3 sources failed in the last run" in result.stderr
    assert page_items(root / "output" / "lnd-adviser" / "index.html") == before
    index = (root / "output" / "index.html").read_text(encoding="utf-8")
    assert "sources failed" in index and "Nothing new" not in index


def _point_feeds_at(root: Path, server: StaticServer) -> None:
    sources = "".join(
        f'\n[[source]]\nname = "Feed {n}"\nurl = "{server.url(f"/feed{n}.xml")}"\n'
        for n in range(3)
    )
    text = "[settings]\nallow_private_networks = true\ntimeout = 2\ndeadline = 4\n" + sources
    (root / "feeds.toml").write_text(text, encoding="utf-8")


def test_the_next_day_with_every_source_down_keeps_the_last_good_digest(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with serve_static() as server:
        url = server.add("/feed.xml", rss(now))
        project = application.Project.at(make_project(tmp_path, url))
        first = application.run(project, now=now)
        assert first.digests and all(count for _, count, _ in first.digests)
        good = page_items(project.output_dir / "alice" / "index.html")
        server.add("/feed.xml", b"down", status=503)
        later = application.run(project, now=now + timedelta(days=1), force=True)
    assert later.every_source_failed and sorted(later.kept) == ["alice", "bob", "carol"]
    assert later.newly_failing == ["Learning at work"]
    page = project.output_dir / "alice" / "index.html"
    assert page_items(page) == good
    assert "1 of 1 sources failed in the last run" in page.read_text(encoding="utf-8")


def test_a_first_run_that_fails_says_so_rather_than_nothing_new(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with serve_static() as server:
        url = server.add("/feed.xml", b"down", status=503)
        project = application.Project.at(make_project(tmp_path, url))
        summary = application.run(project, now=now)
    assert summary.every_source_failed and not summary.newly_failing
    html = (project.output_dir / "alice" / "index.html").read_text(encoding="utf-8")
    assert "Nothing new today" not in html
    assert "No digest: 1 of 1 sources failed in the last run" in html


def test_exit_status_and_stderr_tell_cron_what_happened(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with serve_static() as server:
        good = server.add("/good.xml", rss(now))
        flaky = server.add("/flaky.xml", rss(now, first=100))
        make_project(tmp_path, good)
        config = (tmp_path / "feeds.toml").read_text(encoding="utf-8")
        config += f'\n[[source]]\nname = "Flaky"\nurl = "{flaky}"\n'
        (tmp_path / "feeds.toml").write_text(config, encoding="utf-8")
        ok = learnplace(tmp_path, "run", "--quiet")
        assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
        server.add("/flaky.xml", b"oops", status=500)
        started = learnplace(tmp_path, "run", "--quiet", "--force")
        again = learnplace(tmp_path, "run", "--quiet", "--force")
        as_json = learnplace(tmp_path, "run", "--json", "--force")
    assert started.returncode == 1 and started.stdout == ""
    assert "1 of 2 sources failed" in started.stderr
    assert "Flaky (started failing): HTTP 500" in started.stderr
    assert again.returncode == 0, "a source that keeps failing was reported already"
    assert "Flaky: HTTP 500" in again.stderr and "started" not in again.stderr
    summary = json.loads(as_json.stdout)
    assert [f["source"] for f in summary["failed"]] == ["Flaky"]
    assert "Flaky: HTTP 500" in as_json.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("preview", "alice"),
        ("feedback", "alice", "1", "--more"),
        ("search", "onboarding"),
        ("share", "alice", "1"),
    ],
)
def test_commands_on_a_project_that_never_ran_say_so(tmp_path: Path, args: tuple[str, ...]) -> None:
    make_project(tmp_path, "http://127.0.0.1:9/feed.xml")
    for state in (False, True):  # with and without an (empty) state folder
        if state:
            (tmp_path / "state").mkdir()
        result = learnplace(tmp_path, *args)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert "nothing collected yet" in result.stderr and "learnplace run" in result.stderr
        assert not (tmp_path / "state" / "learnplace.sqlite3").exists()


def test_init_starts_a_project_once_and_prints_the_next_step(tmp_path: Path) -> None:
    root = tmp_path / "new"
    made = learnplace(tmp_path, "init", str(root), "--profile", "priya")
    assert made.returncode == 0, made.stderr
    assert (root / "feeds.toml").is_file() and (root / "profiles" / "priya.toml").is_file()
    assert "learnplace run" in made.stdout
    config = parse_config((root / "feeds.toml").read_text(encoding="utf-8"), root / "feeds.toml")
    assert len(config.sources) == 3
    listed = learnplace(root, "profile", "show", "priya")
    assert listed.returncode == 0, listed.stderr
    again = learnplace(tmp_path, "init", str(root))
    assert again.returncode == 0 and "nothing written" in again.stdout
    bad = learnplace(tmp_path, "init", str(tmp_path / "other"), "--profile", "Not Valid")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
