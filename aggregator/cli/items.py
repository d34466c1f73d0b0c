"""``learnplace item``: a person corrects what the parser guessed about one item."""

from __future__ import annotations

from pathlib import Path

import click

from aggregator import pipeline
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
def set_type(project_dir: Path, item_id: int, item_type: str) -> None:
    """Give item ITEM_ID the type ITEM_TYPE for good; `auto` goes back to the guessed type."""
    project = pipeline.Project.at(project_dir)
    changed = pipeline.set_item_type(project, item_id, None if item_type == "auto" else item_type)
    echo(f"{changed.id}: {changed.title} is now {changed.item_type}")
