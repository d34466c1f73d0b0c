"""Nothing from a feed reaches a terminal raw (finding 6): every command that prints feed text,
run as a person runs it, over a project whose feed titles hold escape sequences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.cli.terminal import clean, json_text
from tests import hostile
from tests.conftest import serve_static
from tests.e2e.test_end_to_end import REPO

PAYLOADS = ("]0;pwned", "]52;c;", "\x1b[31mred", "\x9b", "\u202e", "\x07", "\r")
"""What the hostile title carries: none of it may be printed."""


def test_clean_removes_whole_sequences_and_keeps_the_words() -> None:
    assert clean(hostile.TERMINAL_ESCAPES) == (
        "python window title clipboard red C1 evil [bold]markup[/bold] [link=https://x]l[/link]"
    )
    assert clean("a\x1bPq#0;2;0;0;0\x1b\\b\x1b7c\tline\nnext\r\x00") == "abc\tline\nnext"


def test_json_output_decodes_to_the_same_values_and_prints_safely() -> None:
    data = {"title": hostile.TERMINAL_ESCAPES, "lone": "\ud800", "plain": "Zürich — ok"}
    printed = json_text(data)
    assert json.loads(printed) == data
    assert "Zürich — ok" in printed  # readable text stays readable
    assert not any(char in printed for char in "\x1b\x9b\u202e\ud800\x07")


def learnplace(project: Path, *args: str, color: bool) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env |= {"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "200"} if color else {}
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--project", str(project), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def escapes_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project whose one feed carries the escapes, and whose source names do too."""
    root = tmp_path_factory.mktemp("escapes")
    with serve_static() as server:
        url = server.add(
            "/escapes.xml", hostile.ESCAPES_FEED, headers={"Content-Type": "application/rss+xml"}
        )
        (root / "feeds.toml").write_text(
            "[settings]\nallow_private_networks = true\n"
            f'[[source]]\nname = "Escapes [red]x[/red]"\nurl = "{url}"\n'
            f'[[source]]\nname = "Missing [link=https://x]m[/link]"\n'
            f'url = "{server.url("/missing.xml")}"\n',
            encoding="utf-8",
        )
        (root / "profiles").mkdir()
        (root / "profiles" / "ana.toml").write_text("[interests]\npython = 3\n", encoding="utf-8")
        learnplace(root, "run", color=False)
        yield root


COMMANDS = [
    ("run", "--force"),
    ("run", "--force", "--json"),
    ("preview", "ana"),
    ("search", "python"),
    ("search", "--json", "python"),
    ("sources",),
    ("sources", "--json"),
]


@pytest.mark.parametrize("color", [False, True], ids=["plain", "forced-color"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_command_prints_a_feeds_escape_sequences(
    escapes_project: Path, command: tuple[str, ...], color: bool
) -> None:
    printed = learnplace(escapes_project, *command, color=color)
    for payload in PAYLOADS:
        assert payload not in printed, (payload, printed)
    if not color:
        assert "\x1b" not in printed  # without colour rich prints no sequence of its own
    assert any(words in printed for words in ("window title", "Escapes", "Missing"))


def test_markup_in_feed_text_is_printed_not_interpreted(escapes_project: Path) -> None:
    printed = learnplace(escapes_project, "preview", "ana", color=True)
    assert "[bold]markup[/bold] [link=https://x]l[/link]" in printed
    assert "\x1b]8;" not in printed  # no hyperlink was made of it
    table = learnplace(escapes_project, "sources", color=True)
    assert "[red]x[/red]" in table and "\x1b]8;" not in table


def test_a_source_name_holding_escapes_is_refused_and_the_error_prints_safely(
    tmp_path: Path,
) -> None:
    (tmp_path / "feeds.toml").write_text(
        '[[source]]\nname = "Evil \\u001b]0;owned\\u0007"\nurl = "https://e.example/f"\n',
        encoding="utf-8",
    )
    (tmp_path / "profiles").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--project", str(tmp_path), "sources"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 1 and "source.name: must be one line" in done.stderr
    assert "\x1b" not in done.stderr + done.stdout
