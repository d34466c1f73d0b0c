"""Write expected.json: what the code that wrote this index answered over it.

Run with the previous release's code (see README.md), from its checkout:

    PYTHONPATH=. python tests/data/previous-release/make_expected.py DIR

where DIR holds the ``index`` and ``learnplace.sqlite3`` its ``learnplace demo`` wrote.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from aggregator.config import load_profiles
from aggregator.index import SearchFilters, SearchIndex
from aggregator.rank import plan, profile_queries

SEARCHES = [
    {"text": "learning"},
    {"text": '"data engineering"'},
    {"text": "leadership OR webinar", "facets": True},
    {"text": "learn*", "sort": "date", "limit": 8},
    {"text": "course", "types": ["course"]},
]
"""Typed searches, with the options search() takes."""

SINCE = datetime(2000, 1, 1, tzinfo=UTC)
"""Every item: the demo dates its items relative to the day it ran."""


def main(folder: Path) -> None:
    out: dict[str, object] = {"searches": [], "profiles": {}}
    with SearchIndex.open(folder / "index") as index:
        out["doc_count"] = index.doc_count()
        for spec in SEARCHES:
            options = {k: v for k, v in spec.items() if k not in ("text", "types")}
            filters = SearchFilters(types=tuple(spec.get("types", ())))
            page = index.search(spec["text"], filters=filters, **options)
            out["searches"].append(  # type: ignore[attr-defined]
                {
                    **spec,
                    "total": page.total,
                    "hits": [[hit.item_id, hit.score] for hit in page.hits],
                    "facets": page.facets,
                }
            )
        for profile in load_profiles(Path("profiles")):  # copied beside this file
            queries = profile_queries(profile, plan(profile))
            scores = index.score_queries(queries, since=SINCE)
            out["profiles"][profile.name] = {  # type: ignore[index]
                "|".join(key): sorted(found.items()) for key, found in scores.items() if found
            }
    (Path(__file__).parent / "expected.json").write_text(
        json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
