"""Measure ranking quality on a labeled set: nDCG@10 and precision@10, beside a plain baseline.

    python benchmarks/relevance.py SET_DIR [--rankings OUT.json]

SET_DIR holds ``items.jsonl`` (id, title, summary, url, published, source),
``profiles.json`` (name, about, interests phrase -> weight, exclude) and
``qrels.json`` (profile name -> relevant item ids), as described in
``benchmarks/data/relevance/README.md``. Items are indexed through the
product's own :class:`SearchIndex` and each profile's top 10 is chosen by the
same code that builds a digest (``pipeline.choose_digest``). ``qrels.json`` is
read only after ranking, to score.

The baseline, measured in the same run over the same index files: a Whoosh
OR-query of the profile's words over title and summary with Whoosh's default
BM25F scoring, no boosts, no recency, no product code in between.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import whoosh.index
from whoosh.qparser import MultifieldParser, OrGroup
from whoosh.query import DateRange
from whoosh.searching import Searcher

from aggregator import pipeline
from aggregator.index import SCHEMA, SearchIndex
from aggregator.models import Item, Profile

K = 10


def load_items(path: Path) -> tuple[list[Item], dict[int, str]]:
    """Items as the store would hand them over; the set's string ids map to integer ids."""
    items, external = [], {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            row = json.loads(line)
            published = _date(str(row.get("published") or ""))
            summary = row.get("summary") or ""
            items.append(
                Item(
                    id=number,
                    source_url=f"set:{row.get('source', '')}",
                    source_name=row.get("source", ""),
                    guid=row["id"],
                    url=row.get("url", ""),
                    canonical_url=row.get("url", ""),
                    title=row.get("title", ""),
                    summary=summary,
                    content="",
                    text=summary,
                    published=published.astimezone(UTC),
                    first_seen=published.astimezone(UTC),
                    item_type="article",
                )
            )
            external[number] = row["id"]
    return items, external


def _date(text: str) -> datetime:
    """Real sets carry odd dates (``2023-05-11T19:40:00T12:00:00+00:00``): fall back to the day."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        match = re.match(r"\d{4}-\d{2}-\d{2}", text)
        moment = datetime.fromisoformat(match.group(0)) if match else datetime(2000, 1, 1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lookup(by_id: dict[int, Item]):  # type: ignore[no-untyped-def]
    return lambda ids: {i: by_id[i] for i in ids if i in by_id}


def to_profile(raw: dict[str, object], now: datetime, window_days: int) -> Profile:
    name = re.sub(r"[^a-z0-9_-]+", "-", str(raw["name"]).lower()).strip("-") or "profile"
    interests = {str(k): float(v) for k, v in dict(raw["interests"]).items()}  # type: ignore[call-overload]
    return Profile(
        name=name,
        display_name=str(raw["name"]),
        interests=interests,
        exclude=tuple(str(w) for w in raw.get("exclude", []) or []),  # type: ignore[attr-defined]
        digest_size=K,
        freshness_days=window_days,
    )


def baseline(searcher: Searcher, profile: Profile, since: datetime) -> list[int]:
    words = " ".join(re.findall(r"\w+", " ".join(profile.interests).lower()))
    words = " ".join(w for w in words.split() if w not in {"and", "or", "not"})
    q = MultifieldParser(["title", "summary"], SCHEMA, group=OrGroup).parse(words)
    window = DateRange("published", since.astimezone(UTC).replace(tzinfo=None), None)
    ids = searcher.reader().column_reader("id")
    hits = searcher.search(q, limit=None, filter=window)
    ranked = sorted(((-score, int(ids[docnum])) for score, docnum in hits.top_n))
    return [item_id for _, item_id in ranked[:K]]


def ndcg(ranking: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranking[:K]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
    return dcg / ideal if ideal else 0.0


def precision(ranking: list[str], relevant: set[str]) -> float:
    return sum(doc in relevant for doc in ranking[:K]) / K


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--rankings", type=Path, help="write {profile: [item ids, best first]}")
    args = parser.parse_args()
    items, external = load_items(args.set_dir / "items.jsonl")
    by_id = {item.id: item for item in items}
    newest = max(item.published for item in items)
    oldest = min(item.published for item in items)
    now = newest + timedelta(hours=1)
    window = (now - oldest).days + 1
    raw_profiles = json.loads((args.set_dir / "profiles.json").read_text(encoding="utf-8"))
    ours: dict[str, list[str]] = {}
    plain: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp, SearchIndex.open(Path(tmp) / "index") as index:
        started = time.perf_counter()
        index.add(items)
        indexed_s = time.perf_counter() - started
        started = time.perf_counter()
        for raw in raw_profiles:
            profile = to_profile(raw, now, window)
            picks = pipeline.choose_digest(index, _lookup(by_id), profile, now).picks
            ours[str(raw["name"])] = [external[p.item.id] for p in picks]
        ranked_s = time.perf_counter() - started
        with whoosh.index.open_dir(str(Path(tmp) / "index")).searcher() as searcher:
            for raw in raw_profiles:
                profile = to_profile(raw, now, window)
                since = now - timedelta(days=window)
                plain[str(raw["name"])] = [external[i] for i in baseline(searcher, profile, since)]
    if args.rankings:
        args.rankings.write_text(json.dumps(ours, indent=1) + "\n", encoding="utf-8")
    qrels = {k: set(v) for k, v in json.loads((args.set_dir / "qrels.json").read_text()).items()}
    print(f"set {args.set_dir.name}: {len(items)} items, {len(raw_profiles)} profiles")
    print(f"indexed in {indexed_s:.1f} s; ranked all profiles in {ranked_s:.2f} s")
    print(f"{'profile':<16} {'nDCG@10':>8} {'base':>6} {'P@10':>6} {'base':>6}")
    totals = [0.0, 0.0, 0.0, 0.0]
    for name in ours:
        rel = qrels.get(name, set())
        row = [ndcg(ours[name], rel), ndcg(plain[name], rel)]
        row += [precision(ours[name], rel), precision(plain[name], rel)]
        totals = [t + r for t, r in zip(totals, row, strict=True)]
        print(f"{name:<16} {row[0]:8.3f} {row[1]:6.3f} {row[2]:6.2f} {row[3]:6.2f}")
    n = max(len(ours), 1)
    mean = [t / n for t in totals]
    print(f"{'MEAN':<16} {mean[0]:8.3f} {mean[1]:6.3f} {mean[2]:6.2f} {mean[3]:6.2f}")
    print(
        f"ranking nDCG@10 {mean[0]:.3f} vs baseline {mean[1]:.3f}; "
        f"P@10 {mean[2]:.3f} vs baseline {mean[3]:.3f}"
    )


if __name__ == "__main__":
    main()
