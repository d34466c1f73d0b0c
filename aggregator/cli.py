"""The ``learnplace`` command. Each command is a few lines that call :mod:`aggregator.pipeline`.

Errors a person can fix arrive as :class:`LearnplaceError` (or a clean
``ValueError`` from query parsing) and leave as a one-line message; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from aggregator import __version__, pipeline
from aggregator.config import load_profiles, parse_config
from aggregator.demo import EXAMPLE_PROFILES_DIR, SampleServer
from aggregator.errors import LearnplaceError
from aggregator.index import QuerySyntaxError

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
def _reporter(quiet: bool) -> Iterator[pipeline.Reporter]:
    if quiet:
        yield pipeline.SilentReporter()
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield RichReporter(progress)


def _friendly_errors(func: F) -> F:
    """Turn the errors a person can act on into one clean line (and exit status 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (LearnplaceError, QuerySyntaxError) as exc:
            raise click.ClickException(str(exc)) from None

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
    ctx.obj = project


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary (for cron).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@_friendly_errors
def run(project_dir: Path, quiet: bool, as_json: bool) -> None:
    """Fetch every source, update the index and write today's digests to output/."""
    project = pipeline.Project.at(project_dir)
    with _reporter(quiet or as_json) as reporter:
        summary = pipeline.run(project, now=datetime.now(UTC), reporter=reporter)
    _report(summary, quiet=quiet, as_json=as_json)
    if summary.sources_ok == 0 and summary.failures:
        sys.exit(2)


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@_friendly_errors
def demo(project_dir: Path, quiet: bool, as_json: bool) -> None:
    """Run the whole pipeline offline on the bundled sample feeds.

    The samples are served from a loopback server this command starts, so the
    real fetch path runs. State goes to state/demo/, pages to output/.
    """
    project = pipeline.Project.at(project_dir, state_dir=project_dir / "state" / "demo")
    profiles_dir = project.profiles_dir
    if not any(profiles_dir.glob("*.toml")):
        profiles_dir = EXAMPLE_PROFILES_DIR
    profiles = load_profiles(profiles_dir)
    now = datetime.now(UTC)
    with SampleServer(now) as server:
        config = parse_config(server.feeds_toml(), Path("samples/feeds.toml"))
        with _reporter(quiet or as_json) as reporter:
            summary = pipeline.run(
                project, now=now, reporter=reporter, config=config, profiles=profiles
            )
    _report(summary, quiet=quiet, as_json=as_json)


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", default=20, show_default=True, help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.pass_obj
@_friendly_errors
def search(project_dir: Path, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Search collected items (words, "phrases", AND/OR/NOT, field:value)."""
    project = pipeline.Project.at(project_dir)
    if not project.store_path.exists():
        raise click.ClickException(f"nothing collected yet in {project.root}: run `learnplace run`")
    results = pipeline.search(project, " ".join(query), limit=limit)
    if as_json:
        rows = [
            {
                "id": item.id,
                "title": item.title,
                "source": item.source_name,
                "published": item.published.isoformat(),
                "type": item.item_type,
                "url": item.url,
                "score": round(score, 3),
            }
            for item, score in results
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not results:
        click.echo("No items match.")
        return
    table = Table("Title", "Source", "Date", "Link", show_lines=False)
    for item, _ in results:
        table.add_row(item.title, item.source_name, item.published.date().isoformat(), item.url)
    Console().print(table)


def _report(summary: pipeline.RunSummary, *, quiet: bool, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_summary_json(summary), indent=2, ensure_ascii=False))
        return
    if quiet:
        return
    console = Console()
    total = summary.sources_ok + len(summary.failures)
    console.print(
        f"[bold]Sources:[/] {summary.sources_ok}/{total} ok "
        f"({summary.not_modified} unchanged), {len(summary.failures)} failed"
    )
    for name, error in summary.failures[:8]:
        console.print(f"  [red]✗[/] {name}: {error}")
    if len(summary.failures) > 8:
        console.print(f"  … and {len(summary.failures) - 8} more (see `learnplace run --json`)")
    console.print(f"[bold]Items:[/] {summary.new_items} new, {summary.updated_items} updated")
    table = Table("Person", "Items", "Page", title="Digests written", title_justify="left")
    for name, count, path in summary.digests:
        table.add_row(name, str(count), str(path))
    console.print(table)
    if summary.site_index is not None:
        console.print(f"Open [bold]{summary.site_index.as_uri()}[/] in a browser.")


def _summary_json(summary: pipeline.RunSummary) -> dict[str, Any]:
    return {
        "sources_ok": summary.sources_ok,
        "not_modified": summary.not_modified,
        "failed": [{"source": name, "error": error} for name, error in summary.failures],
        "new_items": summary.new_items,
        "updated_items": summary.updated_items,
        "digests": [
            {"person": name, "items": count, "page": str(path)}
            for name, count, path in summary.digests
        ],
        "site_index": str(summary.site_index) if summary.site_index else None,
    }


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="learnplace")
