"""Fetch-and-parse benchmark on a feedfarm corpus, beside a straightforward baseline.

    python benchmarks/fetch.py [--feeds 1000] [--items 50] [--latency-ms 20] [--work DIR]

Generates a feedfarm corpus, serves it from a separate process (its CPU is not
ours), and runs three phases for Learnplace (``application.refresh``: fetch,
parse, store) and for the baseline (httpx.AsyncClient at concurrency 32,
``feedparser.parse`` on each body on the event loop, ETags kept):

* cold: empty state;  * warm: nothing changed;  * tick: after ``feedfarm tick``.

Each run is its own process, reaped with ``wait4`` so CPU time includes its
parse workers and peak RSS is the largest process's. Not collected by pytest
(testpaths is ``tests``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing.forkserver
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aggregator.models import Config

ROOT = Path(__file__).resolve().parent.parent
BASELINE_CONCURRENCY = 32
PHASES = ("cold", "warm", "tick")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="learnplace-bench-"))
    rows = []
    for runner in ("learnplace", "baseline"):
        corpus = work / f"corpus-{runner}"  # each runner ticks its own copy from day 0
        _generate(corpus, args.feeds, args.items)
        port = _free_port()
        server = _serve(corpus, port, args.latency_ms)
        try:
            base = f"http://127.0.0.1:{port}"
            urls = _feed_urls(base)
            state = work / f"state-{runner}"
            state.mkdir(parents=True, exist_ok=True)
            for phase in PHASES:
                if phase == "tick":
                    # A restart serves the new day at once: the server's own reload
                    # takes seconds at this size and answers from the old day meanwhile.
                    server.terminate()
                    server.wait()
                    _tick(corpus)
                    server = _serve(corpus, port, args.latency_ms)
                _get(base + "/stats/reset")
                load = os.getloadavg()[0]  # the machine is shared: say how busy it was
                figures = _measure([runner, str(state), str(args.concurrency), *urls])
                figures["load"] = max(load, os.getloadavg()[0])
                stats = json.loads(_get(base + "/stats"))
                rows.append((runner, phase, figures, stats))
                print(_row(runner, phase, figures, stats), flush=True)
        finally:
            server.terminate()
            server.wait()
    print()
    print(_table(rows))


def _generate(corpus: Path, feeds: int, items: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "feedfarm", "generate", "--feeds", str(feeds), "--items",
         str(items), "--seed", "1", "--out", str(corpus)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _serve(corpus: Path, port: int, latency_ms: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "feedfarm", "serve", "--dir", str(corpus), "--port", str(port),
         "--latency-ms", str(latency_ms), "--jitter-ms", "5"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            _get(f"http://127.0.0.1:{port}/stats")
            return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("feedfarm server did not start")


def _tick(corpus: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "feedfarm", "tick", "--dir", str(corpus)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _feed_urls(base: str) -> list[str]:
    outlines = ET.fromstring(_get(base + "/opml")).iter("outline")
    return [o.get("xmlUrl", "") for o in outlines if o.get("xmlUrl")]


def _measure(argv: list[str]) -> dict[str, float]:
    """Run one phase in a child process; wall from outside, CPU and peak RSS from wait4."""
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, __file__, "--child", *argv], cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {child.returncode}")
    return {
        "wall_s": time.monotonic() - started,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        **json.loads((Path(argv[1]) / "child-cpu.json").read_text()),
    }


def _child(runner: str, state: Path, concurrency: int, urls: list[str]) -> None:
    if runner == "learnplace":
        _learnplace(state, concurrency, urls)
    else:
        asyncio.run(_baseline(state, urls))
    own = resource.getrusage(resource.RUSAGE_SELF)
    (state / "child-cpu.json").write_text(json.dumps({"main_cpu_s": own.ru_utime + own.ru_stime}))


def corpus_toml(concurrency: int, urls: list[str]) -> str:
    """The feeds.toml of every corpus feed, allowed to fetch from loopback."""
    lines = [
        "[settings]",
        "allow_private_networks = true",
        f"concurrency = {concurrency}",
        f"per_host_concurrency = {concurrency}",  # the whole corpus is one host:port
    ]
    for n, url in enumerate(urls):
        lines += ["[[source]]", f'name = "feed {n}"', f'url = "{url}"']
    return "\n".join(lines) + "\n"


def corpus_config(state: Path, concurrency: int, urls: list[str]) -> Config:
    """:func:`corpus_toml`, read as the project's config."""
    from aggregator.config.files import parse_config

    return parse_config(corpus_toml(concurrency, urls), state / "feeds.toml")


def _learnplace(state: Path, concurrency: int, urls: list[str]) -> None:
    from aggregator import app as application

    config = corpus_config(state, concurrency, urls)
    project = application.Project.at(state)
    summary = application.refresh(project, now=datetime.now(UTC), config=config)
    # Stop the parse pool's forkserver and reap it, so wait4 counts its workers' CPU.
    multiprocessing.forkserver._forkserver._stop()
    if summary.failures:
        raise SystemExit(f"{len(summary.failures)} failures, first: {summary.failures[0]}")


async def _baseline(state: Path, urls: list[str]) -> None:
    """What a straightforward aggregator does: one client, a semaphore, feedparser per body."""
    import feedparser
    import httpx

    etags_path = state / "etags.json"
    etags = json.loads(etags_path.read_text()) if etags_path.exists() else {}
    limit = asyncio.Semaphore(BASELINE_CONCURRENCY)
    items = 0

    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=BASELINE_CONCURRENCY)
    ) as client:

        async def one(url: str) -> None:
            nonlocal items
            headers = {"If-None-Match": etags[url]} if url in etags else {}
            async with limit:
                # Retried on a refused connection: on a loaded shared machine the server
                # sometimes refuses one, and a failed baseline would void the whole run.
                for attempt in range(3):
                    try:
                        response = await client.get(url, headers=headers)
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                        await asyncio.sleep(0.5)
            if response.status_code == 200:
                items += len(feedparser.parse(response.content).entries)
                if "etag" in response.headers:
                    etags[url] = response.headers["etag"]

        await asyncio.gather(*(one(url) for url in urls))
    etags_path.write_text(json.dumps(etags))


def _row(runner: str, phase: str, figures: dict[str, float], stats: dict) -> str:
    return (
        f"{runner:<10} {phase:<5} wall {figures['wall_s']:7.2f} s  cpu {figures['cpu_s']:7.2f} s "
        f"(main process {figures['main_cpu_s']:6.2f} s)  "
        f"rss {figures['rss_mib']:6.1f} MiB  200s {stats['200']:5}  304s {stats['304']:5}  "
        f"load {figures['load']:.1f}"
    )


def _table(rows: list[tuple[str, str, dict[str, float], dict]]) -> str:
    lines = [
        "| run | phase | wall s | CPU s | of which main process | peak RSS MiB | 200s | 304s "
        "| 304 share | load (1 min, max of start and end) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for runner, phase, figures, stats in rows:
        total = stats["200"] + stats["304"]
        share = stats["304"] / total if total else 0.0
        lines.append(
            f"| {runner} | {phase} | {figures['wall_s']:.2f} | {figures['cpu_s']:.2f} | "
            f"{figures['main_cpu_s']:.2f} | "
            f"{figures['rss_mib']:.1f} | {stats['200']} | {stats['304']} | {share:.1%} | "
            f"{figures['load']:.1f} |"
        )
    by_phase = {(runner, phase): figures for runner, phase, figures, _ in rows}
    for phase in PHASES:
        ours, base = by_phase.get(("learnplace", phase)), by_phase.get(("baseline", phase))
        if ours and base:
            lines.append(
                f"\n{phase}: learnplace/baseline wall {ours['wall_s'] / base['wall_s']:.2f}x, "
                f"CPU {ours['cpu_s'] / base['cpu_s']:.2f}x"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    else:
        main()
