"""Profile commands: ``profile new|show|list|add-interest|remove-interest|exclude|edit``,
``preview`` and ``feedback``. Each calls one method of the application."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from datetime import UTC, datetime, time
from pathlib import Path

import click

from aggregator.app import Application, event_when
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import clean, echo
from aggregator.errors import ConfigError
from aggregator.models import Digest, Item


@cli.group()
def profile() -> None:
    """Create, show and edit interest profiles (comments in the files are kept)."""


@profile.command("new")
@click.argument("name")
@click.option("--interest", "-i", "interests", multiple=True, help="An interest (repeatable).")
@click.pass_obj
@friendly_errors
def new(app: Application, name: str, interests: tuple[str, ...]) -> None:
    """Create profiles/NAME.toml from a commented template."""
    wanted = dict.fromkeys(interests, 1.0) or {"learning": 1.0}
    created = app.new_profile(name, wanted)
    echo(f"Created {created.path}; edit it with `learnplace profile edit {name}`.")


@profile.command("list")
@click.pass_obj
@friendly_errors
def list_(app: Application) -> None:
    """Every profile with its digest size and interest count."""
    for found in app.profiles():
        echo(
            f"{found.name}\t{found.display_name}\t{len(found.interests)} interests\t"
            f"{found.digest_size} items / {found.freshness_days} days"
        )


@profile.command("show")
@click.argument("name")
@click.pass_obj
@friendly_errors
def show(app: Application, name: str) -> None:
    """A profile as Learnplace understands it."""
    found = app.profile(name)
    echo(f"{found.display_name} ({found.name}) {found.email or ''}".rstrip())
    echo(f"digest: {found.digest_size} items, last {found.freshness_days} days")
    echo("interests:")
    for phrase, weight in sorted(found.interests.items(), key=lambda kv: -kv[1]):
        echo(f"  {weight:g}  {phrase}")
    for label, values in (
        ("excluded words", found.exclude),
        ("excluded sources", found.exclude_sources),
        ("preferred sources", found.prefer_sources),
    ):
        if values:
            echo(f"{label}: {', '.join(values)}")
    if found.types:
        echo("types: " + ", ".join(f"{k} {v:g}" for k, v in found.types.items()))


@profile.command("add-interest")
@click.argument("name")
@click.argument("phrase")
@click.option("--weight", "-w", type=float, default=1.0, show_default=True)
@click.pass_obj
@friendly_errors
def add_interest(app: Application, name: str, phrase: str, weight: float) -> None:
    """Add an interest (or change its weight)."""
    app.add_interest(name, phrase, weight)
    echo(f"{name}: “{phrase}” = {weight:g}")


@profile.command("remove-interest")
@click.argument("name")
@click.argument("phrase")
@click.pass_obj
@friendly_errors
def remove_interest(app: Application, name: str, phrase: str) -> None:
    """Remove an interest."""
    app.remove_interest(name, phrase)
    echo(f"{name}: removed “{phrase}”")


@profile.command("exclude")
@click.argument("name")
@click.argument("value")
@click.option("--source", is_flag=True, help="VALUE is a source name, not a word.")
@click.pass_obj
@friendly_errors
def exclude(app: Application, name: str, value: str, source: bool) -> None:
    """Never pick items with this word (or from this source)."""
    app.exclude(name, value, source=source)
    echo(f"{name}: excluded {'source' if source else 'word'} “{value}”")


@profile.command("edit")
@click.argument("name")
@click.pass_obj
@friendly_errors
def edit(app: Application, name: str) -> None:
    """Open the profile in $EDITOR; it is saved only if it is still valid."""
    path = app.profile_path(name)
    original = path.read_text(encoding="utf-8")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(original, encoding="utf-8")
        subprocess.run([*shlex.split(editor), str(copy)], check=False)
        text = copy.read_text(encoding="utf-8")
    if text == original:
        echo("No changes.")
        return
    try:
        app.replace_profile_text(name, text)
    except ConfigError as exc:
        raise click.ClickException(clean(f"{exc}\nThe profile was not changed.")) from None
    echo(f"Saved {path}.")


@cli.command()
@click.argument("name")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Preview as of this day.")
@click.pass_obj
@friendly_errors
def preview(app: Application, name: str, day: datetime | None) -> None:
    """What NAME's digest would hold now, with the reason for each item; nothing is saved."""
    now = datetime.now(UTC)
    if day is not None:
        now = datetime.combine(day.date(), time(12), tzinfo=UTC)
    digest = app.preview_profile(name, now)
    _print_digest(digest)
    for effect in app.rule_effects(name, now=now):
        verb = "hides" if effect.rule.action == "mute" else "keeps"
        echo(f"Rule {effect.number} ({effect.rule.describe()}) {verb} {len(effect.items)} items")
    for search_name, picks in digest.searches:
        echo(f"Saved search “{search_name}”: {len(picks)} items")
        for pick in picks:
            echo(f"  [{pick.item.id}] {pick.item.title} ({pick.item.source_name})")
    for back in digest.revisit:
        echo(f"Revisit: [{back.item.id}] {back.item.title}: {back.note or '(no note)'}")
    if digest.progress:
        echo(f"{digest.progress[0]} of {digest.progress[1]} minutes this week")


def _print_digest(digest: Digest) -> None:
    if not digest.picks and not digest.upcoming:
        echo(f"Nothing for {digest.profile.name} on {digest.day}.")
        return
    echo(f"{digest.profile.display_name}, {digest.day}: {len(digest.picks)} items")
    for number, pick in enumerate(digest.picks, start=1):
        item = pick.item
        echo(f"{number:>2}. [{item.id}] {item.title} ({item.source_name}, {item.item_type})")
        echo(f"      {item.url}")
        echo(f"      why: {'; '.join(pick.reasons)}")
    if not digest.upcoming:
        return
    echo(f"Upcoming (next {digest.profile.upcoming_days} days): {len(digest.upcoming)}")
    for pick in digest.upcoming:
        item = pick.item
        echo(f"  {event_when(item.details)}  [{item.id}] {item.title} ({item.source_name})")
        if item.url:
            echo(f"      {item.url}")
        if pick.reasons:
            echo(f"      why: {'; '.join(pick.reasons)}")


@cli.command()
@click.argument("name")
@click.argument("item", required=False)
@click.option("--more", "judgement", flag_value=1, help="More like ITEM.")
@click.option("--less", "judgement", flag_value=-1, help="Less like ITEM (and never ITEM again).")
@click.option("--clear", "judgement", flag_value=0, help="Take back ITEM's judgement, or all.")
@click.option("--list", "listing", is_flag=True, help="Show NAME's judgements.")
@click.pass_obj
@friendly_errors
def feedback(
    app: Application, name: str, item: str | None, judgement: int | None, listing: bool
) -> None:
    """Tell NAME's ranking you want more or less like ITEM (an id or URL).

    The next digest moves toward the words of the items wanted more and away
    from the others; ``--list`` shows the judgements, ``--clear`` takes back
    one (with ITEM) or all of them.
    """
    if listing:
        if item is not None or judgement is not None:
            raise click.UsageError("--list takes no ITEM and no judgement")
        _print_judgements(name, app.judgements(name))
        return
    if judgement is None:
        raise click.UsageError("say --more, --less, --clear or --list")
    if item is None:
        if judgement != 0:
            raise click.UsageError("say which ITEM you want more or less like")
        cleared = app.clear_feedback(name)
        echo(f"{name}: took back {cleared} judgement{'s' if cleared != 1 else ''}")
        return
    judged = app.record_feedback(name, item, judgement, datetime.now(UTC))
    said = {1: "more like", -1: "less like", 0: "no judgement on"}[judgement]
    echo(f"{name}: {said} “{judged.title}”")


def _print_judgements(name: str, found: list[tuple[Item, int, datetime]]) -> None:
    if not found:
        echo(f"{name} has judged no items.")
        return
    for item, sign, at in found:
        said = "more" if sign > 0 else "less"
        echo(f"[{item.id}] {said:<4} {at:%Y-%m-%d}  {item.title} ({item.source_name})")
