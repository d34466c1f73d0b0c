"""The ``[store]`` table of ``feeds.toml``, checked as :mod:`.files` checks the rest::

    [store]
    url = "postgresql://learnplace@db.example.org/learnplace"

SQLite needs no table: a project without one keeps its store in ``state/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.config.files import _Checker

STORE_KEYS = ("url",)
DATABASE_URL_ENV = "LEARNPLACE_DATABASE_URL"
DATABASE_URL_SCHEMES = ("postgresql://", "postgres://")


def store_table(check: _Checker, raw: Any) -> str:
    """``[store] url``: the PostgreSQL database a project keeps its state in (issue 19)."""
    t = "store"
    if not isinstance(raw, dict):
        raise check.fail('expected a [store] table: url = "postgresql://..."', t)
    check.known_keys(raw, STORE_KEYS, t)
    url = check.typed(raw, "url", str, None, t)
    if url is None:
        raise check.fail('[store] needs url = "postgresql://user@host/database"', t, t)
    if not url.startswith(DATABASE_URL_SCHEMES):
        raise check.fail(
            f"expected a postgresql:// URL (SQLite needs no [store] table), got {url[:40]!r}",
            f"{t}.url",
            t,
        )
    return str(check.one_line(url, f"{t}.url", t))
