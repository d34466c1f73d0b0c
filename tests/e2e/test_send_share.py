"""E-mail digests against a real SMTP server (aiosmtpd on 127.0.0.1) and the share flow.

Runs the real pipeline on a feed served by ``static_server``; e-mail goes to
an aiosmtpd server started here, and the test reads back what it received.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import shlex
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from selectolax.lexbor import LexborHTMLParser

from aggregator import app as application
from aggregator.store import MIGRATIONS, SqliteStore
from tests.conftest import StaticServer
from tests.digest_site import make_project, rss

REPO = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Inbox:
    """What the SMTP server received: (envelope recipients, parsed message) per message."""

    messages: list[tuple[list[str], email.message.EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def project(tmp_path: Path, static_server: StaticServer) -> tuple[application.Project, int]:
    """A project whose first run (at ``NOW``) is done; returns it with its SMTP port."""
    port = free_port()
    feed = static_server.add("/feed.xml", rss(NOW), headers={"Content-Type": "application/rss+xml"})
    root = make_project(tmp_path, feed, smtp_port=port)
    project = application.Project.at(root)
    application.run(project, now=NOW)
    return project, port


def learnplace(project: application.Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--project", str(project.root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def test_send_round_trip_once_a_day(project: tuple[application.Project, int]) -> None:
    proj, port = project
    with smtp_server(port) as inbox:
        first = learnplace(proj, "send")
        second = learnplace(proj, "send")

    assert first.returncode == 0, first.stderr
    assert "alice <alice@example.org>: sent" in first.stdout
    assert "bob <bob@example.org>: sent" in first.stdout
    assert "carol" not in first.stdout  # no address, nothing to send
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("already sent") == 2
    assert sorted(rcpt for rcpts, _ in inbox.messages for rcpt in rcpts) == [
        "alice@example.org",
        "bob@example.org",
    ]
    to_alice = next(m for rcpts, m in inbox.messages if rcpts == ["alice@example.org"])
    assert to_alice["From"] == "Learnplace <digest@example.org>"
    assert to_alice["Subject"].startswith("Learnplace: Alice Example\u2019s digest, ")
    assert to_alice.get_content_type() == "multipart/alternative"
    text = to_alice.get_body(("plain",)).get_content()
    html = to_alice.get_body(("html",)).get_content()
    assert "Onboarding that sticks: a field guide" in text
    assert "https://learn.example.org/0" in text
    assert "Why: " in text and "&amp;" not in text and "&#" not in text
    tree = LexborHTMLParser(html)
    links = {a.attributes["href"] for a in tree.css("a[href]")}
    assert "https://learn.example.org/0" in links
    assert tree.css_first("h1").text().startswith("Alice Example\u2019s digest")


def test_each_mailed_item_carries_the_line_that_logs_it(
    project: tuple[application.Project, int],
) -> None:
    """The e-mail's "I learned this" line, run as it stands, logs that item for that person."""
    proj, port = project
    with smtp_server(port) as inbox:
        assert learnplace(proj, "send", "alice").returncode == 0
    ((_, message),) = inbox.messages
    text = message.get_body(("plain",)).get_content()
    html = LexborHTMLParser(message.get_body(("html",)).get_content())
    with SqliteStore(proj.store_path, read_only=True) as store:
        picks = store.digest("alice", max(store.digest_days("alice")))
    lines = [line.strip() for line in text.splitlines() if "I learned this: " in line]
    commands = [line.removeprefix("I learned this: ") for line in lines]
    assert sorted(commands) == sorted(  # in the e-mail's sections, one line per pick
        f"learnplace learned alice {item_id} --minutes 10 --note 'what I took from it'"
        for item_id, _, _ in picks
    )
    assert [code.text() for code in html.css("code")][::2] == commands
    first_id = int(shlex.split(commands[0])[3])
    logged = learnplace(proj, *shlex.split(commands[0])[1:])
    assert logged.returncode == 0, logged.stderr
    assert logged.stdout.startswith(f"Logged item {first_id} for alice: ")
    log = learnplace(proj, "log", "alice")
    assert "10 minutes" in log.stdout and "what I took from it" in log.stdout


def test_failing_server_is_reported_per_person_and_retried(
    project: tuple[application.Project, int],
) -> None:
    proj, port = project
    down = learnplace(proj, "send", "--json")  # nothing listens on the port yet
    assert down.returncode == 1
    assert '"status": "failed"' in down.stdout and "127.0.0.1" in down.stdout

    with smtp_server(port) as inbox:
        retried = application.Application(proj).send(now=NOW + timedelta(minutes=5))
    assert [(m.person, m.status) for m in retried] == [("alice", "sent"), ("bob", "sent")]
    assert len(inbox.messages) == 2


def test_send_only_one_person(project: tuple[application.Project, int]) -> None:
    proj, port = project
    with smtp_server(port) as inbox:
        results = application.Application(proj).send(now=NOW, only="bob")
    assert [(m.person, m.status) for m in results] == [("bob", "sent")]
    assert [rcpts for rcpts, _ in inbox.messages] == [["bob@example.org"]]


def test_send_without_todays_digest_sends_nothing(project: tuple[application.Project, int]) -> None:
    proj, port = project
    with smtp_server(port) as inbox:
        results = application.Application(proj).send(now=NOW + timedelta(days=2))
    assert {m.status for m in results} == {"no digest"}
    assert inbox.messages == []


def publish_more(server: StaticServer, now: datetime, n: int) -> None:
    """A new onboarding item in the feed, so the next day's digests are not empty."""
    extra = ((f"Onboarding follow-up {n}", "article", "onboarding mentoring"),)
    server.add(
        "/feed.xml", rss(now, extra, first=100 + n), headers={"Content-Type": "application/rss+xml"}
    )


def test_share_flow_team_page_and_colleagues_section(
    project: tuple[application.Project, int], static_server: StaticServer
) -> None:
    proj, _ = project
    page = LexborHTMLParser((proj.output_dir / "alice" / "index.html").read_text("utf-8"))
    # The page's share action carries a ready-made command line; run it as a person would.
    command = page.css_first("input.share-command").attributes["value"] or ""
    assert command.startswith("learnplace share alice ")
    item_ref = command.split()[3]
    done = learnplace(proj, "share", "alice", item_ref, "--note", "Best onboarding read this year")
    assert done.returncode == 0, done.stderr
    again = learnplace(proj, "share", "bob", item_ref, "--note", "Agree, read the part on buddies")
    assert again.returncode == 0, again.stderr

    team = LexborHTMLParser((proj.output_dir / "teams" / "core.html").read_text("utf-8"))
    entries = team.css("main .item")
    assert len(entries) == 1  # shared twice, shown once
    notes = [li.text(strip=True) for li in entries[0].css(".notes li")]
    assert len(notes) == 2
    assert "Best onboarding read this year" in notes[0] and notes[0].startswith("alice")
    assert "Agree, read the part on buddies" in notes[1] and notes[1].startswith("bob")

    # Carol's next digest (tomorrow) gets both notes under "From your colleagues".
    publish_more(static_server, NOW + timedelta(days=1), 1)
    application.run(proj, now=NOW + timedelta(days=1))
    carol = LexborHTMLParser((proj.output_dir / "carol" / "index.html").read_text("utf-8"))
    section = carol.css_first("section.colleagues")
    assert section is not None
    assert len(section.css(".item")) == 1
    carol_notes = " ".join(li.text() for li in section.css(".notes li"))
    assert "Best onboarding read this year" in carol_notes
    assert "Agree, read the part on buddies" in carol_notes
    # Alice sees Bob's note, not her own.
    alice = LexborHTMLParser((proj.output_dir / "alice" / "index.html").read_text("utf-8"))
    alice_notes = [li.text() for li in alice.css("section.colleagues .notes li")]
    assert len(alice_notes) == 1 and "Agree" in alice_notes[0]
    # The day after, the shares have been seen: no colleagues section again.
    publish_more(static_server, NOW + timedelta(days=2), 2)
    application.run(proj, now=NOW + timedelta(days=2))
    later = LexborHTMLParser((proj.output_dir / "carol" / "index.html").read_text("utf-8"))
    assert later.css_first("section.colleagues") is None


def test_share_refuses_unknown_person_and_item(project: tuple[application.Project, int]) -> None:
    proj, _ = project
    nobody = learnplace(proj, "share", "mallory", "1", "--note", "x")
    assert nobody.returncode == 1 and "no profile named 'mallory'" in nobody.stderr
    missing = learnplace(proj, "share", "alice", "99999", "--note", "x")
    assert missing.returncode == 1 and "no item '99999'" in missing.stderr
    by_url = application.Application(proj).share(
        "alice", "https://learn.example.org/1?utm_source=x", "", now=NOW
    )
    assert by_url.item_id > 0


def test_version_1_store_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
    with SqliteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.shares({"alice"}, NOW - timedelta(days=1)) == []
        assert not store.mailed("alice", NOW.date())


def test_a_display_name_with_a_line_break_is_a_clear_error_before_any_mail(tmp_path: Path) -> None:
    """Once a header error for one person stopped mail for everyone after them."""
    (tmp_path / "feeds.toml").write_text(
        '[smtp]\nhost = "127.0.0.1"\nport = 2525\nfrom = "digest@example.org"\n', encoding="utf-8"
    )
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "ana.toml").write_text(
        'name = "Ana\\nBcc: everyone@example.org"\nemail = "ana@example.org"\n[interests]\na = 1\n',
        encoding="utf-8",
    )
    result = learnplace(application.Project.at(tmp_path), "send")
    assert result.returncode == 1
    assert "ana.toml:1: name: must be one line" in result.stderr
