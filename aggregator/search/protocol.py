"""What the rest of Learnplace asks of a search index: the seam a backend implements.

The pipeline keeps the index in step with the store (:meth:`SearchIndex.apply`
with the store's index queue), ranking scores its queries over a freshness
window (:meth:`SearchIndex.score_arrays`) or over given items
(:meth:`SearchIndex.score_docs`), and the search page and ``learnplace
search`` page through typed queries (:meth:`SearchIndex.search`). Everything
crossing this seam is a value of this module, of :mod:`aggregator.search.query`
or of :mod:`aggregator.models`, so a backend other than Whoosh (PostgreSQL's
full-text search, say) implements it without importing Whoosh.

Two backends implement it: :class:`aggregator.search.index.WhooshIndex`, the
one Learnplace runs, and :class:`aggregator.search.reference.ReferenceIndex`,
built on Whoosh's public API alone, which the tests hold the first one to.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

import numpy as np
import numpy.typing as npt

from aggregator.models import Item
from aggregator.search.query import Scored

SORTS = ("relevance", "date")
"""How a search can order its results: by BM25F score, or newest first."""

SEARCH_LIMIT_MAX = 1_000
"""Results a search reads at most (``limit`` and ``offset`` are cut to it): an interactive
search never needs more, and it bounds the cost of one request."""

K = TypeVar("K", bound=Hashable)
"""A caller's key for each query it has scored."""

ItemIds = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SearchHit:
    item_id: int
    score: float
    docnum: int = -1
    """The backend's number for the document in the reading that found it (for ``score_docs``)."""


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions that narrow a search without changing its scores.

    Each kind must hold; the values of one kind are alternatives.
    """

    types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def __bool__(self) -> bool:
        return bool(self.types or self.sources or self.tags or self.since or self.until)


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of results, with what a search page shows around them."""

    hits: tuple[SearchHit, ...]
    total: int
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    terms: frozenset[str] = frozenset()
    """The query's analysed words, for highlighting them in titles and summaries."""
    suggestion: str | None = None
    """A corrected query ("did you mean") when nothing was found."""


def as_dicts(arrays: Mapping[K, tuple[ItemIds, Scores]]) -> dict[K, dict[int, float]]:
    """:meth:`SearchIndex.score_arrays`' answer as :meth:`SearchIndex.score_queries` gives it."""
    return {
        key: dict(zip(ids.tolist(), values.tolist(), strict=True))
        for key, (ids, values) in arrays.items()
    }


Batch = tuple[Iterable[Item], Iterable[int]]
"""Items to add or replace, and ids to delete: one entry of the store's index queue."""


class SearchIndex(Protocol):
    """A full-text index of the stored items: kept in step with the store, never the only copy.

    It can always be rebuilt from the store, so it holds nothing that exists
    only there. Failures reach callers as :class:`~aggregator.errors.SearchIndexError`
    (a query that cannot be understood as its
    :class:`~aggregator.errors.QuerySyntaxError`), never as the library's own.
    """

    @classmethod
    def open(cls, path: Path, *, recreate_if_stale: bool = False) -> Self:
        """The index at ``path``, created empty if missing.

        One written for another schema is replaced by an empty one with
        ``recreate_if_stale`` (the run then refills it from the store), else
        refused with :class:`~aggregator.errors.IndexSchemaError`.
        """
        ...

    @classmethod
    def rebuild(cls, path: Path, items: Iterable[Item]) -> int:
        """A new index of ``items`` put in place of the one at ``path``; how many it holds.

        Searches keep using the old one until the new one is complete.
        """
        ...

    def apply(self, batches: Iterable[Batch]) -> int:
        """Add or replace the items and delete the ids of every batch, all in one commit;
        returns the documents written. An item id appears once."""
        ...

    def add(self, items: Iterable[Item]) -> int:
        """Add or replace items by id, in one commit; returns the documents written."""
        ...

    def delete(self, ids: Iterable[int]) -> None:
        """Remove these item ids (unknown ones are no error), in one commit."""
        ...

    def ids(self) -> set[int]:
        """The item ids the index holds."""
        ...

    def doc_count(self) -> int:
        """How many items the index holds."""
        ...

    def check_query(self, text: str) -> None:
        """Raise :class:`~aggregator.errors.QuerySyntaxError`, saying why, for query text
        :meth:`search` would refuse; return for text it can read."""
        ...

    def search(
        self,
        text: str,
        *,
        limit: int = 20,
        offset: int = 0,
        filters: SearchFilters | None = None,
        sort: str = "relevance",
        facets: bool = False,
    ) -> SearchPage:
        """One page of the best items for a typed query; all words must match unless it says OR.

        Empty text with filters lists what the filters allow. Filters narrow
        the results without changing the scores; ``sort`` is one of
        :data:`SORTS`. With ``facets``, the page counts every match by type
        and by source.
        """
        ...

    def score_arrays(
        self, queries: Mapping[K, Scored], *, since: datetime | None = None
    ) -> dict[K, tuple[ItemIds, Scores]]:
        """Every match of every query published from ``since`` on: item ids (each once) and
        their scores, for ranking to blend as arrays."""
        ...

    def score_queries(
        self, queries: Mapping[K, Scored], *, since: datetime | None = None
    ) -> dict[K, dict[int, float]]:
        """:meth:`score_arrays` as plain dicts: item id -> score, for each query."""
        ...

    def score_docs(
        self, queries: Mapping[K, Scored], hits: Collection[SearchHit]
    ) -> dict[K, dict[int, float]]:
        """Each query's score for each of ``hits`` only (by item id), as a search scores it."""
        ...

    def hits_for(self, item_ids: Iterable[int]) -> list[SearchHit]:
        """These items as hits for :meth:`score_docs` (those the index holds)."""
        ...

    def doc_frequencies(self, field: str, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """How many documents hold each (analysed) term of ``field``, and how many there are."""
        ...

    def close(self) -> None:
        """Release what the index holds open; it is not used afterwards."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
