"""Where a project keeps its files, and how progress is reported: what every command shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aggregator.config.database import database_url
from aggregator.store import describe_location


@dataclass(frozen=True, slots=True)
class Project:
    """Where a project's files live; by default all next to ``feeds.toml``.

    ``database_url``: a PostgreSQL database holding the store and the search index
    (``[store] url`` or ``LEARNPLACE_DATABASE_URL``); None keeps both in ``state/``.
    """

    root: Path
    state_dir: Path
    output_dir: Path
    profiles_dir: Path
    templates_dir: Path
    database_url: str | None = None

    @classmethod
    def at(cls, root: Path, *, state_dir: Path | None = None) -> Project:
        root = root.resolve()
        return cls(
            root=root,
            state_dir=state_dir or root / "state",
            output_dir=root / "output",
            profiles_dir=root / "profiles",
            templates_dir=root / "templates",
            database_url=database_url(root / "feeds.toml"),
        )

    @property
    def feeds_path(self) -> Path:
        return self.root / "feeds.toml"

    @property
    def store_path(self) -> Path:
        return self.state_dir / "learnplace.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.state_dir / "index"

    @property
    def store_location(self) -> str:
        """What :func:`aggregator.store.open_store` opens: the database, else the file."""
        return self.database_url or str(self.store_path)

    @property
    def index_location(self) -> str:
        """What :func:`aggregator.search.open_index` opens: with a database, search lives
        there too (any machine reaches it); else the Whoosh folder."""
        return self.database_url or str(self.index_dir)

    @property
    def index_shown(self) -> str:
        """Where the index is, for a person: a folder, or the database without its password."""
        if self.database_url:
            return f"the search tables of {describe_location(self.database_url)}"
        return str(self.index_dir)


class Reporter(Protocol):
    """Receives progress; the CLI draws it, tests and cron ignore it."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, detail: str = "") -> None: ...


class SilentReporter:
    """A reporter for callers that want no progress output."""

    def start(self, stage: str, total: int) -> None:
        """Ignore the stage."""

    def advance(self, stage: str, detail: str = "") -> None:
        """Ignore the step."""
