"""The daily commands: ``run`` and ``demo``."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from aggregator.app import Application, RunSummary
from aggregator.cli.app import cli, friendly_errors, progress_reporter
from aggregator.cli.terminal import console, echo, json_text, markup, text


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary (for cron).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--force", is_flag=True, help="Fetch every source now, ignoring backoff.")
@click.option("--queue", is_flag=True, help="Enqueue the run as jobs for `learnplace worker`.")
@click.option("--wait", is_flag=True, help="With --queue: wait until the workers finish it.")
@click.pass_obj
@friendly_errors
def run(app: Application, quiet: bool, as_json: bool, force: bool, queue: bool, wait: bool) -> None:
    """Fetch every due source, update the index and write today's digests to output/."""
    if queue:
        _enqueue(app, quiet=quiet, as_json=as_json, force=force, wait=wait)
        return
    with progress_reporter(quiet or as_json) as reporter:
        summary = app.run(now=datetime.now(UTC), reporter=reporter, force=force)
    _report(summary, quiet=quiet, as_json=as_json)
    if summary.sources_ok == 0 and summary.failures:
        sys.exit(2)


def _enqueue(app: Application, *, quiet: bool, as_json: bool, force: bool, wait: bool) -> None:
    cycle = app.enqueue_run(now=datetime.now(UTC), force=force)
    state = app.run_state(cycle.id)
    while wait and state["stage"] != "done":
        time.sleep(WAIT_POLL_S)
        state = app.run_state(cycle.id)
    if as_json:
        echo(json_text({"cycle": cycle.id, "queued": cycle.fetches, **state}))
    elif not quiet:
        echo(
            f"Cycle {cycle.id}: {cycle.fetches} fetches queued ({cycle.skipped} still queued "
            f"from before); stage {state['stage']}"
        )


WAIT_POLL_S = 0.5


@cli.command()
@click.option("--concurrency", default=8, show_default=True, help="Jobs run at once.")
@click.option(
    "--stall-seconds",
    default=30.0,
    show_default=True,
    help="A worker silent this long is taken for dead; its jobs are retried.",
)
@click.pass_obj
@friendly_errors
def worker(app: Application, concurrency: int, stall_seconds: float) -> None:
    """Run queued jobs (fetch, index, digests, pages) until stopped: on any machine that
    reaches the project's PostgreSQL database and has a copy of its folder."""
    app.work(concurrency=max(1, concurrency), stall_seconds=max(1.0, stall_seconds))


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@friendly_errors
def demo(app: Application, quiet: bool, as_json: bool) -> None:
    """Run the whole pipeline offline on the bundled sample feeds.

    The samples are served from a loopback server this command starts, so the
    real fetch path runs. State goes to state/demo/, pages to output/.
    """
    with progress_reporter(quiet or as_json) as reporter:
        summary = Application.run_demo(app.project.root, now=datetime.now(UTC), reporter=reporter)
    _report(summary, quiet=quiet, as_json=as_json)


def _report(summary: RunSummary, *, quiet: bool, as_json: bool) -> None:
    if as_json:
        echo(json_text(_summary_json(summary)))
        return
    if quiet:
        return
    out = console()
    total = summary.sources_ok + len(summary.failures)
    out.print(
        f"[bold]Sources:[/] {summary.sources_ok}/{total} ok "
        f"({summary.not_modified} unchanged), {len(summary.failures)} failed, "
        f"{summary.skipped} not due"
    )
    for name, url in summary.moved:
        out.print(f"  [yellow]→[/] {markup(name)} moved permanently to {markup(url)}")
    for name in summary.retired:
        out.print(f"  [yellow]✗[/] {markup(name)} is gone (HTTP 410): retired")
    for name, error in summary.failures[:8]:
        out.print(f"  [red]✗[/] {markup(name)}: {markup(error)}")
    if len(summary.failures) > 8:
        out.print(f"  … and {len(summary.failures) - 8} more (see `learnplace run --json`)")
    out.print(f"[bold]Items:[/] {summary.new_items} new, {summary.updated_items} updated")
    table = Table("Person", "Items", "Page", title="Digests written", title_justify="left")
    for name, count, path in summary.digests:
        table.add_row(text(name), str(count), text(path))
    out.print(table)
    if summary.site_index is not None:
        out.print(f"Open [bold]{markup(summary.site_index.as_uri())}[/] in a browser.")


def _summary_json(summary: RunSummary) -> dict[str, Any]:
    return {
        "sources_ok": summary.sources_ok,
        "not_modified": summary.not_modified,
        "skipped": summary.skipped,
        "moved": [{"source": name, "url": url} for name, url in summary.moved],
        "retired": summary.retired,
        "failed": [{"source": name, "error": error} for name, error in summary.failures],
        "new_items": summary.new_items,
        "updated_items": summary.updated_items,
        "digests": [
            {"person": name, "items": count, "page": str(path)}
            for name, count, path in summary.digests
        ],
        "site_index": str(summary.site_index) if summary.site_index else None,
    }
