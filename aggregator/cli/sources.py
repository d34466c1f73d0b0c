"""``learnplace sources``: list the sources with their health, add, remove, import and export."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import BinaryIO

import click
from rich.table import Table

from aggregator.app import Application
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import console, echo, json_text, text
from aggregator.models import SOURCE_KINDS, SourceStatus


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
    table = Table("Name", "Status", "Items", "Last success", "Next attempt", "Error")
    for status in statuses:
        table.add_row(
            text(status.name),
            _status_word(status),
            str(status.items),
            _when(status.last_success),
            "retired" if status.retired else _when(status.next_attempt) or "next run",
            text(status.last_error or ""),
        )
    console().print(table)


@sources.command()
@click.argument("url")
@click.option("--name", help="Name shown on digests (default: the feed's title).")
@click.option("--kind", type=click.Choice(SOURCE_KINDS), default="blog", show_default=True)
@click.pass_obj
@friendly_errors
def add(app: Application, url: str, name: str | None, kind: str) -> None:
    """Add a feed, or a web page whose feed is found by autodiscovery, to feeds.toml."""
    added = app.add_source(url, name=name, kind=kind)
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


@sources.command("import")
@click.argument("opml", type=click.File("rb"))
@click.pass_obj
@friendly_errors
def import_(app: Application, opml: BinaryIO) -> None:
    """Append the feeds of an OPML file (``-`` for stdin) to feeds.toml."""
    added, known = app.import_opml(opml.read())
    echo(f"Imported {len(added)} sources ({known} already listed).")


@sources.command()
@click.pass_obj
@friendly_errors
def export(app: Application) -> None:
    """Print the sources as OPML 2.0."""
    opml = app.export_opml(datetime.now(UTC))
    sys.stdout.buffer.write(opml)


def _status_word(status: SourceStatus) -> str:
    if not status.listed:
        return "not in feeds.toml"
    if status.retired:
        return "gone"
    if status.last_status is None and status.last_error is None:
        return "new"
    if status.last_error:
        return f"failing x{status.failures}"
    return "moved" if status.moved_from else "ok"


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
        "last_success": status.last_success.isoformat() if status.last_success else None,
        "next_attempt": status.next_attempt.isoformat() if status.next_attempt else None,
        "failures": status.failures,
        "retired": status.retired,
        "error": status.last_error,
        "problems": list(status.problems),
        "listed": status.listed,
    }
