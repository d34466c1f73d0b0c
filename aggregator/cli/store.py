"""``learnplace store copy``: the project's store moved to PostgreSQL, or back to a SQLite file."""

from __future__ import annotations

import sys

import click

from aggregator.app import Application, CopyReport
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import console, echo


@cli.group()
def store() -> None:
    """The project's store as a whole (what `learnplace run` collected)."""


@store.command("copy")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="An empty PostgreSQL database (postgresql://…), or a new SQLite file's path.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@click.pass_obj
@friendly_errors
def copy(app: Application, target: str, quiet: bool) -> None:
    """Copy every table of the store, ids kept, into URL, and check each by its row count
    and checksum. The copy is one transaction: if it fails, or a check differs, the
    target keeps nothing of it. The project goes on using its own store until you
    switch it."""
    status = console(stderr=True).status("Copying the store", spinner="line")
    if not quiet:
        status.start()

    def progress(table: str, rows: int) -> None:
        status.update(f"Copying the store: {table}, {rows} rows")

    try:
        report = app.copy_store(target, progress=progress)
    finally:
        status.stop()
    for line in _table(report):
        echo(line)
    if not report.kept:
        echo(
            f"The checksums differ: nothing was kept in {report.target}. "
            "Please report this as a bug, with the table above.",
            err=True,
        )
        sys.exit(1)
    total = sum(check.rows_after for check in report.tables)
    echo(f"Copied {total} rows into {report.target} in {report.seconds:.1f} s.")
    for line in _next_steps(report):
        echo(line)


def _table(report: CopyReport) -> list[str]:
    """Plain aligned lines, so a log or a terminal of any width keeps them whole."""
    lines = [
        f"{report.source} -> {report.target}",
        f"{'table':<16} {'rows before':>11} {'rows after':>11}  {'sha256 before':<12}  "
        f"{'sha256 after':<12}  checksum",
    ]
    for check in report.tables:
        lines.append(
            f"{check.table:<16} {check.rows_before:>11} {check.rows_after:>11}  "
            f"{check.checksum_before[:12]:<12}  {check.checksum_after[:12]:<12}  "
            + ("match" if check.matches else "DIFFERS")
        )
    return lines


def _next_steps(report: CopyReport) -> list[str]:
    """How to switch the project over; the search index is the new backend's to rebuild."""
    if report.target_is_database:
        switch = (
            'To switch: set `[store] url = "<that URL>"` in feeds.toml, or '
            "LEARNPLACE_DATABASE_URL to it"
        )
    else:
        switch = (
            f"To switch: move {report.target} to state/learnplace.sqlite3 (move the old one "
            "aside first), and remove [store] url from feeds.toml and LEARNPLACE_DATABASE_URL"
        )
    return [
        f"{switch}; then `learnplace reindex` builds the search index there.",
        "Until then the project keeps using its own store.",
    ]
