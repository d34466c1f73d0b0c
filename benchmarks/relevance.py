"""Measure ranking quality on labeled sets: nDCG@10 and precision@10, beside a plain baseline.

    python benchmarks/relevance.py SET_DIR [--rankings OUT.json]   one set, per profile
    python benchmarks/relevance.py --all        every set in benchmarks/data/relevance/
    python benchmarks/relevance.py --cross      leave-one-set-out for the tuned constants
    python benchmarks/relevance.py --feedback   what "more"/"less" judgements teach

A set directory holds ``items.jsonl`` (id, title, summary, url, published,
source), ``profiles.json`` (name, about, interests phrase -> weight,
exclude) and ``qrels.json`` (profile name -> relevant item ids), as
``benchmarks/data/relevance/README.md`` describes. Items are indexed through
the product's own :class:`WhooshIndex` and each profile's top 10 is chosen
by the code that builds a digest (:func:`aggregator.rank.choose_digest`).
``qrels.json`` is read only after ranking, to score.

The baseline, measured in the same run over the same index files: a Whoosh
OR-query of the profile's words over title and summary with Whoosh's default
BM25F scoring, no boosts, no product code in between.

``--cross``: every constant the ranking tunes (``aggregator.rank.TUNED``, and
``TUNED_FEEDBACK`` for judgements) is chosen from ``GRID`` on the other sets
and scored on the set left out. The choice applies the rule a change is
judged by: of the settings with no set below the plain baseline (for
judgements: no set below 1.10 times the ranking without them), the one with
the best mean ratio. The shipped constants are the choice on all sets.

``--feedback`` simulates a person: the first digest's picks are judged "more"
(relevant) or "less" (not) from the labels, the ranking runs again, and its
top 10 of the items not shown before is scored beside the same residual
ranking without the judgements, both against the relevant items not shown.
"""

from __future__ import annotations

import argparse
import html
import itertools
import json
import math
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import whoosh.index
from whoosh.qparser import MultifieldParser, OrGroup
from whoosh.query import DateRange
from whoosh.searching import Searcher

from aggregator.models import Item, Profile
from aggregator.rank import DEFAULT_MODEL, TUNED, TUNED_FEEDBACK, RankingModel, choose_digest
from aggregator.sanitize import html_to_text
from aggregator.search import WhooshIndex
from aggregator.search.schema import SCHEMA

K = 10
SETS_DIR = Path(__file__).resolve().parent / "data" / "relevance"

GRID: Mapping[str, Sequence[float]] = {
    "weight_power": (0.5, 1.0, 2.0),
    "proximity": (0.0, 0.15, 0.3),
}
"""The values ``--cross`` chooses from, for each constant in ``aggregator.rank.TUNED``."""

GRID_FEEDBACK: Mapping[str, Sequence[float]] = {"rocchio_beta": (0.5, 0.75, 1.0)}
"""Likewise for ``aggregator.rank.TUNED_FEEDBACK``: the values published Rocchio settings use."""


@dataclass(frozen=True)
class LabeledSet:
    """One set, loaded: its items as the store would hand them over, its profiles, its labels."""

    name: str
    items: list[Item]
    external: dict[int, str]
    profiles: list[dict[str, object]]
    qrels: dict[str, set[str]]
    now: datetime
    window_days: int

    @property
    def by_id(self) -> dict[int, Item]:
        return {item.id: item for item in self.items}


def load_set(path: Path) -> LabeledSet:
    items, external = load_items(path / "items.jsonl")
    newest = max(item.published for item in items)
    oldest = min(item.published for item in items)
    now = newest + timedelta(hours=1)
    profiles = json.loads((path / "profiles.json").read_text(encoding="utf-8"))
    labels = json.loads((path / "qrels.json").read_text(encoding="utf-8"))
    qrels = {name: set(ids) for name, ids in labels.items()}
    return LabeledSet(path.name, items, external, profiles, qrels, now, (now - oldest).days + 1)


def load_items(path: Path) -> tuple[list[Item], dict[int, str]]:
    """Items as the store would hand them over; the set's string ids map to integer ids."""
    items, external = [], {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            row = json.loads(line)
            published = _date(str(row.get("published") or ""))
            # The sets hold plain text; a feed would carry it escaped, and the parser keeps
            # the summary as HTML and its text as ``text``.
            summary = html.escape(row.get("summary") or "", quote=False)
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
                    text=html_to_text(summary),
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


def to_profile(raw: Mapping[str, object], window_days: int) -> Profile:
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


Rankings = dict[str, list[str]]
"""Profile name -> the set's item ids, best first."""


def ranked(
    labeled: LabeledSet,
    index: WhooshIndex,
    model: RankingModel = DEFAULT_MODEL,
    *,
    shown: Mapping[str, Sequence[str]] | None = None,
    judged: bool = False,
) -> Rankings:
    """Each profile's digest picks, by the product's digest path.

    With ``shown``, those items were sent before (left out); with ``judged``,
    each of them was judged "more" if relevant and "less" if not.
    """
    by_id = labeled.by_id
    internal = {ext: number for number, ext in labeled.external.items()}
    found: Rankings = {}
    for raw in labeled.profiles:
        name = str(raw["name"])
        profile = to_profile(raw, labeled.window_days)
        sent = [internal[ext] for ext in (shown or {}).get(name, ())]
        judgements = (
            {i: 1 if labeled.external[i] in labeled.qrels.get(name, set()) else -1 for i in sent}
            if judged
            else None
        )
        digest = choose_digest(
            index,
            lambda ids: {i: by_id[i] for i in ids if i in by_id},
            profile,
            labeled.now,
            labeled.now.date(),
            already_sent=sent,
            judgements=judgements,
            model=model,
        )
        found[name] = [labeled.external[pick.item.id] for pick in digest.picks]
    return found


def baseline(labeled: LabeledSet, index_dir: Path) -> Rankings:
    """The plain Whoosh OR-query of each profile's words, on the same index files."""
    found: Rankings = {}
    with whoosh.index.open_dir(str(index_dir)).searcher() as searcher:
        for raw in labeled.profiles:
            profile = to_profile(raw, labeled.window_days)
            since = labeled.now - timedelta(days=labeled.window_days)
            ids = plain_search(searcher, profile, since)
            found[str(raw["name"])] = [labeled.external[i] for i in ids]
    return found


def plain_search(searcher: Searcher, profile: Profile, since: datetime) -> list[int]:
    words = " ".join(re.findall(r"\w+", " ".join(profile.interests).lower()))
    words = " ".join(w for w in words.split() if w not in {"and", "or", "not"})
    q = MultifieldParser(["title", "summary"], SCHEMA, group=OrGroup).parse(words)
    window = DateRange("published", since.astimezone(UTC).replace(tzinfo=None), None)
    ids = searcher.reader().column_reader("id")
    hits = searcher.search(q, limit=None, filter=window)
    best = sorted((-score, int(ids[docnum])) for score, docnum in hits.top_n)
    return [item_id for _, item_id in best[:K]]


def ndcg(ranking: Sequence[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranking[:K]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, len(relevant))))
    return dcg / ideal if ideal else 0.0


def precision(ranking: Sequence[str], relevant: set[str]) -> float:
    return sum(doc in relevant for doc in ranking[:K]) / K


def mean(values: Sequence[float]) -> float:
    return sum(values) / max(len(values), 1)


@dataclass(frozen=True)
class Scores:
    """Per profile nDCG@10 and P@10 of one ranking."""

    ndcg: dict[str, float]
    precision: dict[str, float]

    @classmethod
    def of(cls, rankings: Rankings, qrels: Mapping[str, set[str]]) -> Scores:
        return cls(
            {n: ndcg(r, qrels.get(n, set())) for n, r in rankings.items()},
            {n: precision(r, qrels.get(n, set())) for n, r in rankings.items()},
        )

    @property
    def mean_ndcg(self) -> float:
        return mean(list(self.ndcg.values()))

    @property
    def mean_precision(self) -> float:
        return mean(list(self.precision.values()))


class Indexed:
    """Every set indexed once in a temporary directory, for as many rankings as asked."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.sets: list[LabeledSet] = []
        self.dirs: dict[str, Path] = {}
        self.indexes: dict[str, WhooshIndex] = {}
        self.index_s: dict[str, float] = {}
        for path in paths:
            labeled = load_set(path)
            directory = Path(self._tmp.name) / labeled.name
            started = time.perf_counter()
            index = WhooshIndex.open(directory)
            index.add(labeled.items)
            self.index_s[labeled.name] = time.perf_counter() - started
            self.sets.append(labeled)
            self.dirs[labeled.name] = directory
            self.indexes[labeled.name] = index

    def close(self) -> None:
        for index in self.indexes.values():
            index.close()
        self._tmp.cleanup()

    def __enter__(self) -> Indexed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def one_set(path: Path, rankings_out: Path | None) -> None:
    with Indexed([path]) as indexed:
        labeled = indexed.sets[0]
        started = time.perf_counter()
        ours = ranked(labeled, indexed.indexes[labeled.name])
        ranked_s = time.perf_counter() - started
        plain = baseline(labeled, indexed.dirs[labeled.name])
    if rankings_out:
        rankings_out.write_text(json.dumps(ours, indent=1) + "\n", encoding="utf-8")
    mine, base = Scores.of(ours, labeled.qrels), Scores.of(plain, labeled.qrels)
    print(f"set {labeled.name}: {len(labeled.items)} items, {len(labeled.profiles)} profiles")
    indexed_s = indexed.index_s[labeled.name]
    print(f"indexed in {indexed_s:.1f} s; ranked all profiles in {ranked_s:.2f} s")
    print(f"{'profile':<16} {'nDCG@10':>8} {'base':>6} {'P@10':>6} {'base':>6}")
    for name in ours:
        print(
            f"{name:<16} {mine.ndcg[name]:8.3f} {base.ndcg[name]:6.3f} "
            f"{mine.precision[name]:6.2f} {base.precision[name]:6.2f}"
        )
    print(
        f"{'MEAN':<16} {mine.mean_ndcg:8.3f} {base.mean_ndcg:6.3f} "
        f"{mine.mean_precision:6.2f} {base.mean_precision:6.2f}"
    )
    print(
        f"ranking nDCG@10 {mine.mean_ndcg:.3f} vs baseline {base.mean_ndcg:.3f}; "
        f"P@10 {mine.mean_precision:.3f} vs baseline {base.mean_precision:.3f}"
    )


def all_sets(paths: Sequence[Path]) -> None:
    with Indexed(paths) as indexed:
        rows = []
        for labeled in indexed.sets:
            mine = Scores.of(ranked(labeled, indexed.indexes[labeled.name]), labeled.qrels)
            base = Scores.of(baseline(labeled, indexed.dirs[labeled.name]), labeled.qrels)
            rows.append((labeled, mine, base))
    print(
        f"{'set':<16} {'items':>6} {'nDCG@10':>8} {'plain':>6} {'ratio':>6} "
        f"{'P@10':>6} {'plain':>6}"
    )
    for labeled, mine, base in rows:
        print(
            f"{labeled.name:<16} {len(labeled.items):>6} {mine.mean_ndcg:8.3f} "
            f"{base.mean_ndcg:6.3f} {mine.mean_ndcg / base.mean_ndcg:6.3f} "
            f"{mine.mean_precision:6.3f} {base.mean_precision:6.3f}"
        )
    ours = mean([m.mean_ndcg for _, m, _ in rows])
    plain = mean([b.mean_ndcg for _, _, b in rows])
    ours_p = mean([m.mean_precision for _, m, _ in rows])
    plain_p = mean([b.mean_precision for _, _, b in rows])
    print(
        f"{'MEAN':<16} {'':>6} {ours:8.3f} {plain:6.3f} {ours / plain:6.3f} "
        f"{ours_p:6.3f} {plain_p:6.3f}"
    )
    below = [labeled.name for labeled, m, b in rows if m.mean_ndcg < b.mean_ndcg]
    print(f"sets below the plain baseline: {', '.join(below) or 'none'}")


def settings(grid: Mapping[str, Sequence[float]], tuned: Sequence[str]) -> list[RankingModel]:
    """Every model of ``grid``: each tuned constant takes each of its values, the rest stay."""
    assert set(grid) == set(tuned), "the grid must cover exactly the tuned constants"
    names = list(grid)
    return [
        replace(DEFAULT_MODEL, **dict(zip(names, values, strict=True)))
        for values in itertools.product(*(grid[name] for name in names))
    ]


def _label(model: RankingModel, tuned: Sequence[str]) -> str:
    return ", ".join(f"{name} {getattr(model, name):g}" for name in tuned)


def choose(
    grid: Sequence[RankingModel],
    ratios: Mapping[RankingModel, Mapping[str, float]],
    on: Sequence[str],
    floor: float,
) -> RankingModel:
    """The rule a change is judged by, as the choice: of the settings whose every set in ``on``
    reaches ``floor``, the best mean ratio; if there is none, the best worst set."""

    def merit(model: RankingModel) -> tuple[bool, float, int]:
        found = [ratios[model][name] for name in on]
        feasible = min(found) >= floor
        return feasible, mean(found) if feasible else min(found), -grid.index(model)

    return max(grid, key=merit)


def leave_one_out(
    title: str,
    grid: Sequence[RankingModel],
    table: Mapping[RankingModel, Mapping[str, tuple[float, float]]],
    tuned: Sequence[str],
    floor: float,
) -> None:
    """Print the grid, then each set scored with the setting chosen on the others.

    ``table`` holds, per setting and set, the score and what it is measured
    against (the plain baseline, or the same ranking without judgements).
    """
    names = list(next(iter(table.values())))
    ratios = {m: {n: table[m][n][0] / (table[m][n][1] or 1.0) for n in names} for m in grid}
    print(f"{title}: score / reference per set")
    print(f"{'setting':<34} " + " ".join(f"{n[:13]:>13}" for n in names) + f" {'ratio':>6}")
    for model in grid:
        row = " ".join(f"{table[model][n][0]:6.3f}/{table[model][n][1]:.3f}" for n in names)
        print(f"{_label(model, tuned):<34} {row} {mean(list(ratios[model].values())):6.3f}")
    print(f"{'left out':<16} {'chosen on the other sets':<34} {'score':>6} {'ref':>6} {'ratio':>6}")
    held, reference = [], []
    for name in names:
        chosen = choose(grid, ratios, [n for n in names if n != name], floor)
        score, ref = table[chosen][name]
        held.append(score)
        reference.append(ref)
        label = _label(chosen, tuned)
        print(f"{name:<16} {label:<34} {score:6.3f} {ref:6.3f} {score / (ref or 1.0):6.3f}")
    print(
        f"{'MEAN':<16} {'':<34} {mean(held):6.3f} {mean(reference):6.3f} "
        f"{mean(held) / (mean(reference) or 1.0):6.3f}"
    )
    everywhere = choose(grid, ratios, names, floor)
    shipped = "the shipped constants" if everywhere == DEFAULT_MODEL else "NOT the shipped ones"
    print(f"chosen on all sets: {_label(everywhere, tuned)} ({shipped})\n")


FEEDBACK_FLOOR = 1.10
"""What judgements must add on every set: a tenth more nDCG@10 on the items not shown yet."""


def cross(paths: Sequence[Path]) -> None:
    with Indexed(paths) as indexed:
        plain = {
            s.name: Scores.of(baseline(s, indexed.dirs[s.name]), s.qrels).mean_ndcg
            for s in indexed.sets
        }
        grid = settings(GRID, TUNED)
        table = {
            model: {
                s.name: (
                    Scores.of(ranked(s, indexed.indexes[s.name], model), s.qrels).mean_ndcg,
                    plain[s.name],
                )
                for s in indexed.sets
            }
            for model in grid
        }
        leave_one_out("ranking: nDCG@10 / plain baseline", grid, table, TUNED, 1.0)
        grid = settings(GRID_FEEDBACK, TUNED_FEEDBACK)
        table = {
            model: {
                s.name: judged_residual(s, indexed.indexes[s.name], model) for s in indexed.sets
            }
            for model in grid
        }
        leave_one_out(
            "judgements: residual nDCG@10 with / without",
            grid,
            table,
            TUNED_FEEDBACK,
            FEEDBACK_FLOOR,
        )


def judged_residual(
    labeled: LabeledSet, index: WhooshIndex, model: RankingModel = DEFAULT_MODEL
) -> tuple[float, float]:
    """The residual nDCG@10 with the first digest's picks judged, and without."""
    first = ranked(labeled, index, model)
    residual = {n: labeled.qrels.get(n, set()) - set(first[n]) for n in first}
    judged = Scores.of(ranked(labeled, index, model, shown=first, judged=True), residual)
    unjudged = Scores.of(ranked(labeled, index, model, shown=first), residual)
    return judged.mean_ndcg, unjudged.mean_ndcg


def feedback(paths: Sequence[Path]) -> None:
    with Indexed(paths) as indexed:
        print(f"{'set':<16} {'with':>6} {'without':>8} {'ratio':>6}")
        for labeled in indexed.sets:
            judged, unjudged = judged_residual(labeled, indexed.indexes[labeled.name])
            print(f"{labeled.name:<16} {judged:6.3f} {unjudged:8.3f} {judged / unjudged:6.3f}")


def _set_dirs() -> list[Path]:
    return sorted(p for p in SETS_DIR.iterdir() if (p / "qrels.json").exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("set_dir", type=Path, nargs="?")
    parser.add_argument("--rankings", type=Path, help="write {profile: [item ids, best first]}")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--all", action="store_true", help="every set, ranking vs plain")
    modes.add_argument("--cross", action="store_true", help="leave-one-set-out")
    modes.add_argument("--feedback", action="store_true", help="simulated judgements")
    args = parser.parse_args()
    run: Callable[[Sequence[Path]], None] | None = (
        all_sets if args.all else cross if args.cross else feedback if args.feedback else None
    )
    if run is not None:
        run([args.set_dir] if args.set_dir else _set_dirs())
    elif args.set_dir:
        one_set(args.set_dir, args.rankings)
    else:
        parser.error("give a SET_DIR, or --all, --cross or --feedback")


if __name__ == "__main__":
    main()
