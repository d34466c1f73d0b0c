"""Type accuracy on a generated feedfarm corpus and on real feed items labeled by hand.

    .venv/bin/python benchmarks/item_types.py [--feeds 200] [--items 20] [--seed 1]

Part one, feedfarm (with event dates):
Every feed file of the corpus is parsed with :func:`aggregator.parse.parse_feed`
and its source kind hint (feedfarm's kind mapped to feeds.toml's kinds; a
"roundup" is a "news" source, which hints nothing). Each entry is matched to
its truth line by guid (or link), and the table prints, per true type, how
many entries got it right and what they were taken for instead. feedfarm's
"webinar" is Learnplace's "event". Event dates count as right when they are
within a minute of the truth. A baseline row measures the same corpus with
the kind hint alone (what the first version did), so the figures say what the
other signals add.

Part two, real items: the 405 items of real feeds and calendars in
``tests/data/item-types/labels.tsv``, labeled by hand by the rule in that
folder's README (without running the classifier). Each file is parsed with the
kind hint a person would give its source, and the table is printed the same
way, beside the kind-hint baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.models import ITEM_TYPES, Entry, ReadContext
from aggregator.names import kind_hint
from aggregator.parse.registry import parse_feed
from feedfarm import corpus as ff_corpus

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
LABELS = DATA / "item-types" / "labels.tsv"
READ_AT = ReadContext(datetime(2019, 3, 1, tzinfo=UTC))
"""When the calendars are read: their single events are listed whatever the date."""

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
    print("== feedfarm (generated, with its truth.jsonl)")
    with tempfile.TemporaryDirectory() as tmp:
        ff_corpus.build(tmp, args.feeds, args.items, args.seed, 0)
        measure(Path(tmp))
    print()
    print(f"== real items labeled by hand ({LABELS.relative_to(DATA.parent.parent)})")
    measure_real(LABELS)


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
            baseline[expected] += (kind_hint(kind) or "article") == expected
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
    print_table(confusion, baseline)
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


def print_table(confusion: dict[str, Counter[str]], baseline: Counter[str]) -> None:
    """Per true type: how many, how many typed right, the kind-hint baseline, the mistakes."""
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
    types = [t for t in ITEM_TYPES if confusion.get(t)]
    print()
    print("confusion (rows: labeled type; columns: type given)")
    print(f"{'':<9}" + "".join(f"{t:>9}" for t in ITEM_TYPES))
    for item_type in types:
        row = confusion[item_type]
        print(f"{item_type:<9}" + "".join(f"{row[t]:>9}" for t in ITEM_TYPES))


def measure_real(labels: Path) -> None:
    """The labeled real items, typed as a run would type them, beside the kind-hint baseline."""
    started = time.perf_counter()
    confusion, baseline, documents = real_confusion(labels)
    elapsed = time.perf_counter() - started
    count = sum(sum(row.values()) for row in confusion.values())
    print(f"{count} labeled items in {documents} documents ({elapsed:.1f} s)")
    print()
    print_table(confusion, baseline)


def real_confusion(labels: Path) -> tuple[dict[str, Counter[str]], Counter[str], int]:
    """Labeled type -> types given, the kind-hint baseline's hits per type, and how many
    documents were parsed (each once, with its kind hint; entries picked by position or UID,
    their title checked against the table's)."""
    with labels.open(encoding="utf-8", newline="") as table:
        rows = list(csv.DictReader(table, delimiter="\t", quoting=csv.QUOTE_NONE))
    parsed: dict[tuple[str, str], list[Entry]] = {}
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    baseline: Counter[str] = Counter()
    for row in rows:
        key = (row["file"], row["kind"])
        if key not in parsed:
            body = (DATA / row["file"]).read_bytes()
            feed = parse_feed(body, {}, "https://real.example/feed", row["kind"], context=READ_AT)
            parsed[key] = list(feed.entries)
        entry = labeled_entry(parsed[key], row)
        confusion[row["label"]][entry.item_type] += 1
        baseline[row["label"]] += (kind_hint(row["kind"]) or "article") == row["label"]
    return confusion, baseline, len(parsed)


def labeled_entry(entries: list[Entry], row: dict[str, str]) -> Entry:
    """The entry a table row names; a title that differs means the table no longer fits."""
    if row["entry"].startswith("uid:"):
        uid = row["entry"].removeprefix("uid:")
        found = [entry for entry in entries if entry.guid == uid]
        if not found:
            raise SystemExit(f"{row['file']}: no event with UID {uid!r}")
        return found[0]
    entry = entries[int(row["entry"])]
    if _words(entry.title)[:5] != _words(row["title"])[:5]:
        raise SystemExit(f"{row['file']} #{row['entry']}: {entry.title!r} is not {row['title']!r}")
    return entry


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", html.unescape(re.sub(r"<[^>]*>", " ", text)).casefold())


if __name__ == "__main__":
    main()
