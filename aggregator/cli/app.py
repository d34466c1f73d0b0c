"""The ``learnplace`` group and what every command shares: errors, progress, the application.

Errors a person can fix arrive as :class:`LearnplaceError` (or a clean
``ValueError`` from query parsing) and leave as a one-line message; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from aggregator import __version__
from aggregator.app import Application, Project, Reporter, SilentReporter
from aggregator.cli.terminal import clean, console, note_line
from aggregator.errors import LearnplaceError, OldNameWarning, QuerySyntaxError

F = TypeVar("F", bound=Callable[..., Any])
STAGE_LABELS = {
    "fetch": "Fetching sources",
    "index": "Indexing",
    "digests": "Ranking digests",
    "render": "Writing pages",
}


class RichReporter:
    """Progress bars on stderr, one per pipeline stage."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def start(self, stage: str, total: int) -> None:
        label = STAGE_LABELS.get(stage, stage)
        self._tasks[stage] = self._progress.add_task(label, total=total)

    def advance(self, stage: str, detail: str = "") -> None:
        self._progress.advance(self._tasks[stage])


@contextmanager
def progress_reporter(quiet: bool) -> Iterator[Reporter]:
    if quiet:
        yield SilentReporter()
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as progress:
        yield RichReporter(progress)


_show_warning = warnings.showwarning


def _notes(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """An old name in a file is a one-line note (it names file, line and key), once per
    command; every other warning as Python shows it."""
    if issubclass(category, OldNameWarning):
        note_line(message)
        return
    _show_warning(message, category, *args, **kwargs)


def friendly_errors(func: F) -> F:
    """Turn the errors a person can act on into one clean line (and exit status 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (LearnplaceError, QuerySyntaxError) as exc:
            raise click.ClickException(clean(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="learnplace")
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="current folder",
    help="Folder holding feeds.toml, profiles/ and (generated) state/ and output/.",
)
@click.pass_context
def cli(ctx: click.Context, project: Path) -> None:
    """Learnplace: personal daily digests of learning opportunities."""
    warnings.showwarning = _notes
    app = Application(Project.at(project))
    ctx.call_on_close(app.close)
    ctx.obj = app


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="learnplace")
