"""Editing profile files in place, keeping the person's comments and layout.

A profile is a file someone wrote by hand, so it is never rewritten
wholesale: tomlkit changes only the keys an edit names. Every edit is
validated with :func:`aggregator.config.files.load_profile` before it replaces the
file (through a temporary file and ``os.replace``), so an edit that would make
the profile invalid leaves the old file untouched.
The web form's edits (:func:`apply`, :func:`update_profile`) follow the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Comment, Table, Whitespace

from aggregator.atomic import write_atomic
from aggregator.config.files import parse_profile, profile_path
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


def create(directory: Path, name: str, interests: dict[str, float]) -> Profile:
    """Write a new profile from the commented template; refuse to overwrite one."""
    path = profile_path(directory, name, existing=False)
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
    document = _parse(path)
    try:
        change(document)
    except ConfigError as exc:
        if exc.path:
            raise
        # A change names what is wrong, not where: this is the file it was made to.
        raise ConfigError(str(path), exc.message, line=exc.line, key=exc.key) from None
    return _replace(path, tomlkit.dumps(document))


def replace_text(path: Path, text: str) -> Profile:
    """Save hand-edited text (``profile edit``) only if it is a valid profile."""
    return _replace(path, text)


def set_interest(document: tomlkit.TOMLDocument, phrase: str, weight: float) -> None:
    _set_key(document, "interests", phrase, weight)


def _set_key(document: tomlkit.TOMLDocument, name: str, key: str, value: float) -> None:
    """Set ``key`` in table ``name``; a new key goes after the table's last entry.

    tomlkit appends after everything the table holds, and the comments that end a
    table are the next one's introduction ("# Never show items..." above ``[exclude]``):
    an interest added there read as an exclusion. So the table is rebuilt with the new
    key before those comments, every other entry and comment as it was.
    """
    table = _table(document, name)
    if key in table:
        table[key] = value
        return
    body = table.value.body
    last = max((n for n, (entry, _) in enumerate(body) if entry is not None), default=-1)
    if last == len(body) - 1:
        table[key] = value
        return
    rebuilt = tomlkit.table()
    rebuilt.trivia.indent = table.trivia.indent
    for entry, item in body[: last + 1]:
        if entry is not None:
            rebuilt.add(entry, item)
        elif isinstance(item, Comment | Whitespace):
            rebuilt.add(item)
    rebuilt.add(key, value)
    for _, item in body[last + 1 :]:
        if isinstance(item, Comment | Whitespace):
            rebuilt.add(item)
    rebuilt.add(tomlkit.ws(""))  # ends in whitespace: tomlkit adds no blank line of its own
    document[name] = rebuilt


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


def _parse(path: Path) -> tomlkit.TOMLDocument:
    """The profile file as tomlkit reads it; a file it cannot read is a clear error."""
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except TOMLKitError as exc:
        raise ConfigError(
            str(path), f"invalid TOML: {exc}", line=getattr(exc, "line", None)
        ) from None


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
    write_atomic(path, text)
    return profile


FORM_KEYS = (
    "digest_size",
    "freshness_days",
    "interests",
    "exclude_words",
    "exclude_sources",
    "types",
)
"""The keys a form's ``changes`` may hold; tables (interests, types) are replaced as a whole."""


def _set_table(doc: tomlkit.TOMLDocument, key: str, values: Mapping[str, float]) -> None:
    """Make table ``key`` hold exactly ``values``, keeping the comments of entries that stay;
    no values and no table leaves the file without one (an empty ``[types]`` says nothing)."""
    if not values and key not in doc:
        return
    table = _table(doc, key)
    for old in [k for k in table if k not in values]:
        del table[old]
    for name, weight in values.items():
        _set_key(doc, key, name, int(weight) if float(weight).is_integer() else float(weight))


def apply(path: Path, changes: Mapping[str, Any]) -> tuple[str, Profile]:
    """The profile's new text and what it means, validated; nothing is written.

    Raises :class:`ConfigError` naming ``path``, the line and the key of the
    first problem, as if the person had typed the change into the file.
    """
    unknown = set(changes) - set(FORM_KEYS)
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    doc = _parse(path)
    for key in ("digest_size", "freshness_days"):
        if key in changes:
            doc[key] = changes[key]
    for key in ("interests", "types"):
        if key in changes:
            _set_table(doc, key, changes[key])
    for key, name in (("exclude_words", "words"), ("exclude_sources", "sources")):
        if key in changes:
            _table(doc, "exclude")[name] = list(changes[key])
    text = tomlkit.dumps(doc)
    return text, parse_profile(text, path)


def update_profile(path: Path, changes: Mapping[str, Any]) -> None:
    """Apply a form's ``changes`` to the profile at ``path`` if the result is valid."""
    text, _ = apply(path, changes)
    _replace(path, text)
