"""Editing profile files in place, keeping the person's comments and layout.

A profile is a file someone wrote by hand, so it is never rewritten
wholesale: tomlkit changes only the keys an edit names. Every edit is
validated with :func:`aggregator.config.load_profile` before it replaces the
file (through a temporary file and ``os.replace``), so an edit that would make
the profile invalid leaves the old file untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import tomlkit
from tomlkit.items import Table

from aggregator.config import PROFILE_NAME, parse_profile
from aggregator.errors import ConfigError
from aggregator.models import Profile

NEW_PROFILE = """\
# An interest profile: one person, one file. The file name (without .toml)
# is the person's id. Edit it by hand or with `learnplace profile ...`;
# both keep these comments.

name = {name}
digest_size = 15             # items per digest
freshness_days = 14          # how far back to look

# Word or "quoted phrase" = weight (bigger = more important).
[interests]
{interests}

# Items mentioning these words, or from these sources, are never picked.
[exclude]
words = []
sources = []
"""


def profile_path(directory: Path, name: str) -> Path:
    if not PROFILE_NAME.match(name):
        raise ConfigError(
            f"{name}.toml", "profile names use lower-case letters, digits, '-' and '_' only"
        )
    return directory / f"{name}.toml"


def create(directory: Path, name: str, interests: dict[str, float]) -> Profile:
    """Write a new profile from the commented template; refuse to overwrite one."""
    path = profile_path(directory, name)
    if path.exists():
        raise ConfigError(str(path), "a profile with this name already exists")
    lines = "\n".join(f"{tomlkit.string(k).as_string()} = {v:g}" for k, v in interests.items())
    text = NEW_PROFILE.format(name=tomlkit.string(name).as_string(), interests=lines)
    directory.mkdir(parents=True, exist_ok=True)
    return _replace(path, text)


def edit(path: Path, change: Callable[[tomlkit.TOMLDocument], None]) -> Profile:
    """Apply ``change`` to the parsed file and save it if the result is a valid profile."""
    if not path.exists():
        raise ConfigError(str(path), "no such profile")
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    change(document)
    return _replace(path, tomlkit.dumps(document))


def replace_text(path: Path, text: str) -> Profile:
    """Save hand-edited text (``profile edit``) only if it is a valid profile."""
    return _replace(path, text)


def set_interest(document: tomlkit.TOMLDocument, phrase: str, weight: float) -> None:
    _table(document, "interests")[phrase] = weight


def remove_interest(document: tomlkit.TOMLDocument, phrase: str) -> None:
    interests = _table(document, "interests")
    if phrase not in interests:
        known = ", ".join(repr(k) for k in interests) or "none"
        raise ConfigError("", f"no interest {phrase!r} (interests: {known})", key="interests")
    del interests[phrase]


def add_exclusion(document: tomlkit.TOMLDocument, key: str, value: str) -> None:
    table = _table(document, "exclude")
    if key not in table:
        table[key] = tomlkit.array()
    if value not in table[key]:
        table[key].append(value)


def _table(document: tomlkit.TOMLDocument, name: str) -> Table:
    if name not in document:
        document[name] = tomlkit.table()
    table = document[name]
    if not isinstance(table, Table):
        raise ConfigError("", f"expected [{name}] to be a table", key=name)
    return table


def _replace(path: Path, text: str) -> Profile:
    """Validate ``text`` as the profile at ``path``, then swap it in atomically."""
    profile = parse_profile(text, path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return profile
