"""Time building 100 digests over a store of 50,000 items, beside a plain per-profile query.

    python benchmarks/digest.py [--state DIR] [--profiles 100] [--feeds 1000] [--items 50]

The first run generates a feedfarm corpus (``--feeds`` x ``--items``), parses
every feed with the product's parser, stores and indexes it in ``--state``
(kept, so later runs only rank). Profiles are drawn deterministically from
feedfarm's topic keywords. Then, in the same run:

* ``digests``: every profile's digest as ``learnplace run`` builds it
  (``pipeline.preview``: per-interest queries over the freshness window, one
  searcher, expansion, blending);
* ``baseline``: a straightforward Whoosh OR-query of each profile's words
  over title, summary and content with the same date filter, top 20.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whoosh import query as wq
from whoosh.qparser import MultifieldParser, OrGroup

from aggregator import pipeline
from aggregator.index import SCHEMA, SearchIndex, _naive_utc
from aggregator.models import Profile, Source
from aggregator.parse import parse_feed
from aggregator.store import Store
from feedfarm import corpus as ff_corpus
from feedfarm.vocab import TOPICS

NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)
"""feedfarm's day 0 is 2026-09-01: its newest items are from that day."""


def build_state(state: Path, feeds: int, items: int) -> None:
    corpus = state / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ff_corpus.build(str(corpus), feeds, items, "1", 0)
    files = sorted(p for p in (corpus / "feeds").rglob("*") if p.is_file())
    sources = [
        Source(url=f"http://feedfarm.test/{p.relative_to(corpus)}", name=p.parent.name)
        for p in files
    ]
    with Store(state / "learnplace.sqlite3") as store:
        store.sync_sources(sources)
        for path, source in zip(files, sources, strict=True):
            feed = parse_feed(path.read_bytes(), {}, source.url, "blog")
            store.add_entries(source.url, feed.entries, NOW)
        print(
            f"parsed and stored {store.item_count()} items in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
        started = time.perf_counter()
        with SearchIndex.open(state / "index") as index:
            index.add(store.iter_items())
        print(f"indexed in {time.perf_counter() - started:.0f} s", flush=True)


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


def baseline(index: SearchIndex, profile: Profile) -> float:
    parser = MultifieldParser(["title", "summary", "content"], SCHEMA, group=OrGroup)
    text = " ".join(f'"{phrase}"' if " " in phrase else phrase for phrase in profile.interests)
    q = parser.parse(text)
    since = NOW - timedelta(days=profile.freshness_days)
    searcher = index._current()
    started = time.perf_counter()
    searcher.search(q, limit=20, filter=wq.DateRange("published", _naive_utc(since), None))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, default=Path("/tmp/learnplace-bench-digest"))
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
    if not (args.state / "index").exists():
        build_state(args.state, args.feeds, args.items)
    profiles = make_profiles(args.profiles)
    with (
        Store(args.state / "learnplace.sqlite3") as store,
        SearchIndex.open(args.state / "index") as index,
    ):
        print(f"store: {store.item_count()} items; {len(profiles)} profiles; now={NOW.isoformat()}")
        times = []
        started = time.perf_counter()
        sizes = []
        for profile in profiles:
            one = time.perf_counter()
            digest = pipeline.preview(store, index, profile, NOW)
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
