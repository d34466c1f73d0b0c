"""The fast backend agrees with the reference one, Whoosh's public API alone, on real indexes.

:class:`~aggregator.search.index.WhooshIndex` reads postings as arrays and scores them
itself; :class:`~aggregator.search.reference.ReferenceIndex` lets Whoosh's own searcher
do everything. The same searches and the same rankings go through both over the same
index folder: the index the previous release wrote from the sample feeds, and one of
several segments, deletions and small posting blocks. Same hits in the same order, the
same totals, facets and suggestions, the same scores within float tolerance.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from aggregator.config.files import load_profiles
from aggregator.models import Item, Profile
from aggregator.rank import plan, profile_queries, rank_items, rank_profile
from aggregator.search import SearchFilters, SearchIndex, WhooshIndex, postings
from aggregator.search.reference import ReferenceIndex
from tests.integration.test_index import item

FIXTURE = Path(__file__).parents[1] / "data" / "previous-release"
NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
WORDS = [
    *("data", "pipelines", "learning", "machine", "rust", "notes", "coaching", "privacy"),
    *("testing", "unit", "leadership", "course", "workshop", "feedback", "incident"),
    *("response", "planning"),
]

SEARCHES: list[tuple[str, dict[str, object]]] = [
    ("learning", {}),
    ("machine learning", {"limit": 50}),
    ('"machine learning"', {}),
    ("data OR rust", {"facets": True, "limit": 100}),
    ("testing NOT unit", {}),
    ("title:coaching", {"sort": "date", "limit": 30}),
    ("learn*", {"offset": 5, "limit": 7}),
    ("leadership course", {"filters": SearchFilters(types=("course", "event"))}),
    ("notes", {"filters": SearchFilters(sources=("Blog 1",)), "facets": True}),
    ("privacy", {"filters": SearchFilters(tags=("Data",))}),
    ("", {"filters": SearchFilters(since=NOW - timedelta(days=3)), "sort": "date"}),
    ("*", {"filters": SearchFilters(until=NOW - timedelta(days=20)), "limit": 40}),
    ("incident^3 response planning", {}),
    ("content:feedback", {}),
    ("lerning", {}),
    ("coachng privasy", {}),
]
"""Typed queries with the options search() takes: words, phrases, operators, fields,
wildcards, boosts, filters of every kind, date sort, paging, and misspellings."""


def corpus(count: int) -> list[Item]:
    rng = random.Random(17)
    return [
        item(
            n,
            " ".join(rng.choices(WORDS, k=1 + n % 5)),
            source_name=f"Blog {n % 3}",
            summary=f"<p>{' '.join(rng.choices(WORDS, k=n % 9))}</p>",
            text=" ".join(rng.choices(WORDS, k=n % 60)),
            published=NOW - timedelta(days=n % 30, hours=n % 7),
            item_type=("article", "course", "event")[n % 3],
            tags=tuple(rng.sample(WORDS, 2)) if n % 2 else (),
        )
        for n in range(1, count + 1)
    ]


PROFILES = [
    Profile(
        name="synthetic",
        display_name="Synthetic",
        interests={"machine learning": 2.0, "incident response planning": 1.0, "rust": 0.5},
        exclude=("privacy policy",),
    ),
    Profile(
        name="coach",
        display_name="Coach",
        interests={"coaching feedback": 1.0, "leadership": 3.0},
        types={"event": 0.5},
    ),
]


@pytest.fixture(scope="module", params=["previous-release", "segments"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp(request.param) / "index"
    if request.param == "previous-release":
        shutil.copytree(FIXTURE / "index", path)
        return path
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(postings, "BLOCK_POSTINGS", 16)  # words spanning many blocks
        items = corpus(900)
        with WhooshIndex.open(path) as index:
            for start in range(0, 900, 300):  # a segment each
                index.add(items[start : start + 300])
            index.delete(range(5, 900, 37))
            index.add([items[10], items[500]])  # replaced: a deleted copy in an old segment
    return path


@pytest.fixture(scope="module")
def both(folder: Path) -> Iterator[tuple[WhooshIndex, ReferenceIndex]]:
    with WhooshIndex.open(folder) as fast, ReferenceIndex.open(folder) as reference:
        yield fast, reference


def profiles() -> list[Profile]:
    """The example profiles and two more, looking back over every item of both indexes."""
    found = [*load_profiles(FIXTURE / "profiles"), *PROFILES]
    return [replace(profile, freshness_days=(LATER - NOW).days + 60) for profile in found]


LATER = datetime(2027, 1, 1, tzinfo=UTC)
"""After every item of both indexes (the previous release's are of its demo day)."""


def test_both_backends_are_the_protocol(both: tuple[WhooshIndex, ReferenceIndex]) -> None:
    backends: list[SearchIndex] = list(both)
    assert backends[0].ids() == backends[1].ids()
    assert backends[0].doc_count() == backends[1].doc_count() > 100


@pytest.mark.parametrize(("text", "options"), SEARCHES)
def test_searches_agree(
    both: tuple[WhooshIndex, ReferenceIndex], text: str, options: dict[str, object]
) -> None:
    fast, reference = (index.search(text, **options) for index in both)  # type: ignore[arg-type]
    assert fast.total == reference.total
    assert [hit.item_id for hit in fast.hits] == [hit.item_id for hit in reference.hits]
    assert [hit.score for hit in fast.hits] == pytest.approx([hit.score for hit in reference.hits])
    assert fast.facets == reference.facets
    assert (fast.terms, fast.suggestion) == (reference.terms, reference.suggestion)


def test_the_searches_find_what_they_are_meant_to(
    both: tuple[WhooshIndex, ReferenceIndex],
) -> None:
    """Agreeing on nothing proves nothing: most searches find something."""
    found = [both[0].search(text, **options).total for text, options in SEARCHES]  # type: ignore[arg-type]
    assert sum(1 for total in found if total) >= len(SEARCHES) // 2


@pytest.mark.parametrize("days", [None, 3, 14])
def test_ranking_scores_agree(both: tuple[WhooshIndex, ReferenceIndex], days: int | None) -> None:
    since = None if days is None else NOW - timedelta(days=days)
    matched = 0
    for profile in profiles():
        queries = profile_queries(profile, plan(profile))
        ours, theirs = (index.score_arrays(queries, since=since) for index in both)
        assert ours.keys() == theirs.keys()
        for key, (ids, scores) in theirs.items():
            assert ours[key][0].tolist() == ids.tolist(), key
            np.testing.assert_allclose(ours[key][1], scores, rtol=1e-9, err_msg=str(key))
            matched += len(ids)
    assert matched > 50


def test_scores_of_given_hits_agree(both: tuple[WhooshIndex, ReferenceIndex]) -> None:
    for profile in profiles():
        queries = profile_queries(profile, plan(profile))
        hits = both[0].search("learning OR data OR coaching OR leadership", limit=60).hits
        ours, theirs = (index.score_docs(queries, hits) for index in both)
        assert ours.keys() == theirs.keys()
        for key, found in theirs.items():
            assert ours[key] == pytest.approx(found), key


def test_rankings_through_both_backends_are_the_same(
    both: tuple[WhooshIndex, ReferenceIndex],
) -> None:
    for profile in profiles():
        stub = {
            item_id: _stub(item_id)
            for item_id in both[0].ids()  # the store's items, as rank_profile reads them
        }

        def items_of(ids: object, stub: dict[int, Item] = stub) -> dict[int, Item]:
            return {i: stub[i] for i in ids}  # type: ignore[attr-defined]

        ours, theirs = (rank_profile(index, items_of, profile, LATER) for index in both)
        assert [r.item.id for r in ours] == [r.item.id for r in theirs], profile.name
        assert [r.score for r in ours] == pytest.approx([r.score for r in theirs])
        chosen = dict(list(stub.items())[:80])
        ours, theirs = (rank_items(index, profile, chosen) for index in both)
        assert [r.item.id for r in ours] == [r.item.id for r in theirs], profile.name


def test_hits_and_frequencies_agree(both: tuple[WhooshIndex, ReferenceIndex]) -> None:
    fast, reference = both
    wanted = [*sorted(fast.ids())[::3], 10**9]
    assert fast.hits_for(wanted) == reference.hits_for(wanted)
    for field in ("title", "summary", "body"):
        terms = ["learn", "data", "coach", "nothing"]
        assert fast.doc_frequencies(field, terms) == reference.doc_frequencies(field, terms)


def _stub(item_id: int) -> Item:
    """An item as ranking needs it (type, source, date): the words it matched are the index's."""
    return item(
        item_id, "", source_name=f"Blog {item_id % 3}", published=NOW - timedelta(hours=item_id)
    )
