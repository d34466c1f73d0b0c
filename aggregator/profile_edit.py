"""Changing a profile file from a form without losing its comments or layout.

tomlkit edits the document in place: keys that stay keep their comments, new
keys are appended to their table. The new text is validated by
:func:`config.load_profile` before the file is replaced (atomically), so a bad
value never reaches the disk.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from aggregator.config import load_profile
from aggregator.errors import ConfigError
from aggregator.models import Profile

EDITABLE = (
    "digest_size",
    "freshness_days",
    "interests",
    "exclude_words",
    "exclude_sources",
    "types",
)
"""The keys ``changes`` may hold; tables (interests, types) are replaced as a whole."""


def _set_table(doc: Any, key: str, values: Mapping[str, float]) -> None:
    """Make table ``key`` hold exactly ``values``, keeping the comments of entries that stay."""
    table = doc.get(key)
    if not isinstance(table, Table):
        table = tomlkit.table()
        doc[key] = table
    for old in [k for k in table if k not in values]:
        del table[old]
    for name, weight in values.items():
        number = int(weight) if float(weight).is_integer() else float(weight)
        table[name] = number


def apply(path: Path, changes: Mapping[str, Any]) -> tuple[str, Profile]:
    """The profile's new text and what it means, validated; nothing is written.

    Raises :class:`ConfigError` naming ``path``, the line and the key of the
    first problem, as if the person had typed the change into the file.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    for key in ("digest_size", "freshness_days"):
        if key in changes:
            doc[key] = changes[key]
    for key in ("interests", "types"):
        if key in changes:
            _set_table(doc, key, changes[key])
    for key, name in (("exclude_words", "words"), ("exclude_sources", "sources")):
        if key in changes:
            exclude = doc.get("exclude")
            if not isinstance(exclude, Table):
                exclude = tomlkit.table()
                doc["exclude"] = exclude
            exclude[name] = list(changes[key])
    text = tomlkit.dumps(doc)
    with tempfile.TemporaryDirectory(prefix=".edit-", dir=path.parent) as folder:
        candidate = Path(folder) / path.name  # same stem: the file name is the person's id
        candidate.write_text(text, encoding="utf-8")
        try:
            profile = load_profile(candidate)
        except ConfigError as exc:
            raise ConfigError(str(path), exc.message, line=exc.line, key=exc.key) from None
    return text, dataclasses.replace(profile, path=str(path))


def update_profile(path: Path, changes: Mapping[str, Any]) -> None:
    """Apply ``changes`` to the profile at ``path`` if the result is valid; atomic replace."""
    text, _ = apply(path, changes)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
