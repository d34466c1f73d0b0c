"""Which database a project uses: ``LEARNPLACE_DATABASE_URL``, else ``[store] url``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from aggregator.config.files import load_config
from aggregator.config.store_table import DATABASE_URL_ENV, DATABASE_URL_SCHEMES
from aggregator.errors import ConfigError

_STORE_TABLE = re.compile(r"^\s*\[\s*store\s*\]", re.MULTILINE)


def database_url(feeds_path: Path) -> str | None:
    """The PostgreSQL URL a project uses, or None for its SQLite file in ``state/``.

    ``LEARNPLACE_DATABASE_URL`` wins (a worker on another machine needs no copy of the
    project's feeds.toml to find the database), then ``[store] url`` in ``feeds.toml``,
    read and checked whole when the file has a ``[store]`` table.
    """
    from_env = os.environ.get(DATABASE_URL_ENV, "").strip()
    if from_env:
        if not from_env.startswith(DATABASE_URL_SCHEMES):
            raise ConfigError(
                DATABASE_URL_ENV, f"expected a postgresql:// URL, got {from_env[:40]!r}"
            )
        return from_env
    try:
        text = feeds_path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None  # no project yet; a file that is not text is load_config's to report
    if not _STORE_TABLE.search(text):
        return None
    return load_config(feeds_path).store_url
