"""Profile editing from the CLI, preview, feedback and day-to-day delivery on a real project."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator import app as application
from aggregator.models import Digest
from aggregator.rank.analysis import analysed
from tests.e2e.test_end_to_end import learnplace

if TYPE_CHECKING:
    from tests.conftest import FeedfarmServer

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
PROFILE = """\
# Ada's profile: she wrote this comment by hand.
name = "Ada"   # display name
digest_size = 5
freshness_days = 3650

[interests]
# the topics she cares about
python = 2
"data quality" = 1   # a phrase
"""


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, feedfarm_server: FeedfarmServer, feedfarm_corpus: Path
) -> Path:
    root = tmp_path_factory.mktemp("profiles-project")
    feeds = json.loads((feedfarm_corpus / "feeds.json").read_text(encoding="utf-8"))
    (root / "feeds.toml").write_text(
        "[settings]\nallow_private_networks = true\n\n"
        + "\n".join(
            f'[[source]]\nname = "{f["title"]}"\nurl = "{feedfarm_server.url(f["path"])}"\n'
            for f in feeds
        ),
        encoding="utf-8",
    )
    (root / "profiles").mkdir()
    (root / "profiles" / "ada.toml").write_text(PROFILE, encoding="utf-8")
    application.run(application.Project.at(root), now=NOW)
    return root


def state_digest(root: Path) -> str:
    """A hash of the state's files; SQLite's -wal/-shm bookkeeping, which a read-only
    connection leaves behind empty, is not state."""
    files = sorted(
        p
        for p in (root / "state").rglob("*")
        if p.is_file() and "lock" not in p.name and not p.name.endswith(("-wal", "-shm"))
    )
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def test_cli_edits_keep_comments(project: Path) -> None:
    path = project / "profiles" / "ada.toml"
    result = learnplace(
        project, "profile", "add-interest", "ada", "machine learning", "--weight", "2"
    )
    assert result.returncode == 0, result.stderr
    assert learnplace(project, "profile", "exclude", "ada", "crypto").returncode == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Ada's profile: she wrote this comment by hand.\n")
    assert '"data quality" = 1   # a phrase' in text
    assert "# the topics she cares about" in text
    assert '"machine learning" = 2' in text
    shown = learnplace(project, "profile", "show", "ada").stdout
    assert "machine learning" in shown and "crypto" in shown
    assert (
        learnplace(project, "profile", "remove-interest", "ada", "machine learning").returncode == 0
    )
    assert "machine learning" not in path.read_text(encoding="utf-8")
    assert "# a phrase" in path.read_text(encoding="utf-8")


def test_invalid_edit_keeps_the_old_file(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project / "profiles" / "ada.toml"
    before = path.read_text(encoding="utf-8")
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('digest_size', 'digset_size'))\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    result = learnplace(project, "profile", "edit", "ada")
    assert result.returncode == 1
    assert "digset_size" in result.stderr and "'digest_size'" in result.stderr
    assert "ada.toml:3" in result.stderr
    assert path.read_text(encoding="utf-8") == before


def test_preview_explains_and_changes_no_state(project: Path) -> None:
    before = state_digest(project)
    result = learnplace(project, "preview", "ada", "--date", "2026-09-02")
    assert result.returncode == 0, result.stderr
    assert "why: “python” in " in result.stdout
    assert state_digest(project) == before


def preview(project: application.Project, name: str, when: datetime) -> Digest:
    """What ``name`` would get at ``when``, through an application opened for this only."""
    with application.Application(project) as app:
        return app.preview_profile(name, when)


def test_feedback_changes_the_next_digest_and_is_reversible(project: Path) -> None:
    p = application.Project.at(project)
    later = NOW + timedelta(days=1)
    first = preview(p, "ada", later)
    target = first.picks[0].item
    result = learnplace(project, "feedback", "ada", target.url, "--less")
    assert result.returncode == 0, result.stderr
    after = preview(p, "ada", later)
    assert target.id not in [pick.item.id for pick in after.picks]
    assert any("wanted less of" in r for pick in after.picks for r in pick.reasons) or (
        [pick.item.id for pick in after.picks] != [pick.item.id for pick in first.picks]
    )
    assert learnplace(project, "feedback", "ada", str(target.id), "--clear").returncode == 0
    again = preview(p, "ada", later)
    assert [pick.item.id for pick in again.picks] == [pick.item.id for pick in first.picks]


def test_feedback_more_moves_the_next_digest_toward_the_item_and_names_its_words(
    project: Path,
) -> None:
    p = application.Project.at(project)
    later = NOW + timedelta(days=1)
    first = preview(p, "ada", later)
    liked = first.picks[-1].item
    result = learnplace(project, "feedback", "ada", str(liked.id), "--more")
    assert result.returncode == 0, result.stderr
    listed = learnplace(project, "feedback", "ada", "--list")
    assert listed.returncode == 0 and f"[{liked.id}] more" in listed.stdout
    after = preview(p, "ada", later)
    liked_words = set(re.findall(r"\w+", f"{liked.title} {liked.text}".lower()))
    liked_terms = set(analysed(f"{liked.title} {liked.text}"))
    learnt = [
        reason.partition("(")[2].rstrip(")").rsplit(" in ", 1)[0].split(", ")
        for pick in after.picks
        for reason in pick.reasons
        if reason.startswith("like items you wanted more of")
    ]
    assert learnt, "no pick says which of the liked item's words it shares"
    # each as the pick spells it ("pipelines"), each a word of the liked item ("pipeline")
    assert all(set(analysed(word)) <= liked_terms for words in learnt for word in words)

    def sharing(digest: Digest) -> int:
        return sum(
            len(liked_words & set(re.findall(r"\w+", pick.item.title.lower())))
            for pick in digest.picks
            if pick.item.id != liked.id
        )

    assert sharing(after) > sharing(first)
    cleared = learnplace(project, "feedback", "ada", "--clear")
    assert cleared.returncode == 0 and "took back 1 judgement" in cleared.stdout
    assert (
        learnplace(project, "feedback", "ada", "--list").stdout.strip()
        == "ada has judged no items."
    )
    again = preview(p, "ada", later)
    assert [pick.item.id for pick in again.picks] == [pick.item.id for pick in first.picks]


def test_second_days_digest_repeats_nothing(project: Path) -> None:
    p = application.Project.at(project)
    day_one = preview(p, "ada", NOW)
    application.run(p, now=NOW + timedelta(days=1))
    day_two = preview(p, "ada", NOW + timedelta(days=1))
    assert day_one.picks and day_two.picks
    assert not {pick.item.id for pick in day_one.picks} & {pick.item.id for pick in day_two.picks}


def test_a_profile_name_with_a_trailing_line_break_is_refused_and_nothing_created(
    tmp_path: Path,
) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "feeds.toml").write_text("", encoding="utf-8")
    result = learnplace(tmp_path, "profile", "new", "evil\n")
    assert result.returncode == 1 and "ids use lower-case letters" in result.stderr
    assert list((tmp_path / "profiles").iterdir()) == []


def test_editing_a_profile_tomlkit_cannot_read_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "ana.toml").write_text("a = " + "[" * 500, encoding="utf-8")
    result = learnplace(tmp_path, "profile", "add-interest", "ana", "python")
    assert result.returncode == 1 and "invalid TOML" in result.stderr
    assert "Traceback" not in result.stderr
