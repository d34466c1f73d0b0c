"""``learnplace search``: the collected items through Whoosh's query language, with filters."""

from __future__ import annotations

from datetime import UTC, datetime, time

import click
from rich.table import Table
from rich.text import Text

from aggregator.app import (
    SORTS,
    Application,
    SearchFilters,
    SearchRequest,
    SearchResults,
    highlight,
    item_type,
    old_name_note,
    plain_text,
)
from aggregator.cli.app import cli, friendly_errors
from aggregator.cli.terminal import clean, console, echo, json_text, markup, note_line, text
from aggregator.errors import LearnplaceError
from aggregator.models import Item

SNIPPET_CHARS = 160
"""Enough of a summary around the first match to judge an item, without flooding the terminal."""


def _day(value: datetime | None, *, end: bool) -> datetime | None:
    """A --since/--until date as a UTC moment; --until includes the whole day."""
    if value is None:
        return None
    return datetime.combine(value.date(), time.max if end else time.min, tzinfo=UTC)


@cli.command()
@click.argument("query", nargs=-1)
@click.option("--type", "types", multiple=True, help="Only this item type (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only this source name (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only items with this tag (repeatable).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Published on or after.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Published on or before.")
@click.option("--profile", "person", metavar="NAME", help="Rank by this person's interests too.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.pass_obj
@friendly_errors
def search(
    app: Application,
    query: tuple[str, ...],
    types: tuple[str, ...],
    sources: tuple[str, ...],
    tags: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    person: str | None,
    sort: str,
    limit: int,
    as_json: bool,
) -> None:
    """Search collected items (words, "phrases", AND/OR/NOT, field:value) with filters."""
    filters = SearchFilters(
        types=_types(types),
        sources=sources,
        tags=tags,
        since=_day(since, end=False),
        until=_day(until, end=True),
    )
    text = " ".join(query)
    if not text.strip() and not filters:
        raise click.UsageError("give a query, a filter, or both")
    profile = app.profile(person) if person else None
    request = SearchRequest(text, filters, sort, limit, profile=profile)
    found = app.search(request, now=datetime.now(UTC))
    if as_json:
        echo(json_text(_as_json(found)))
        return
    _print(found)


def _types(names: tuple[str, ...]) -> tuple[str, ...]:
    """The item types asked for; an old kind name (``courses``) works, with a note."""
    try:
        found = tuple(item_type(name) for name in names)
    except LearnplaceError as exc:
        raise click.BadParameter(clean(exc), param_hint="'--type'") from None
    for name in names:
        if note := old_name_note(name):
            note_line(f"--type: {note}")
    return found


def _as_json(found: SearchResults) -> dict[str, object]:
    return {
        "total": found.total,
        "results": [_item_json(item, score) for item, score in found.results],
        "facets": found.facets,
        "suggestion": found.suggestion,
    }


def _item_json(item: Item, score: float) -> dict[str, object]:
    return {
        "id": item.id,
        "title": item.title,
        "source": item.source_name,
        "published": item.published.isoformat(),
        "event_start": start.isoformat() if (start := item.details.event_start) else None,
        "type": item.item_type,
        "tags": list(item.tags),
        "url": item.url,
        "score": round(score, 3),
    }


def _marked(value: str, terms: frozenset[str], width: int | None = None) -> Text:
    marked = Text()
    for piece, matched in highlight(clean(value), terms, width=width):
        marked.append(piece, style="bold yellow" if matched else "")
    return marked


def _when(item: Item) -> str:
    """An event's own date (when it happens), else the day it was published."""
    when = item.details.event_start
    return (when or item.published).date().isoformat() + (" (event)" if when else "")


def _print(found: SearchResults) -> None:
    out = console()
    if not found.results:
        out.print("No items match.")
        if found.suggestion:
            out.print(Text.assemble("Did you mean: ", text(found.suggestion, "bold"), "?"))
        return
    table = Table("ID", "Title", "Source", "Date", show_lines=True)
    table.add_column("Link", overflow="fold")
    for item, _ in found.results:
        title = _marked(item.title, found.terms)
        snippet = plain_text(item.summary) or item.text
        if snippet:
            title.append("\n")
            title.append_text(_marked(snippet, found.terms, width=SNIPPET_CHARS))
        row = (text(item.source_name), _when(item), text(item.url))
        table.add_row(str(item.id), title, *row)
    out.print(table)
    shown = len(found.results)
    out.print(f"{shown} of {found.total} matching items")
    for facet, counts in found.facets.items():
        listed = ", ".join(f"{name} {count}" for name, count in list(counts.items())[:10])
        out.print(f"[bold]By {facet}:[/] {markup(listed)}")
