"""``learnplace sources``: list the sources with their health, add, remove, import and export."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import BinaryIO

import click
from rich.table import Table

from aggregator.app import Application, ImportReport, item_type, old_name_note
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import clean, console, echo, json_text, note_line, text
from aggregator.errors import LearnplaceError
from aggregator.models import ITEM_TYPES, SourceStatus


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
@click.pass_context
@friendly_errors
def sources(ctx: click.Context, as_json: bool) -> None:
    """Show every source: status, items, last success, next attempt and last error."""
    if ctx.invoked_subcommand is not None:
        return
    statuses = ctx.obj.source_statuses()
    if as_json:
        echo(json_text([_status_json(s) for s in statuses]))
        return
    table = Table("Name", "Status", "Items", "Last check", "Last success", "Next attempt", "Error")
    for status in statuses:
        table.add_row(
            text(status.name),
            _status_word(status),
            str(status.items),
            _when(status.last_attempt),
            _when(status.last_success),
            "retired" if status.retired else _when(status.next_attempt) or "next run",
            text(status.last_error or ""),
        )
    console().print(table)


@sources.command()
@click.argument("url")
@click.option("--name", help="Name shown on digests (default: the feed's title).")
@click.option(
    "--kind",
    default="article",
    show_default=True,
    help=f"What its items usually are: {', '.join(ITEM_TYPES)}.",
)
@click.pass_obj
@friendly_errors
def add(app: Application, url: str, name: str | None, kind: str) -> None:
    """Add a feed, or a web page whose feed is found by autodiscovery, to feeds.toml."""
    try:
        wanted = item_type(kind)
    except LearnplaceError as exc:
        raise click.BadParameter(clean(exc), param_hint="'--kind'") from None
    if note := old_name_note(kind):
        note_line(f"--kind: {note}")
    added = app.add_source(url, name=name, kind=wanted)
    echo(f"Added {added.source.name}: {added.source.url}")
    echo(f"  chosen: {added.reason}")


@sources.command()
@click.argument("url_or_name")
@click.pass_obj
@friendly_errors
def remove(app: Application, url_or_name: str) -> None:
    """Remove a source from feeds.toml (its items stay in the store)."""
    source = app.remove_source(url_or_name)
    echo(f"Removed {source.name}: {source.url}")


def _switch(disabled: bool, doc: str) -> None:
    """``sources disable`` and ``sources enable``: one key in feeds.toml, either way."""

    @click.argument("url_or_name")
    @click.pass_obj
    @friendly_errors
    def switch(app: Application, url_or_name: str) -> None:
        source = app.set_source_disabled(url_or_name, disabled)
        if disabled:
            echo(f"Disabled {source.name}: runs skip it until `learnplace sources enable`.")
        else:
            echo(f"Enabled {source.name}: the next run fetches it.")

    switch.__doc__ = doc
    sources.command("disable" if disabled else "enable")(switch)


_switch(True, "Stop fetching a source (``disabled = true`` in feeds.toml); its items stay.")
_switch(False, "Fetch a disabled source again from the next run.")


@sources.command("import")
@click.argument("opml", type=click.File("rb"))
@click.option(
    "--no-check",
    "unchecked",
    is_flag=True,
    help="Add every feed without fetching it first (they are reported as unchecked).",
)
@click.pass_obj
@friendly_errors
def import_(app: Application, opml: BinaryIO, unchecked: bool) -> None:
    """Append the feeds of an OPML file (``-`` for stdin) to feeds.toml.

    Each feed is fetched and parsed first, as ``sources add`` does, all at once;
    those that fail are listed and left out. Exit status 1 when any could not be read.
    """
    report = app.import_opml(opml.read(), opml.name, check=not unchecked)
    _print_import(report)
    if report.unreadable:
        raise SystemExit(1)


def _print_import(report: ImportReport) -> None:
    checked = "" if report.checked else " (unchecked: fetched at the next run)"
    echo(f"Added {len(report.added)} sources{checked}.")
    for source in report.added:
        echo(f"  + {source.name} ({source.kind}): {source.url}")
    if report.skipped:
        echo(f"Skipped {len(report.skipped)} already in feeds.toml.")
        for source in report.skipped:
            echo(f"  = {source.name}: {source.url}")
    if report.unreadable:
        echo(f"Could not read {len(report.unreadable)}:", err=True)
        for shown, why in report.unreadable:
            echo(f"  ! {shown}: {why}", err=True)


@sources.command()
@click.pass_obj
@friendly_errors
def export(app: Application) -> None:
    """Print the sources as OPML 2.0."""
    opml = app.export_opml(datetime.now(UTC))
    sys.stdout.buffer.write(opml)


def _status_word(status: SourceStatus) -> str:
    health = status.health
    if health == "failing":
        return f"failing x{status.failures}"
    return "not in feeds.toml" if health == "unlisted" else health


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _status_json(status: SourceStatus) -> dict[str, object]:
    return {
        "name": status.name,
        "url": status.url,
        "fetch_url": status.fetch_url or status.url,
        "moved_from": status.moved_from,
        "status": _status_word(status),
        "last_status": status.last_status,
        "items": status.items,
        "last_attempt": status.last_attempt.isoformat() if status.last_attempt else None,
        "last_success": status.last_success.isoformat() if status.last_success else None,
        "next_attempt": status.next_attempt.isoformat() if status.next_attempt else None,
        "failures": status.failures,
        "retired": status.retired,
        "error": status.last_error,
        "problems": list(status.problems),
        "listed": status.listed,
        "disabled": status.disabled,
    }
