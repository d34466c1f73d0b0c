"""Upkeep commands: ``prune`` old items and ``reindex`` the search index from the store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from aggregator.app import Application
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import echo

_AGE = re.compile(r"(\d+)([dw])")
_UNIT_DAYS = {"d": 1, "w": 7}


def parse_age(text: str) -> timedelta:
    """``180d`` or ``26w`` as a timedelta; anything else is a usage error."""
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r}: give days or weeks, such as 180d or 26w")
    return timedelta(days=int(match[1]) * _UNIT_DAYS[match[2]])


@cli.command()
@click.option(
    "--older-than",
    "age",
    required=True,
    metavar="AGE",
    help="Delete items published longer ago than this: 180d, 26w.",
)
@click.pass_obj
@friendly_errors
def prune(app: Application, age: str) -> None:
    """Delete old items from the store and the index together.

    Items someone shared or liked, and items in any digest within the same
    age, are kept.
    """
    removed = app.prune(older_than=parse_age(age), now=datetime.now(UTC))
    echo(f"Pruned {removed} items published more than {age} ago.")


@cli.command()
@click.pass_obj
@friendly_errors
def reindex(app: Application) -> None:
    """Rebuild the search index from the store (searches keep working meanwhile)."""
    count = app.reindex()
    echo(f"Indexed {count} items into {app.project.index_dir}.")
