"""``learnplace learned`` and ``learnplace rule`` as a person types them, on a real run's
project: what each says, what it writes, and the one-line errors for what it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.app import Project, run
from aggregator.config.files import load_profile
from aggregator.store import open_store
from tests.cli import learnplace
from tests.conftest import serve_static
from tests.digest_site import make_project, rss

NOW = datetime.now(UTC).replace(microsecond=0)
"""The CLI runs at its own clock: the run is now, so its items are in every window."""
FIRST = "Onboarding that sticks: a field guide"
WEBINAR = "Webinar: learning in the flow of work"


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("learning-cli")
    with serve_static() as feed:
        feed.add("/feed.xml", rss(NOW))
        make_project(root, feed.url("/feed.xml"))
        run(Project.at(root), now=NOW)
    return root


@pytest.fixture
def project(collected: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy per test: one test's records and rules never reach another."""
    root = tmp_path / "project"
    _copy(collected, root)
    yield root


def _copy(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and "output" not in path.relative_to(source).parts:
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())


def _item_id(root: Path, title: str) -> int:
    with open_store(Project.at(root).store_path, read_only=True) as store:
        (found,) = [item.id for item in store.iter_items() if item.title == title]
    return found


def test_learned_logs_edits_and_deletes_a_record(project: Path) -> None:
    first = learnplace(
        project, "learned", "alice", "https://learn.example.org/0", "-m", "25", "--share",
        "--note", "Pair new hires for a month.",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    item_id = int(first.stdout.split()[2])
    assert first.stdout == (
        f"Logged item {item_id} for alice: {FIRST}, 25 minutes (shared with your teams).\n"
    )
    edited = learnplace(project, "learned", "alice", str(item_id), "--note", "Pair for six weeks.")
    assert edited.stdout == (
        f"Updated item {item_id} for alice: {FIRST}, 25 minutes (shared with your teams).\n"
    )
    private = learnplace(project, "learned", "alice", str(item_id), "--private")
    assert private.stdout.endswith("25 minutes (private).\n")
    log = learnplace(project, "log", "alice")
    assert log.returncode == 0
    lines = log.stdout.splitlines()
    assert lines[0].startswith("Week of ") and lines[0].endswith(": 25 minutes")
    assert lines[1:] == [f"  [{item_id}] {FIRST} (25 min, private)", "      Pair for six weeks."]
    assert (project / "output" / "alice" / "learning.html").exists()
    gone = learnplace(project, "learned", "alice", str(item_id), "--delete")
    assert gone.stdout == f"Deleted alice's record of item {item_id}.\n"
    again = learnplace(project, "learned", "alice", str(item_id), "--delete")
    assert again.stdout == f"No record of {item_id}.\n"
    assert learnplace(project, "log", "alice").stdout == (
        "Nothing logged for alice yet: `learnplace learned alice ITEM`.\n"
    )


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ("alice", "999999"),
            1,
            "Error: no item '999999': use the number or link on a digest page",
        ),
        (("nobody", "1"), 1, "no such profile 'nobody'; known: 'alice', 'bob', 'carol'"),
        (("alice", "1", "--minutes", "-3"), 2, "-3 is not in the range 0<=x<=1440"),
        (("alice", "1", "--note", "x" * 1001), 1, "a reflection is at most 1,000 characters"),
    ],
    ids=["unknown-item", "unknown-person", "negative-minutes", "long-note"],
)
def test_learned_refuses_in_one_line_and_writes_nothing(
    project: Path, args: tuple[str, ...], status: int, message: str
) -> None:
    done = learnplace(project, "learned", *args)
    assert done.returncode == status
    assert message in done.stderr and "Traceback" not in done.stderr
    assert learnplace(project, "log", "alice").stdout.startswith("Nothing logged for alice")


def test_rule_add_list_apply_and_remove(project: Path) -> None:
    webinar = _item_id(project, WEBINAR)
    muted = learnplace(project, "rule", "add", "alice", "--mute", "--words", "webinar")
    assert muted.returncode == 0, muted.stderr
    assert muted.stdout.splitlines() == [
        "Rule 1: mute any of the words “webinar”: hides 1 now",
        f"  [{webinar}] {WEBINAR} (Learning at work, event)",
    ]
    kept = learnplace(
        project, "rule", "add", "alice", "--keep", "--field", "title", "--contains", "lunch"
    )
    assert kept.stdout.splitlines()[0] == "Rule 2: keep title containing “lunch”: keeps 1 now"
    assert [rule.action for rule in load_profile(project / "profiles" / "alice.toml").rules] == [
        "mute",
        "keep",
    ]
    listed = learnplace(project, "rule", "list", "alice").stdout.splitlines()
    assert listed[0] == muted.stdout.splitlines()[0] and listed[2] == kept.stdout.splitlines()[0]
    applied = learnplace(project, "rule", "apply", "alice")
    assert applied.stdout == "Took 1 items out of alice's latest digest.\n"
    assert WEBINAR not in (project / "output" / "alice" / "index.html").read_text("utf-8")
    removed = learnplace(project, "rule", "remove", "alice", "1")
    assert removed.stdout == "Removed rule 1 from alice's profile.\n"
    left = learnplace(project, "rule", "list", "alice").stdout
    assert left.startswith("Rule 1: keep title containing “lunch”")


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("add", "alice", "--words", "x"), 2, "say --mute or --keep"),
        (("add", "alice", "--mute", "--words", "x", "--phrase", "y"), 2, "give one of --words"),
        (("remove", "alice", "7"), 1, "alice.toml: rule: no rule 7: the profile has 0"),
        (("add", "nobody", "--mute", "--words", "x"), 1, "no such profile 'nobody'"),
    ],
    ids=["no-action", "two-matchers", "no-such-rule", "unknown-person"],
)
def test_rule_refuses_in_one_line_and_leaves_the_profile_as_it_was(
    project: Path, args: tuple[str, ...], status: int, message: str
) -> None:
    before = (project / "profiles" / "alice.toml").read_bytes()
    done = learnplace(project, "rule", *args)
    assert done.returncode == status
    assert message in done.stderr and "Traceback" not in done.stderr
    assert (project / "profiles" / "alice.toml").read_bytes() == before
