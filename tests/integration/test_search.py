"""Search on a real index: filters, facets, date sort, suggestions, highlights, profiles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.models import Profile
from aggregator.rank import personalize, plan, profile_queries
from aggregator.search import SearchFilters, WhooshIndex, highlight
from aggregator.search.engine import matching_docs
from tests.integration.test_index import NOW, item

ITEMS = [
    item(1, "Python for data pipelines", summary="Batch jobs in Python", item_type="course"),
    item(2, "Python testing habits", source_name="Test Weekly", tags=("testing",)),
    item(3, "Kubernetes operators", text="python glue code", published=NOW - timedelta(days=40)),
    item(4, "Onboarding new hires", summary="A python-free zone", item_type="podcast"),
    item(5, "Sponsored python webinar", item_type="event", source_name="Ads Inc"),
]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[WhooshIndex]:
    with WhooshIndex.open(tmp_path / "index") as opened:
        opened.add(ITEMS)
        yield opened


def ids(page) -> list[int]:
    return [hit.item_id for hit in page.hits]


def test_filters_narrow_without_changing_scores(index: WhooshIndex) -> None:
    plain = {hit.item_id: hit.score for hit in index.search("python").hits}
    assert set(plain) == {1, 2, 3, 4, 5}
    courses = index.search("python", filters=SearchFilters(types=("course",)))
    assert ids(courses) == [1]
    assert courses.hits[0].score == pytest.approx(plain[1])
    assert ids(index.search("python", filters=SearchFilters(sources=("Test Weekly",)))) == [2]
    assert ids(index.search("python", filters=SearchFilters(tags=("Testing",)))) == [2]
    recent = index.search("python", filters=SearchFilters(since=NOW - timedelta(days=7)))
    assert 3 not in ids(recent) and len(ids(recent)) == 4
    old = index.search("python", filters=SearchFilters(until=NOW - timedelta(days=7)))
    assert ids(old) == [3]
    assert ids(index.search("", filters=SearchFilters(types=("podcast",)))) == [4]
    assert index.search("").hits == ()


def test_facets_count_every_match_by_type_and_source(index: WhooshIndex) -> None:
    page = index.search("python", limit=1, facets=True)
    assert len(page.hits) == 1 and page.total == 5
    assert page.facets["type"] == {"article": 2, "course": 1, "event": 1, "podcast": 1}
    assert page.facets["source"] == {"Example Blog": 3, "Ads Inc": 1, "Test Weekly": 1}


def test_date_sort_and_pagination(index: WhooshIndex) -> None:
    newest = ids(index.search("python", sort="date", limit=10))
    assert newest[-1] == 3  # the 40-day-old item comes last
    assert ids(index.search("python", sort="date", limit=2, offset=2)) == newest[2:4]
    with pytest.raises(ValueError, match="unknown sort"):
        index.search("python", sort="random")


def test_did_you_mean_when_nothing_matches(index: WhooshIndex) -> None:
    page = index.search("pyhton AND onbording")
    assert page.hits == () and page.suggestion == "python AND onboarding"
    assert index.search("python").suggestion is None
    assert index.search("zzzzqqq").suggestion is None  # nothing close enough


def test_highlight_marks_stemmed_matches_and_cuts_around_the_first() -> None:
    assert highlight("Learning Rust; learn it", {"learn"}) == [
        ("Learning", True),
        (" Rust; ", False),
        ("learn", True),
        (" it", False),
    ]
    pieces = highlight("intro " * 50 + "kubernetes" + " outro" * 50, {"kubernet"}, width=60)
    assert pieces[0] == ("…", False) and pieces[-1] == ("…", False)
    assert ("kubernetes", True) in pieces
    assert sum(len(text) for text, _ in pieces) <= 62


def test_profile_ranking_reorders_and_drops_exclusions(index: WhooshIndex) -> None:
    profile = Profile(
        name="ana",
        display_name="Ana",
        interests={"kubernetes": 5},
        exclude=("sponsored",),
        types={"podcast": 0},
    )
    page = index.search("python")
    chosen = plan(profile)
    scores = index.score_docs(profile_queries(profile, chosen), page.hits)
    assert set(scores["term", "kubernet"]) == {3}
    hits = [(ITEMS[hit.item_id - 1], hit.score) for hit in page.hits]
    ranked = [it.id for it, _ in personalize(profile, chosen, hits, scores)]
    assert ranked[0] == 3  # her interest lifts it above better text matches
    assert 5 not in ranked and 4 not in ranked  # excluded word; type weighted 0
    assert set(ranked) == {1, 2, 3}


def test_matching_docs_agrees_with_whoosh_over_segments_blocks_and_deletions(
    tmp_path: Path,
) -> None:
    # Over 128 postings per term spans several posting blocks; a second batch makes a
    # second segment, and re-adding ids 1-20 leaves deleted documents in the first.
    words = ("python", "data", "testing", "onboarding")
    batch = [
        item(n, f"{words[n % 4]} {words[n % 3]} notes {n}", item_type=("course", "article")[n % 2])
        for n in range(1, 401)
    ]
    queries = (
        "python",
        "python data",
        "python OR testing",
        "python NOT data",
        "NOT python",
        "python ANDMAYBE data",
        '"python data"',
        "title:notes",
        "pyth*",
        "nothingatall",
        # parts Whoosh matches (a phrase with slop, a prefix) beside words read as arrays
        '"python notes"~2 NOT testing',
        "data AND pyth*",
    )
    with WhooshIndex.open(tmp_path / "index") as index:
        index.add(batch[:300])
        for segments in (1, 2):
            searcher = index._current()
            assert len(list(searcher.leaf_searchers())) == segments
            assert searcher.reader().has_deletions() == (segments == 2)
            for text in queries:
                q = index.parse(text)
                assert matching_docs(searcher, q) == set(searcher.docs_for_query(q)), text
            # score_docs cuts postings to the hits; the scores must be Whoosh's own.
            hits = index.search("notes", limit=400).hits[::3]
            interests = {"phrase": index.parse('"python data"'), "words": index.parse("testing")}
            scored = index.score_docs(interests, hits)
            wanted = {hit.docnum: hit.item_id for hit in hits}
            for key, q in interests.items():
                full = searcher.search(q, limit=None)
                expected = {wanted[d]: score for score, d in full.top_n if d in wanted}
                assert scored[key] == pytest.approx(expected) and expected, key
            index.add(batch[300:] + batch[:20])
        page = index.search("python", facets=True, filters=SearchFilters(types=("course",)))
        assert page.total == sum(page.facets["type"].values()) == page.facets["type"]["course"]
