"""A small project for the digest tests: an RSS feed served on 127.0.0.1, a team of three.

Shared by the sharing/e-mail tests and the browser tests, which both need a
real ``learnplace run`` output to look at.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ITEMS = (
    ("Onboarding that sticks: a field guide", "article", "onboarding mentoring new hires"),
    ("Course: SQL for analysts", "course", "sql joins window functions onboarding"),
    ("Webinar: learning in the flow of work", "event", "webinar onboarding learning"),
    ("Podcast 42: mentoring engineers", "podcast", "mentoring podcast onboarding"),
    ("Spaced repetition at work, the evidence", "paper", "spaced repetition onboarding paper"),
    ("Video: running a lunch and learn", "video", "lunch and learn onboarding video"),
    ("Pairing as onboarding", "article", "pairing onboarding mentoring"),
)
CATEGORY = {"course": "course", "event": "webinar", "podcast": "podcast", "paper": "paper"}


def rss(now: datetime, items: tuple[tuple[str, str, str], ...] = ITEMS, first: int = 0) -> bytes:
    """An RSS 2.0 feed of ``items`` (title, type, words), published over the last day;
    item links count up from ``first``."""
    entries = []
    for n, (title, kind, words) in enumerate(items, start=first):
        published = format_datetime(now - timedelta(hours=2 + n))
        body = escape(f"<p>{title}. A piece about {words}. " + "More words here. " * 40 + "</p>")
        enclosure = (
            f'<enclosure url="https://media.example.org/{n}.mp3" length="1" type="audio/mpeg"/>'
            if kind == "podcast"
            else ""
        )
        category = f"<category>{CATEGORY[kind]}</category>" if kind in CATEGORY else ""
        entries.append(
            f"<item><title>{escape(title)}</title><link>https://learn.example.org/{n}</link>"
            f"<guid>https://learn.example.org/{n}</guid><pubDate>{published}</pubDate>"
            f"{category}{enclosure}<description>{body}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Learning at work</title><link>https://learn.example.org/</link>"
        "<description>Test feed</description>" + "".join(entries) + "</channel></rss>"
    ).encode()


PROFILE = """name = "{display}"
{email}digest_size = 10
freshness_days = 30

[interests]
onboarding = 3
mentoring = 2
sql = 1
"""

PEOPLE = {
    "alice": ("Alice Example", "alice@example.org"),
    "bob": ("Bob Builder", "bob@example.org"),
    "carol": ("Carol Noaddress", None),
}


def make_project(
    root: Path, feed_url: str, *, smtp_port: int | None = None, teams: str = ""
) -> Path:
    """Write feeds.toml and profiles for :data:`PEOPLE`; returns ``root``."""
    smtp = (
        f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nstarttls = false\n'
        f'from = "Learnplace <digest@example.org>"\ntimeout = 5\n'
        if smtp_port is not None
        else ""
    )
    team_table = teams or '\n[teams]\ncore = ["alice", "bob", "carol"]\n'
    (root / "feeds.toml").write_text(
        f'[settings]\ntitle = "Learnplace"\nallow_private_networks = true\n{smtp}{team_table}'
        f'\n[[source]]\nname = "Learning at work"\nurl = "{feed_url}"\nkind = "article"\n',
        encoding="utf-8",
    )
    profiles = root / "profiles"
    profiles.mkdir(exist_ok=True)
    for name, (display, email) in PEOPLE.items():
        line = f'email = "{email}"\n' if email else ""
        (profiles / f"{name}.toml").write_text(
            PROFILE.format(display=display, email=line), encoding="utf-8"
        )
    return root
