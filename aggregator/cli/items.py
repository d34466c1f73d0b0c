"""``learnplace item``: a person corrects what the parser guessed about one item."""

from __future__ import annotations

import click

from aggregator.app import Application
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import echo
from aggregator.models import ITEM_TYPES


@cli.group()
def item() -> None:
    """Look at or correct single items (ids are shown by `learnplace search`)."""


@item.command("set-type")
@click.argument("item_id", type=int)
@click.argument("item_type", type=click.Choice((*ITEM_TYPES, "auto")))
@click.pass_obj
@friendly_errors
def set_type(app: Application, item_id: int, item_type: str) -> None:
    """Give item ITEM_ID the type ITEM_TYPE for good; `auto` goes back to the guessed type."""
    changed = app.set_item_type(item_id, None if item_type == "auto" else item_type)
    echo(f"{changed.id}: {changed.title} is now {changed.item_type}")
