"""A new project's first files (``learnplace init``, and ``learnplace demo`` in an empty folder),
and the next steps both print: a person is never left wondering what to type next.

Nothing that exists is overwritten: a folder that already holds ``feeds.toml``
or profiles keeps them, so running either command twice is harmless.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aggregator.atomic import write_atomic
from aggregator.config import profile_edit
from aggregator.config.files import PROFILE_NAME
from aggregator.errors import ConfigError

STARTER_FEEDS = """\
# Learnplace sources: the feeds your daily digests are made from.
#
# Each [[source]] has a `name` (shown on digests; profiles' `exclude.sources` use it),
# a feed `url`, a `kind` saying what its items usually are (article | course |
# event | podcast | video | book | paper) and free `tags`; `disabled = true`
# keeps a source listed without fetching it.
# Add more by hand, or with `learnplace sources add URL` (it finds a page's feed)
# and `learnplace sources import FILE.opml`; both keep these comments.

[settings]
title = "Learnplace"
timeout = 10           # seconds, connect/read
deadline = 30          # seconds, total per request
timezone = ""          # zone of times a source gives without one ("Europe/Berlin"); "" = local time

# Harold Jarche: personal knowledge mastery, networked learning at work.
[[source]]
name = "Harold Jarche"
url = "https://jarche.com/feed/"
kind = "article"
tags = ["workplace learning"]

# Clark Quinn: learning science and learning design.
[[source]]
name = "Learnlets (Clark Quinn)"
url = "https://blog.learnlets.com/feed/"
kind = "article"
tags = ["learning design"]

# arXiv's computers-and-society papers (education and work among them).
[[source]]
name = "arXiv cs.CY"
url = "https://rss.arxiv.org/rss/cs.CY"
kind = "paper"
tags = ["research"]
"""

STARTER_INTERESTS = {"onboarding": 2.0, "learning design": 2.0, "coaching": 1.0}


def init_project(root: Path, person: str = "me") -> list[Path]:
    """Write ``feeds.toml`` and ``profiles/PERSON.toml`` where missing; the files written."""
    if not PROFILE_NAME.fullmatch(person):
        raise ConfigError(
            person, "a profile name is lower-case letters, digits, '-' and '_' (e.g. 'priya')"
        )
    written = _write_feeds(root)
    profiles = root / "profiles"
    if not any(profiles.glob("*.toml")):
        written.append(Path(profile_edit.create(profiles, person, STARTER_INTERESTS).path))
    return written


def adopt_examples(root: Path, examples: Path) -> list[Path]:
    """Make ``root`` a project holding the example profiles (the demo's), where it is none yet."""
    written = _write_feeds(root)
    profiles = root / "profiles"
    if not any(profiles.glob("*.toml")):
        profiles.mkdir(parents=True, exist_ok=True)
        for example in sorted(examples.glob("*.toml")):
            written.append(Path(shutil.copyfile(example, profiles / example.name)))
    return written


def _write_feeds(root: Path) -> list[Path]:
    feeds = root / "feeds.toml"
    if feeds.exists():
        return []
    root.mkdir(parents=True, exist_ok=True)
    write_atomic(feeds, STARTER_FEEDS)
    return [feeds]


def next_steps(people: list[str], *, collected: bool) -> list[str]:
    """What to try next, as commands to copy; ``collected`` once a store holds items."""
    person = people[0] if people else "NAME"
    steps = []
    if collected:
        steps += [
            "learnplace search onboarding            # ids in the first column",
            "learnplace serve                        # http://127.0.0.1:8000/: read, like, share",
            f"learnplace preview {person}",
            f"learnplace feedback {person} ID --more",
            f'learnplace share {person} ID --note "why it is worth a read"',
            "learnplace sources",
        ]
    else:
        steps += ["learnplace run                          # fetch feeds.toml's sources"]
    steps += [
        "Make it yours: edit feeds.toml (`learnplace sources add URL`) and profiles/,",
        "then `learnplace run` daily (README: Daily use).",
    ]
    return steps
