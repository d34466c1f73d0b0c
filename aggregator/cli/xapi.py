"""``learnplace xapi send``: learning records to the organisation's Learning Record Store."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from aggregator.app import Application
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import echo


@cli.group()
def xapi() -> None:
    """xAPI 1.0.3 statements for the LRS that [xapi] in feeds.toml names."""


@xapi.command("send")
@click.argument("name", required=False)
@click.pass_obj
@friendly_errors
def send(app: Application, name: str | None) -> None:
    """Send the learning records of NAME (everyone if left out) not sent yet.

    Each record goes once; one the LRS did not take is sent again next time. A
    reflection goes with its record only when the person shared it.
    """
    reports = app.send_xapi(now=datetime.now(UTC), only=name)
    for report in reports:
        waiting = f", {report.waiting} waiting for the next send" if report.waiting else ""
        echo(f"{report.person}: sent {report.sent} statements{waiting}")
    errors = {report.error for report in reports if report.error}
    for error in sorted(errors):
        echo(f"The LRS did not take them: {error}", err=True)
    if errors:
        sys.exit(1)
