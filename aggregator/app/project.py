"""Where a project keeps its files, and how progress is reported: what every command shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Project:
    """Where a project's files live; by default all next to ``feeds.toml``."""

    root: Path
    state_dir: Path
    output_dir: Path
    profiles_dir: Path
    templates_dir: Path

    @classmethod
    def at(cls, root: Path, *, state_dir: Path | None = None) -> Project:
        root = root.resolve()
        return cls(
            root=root,
            state_dir=state_dir or root / "state",
            output_dir=root / "output",
            profiles_dir=root / "profiles",
            templates_dir=root / "templates",
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
