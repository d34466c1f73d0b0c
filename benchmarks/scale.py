"""The whole daily run at 1,000 and 10,000 sources, to see that cost grows with the work.

    python benchmarks/scale.py [--sizes 1000 10000] [--items 50] [--profiles 100]
                               [--history 100000] [--latency-ms 20] [--work DIR]
                               [--time-limit 3600]
    python benchmarks/scale.py --store postgres --workers 1 2 [--sizes 1000]

The second form is ``benchmarks/scale_queue.py``'s: the run as queued jobs for that many
``learnplace worker`` processes on PostgreSQL, beside the SQLite single-process run.

For each size: a feedfarm corpus (``--items`` per feed) served by feedfarm in
its own process, a project of every feed with ``--profiles`` profiles drawn
from feedfarm's topics (as in ``benchmarks/digest.py``), and three runs of
the full pipeline (fetch, parse, store, index, rank, render), each in its own
process so peak RSS and CPU are that run's:

* cold: empty state, day 0;
* warm: the next day, nothing changed (every source answers 304);
* changed: the day after, 5% of sources carry one feedfarm day's news;
* history: ``--history`` more items published two years earlier are
  stored and indexed (not timed), then an unchanged run two days later:
  beside the warm run it shows whether memory grows with the items
  already stored.

Figures per run: wall, CPU (with parse workers), peak RSS, store and index
size, time per stage and digest-build time per profile. Then growth ratios
between the sizes beside the ratio of sources. The issue's targets (1,000
sources: cold within 90 s, warm within 10 s) are printed beside the figures.
Rerun after ranking changes; ``--time-limit`` stops a run that takes longer
(reported as such). Not collected by pytest (testpaths is ``tests``).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import multiprocessing.forkserver
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest import make_profiles  # benchmarks/ is the script folder, first on sys.path
from fetch import _feed_urls, _free_port, _generate, _serve, _tick, corpus_config

ROOT = Path(__file__).resolve().parent.parent
DAY0 = datetime(2026, 9, 1, 12, tzinfo=UTC)
"""feedfarm's day 0 is 2026-09-01; each run is one day later, as under a daily cron."""
PHASES = ("cold", "warm", "changed", "history")
HISTORY_AGE = timedelta(days=730)
"""History items are older than any freshness window: stored, never ranked."""
CHANGED_SHARE = 0.05
TARGETS_1000 = {"cold": 90.0, "warm": 10.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--profiles", type=int, default=100)
    parser.add_argument("--history", type=int, default=100_000, help="old items to add (0: skip)")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--time-limit", type=float, default=3600.0, help="seconds per run")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker-concurrency", type=int, default=8)
    args = parser.parse_args()
    if args.store == "postgres":
        _queued(args)
        return
    work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / "learnplace-scale"
    results: dict[int, dict[str, dict[str, float]]] = {}
    for size in args.sizes:
        results[size] = _one_size(work / str(size), size, args)
        print(_table(results), flush=True)
    print()
    print(_table(results))
    print()
    print(_growth(results))


def _queued(args: argparse.Namespace) -> None:
    from scale_queue import queue_runs, table

    work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / "learnplace-scale-queue"
    sizes = args.sizes if "--sizes" in sys.argv else [1000]
    results = {size: queue_runs(work / str(size), size, args) for size in sizes}
    print()
    print(table(results))


def _one_size(work: Path, size: int, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    shutil.rmtree(work, ignore_errors=True)
    corpus, following = work / "corpus", work / "corpus-next-day"
    started = time.monotonic()
    _generate(corpus, size, args.items)
    shutil.copytree(corpus, following)
    _tick(following)
    print(f"{size} sources: corpora generated in {time.monotonic() - started:.0f} s", flush=True)
    port = _free_port()
    server = _serve(corpus, port, args.latency_ms)
    figures: dict[str, dict[str, float]] = {}
    try:
        urls = _feed_urls(f"http://127.0.0.1:{port}")
        state = work / "project"
        state.mkdir(parents=True)
        (state / "urls.json").write_text(json.dumps(urls))
        for day, phase in enumerate(PHASES):
            if phase == "history":
                if not args.history:
                    break
                _prepare_history(state, urls, day, args)
                day += 1  # the preparing run took this day
            if phase == "changed":
                server.terminate()
                server.wait()
                changed = _change_some(corpus, following, CHANGED_SHARE)
                print(f"  {changed} of {size} feeds changed", flush=True)
                server = _serve(corpus, port, args.latency_ms)
            row = _measure(state, day, args)
            figures[phase] = row
            print(f"  {phase:<8} {_row_text(row)}", flush=True)
            if row.get("timed_out"):
                break
    finally:
        server.terminate()
        server.wait()
    return figures


def _prepare_history(state: Path, urls: list[str], day: int, args: argparse.Namespace) -> None:
    """Store ``args.history`` old items across the sources, then index them in a run without
    profiles (its own process, not reported), so the measured run starts from a caught-up index."""
    started = time.monotonic()
    added = _add_history(state, urls, args.history)
    stored_s = time.monotonic() - started
    indexing = _measure(state, day, argparse.Namespace(**{**vars(args), "profiles": 0}))
    print(
        f"  history: {added} items published {HISTORY_AGE.days} days before day 0 stored in "
        f"{stored_s:.0f} s and indexed by a run without profiles in {indexing['wall_s']:.0f} s",
        flush=True,
    )


def _add_history(state: Path, urls: list[str], count: int) -> int:
    """feedfarm items, sanitized as in ``search.py``, dated before every window."""
    from search import _entries  # the script folder is on sys.path

    from aggregator.store import SqliteStore

    per_source = -(-count // len(urls))
    published = DAY0 - HISTORY_AGE
    added = 0
    with (
        SqliteStore(state / "state" / "learnplace.sqlite3") as store,
        ProcessPoolExecutor(os.cpu_count() or 1) as pool,
    ):
        # A feedfarm feed has a few dozen items: more rounds of other feeds until there are enough.
        rounds = itertools.count()
        while added < count:
            seed = f"history-{next(rounds)}"
            jobs = [(seed, n, per_source) for n in range(len(urls))]
            for url, (_, entries) in zip(urls, pool.map(_entries, jobs, chunksize=20), strict=True):
                old = [
                    dataclasses.replace(
                        entry,
                        guid=f"{seed}-{entry.guid}",
                        published=published - timedelta(hours=n),
                    )
                    for n, entry in enumerate(entries[: count - added])
                ]
                added += len(store.add_entries(url, old, DAY0).new_ids)
    return added


def _change_some(corpus: Path, following: Path, share: float) -> int:
    """Copy the next day's version of ``share`` of the feeds (among those that changed)."""
    differing = [
        path
        for path in sorted((following / "feeds").rglob("*"))
        if path.is_file()
        and (corpus / path.relative_to(following)).read_bytes() != path.read_bytes()
    ]
    wanted = round(share * sum(1 for p in (corpus / "feeds").rglob("*") if p.is_file()))
    chosen = random.Random("scale-bench").sample(differing, min(wanted, len(differing)))
    for path in chosen:
        shutil.copyfile(path, corpus / path.relative_to(following))
    return len(chosen)


def _measure(state: Path, day: int, args: argparse.Namespace) -> dict[str, float]:
    """One run in a child process; wall from outside, CPU and peak RSS from ``wait4``."""
    argv = [sys.executable, __file__, "--child", str(state), str(day), str(args.profiles)]
    argv.append(str(args.concurrency))
    started = time.monotonic()
    child = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
    deadline = started + args.time_limit
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(child.pid, signal.SIGKILL)
            _, status, usage = os.wait4(child.pid, 0)
            return {"timed_out": 1.0, "wall_s": time.monotonic() - started}
        time.sleep(0.2)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"run failed with status {os.waitstatus_to_exitcode(status)}")
    inner = json.loads((state / "figures.json").read_text())
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "store_mib": _size(state / "state", "learnplace.sqlite3*") / 2**20,
        "index_mib": _size(state / "state" / "index", "*") / 2**20,
        **inner,
    }


def _size(folder: Path, pattern: str) -> int:
    return sum(path.stat().st_size for path in folder.glob(pattern) if path.is_file())


class _StageClock:
    """A pipeline reporter that notes when each stage starts and last advances.

    A stage lasts from its start to the next stage's start or its own last
    step, whichever is later: digests and render overlap (pages are written
    while later profiles are ranked), so digests end with the last digest.
    """

    def __init__(self) -> None:
        self.starts: dict[str, float] = {}
        self.lasts: dict[str, float] = {}

    def start(self, stage: str, total: int) -> None:
        self.starts[stage] = time.perf_counter()

    def advance(self, stage: str, detail: str = "") -> None:
        self.lasts[stage] = time.perf_counter()

    def stages(self, ended: float) -> dict[str, float]:
        order = sorted(self.starts.items(), key=lambda pair: pair[1])
        bounds = [moment for _, moment in order[1:]] + [ended]
        return {
            f"{stage}_s": max(self.lasts.get(stage, 0.0), bound) - moment
            for (stage, moment), bound in zip(order, bounds, strict=True)
        }


def _child(state: Path, day: int, profile_count: int, concurrency: int) -> None:
    from aggregator import app as application

    urls = json.loads((state / "urls.json").read_text())
    config = corpus_config(state, concurrency, urls)
    profiles = make_profiles(profile_count)
    clock = _StageClock()
    started = time.perf_counter()
    summary = application.run(
        application.Project.at(state),
        now=DAY0 + timedelta(days=day),
        reporter=clock,
        config=config,
        profiles=profiles,
    )
    ended = time.perf_counter()
    # Stop the parse pool's forkserver and reap it, so wait4 counts its workers.
    multiprocessing.forkserver._forkserver._stop()
    stages = clock.stages(ended)
    figures = {
        **stages,
        "run_s": ended - started,
        "digest_ms_per_profile": 1000 * stages.get("digests_s", 0.0) / max(1, len(profiles)),
        "new_items": summary.new_items,
        "stored_items": _stored_items(state),
        "not_modified": summary.not_modified,
        "failures": len(summary.failures),
    }
    (state / "figures.json").write_text(json.dumps(figures))


def _stored_items(state: Path) -> int:
    from aggregator.store import SqliteStore

    with SqliteStore(state / "state" / "learnplace.sqlite3", read_only=True) as store:
        return store.item_count()


def _row_text(row: dict[str, float]) -> str:
    if row.get("timed_out"):
        return f"stopped by --time-limit after {row['wall_s']:.0f} s"
    return (
        f"wall {row['wall_s']:7.1f} s  cpu {row['cpu_s']:7.1f} s  rss {row['rss_mib']:6.0f} MiB  "
        f"fetch+parse+store {row.get('fetch_s', 0):6.1f} s  index {row.get('index_s', 0):6.1f} s  "
        f"digests {row.get('digests_s', 0):6.1f} s ({row['digest_ms_per_profile']:.0f} ms/profile)"
        f"  render {row.get('render_s', 0):5.1f} s  new {row['new_items']:.0f}  "
        f"304 {row['not_modified']:.0f}  failed {row['failures']:.0f}  "
        f"stored {row['stored_items']:.0f}  "
        f"store {row['store_mib']:.0f} MiB  index {row['index_mib']:.0f} MiB"
    )


def _table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| sources | stored items | run | wall s | target s | CPU s | peak RSS MiB "
        "| fetch+parse+store s | index s | digests s | ms/profile | render s | store MiB "
        "| index MiB |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for size, phases in results.items():
        for phase, row in phases.items():
            target = TARGETS_1000.get(phase) if size == 1000 else None
            if row.get("timed_out"):
                lines.append(
                    f"| {size} | | {phase} | > {row['wall_s']:.0f} (stopped) "
                    f"| {target or ''} | | | | | | | | | |"
                )
                continue
            lines.append(
                f"| {size} | {row['stored_items']:.0f} | {phase} | {row['wall_s']:.1f} | "
                f"{target or ''} | "
                f"{row['cpu_s']:.1f} | {row['rss_mib']:.0f} | {row.get('fetch_s', 0):.1f} | "
                f"{row.get('index_s', 0):.1f} | {row.get('digests_s', 0):.1f} | "
                f"{row['digest_ms_per_profile']:.0f} | {row.get('render_s', 0):.1f} | "
                f"{row['store_mib']:.0f} | {row['index_mib']:.0f} |"
            )
    return "\n".join(lines)


def _growth(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """Ratios of the largest size to the smallest, beside the ratio of sources; and at each
    size, the run after the history was added against the warm run."""
    lines = []
    for size, phases in results.items():
        warm, history = phases.get("warm"), phases.get("history")
        if warm and history and not history.get("timed_out"):
            parts = [
                f"{key} x{history[key] / warm[key]:.2f}"
                for key in ("stored_items", "rss_mib", "wall_s", "digests_s")
                if warm.get(key)
            ]
            lines.append(f"history against warm at {size} sources: " + ", ".join(parts))
    sizes = sorted(results)
    if len(sizes) < 2:
        return "\n".join([*lines, "growth: needs two sizes"])
    small, large = sizes[0], sizes[-1]
    lines.append(f"growth {small} -> {large} sources (x{large / small:.0f} sources):")
    for phase in PHASES:
        a, b = results[small].get(phase), results[large].get(phase)
        if not a or not b or a.get("timed_out") or b.get("timed_out"):
            lines.append(f"  {phase}: incomplete")
            continue
        parts = [
            f"{key} x{b[key] / a[key]:.1f}"
            for key in ("wall_s", "cpu_s", "rss_mib", "digests_s", "store_mib", "index_mib")
            if a.get(key)
        ]
        lines.append(f"  {phase}: " + ", ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
