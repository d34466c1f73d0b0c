"""The learning record from the terminal: ``learned``, ``log``, ``saved-search`` and ``rule``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import click

from aggregator.app import Application
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import echo
from aggregator.models import ITEM_TYPES, RULE_FIELDS, Item, SavedSearch


@cli.command()
@click.argument("name")
@click.argument("item")
@click.option("--minutes", "-m", type=click.IntRange(0, 1440), help="Minutes it took.")
@click.option("--note", "-n", help="What you took from it (your reflection).")
@click.option("--share/--private", default=None, help="Show the reflection to your teams.")
@click.option("--delete", is_flag=True, help="Delete your record of ITEM.")
@click.pass_obj
@friendly_errors
def learned(
    app: Application,
    name: str,
    item: str,
    minutes: int | None,
    note: str | None,
    share: bool | None,
    delete: bool,
) -> None:
    """Log that NAME learned ITEM (its number or link on a digest page); again to edit it.

    Private unless --share: the record is NAME's own, and only shared reflections reach
    the team pages and the reflections feed.
    """
    now = datetime.now(UTC)
    if delete:
        gone = app.forget_learning(name, item, now=now)
        echo(f"Deleted {name}'s record of item {item}." if gone else f"No record of {item}.")
        return
    entry, replaced = app.learned(name, item, now=now, minutes=minutes, note=note, shared=share)
    record = entry.record
    verb = "Logged" if replaced is None else "Updated"
    length = f", {record.minutes} minutes" if record.minutes is not None else ""
    seen = "shared with your teams" if record.shared else "private"
    echo(f"{verb} item {entry.item.id} for {name}: {entry.item.title}{length} ({seen}).")


@cli.command()
@click.argument("name")
@click.pass_obj
@friendly_errors
def log(app: Application, name: str) -> None:
    """NAME's learning log by week, newest first: items, minutes and reflections."""
    weeks = app.learning_log(name)
    if not weeks:
        echo(f"Nothing logged for {name} yet: `learnplace learned {name} ITEM`.")
    for week in weeks:
        echo(f"Week of {week.start}: {week.minutes} minutes")
        for entry in week.entries:
            record = entry.record
            length = f"{record.minutes} min" if record.minutes is not None else "- min"
            seen = "shared" if record.shared else "private"
            echo(f"  [{entry.item.id}] {entry.item.title} ({length}, {seen})")
            if record.note:
                echo(f"      {record.note}")


@cli.group("saved-search")
def saved_search() -> None:
    """A profile's saved searches: each is a digest section and an Atom feed."""


_TYPES = click.option(
    "--type", "types", multiple=True, type=click.Choice(ITEM_TYPES), help="Only this type."
)


def _print_items(items: Sequence[Item], empty: str) -> None:
    if not items:
        echo(empty)
    for item in items:
        echo(f"  [{item.id}] {item.title} ({item.source_name}, {item.item_type})")


@saved_search.command("add")
@click.argument("name")
@click.argument("search_name")
@click.argument("query")
@_TYPES
@click.pass_obj
@friendly_errors
def add_search(
    app: Application, name: str, search_name: str, query: str, types: tuple[str, ...]
) -> None:
    """Save (or change) SEARCH_NAME in NAME's profile, and show what it finds now."""
    found = app.save_search(name, SavedSearch(search_name, query, types), now=datetime.now(UTC))
    echo(f"Saved “{search_name}” in {name}'s profile. Its section now:")
    _print_items(found, "  (nothing stored matches it yet)")


@saved_search.command("preview")
@click.argument("name")
@click.argument("query")
@_TYPES
@click.pass_obj
@friendly_errors
def preview_search(app: Application, name: str, query: str, types: tuple[str, ...]) -> None:
    """What QUERY's section would show in NAME's digest now; nothing is saved."""
    found = app.preview_search(name, SavedSearch("preview", query, types), now=datetime.now(UTC))
    _print_items(found, "Nothing stored matches it in the profile's window.")


@saved_search.command("remove")
@click.argument("name")
@click.argument("search_name")
@click.pass_obj
@friendly_errors
def remove_search(app: Application, name: str, search_name: str) -> None:
    """Remove SEARCH_NAME from NAME's profile."""
    app.remove_search(name, search_name)
    echo(f"Removed “{search_name}” from {name}'s profile.")


@cli.group()
def rule() -> None:
    """A profile's hard rules: mute hides what they match, keep brings it in."""


@rule.command("add")
@click.argument("name")
@click.option("--mute", "action", flag_value="mute", help="Hide what the rule matches.")
@click.option("--keep", "action", flag_value="keep", help="Bring what it matches in.")
@click.option("--words", help="Any of these words (comma or space separated).")
@click.option("--phrase", help="This phrase.")
@click.option("--source", help="This source (name or URL).")
@click.option("--type", "item_type", type=click.Choice(ITEM_TYPES), help="This item type.")
@click.option("--field", type=click.Choice(RULE_FIELDS), help="This field ...")
@click.option("--contains", help="... containing this text.")
@click.pass_obj
@friendly_errors
def add_rule(app: Application, name: str, action: str | None, **matchers: str | None) -> None:
    """Add a rule to NAME's profile and show what it matches now."""
    if action is None:
        raise click.UsageError("say --mute or --keep")
    field = matchers.pop("field") or ""
    contains = matchers.pop("contains")
    given = {k: v for k, v in matchers.items() if v}
    if field:
        given["field"] = contains or ""
    if len(given) != 1:
        raise click.UsageError("give one of --words, --phrase, --source, --type, --field")
    ((matcher, value),) = given.items()
    matcher = "type" if matcher == "item_type" else matcher
    profile = app.add_rule(name, action, matcher, value, field)
    _print_effects(app, name, [len(profile.rules)])


@rule.command("list")
@click.argument("name")
@click.pass_obj
@friendly_errors
def list_rules(app: Application, name: str) -> None:
    """NAME's rules, each with the stored items it matches now."""
    _print_effects(app, name)


@rule.command("remove")
@click.argument("name")
@click.argument("number", type=int)
@click.pass_obj
@friendly_errors
def remove_rule(app: Application, name: str, number: int) -> None:
    """Remove rule NUMBER (as `learnplace rule list` numbers them)."""
    app.remove_rule(name, number)
    echo(f"Removed rule {number} from {name}'s profile.")


@rule.command("apply")
@click.argument("name")
@click.pass_obj
@friendly_errors
def apply_rules(app: Application, name: str) -> None:
    """Apply NAME's mute rules to what is already stored (the latest digest and its page)."""
    count = app.apply_rules(name, now=datetime.now(UTC))
    echo(f"Took {count} items out of {name}'s latest digest.")


def _print_effects(app: Application, name: str, only: list[int] | None = None) -> None:
    effects = app.rule_effects(name, now=datetime.now(UTC))
    if not effects:
        echo(f"{name} has no rules.")
    for effect in effects:
        if only is not None and effect.number not in only:
            continue
        verb = "hides" if effect.rule.action == "mute" else "keeps"
        echo(f"Rule {effect.number}: {effect.rule.describe()}: {verb} {len(effect.items)} now")
        _print_items(list(effect.items), "")
