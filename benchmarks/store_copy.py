"""``learnplace store copy`` of the 1,000-source benchmark store: SQLite → PostgreSQL → SQLite.

    python benchmarks/store_copy.py [--sources 1000] [--items 50] [--profiles 100]
                                    [--work DIR] [--keep]

Builds the store as ``benchmarks/scale.py`` does for its cold run: a feedfarm corpus
(``--sources`` feeds x ``--items``, seed 1) served by feedfarm in its own process, and one
daily run of the whole pipeline over it with ``--profiles`` profiles (fetch, parse, store,
index, rank, render), so the store holds items, item sources and a day's deliveries and
sections. Then a throwaway PostgreSQL cluster (``tests/postgres.py``: Debian's binaries,
127.0.0.1, fsync off) and, each as a ``learnplace`` process timed from outside with its
peak RSS from ``wait4``:

* ``store copy --to postgresql://…``: the project's SQLite store into an empty database;
* ``store copy --to back.sqlite3``: from that database (``LEARNPLACE_DATABASE_URL``) back
  into a new SQLite file;

beside baselines measured in the same run: SQLite's own online backup of the same file
(``sqlite3.Connection.backup``), which copies pages without reading a row, and the same
command's start-up alone (``--help``: the interpreter and imports, copying nothing), whose
peak RSS is what the copy's is to be read against (a copy reads in batches, so its memory
should stay near that, not grow with the store). Each command
and its whole output are printed, so the counts before and after and the checksums are on
record. ``--keep`` leaves the work folder (by default it is removed after a run that
passed). Not collected by pytest (testpaths is ``tests``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest import make_profiles  # benchmarks/ is the script folder, first on sys.path
from fetch import _feed_urls, _free_port, _generate, _serve, corpus_config

from tests import postgres as pg

ROOT = Path(__file__).resolve().parent.parent
DAY0 = datetime(2026, 9, 1, 12, tzinfo=UTC)
"""feedfarm's day 0, as in ``scale.py``."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--profiles", type=int, default=100)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / "learnplace-store-copy"
    shutil.rmtree(work, ignore_errors=True)
    project = work / "project"
    # Built in a process of its own: Linux carries a process's peak RSS across exec, so the
    # copies' figures would otherwise include what this process grew to while building.
    build = [sys.executable, __file__, "--build", str(work), str(args.sources), str(args.items)]
    subprocess.run([*build, str(args.profiles)], cwd=ROOT, check=True)
    size = sum(p.stat().st_size for p in project.glob("state/learnplace.sqlite3*"))
    print(f"store: {project / 'state' / 'learnplace.sqlite3'} ({size / 2**20:.0f} MiB)")
    baseline = _backup(project / "state" / "learnplace.sqlite3", work / "backup.sqlite3")
    idle = _learnplace(project, ["store", "copy", "--help"], {}, quiet=True)
    with pg.cluster() as cluster:
        url = cluster.database("copy")
        there = _learnplace(project, ["store", "copy", "--to", url, "--quiet"], {})
        back = _learnplace(
            project,
            ["store", "copy", "--to", str(work / "back.sqlite3"), "--quiet"],
            {"LEARNPLACE_DATABASE_URL": url},
        )
    print()
    print("| copy | wall s | CPU s | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| baseline: sqlite3 backup of the file | {baseline:.1f} | | |")
    print(
        f"| baseline: `learnplace store copy --help` (start-up, copies nothing) "
        f"| {idle['wall_s']:.1f} | {idle['cpu_s']:.1f} | {idle['rss_mib']:.0f} |"
    )
    for name, row in (("SQLite → PostgreSQL", there), ("PostgreSQL → SQLite", back)):
        figures = f"{row['wall_s']:.1f} | {row['cpu_s']:.1f} | {row['rss_mib']:.0f}"
        print(f"| store copy {name} | {figures} |")
    if not args.keep and there["status"] == back["status"] == 0:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(max(there["status"], back["status"]))


def _build(work: Path, sources: int, items: int, profiles: int) -> None:
    """One daily run over the corpus, as scale.py's cold run (not timed)."""
    from aggregator import app as application

    started = time.monotonic()
    corpus, project = work / "corpus", work / "project"
    _generate(corpus, sources, items)
    port = _free_port()
    server = _serve(corpus, port, 0)
    try:
        urls = _feed_urls(f"http://127.0.0.1:{port}")
        project.mkdir(parents=True)
        config = corpus_config(project, 32, urls)
        summary = application.run(
            application.Project.at(project),
            now=DAY0,
            config=config,
            profiles=make_profiles(profiles),
        )
    finally:
        server.terminate()
        server.wait()
    print(
        f"built by one run over {len(urls)} feedfarm sources in {time.monotonic() - started:.0f} s:"
        f" {summary.new_items} new items, {len(summary.failures)} failures",
        flush=True,
    )


def _backup(store: Path, copy: Path) -> float:
    started = time.monotonic()
    with sqlite3.connect(store) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return time.monotonic() - started


def _learnplace(
    project: Path, args: list[str], env: dict[str, str], *, quiet: bool = False
) -> dict[str, float]:
    """``learnplace --project PROJECT ARGS`` in its own process: printed, timed, reaped."""
    argv = [sys.executable, "-m", "aggregator", "--project", str(project), *args]
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    print(f"\n$ {shown + ' ' if shown else ''}learnplace {shlex.join(argv[3:])}", flush=True)
    started = time.monotonic()
    output = subprocess.DEVNULL if quiet else None
    child = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=output)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    print(f"(exit status {code}, {wall:.1f} s)", flush=True)
    return {
        "status": code,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--build":
        _build(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
