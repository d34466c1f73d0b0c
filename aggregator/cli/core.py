"""The daily commands: ``run`` and ``demo``."""

from __future__ import annotations

import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from aggregator.app import Application, RunSummary, failed_note, next_steps
from aggregator.cli.app import cli, friendly_errors, progress_reporter
from aggregator.cli.terminal import console, echo, json_text, markup, text


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary (for cron).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--force", is_flag=True, help="Fetch every source now, ignoring backoff.")
@click.option("--queue", is_flag=True, help="Enqueue the run as jobs for `learnplace worker`.")
@click.option("--wait", is_flag=True, help="With --queue: wait until the workers finish it.")
@click.option("--mail", is_flag=True, help="With --queue: e-mail each digest once written.")
@click.pass_obj
@friendly_errors
def run(
    app: Application, quiet: bool, as_json: bool, force: bool, queue: bool, wait: bool, mail: bool
) -> None:
    """Fetch every due source, update the index and write today's digests to output/."""
    if (wait or mail) and not queue:
        raise click.UsageError("--wait and --mail go with --queue (else: `learnplace send`)")
    if queue:
        _enqueue(app, quiet=quiet, as_json=as_json, force=force, wait=wait, mail=mail)
        return
    with progress_reporter(quiet or as_json) as reporter:
        summary = app.run(now=datetime.now(UTC), reporter=reporter, force=force)
    _report(summary, quiet=quiet, as_json=as_json)
    sys.exit(exit_status(summary))


def exit_status(summary: RunSummary) -> int:
    """What cron and systemd hear: 2 when every source failed, 1 when a source that worked
    started failing in this run, 0 otherwise (sources that keep failing were reported before)."""
    if summary.every_source_failed:
        return 2
    return 1 if summary.newly_failing else 0


def _enqueue(
    app: Application, *, quiet: bool, as_json: bool, force: bool, wait: bool, mail: bool
) -> None:
    cycle = app.enqueue_run(now=datetime.now(UTC), force=force, mail=mail)
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
@click.option(
    "--schedule",
    is_flag=True,
    help="Also check every ten minutes for sources due, and fetch and index them.",
)
@click.pass_obj
@friendly_errors
def worker(app: Application, concurrency: int, stall_seconds: float, schedule: bool) -> None:
    """Run queued jobs (fetch, index, digests, pages) until stopped: on any machine that
    reaches the project's PostgreSQL database and has a copy of its folder."""
    app.work(
        concurrency=max(1, concurrency), stall_seconds=max(1.0, stall_seconds), schedule=schedule
    )


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
@friendly_errors
def demo(app: Application, quiet: bool, as_json: bool) -> None:
    """Run the whole pipeline offline on the bundled sample feeds: the project's first run.

    The samples are served from a loopback server this command starts, so the
    real fetch path runs. What it collects is the project's (state/, output/):
    search, serve, share, feedback, preview and sources work on it. A folder
    without feeds.toml gets a starter one and the example profiles.
    """
    with progress_reporter(quiet or as_json) as reporter:
        summary = Application.run_demo(app.project.root, now=datetime.now(UTC), reporter=reporter)
    _report(summary, quiet=quiet, as_json=as_json)
    if not (quiet or as_json):
        _print_next_steps([name for name, _, _ in summary.digests], collected=True)
    sys.exit(exit_status(summary))


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--profile", "person", default="me", show_default=True, help="The first profile's name."
)
@click.pass_obj
@friendly_errors
def init(app: Application, directory: Path | None, person: str) -> None:
    """Start a project in DIRECTORY (default: the project folder): a feeds.toml with a few
    commented sources and one profile. Files that exist are left alone."""
    root = directory or app.project.root
    written = Application.init(root, person)
    for path in written:
        echo(f"Wrote {path}")
    if not written:
        echo(f"{root.resolve()} is already a project: nothing written.")
    people = sorted(path.stem for path in (root / "profiles").glob("*.toml"))
    if directory is not None:
        echo(f"Next, in {root}: cd {shlex.quote(str(root))}")
    _print_next_steps(people, collected=False)


def _print_next_steps(people: list[str], *, collected: bool) -> None:
    echo("Try next:")
    for step in next_steps(people, collected=collected):
        echo(f"  {step}")


def _report(summary: RunSummary, *, quiet: bool, as_json: bool) -> None:
    if as_json:
        echo(json_text(_summary_json(summary)))
    if quiet or as_json:
        _report_failures(summary)
        return
    out = console()
    total = summary.sources_ok + len(summary.failures)
    out.print(
        f"[bold]Sources:[/] {summary.sources_ok}/{total} ok "
        f"({summary.not_modified} unchanged), {len(summary.failures)} failed, "
        f"{summary.skipped} not due"
        + (f", {summary.disabled} disabled" if summary.disabled else "")
    )
    for name, url in summary.moved:
        out.print(f"  [yellow]→[/] {markup(name)} moved permanently to {markup(url)}")
    for name in summary.retired:
        out.print(f"  [yellow]✗[/] {markup(name)} is gone (HTTP 410): retired")
    newly = set(summary.newly_failing)
    for name, error in summary.failures[:8]:
        started = " [bold](started failing)[/]" if name in newly else ""
        out.print(f"  [red]✗[/] {markup(name)}{started}: {markup(error)}")
    if len(summary.failures) > 8:
        out.print(f"  … and {len(summary.failures) - 8} more (see `learnplace sources`)")
    out.print(f"[bold]Items:[/] {summary.new_items} new, {summary.updated_items} updated")
    if summary.kept:
        kept = markup(", ".join(summary.kept))
        out.print(f"[yellow]Sources failed:[/] kept the last good digest of {kept}")
    table = Table("Person", "Items", "Page", title="Digests written", title_justify="left")
    for name, count, path in summary.digests:
        table.add_row(text(name), str(count), text(path))
    out.print(table)
    if summary.site_index is not None:
        out.print(f"Open [bold]{markup(summary.site_index.as_uri())}[/] in a browser.")


def _report_failures(summary: RunSummary) -> None:
    """Failed sources on stderr, one a line, whatever --quiet says: cron mails what it hears."""
    if not summary.failures:
        return
    newly = set(summary.newly_failing)
    echo(f"learnplace: {failed_note(summary)}", err=True)
    for name, error in summary.failures:
        started = " (started failing)" if name in newly else ""
        echo(f"  {name}{started}: {error}", err=True)


def _summary_json(summary: RunSummary) -> dict[str, Any]:
    return {
        "sources_ok": summary.sources_ok,
        "not_modified": summary.not_modified,
        "skipped": summary.skipped,
        "disabled": summary.disabled,
        "moved": [{"source": name, "url": url} for name, url in summary.moved],
        "retired": summary.retired,
        "failed": [{"source": name, "error": error} for name, error in summary.failures],
        "newly_failing": summary.newly_failing,
        "kept": summary.kept,
        "new_items": summary.new_items,
        "updated_items": summary.updated_items,
        "digests": [
            {"person": name, "items": count, "page": str(path)}
            for name, count, path in summary.digests
        ],
        "site_index": str(summary.site_index) if summary.site_index else None,
    }
