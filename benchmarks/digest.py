"""Time building 100 digests over a store of 50,000 items, beside a plain per-profile query.

    python benchmarks/digest.py [--state DIR] [--profiles 100] [--feeds 1000] [--items 50]

The first run generates a feedfarm corpus (``--feeds`` x ``--items``), parses
every feed with the product's parser (in ``--workers`` processes), stores it
100 feeds per transaction and indexes it in one commit, under ``--state`` in a
directory named for the corpus parameters: later runs with the same ones
skip the build. Profiles are drawn deterministically from feedfarm's topic
keywords. Then, in the same run:

* ``digests``: every profile's digest as ``learnplace run`` builds it
  (``application.preview`` with the run's shared item reads: each interest
  word and neighbouring pair over the freshness window, each scored once
  per run, fusion, blending, digest selection);
* ``baseline``: a straightforward Whoosh OR-query of each profile's words
  over title, summary and content with the same date filter, top 20.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whoosh import query as wq
from whoosh.qparser import MultifieldParser, OrGroup

from aggregator.models import Entry, Profile, Source
from aggregator.parse.registry import parse_feed
from aggregator.rank import daily
from aggregator.search import WhooshIndex
from aggregator.search.schema import SCHEMA, naive_utc
from aggregator.store import SCHEMA_VERSION, SqliteStore
from feedfarm import corpus as ff_corpus
from feedfarm.vocab import TOPICS

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
"""feedfarm's day 0 is 2026-09-01: its newest items are from that day."""


FEEDS_PER_TRANSACTION = 100
"""Feeds stored per store transaction: a bulk import pays one commit per batch, not per feed."""

INDEX_NAME = "index-by-date"
"""The index is built separately from the store (and cached beside it), so changing how it is
built does not redo the slow parse."""


def state_dir(root: Path, feeds: int, items: int) -> Path:
    """The built state is cached under its corpus parameters: reruns with the same ones skip it."""
    return root / f"feeds{feeds}-items{items}-seed1-store{SCHEMA_VERSION}"


def _parse_file(job: tuple[str, str]) -> tuple[str, list[Entry]]:
    path, url = job
    return url, list(parse_feed(Path(path).read_bytes(), {}, url, "blog").entries)


def build_store(state: Path, feeds: int, items: int, workers: int) -> None:
    """Generate, parse and store the corpus through the product's own code, in bulk.

    Parsing runs in ``workers`` processes (most of it is event-date reading);
    entries go to the store ``FEEDS_PER_TRANSACTION`` feeds per transaction.
    ``stored`` is written last, so an interrupted build is redone rather than
    half reused.
    """
    if state.exists():
        shutil.rmtree(state)
    corpus = state / "corpus"
    corpus.mkdir(parents=True)
    started = time.perf_counter()
    ff_corpus.build(str(corpus), feeds, items, "1", 0)
    files = sorted(p for p in (corpus / "feeds").rglob("*") if p.is_file())
    sources = [
        Source(url=f"http://feedfarm.test/{p.relative_to(corpus)}", name=p.parent.name)
        for p in files
    ]
    print(f"generated {len(files)} feeds in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    jobs = [(str(p), s.url) for p, s in zip(files, sources, strict=True)]
    with SqliteStore(state / "learnplace.sqlite3") as store:
        store.sync_sources(sources)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parsed = pool.map(_parse_file, jobs, chunksize=8)
            while batch := list(islice(parsed, FEEDS_PER_TRANSACTION)):
                store.add_feeds(batch, NOW)
                print(f"  stored {store.item_count()} items", flush=True)
        print(
            f"parsed and stored {store.item_count()} items in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    (state / "stored").write_text("stored\n", encoding="utf-8")


def build_index(state: Path) -> None:
    """Index every stored item in one commit, oldest first.

    A real index grows a day at a time, so its newest items sit at the end;
    indexing in date order gives the benchmark the same layout (the freshness
    window is then the tail of the index, which ranking skips to).
    """
    started = time.perf_counter()
    with SqliteStore(state / "learnplace.sqlite3") as store:
        items = sorted(store.iter_items(), key=lambda item: (item.published, item.id))
        if (state / INDEX_NAME).exists():
            shutil.rmtree(state / INDEX_NAME)
        with WhooshIndex.open(state / INDEX_NAME) as index:
            index.add(items)
    print(f"indexed in {time.perf_counter() - started:.0f} s", flush=True)
    (state / f"{INDEX_NAME}.complete").write_text("indexed\n", encoding="utf-8")


def make_profiles(count: int) -> list[Profile]:
    rng = random.Random("learnplace-digest-bench")
    topics = sorted(TOPICS)
    profiles = []
    for n in range(count):
        interests: dict[str, float] = {}
        for topic in rng.sample(topics, 2):
            for keyword in rng.sample(TOPICS[topic][1], min(5, len(TOPICS[topic][1]))):
                interests[keyword.lower()] = float(rng.choice([1, 1.5, 2, 3]))
        profiles.append(
            Profile(name=f"p{n:03d}", display_name=f"P{n}", interests=interests, digest_size=15)
        )
    return profiles


def baseline(index: WhooshIndex, profile: Profile) -> float:
    parser = MultifieldParser(["title", "summary", "body"], SCHEMA, group=OrGroup)
    text = " ".join(f'"{phrase}"' if " " in phrase else phrase for phrase in profile.interests)
    q = parser.parse(text)
    since = NOW - timedelta(days=profile.freshness_days)
    searcher = index._current()
    started = time.perf_counter()
    searcher.search(q, limit=20, filter=wq.DateRange("published", naive_utc(since), None))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--state",
        type=Path,
        default=Path("/tmp/learnplace-bench-digest"),
        help="where built states are cached, one directory per corpus size",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="parser processes for the build"
    )
    parser.add_argument("--profiles", type=int, default=100)
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument(
        "--baseline-profiles",
        type=int,
        default=10,
        help="how many profiles the (slow) baseline runs; the total is extrapolated",
    )
    args = parser.parse_args()
    state = state_dir(args.state, args.feeds, args.items)
    if not (state / "stored").exists():
        build_store(state, args.feeds, args.items, args.workers)
    if not (state / f"{INDEX_NAME}.complete").exists():
        build_index(state)
    profiles = make_profiles(args.profiles)
    with (
        SqliteStore(state / "learnplace.sqlite3") as store,
        WhooshIndex.open(state / INDEX_NAME) as index,
    ):
        print(f"store: {store.item_count()} items; {len(profiles)} profiles; now={NOW.isoformat()}")
        times = []
        started = time.perf_counter()
        sizes = []
        items_of = daily.shared_items(store)
        for profile in profiles:
            one = time.perf_counter()
            digest = daily.digest_for(store, index, profile, NOW, items_of=items_of)
            times.append(time.perf_counter() - one)
            sizes.append(len(digest.picks))
        total = time.perf_counter() - started
        base = [baseline(index, p) for p in profiles[: args.baseline_profiles]]
    times.sort()
    print(
        f"digests:  all {len(profiles)} in {total:.2f} s; per profile mean "
        f"{total / len(profiles) * 1000:.0f} ms, p50 {times[len(times) // 2] * 1000:.0f} ms, "
        f"max {times[-1] * 1000:.0f} ms; mean picks {sum(sizes) / len(sizes):.1f}"
    )
    mean = sum(base) / len(base)
    print(
        f"baseline: plain OR-query per profile (first {len(base)} profiles) mean "
        f"{mean * 1000:.0f} ms, extrapolated {mean * len(profiles):.1f} s for {len(profiles)}"
    )


if __name__ == "__main__":
    main()
