"""The daily run as queued jobs on PostgreSQL, beside the single-process SQLite run.

    python benchmarks/scale.py --store postgres --workers 1 2 [--sizes 1000] [--items 50]
                               [--profiles 100] [--latency-ms 20] [--worker-concurrency 8]

For each size: one feedfarm corpus served by feedfarm in its own process; first the
single-process run on SQLite (the baseline, as ``benchmarks/scale.py``'s cold run), then
for each count in ``--workers`` a fresh PostgreSQL database, that many ``learnplace worker``
processes and ``learnplace run --queue`` for the same day, timed from the enqueue until
the cycle is done. The PostgreSQL cluster is a throwaway one started here (as the tests
start theirs, but durable: fsync on), on this machine, so workers and database share its
cores, as they would not in a deployment.

Figures per run: wall; each stage's time (from the cycle's stage, polled every 0.1 s);
ranking throughput per worker (people ranked and rendered per second of the digest stage,
divided by the workers); each worker's peak memory (``VmHWM`` of the worker and of its
parse processes, read before it is stopped).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest import make_profiles  # benchmarks/ is the script folder, first on sys.path
from fetch import _feed_urls, _free_port, _generate, _serve, corpus_toml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.postgres import cluster  # noqa: E402  (the project's throwaway cluster)

POLL_S = 0.1


def queue_runs(work: Path, size: int, args: argparse.Namespace) -> list[dict[str, float]]:
    """The SQLite baseline, then one queued run per worker count, over one served corpus."""
    from scale import DAY0, _measure

    shutil.rmtree(work, ignore_errors=True)
    corpus = work / "corpus"
    _generate(corpus, size, args.items)
    port = _free_port()
    server = _serve(corpus, port, args.latency_ms)
    rows: list[dict[str, float]] = []
    try:
        urls = _feed_urls(f"http://127.0.0.1:{port}")
        baseline = work / "sqlite"
        baseline.mkdir(parents=True)
        (baseline / "urls.json").write_text(json.dumps(urls))
        single = _measure(baseline, 0, args)
        rows.append({"workers": 0.0, **single})
        print(f"  sqlite, one process: {_row_text(rows[-1])}", flush=True)
        with cluster(durable=True) as pg:
            for count in args.workers:
                project = work / f"postgres-{count}"
                _write_project(project, urls, args)
                url = pg.database(f"scale{count}")
                rows.append(_queued(project, url, count, args, DAY0))
                print(f"  postgres, {count} worker(s): {_row_text(rows[-1])}", flush=True)
    finally:
        server.terminate()
        server.wait()
    return rows


def _write_project(root: Path, urls: list[str], args: argparse.Namespace) -> None:
    """feeds.toml and one profile file per person: workers read the project's own files."""
    root.mkdir(parents=True)
    (root / "feeds.toml").write_text(corpus_toml(args.concurrency, urls), encoding="utf-8")
    (root / "profiles").mkdir()
    for profile in make_profiles(args.profiles):
        interests = "\n".join(f"{json.dumps(k)} = {v}" for k, v in profile.interests.items())
        (root / "profiles" / f"{profile.name}.toml").write_text(
            f'name = "{profile.display_name}"\ndigest_size = {profile.digest_size}\n'
            f"[interests]\n{interests}\n",
            encoding="utf-8",
        )


def _queued(
    project: Path, url: str, count: int, args: argparse.Namespace, now: object
) -> dict[str, float]:
    from aggregator.app import Application, Project
    from aggregator.app.queue import cycle_state

    env = {**os.environ, "LEARNPLACE_DATABASE_URL": url}
    os.environ["LEARNPLACE_DATABASE_URL"] = url  # for the enqueue, made here
    with _workers(project, env, count, args.worker_concurrency) as workers:
        started = time.monotonic()
        with Application(Project.at(project)) as app:
            cycle = app.enqueue_run(now=now)  # type: ignore[arg-type]
        stages: dict[str, float] = {}
        stage = ""
        while stage != "done":
            state = cycle_state(url, cycle.id)
            if state["stage"] != stage:
                stage = str(state["stage"])
                stages[stage] = time.monotonic() - started
            if time.monotonic() - started > args.time_limit:
                return {"workers": float(count), "timed_out": 1.0, "wall_s": args.time_limit}
            time.sleep(POLL_S)
        wall = time.monotonic() - started
        memory = [_peak_mib(process.pid) for process in workers]
    del os.environ["LEARNPLACE_DATABASE_URL"]
    order = ["fetch", "index", "digest", "publish", "done"]
    seen = [name for name in order if name in stages]
    spans = {f"{name}_s": stages[after] - stages[name] for name, after in itertools.pairwise(seen)}
    digest_s = spans.get("digest_s", 0.0)
    return {
        "workers": float(count),
        "wall_s": wall,
        **spans,
        "profiles_per_s_per_worker": args.profiles / digest_s / count if digest_s else 0.0,
        "peak_worker_mib": max(memory),
        "peak_worker_mib_min": min(memory),
        "fetched": float(sum(state["fetches"].values())),  # type: ignore[union-attr]
    }


@contextmanager
def _workers(
    project: Path, env: dict[str, str], count: int, concurrency: int
) -> Iterator[list[subprocess.Popen[bytes]]]:
    argv = [sys.executable, "-m", "aggregator", "--project", str(project), "worker"]
    workers = [
        subprocess.Popen(
            [*argv, "--concurrency", str(concurrency)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]
    try:
        yield workers
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _peak_mib(pid: int) -> float:
    """The largest ``VmHWM`` of a process and its descendants (its parse workers), in MiB."""
    peaks = [0.0]
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
        pending.extend(int(child) for child in children)
    return max(peaks)


def _row_text(row: dict[str, float]) -> str:
    if row.get("timed_out"):
        return f"stopped by --time-limit after {row['wall_s']:.0f} s"
    if not row["workers"]:
        return (
            f"wall {row['wall_s']:6.1f} s  fetch+parse+store {row.get('fetch_s', 0):5.1f} s  "
            f"index {row.get('index_s', 0):5.1f} s  digests {row.get('digests_s', 0):5.1f} s "
            f"({row['digest_ms_per_profile']:.0f} ms/profile)  render {row.get('render_s', 0):4.1f}"
            f" s  peak RSS {row['rss_mib']:.0f} MiB  stored {row['stored_items']:.0f}"
        )
    return (
        f"wall {row['wall_s']:6.1f} s  fetch+parse+store {row.get('fetch_s', 0):5.1f} s  "
        f"index {row.get('index_s', 0):5.1f} s  digests+pages {row.get('digest_s', 0):5.1f} s  "
        f"publish {row.get('publish_s', 0):4.1f} s  ranking {row['profiles_per_s_per_worker']:.1f}"
        f" profiles/s per worker  peak per worker {row['peak_worker_mib_min']:.0f}-"
        f"{row['peak_worker_mib']:.0f} MiB  fetched {row['fetched']:.0f}"
    )


def table(results: dict[int, list[dict[str, float]]]) -> str:
    """Markdown: one row per run, the SQLite single process first, as docs/scaling.md shows."""
    lines = [
        "| sources | store | workers | wall s | vs SQLite | fetch+parse+store s | index s "
        "| digests s | profiles/s per worker | peak MiB per worker |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, rows in results.items():
        base = rows[0]["wall_s"]
        for row in rows:
            if row.get("timed_out"):
                lines.append(
                    f"| {size} | postgres | {row['workers']:.0f} | > {row['wall_s']:.0f} |"
                )
                continue
            if not row["workers"]:
                per_s = 1000 / row["digest_ms_per_profile"] if row["digest_ms_per_profile"] else 0
                lines.append(
                    f"| {size} | sqlite | 1 process | {row['wall_s']:.1f} | 1.00 | "
                    f"{row.get('fetch_s', 0):.1f} | {row.get('index_s', 0):.1f} | "
                    f"{row.get('digests_s', 0):.1f} | {per_s:.1f} (all cores) | "
                    f"{row['rss_mib']:.0f} (run and its workers) |"
                )
                continue
            lines.append(
                f"| {size} | postgres | {row['workers']:.0f} | {row['wall_s']:.1f} | "
                f"{row['wall_s'] / base:.2f} | {row.get('fetch_s', 0):.1f} | "
                f"{row.get('index_s', 0):.1f} | {row.get('digest_s', 0):.1f} | "
                f"{row['profiles_per_s_per_worker']:.1f} | {row['peak_worker_mib']:.0f} |"
            )
    return "\n".join(lines)
