"""Replacing a file in one step, for every writer: pages, profiles and ``feeds.toml``.

The text goes to a hidden temporary sibling, is flushed to disk, and is moved
over the target with ``os.replace``, so a reader (or a crash) sees the old
file or the new one, never half of either.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"
"""Ends every temporary file :func:`write_atomic` makes (they also start with a dot)."""

NEW_FILE_MODE = 0o644
"""A new file is readable by all: a static site must be readable by the web server."""


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``; on any failure the old file stays as it was.

    A file that already holds ``text`` is left alone: a daily
    run rewrites mostly unchanged pages and calendar files, and an untouched
    file keeps its modification time, which is what a web server's
    ``Last-Modified`` and a reader's conditional request go by.

    A replaced file keeps its permission bits: mkstemp makes the temporary file
    private, and a person's profile must not silently become unreadable to others.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    else:
        if _holds(path, text):
            return
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _holds(path: Path, text: str) -> bool:
    try:
        with path.open(encoding="utf-8", newline="") as handle:  # calendars end lines in CRLF
            return handle.read() == text
    except (OSError, UnicodeDecodeError):
        return False
