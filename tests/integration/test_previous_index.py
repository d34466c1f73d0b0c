"""An index (and a store) written by the release before the search package opens as it is.

Whoosh pickles the classes that wrote an index by import path; the fixture in
tests/data/previous-release/ names ``aggregator.index._Codec`` and
``aggregator.postings.Positions`` (see its README). These tests fail if those
paths stop resolving, if the index would need a rebuild, or if it answers
differently from the code that wrote it (its answers are in ``expected.json``).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.config.files import load_profiles
from aggregator.rank import plan, profile_queries
from aggregator.search import SearchFilters, WhooshIndex
from aggregator.search.reference import ReferenceIndex

FIXTURE = Path(__file__).parents[1] / "data" / "previous-release"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
def old_index(tmp_path: Path) -> Path:
    """A copy: opening an index may write its lock file, and the fixture stays as it was made."""
    copy = tmp_path / "index"
    shutil.copytree(FIXTURE / "index", copy)
    return copy


def test_the_fixture_names_the_old_import_paths() -> None:
    toc = next((FIXTURE / "index").glob("_MAIN_*.toc")).read_bytes()
    assert b"aggregator.index\x94\x8c\x06_Codec" in toc
    assert b"caggregator.postings\nPositions\n" in toc


@pytest.mark.parametrize("backend", [WhooshIndex, ReferenceIndex])
def test_an_index_of_the_previous_release_opens_and_searches_without_a_rebuild(
    old_index: Path, backend: type[WhooshIndex] | type[ReferenceIndex]
) -> None:
    written = {path.name: path.stat().st_mtime_ns for path in old_index.iterdir()}
    with backend.open(old_index, recreate_if_stale=True) as index:
        assert index.doc_count() == EXPECTED["doc_count"]
        for spec in EXPECTED["searches"]:
            page = index.search(
                spec["text"],
                filters=SearchFilters(types=tuple(spec.get("types", ()))),
                **{k: v for k, v in spec.items() if k in ("facets", "sort", "limit")},
            )
            assert page.total == spec["total"], spec["text"]
            assert [hit.item_id for hit in page.hits] == [i for i, _ in spec["hits"]], spec
            assert [hit.score for hit in page.hits] == pytest.approx(
                [s for _, s in spec["hits"]]
            ), spec
            assert page.facets == spec["facets"]
    # Nothing was rebuilt: the segment and table of contents are the ones the old code wrote.
    for name, mtime in written.items():
        assert (old_index / name).stat().st_mtime_ns == mtime, name


def test_rankings_over_the_previous_releases_index_are_unchanged(old_index: Path) -> None:
    """Ranking's neutral queries score as the Whoosh queries the previous release built."""
    profiles = load_profiles(FIXTURE / "profiles")
    assert {profile.name for profile in profiles} == set(EXPECTED["profiles"])
    with WhooshIndex.open(old_index) as index:
        for profile in profiles:
            scores = index.score_queries(profile_queries(profile, plan(profile)), since=SINCE)
            found = {"|".join(key): sorted(hits.items()) for key, hits in scores.items() if hits}
            expected = EXPECTED["profiles"][profile.name]
            assert found.keys() == expected.keys(), profile.name
            for key, hits in expected.items():
                assert [i for i, _ in found[key]] == [i for i, _ in hits], key
                assert [s for _, s in found[key]] == pytest.approx([s for _, s in hits]), key


def test_the_previous_releases_store_is_a_real_sqlite_file() -> None:
    """The store it wrote beside the index, kept for the store's own compatibility tests."""
    with sqlite3.connect(f"file:{FIXTURE / 'learnplace.sqlite3'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == EXPECTED["doc_count"]
