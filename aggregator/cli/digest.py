"""Delivering and sharing digests: ``send`` and ``share``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from aggregator.app import Application, who_sees_it
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import echo, json_text


@cli.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one result per person as JSON.")
@click.pass_obj
@friendly_errors
def send(app: Application, name: str | None, as_json: bool) -> None:
    """E-mail today's digest to everyone with an address (or only NAME).

    Safe to rerun: a digest already sent today is not sent again, and a failed
    send is tried again next time. Exits 1 when any send failed.
    """
    results = app.send(now=datetime.now(UTC), only=name)
    if as_json:
        rows = [
            {"person": r.person, "address": r.address, "status": r.status, "detail": r.detail}
            for r in results
        ]
        echo(json_text(rows))
    elif not results:
        echo("Nobody to e-mail: no profile has an `email`.")
    for result in results if not as_json else ():
        detail = f" ({result.detail})" if result.detail else ""
        echo(f"{result.person} <{result.address}>: {result.status}{detail}")
    if any(result.status == "failed" for result in results):
        sys.exit(1)


@cli.command()
@click.argument("name")
@click.argument("item")
@click.option("--note", "-n", default="", help="Why it is worth your colleagues' time.")
@click.pass_obj
@friendly_errors
def share(app: Application, name: str, item: str, note: str) -> None:
    """Share ITEM (its number or link on a digest page) from NAME with their teams.

    The team pages and each teammate's next digest show it, with the note.
    """
    recorded = app.share(name, item, note, now=datetime.now(UTC))
    if recorded.replaced_note is not None and recorded.replaced_note != recorded.note:
        echo(
            f"Updated {name}'s note on item {recorded.item_id} "
            f"(it was: {recorded.replaced_note!r})."
        )
    echo(f"Shared item {recorded.item_id} from {name}: {who_sees_it(app.teams_of(name))}.")
