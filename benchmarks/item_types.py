"""Type and event-date accuracy on a generated feedfarm corpus, against its truth.jsonl.

    .venv/bin/python benchmarks/item_types.py [--feeds 200] [--items 20] [--seed 1]

Every feed file of the corpus is parsed with :func:`aggregator.parse.parse_feed`
and its source kind hint (feedfarm's kind mapped to feeds.toml's kinds; a
"roundup" is a "news" source, which hints nothing). Each entry is matched to
its truth line by guid (or link), and the table prints, per true type, how
many entries got it right and what they were taken for instead. feedfarm's
"webinar" is Learnplace's "event". Event dates count as right when they are
within a minute of the truth. A baseline row measures the same corpus with
the kind hint alone (what the first version did), so the figures say what the
other signals add.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.classify import KIND_ITEM_TYPES
from aggregator.models import ITEM_TYPES
from aggregator.parse import parse_feed
from feedfarm import corpus as ff_corpus

FEEDFARM_KINDS = {
    "blog": "blog",
    "podcast": "podcast",
    "courses": "courses",
    "events": "events",
    "video": "video",
    "papers": "papers",
    "roundup": "news",
}
TRUE_TYPES = {"webinar": "event"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--seed", default="1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ff_corpus.build(tmp, args.feeds, args.items, args.seed, 0)
        measure(Path(tmp))


def measure(corpus: Path) -> None:
    truth = {}
    for line in (corpus / "truth.jsonl").read_text().splitlines():
        row = json.loads(line)
        truth[(row["feed"], row["guid"] or row["link"])] = row
    feeds = json.loads((corpus / "feeds.json").read_text())
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    baseline: Counter[str] = Counter()
    dates: Counter[str] = Counter()
    misses: list[str] = []
    started = time.perf_counter()
    parsed_entries = 0
    for feed in feeds:
        path = feed["path"]
        body = (corpus / path.lstrip("/")).read_bytes()
        kind = FEEDFARM_KINDS[feed["kind"]]
        result = parse_feed(
            body, {"content-type": feed["content_type"]}, "https://ff.example" + path, kind
        )
        for entry in result.entries:
            row = truth.get((path, entry.guid)) or truth.get((path, entry.url))
            if row is None:
                continue
            parsed_entries += 1
            expected = TRUE_TYPES.get(row["type"], row["type"])
            confusion[expected][entry.item_type] += 1
            baseline[expected] += KIND_ITEM_TYPES.get(kind, "article") == expected
            if row.get("event_date") and expected == entry.item_type == "event":
                found = entry.details.event_start
                want = datetime.fromisoformat(row["event_date"])
                if found is None and "when:" not in entry.text.lower():
                    dates["missing: no date in the served item"] += 1
                elif found is None:
                    dates["missing"] += 1
                elif abs((found - want).total_seconds()) <= 60:
                    dates["right"] += 1
                else:
                    dates["wrong"] += 1
                    if len(misses) < 5:
                        misses.append(
                            f"  {row['title'][:50]!r}: {found.isoformat()} != {want.isoformat()}"
                        )
            elif row.get("event_date"):
                dates["not typed as event"] += 1
    elapsed = time.perf_counter() - started
    print(f"{parsed_entries} entries matched to truth in {len(feeds)} feeds ({elapsed:.1f} s)")
    print()
    print(
        f"{'type':<9} {'items':>6} {'right':>6} {'accuracy':>9} {'baseline':>9}  taken for instead"
    )
    total = right = base = 0
    for item_type in ITEM_TYPES:
        row = confusion.get(item_type, Counter())
        count = sum(row.values())
        if not count:
            continue
        good = row[item_type]
        others = ", ".join(f"{t} {n}" for t, n in row.most_common() if t != item_type)
        print(
            f"{item_type:<9} {count:>6} {good:>6} {good / count:>9.1%} "
            f"{baseline[item_type] / count:>9.1%}  {others}"
        )
        total, right, base = total + count, right + good, base + baseline[item_type]
    print(f"{'all':<9} {total:>6} {right:>6} {right / total:>9.1%} {base / total:>9.1%}")
    print()
    dated = sum(dates.values())
    print(f"event dates: {dated} dated events in the truth")
    for outcome in (
        "right",
        "wrong",
        "missing",
        "missing: no date in the served item",
        "not typed as event",
    ):
        print(f"  {outcome:<36} {dates[outcome]:>5} {dates[outcome] / max(dated, 1):>7.1%}")
    if misses:
        print("first wrong dates:")
        print("\n".join(misses))


if __name__ == "__main__":
    main()
