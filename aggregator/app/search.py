"""Searching what was collected, optionally ranked by a person's interests."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.errors import UnknownNameError
from aggregator.models import Item, Profile
from aggregator.names import check_name, closest, did_you_mean
from aggregator.rank import EXCLUDE_KEY, personalize, plan, profile_queries
from aggregator.search import SearchFilters, SearchIndex
from aggregator.store import Store

PROFILE_CANDIDATES = 200
"""How many of a query's best results a profile re-ranks: enough to reorder, cheap to score."""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """What a person asked for, from the CLI's options or the web page's query string."""

    text: str
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = "relevance"
    limit: int = 20
    offset: int = 0
    profile: Profile | None = None
    """Rank by this person's interests too (and drop what they exclude)."""
    facets: bool = True
    """Count every match by type and source (costs a pass over all matches)."""


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of items with their scores, and the facts around them."""

    results: list[tuple[Item, float]]
    total: int
    facets: Mapping[str, Mapping[str, int]]
    terms: frozenset[str]
    suggestion: str | None


def search_in(
    store: Store, index: SearchIndex, request: SearchRequest, *, now: datetime
) -> SearchResults:
    """Items matching a request (the query language of :mod:`aggregator.search.queries`),
    best first.

    A source or tag filter that names nothing collected is refused with the closest
    names: a typo would otherwise read as "no items match"."""
    _check_names(store, index, request)
    profile = request.profile
    ranked_here = profile is not None and request.sort == "relevance"
    window = max(PROFILE_CANDIDATES, request.offset + request.limit) if ranked_here else 0
    page = index.search(
        request.text,
        limit=window or request.limit,
        offset=0 if ranked_here else request.offset,
        filters=request.filters,
        sort=request.sort,
        facets=request.facets,
    )
    items = store.items(hit.item_id for hit in page.hits)
    results = [(items[hit.item_id], hit.score) for hit in page.hits if hit.item_id in items]
    if profile is not None:
        chosen = plan(profile)
        queries = profile_queries(profile, chosen)
        if not ranked_here:
            queries = {k: q for k, q in queries.items() if k == EXCLUDE_KEY}
        scores = index.score_docs(queries, page.hits)
        personal = personalize(profile, chosen, results, scores)
        if ranked_here:
            results = personal[request.offset : request.offset + request.limit]
        else:
            kept = {item.id for item, _ in personal}
            results = [(item, score) for item, score in results if item.id in kept]
    return SearchResults(results, page.total, page.facets, page.terms, page.suggestion)


TAG_HINT_ITEMS = 200
"""Items whose tags a misspelt tag is compared with: what the rest of the search finds."""


def _check_names(store: Store, index: SearchIndex, request: SearchRequest) -> None:
    """Every source filter names a source the index holds; every tag filter one some item
    carries (suggested from the tags of what the search finds without it)."""
    filters = request.filters
    if filters.sources:
        everything = index.search("*", limit=1, facets=True)
        known = list(everything.facets.get("source", {}))
        if known:
            for name in filters.sources:
                check_name(name, known, "source")
    for tag in filters.tags:
        alone = SearchFilters(tags=(tag,))
        if index.search("", limit=1, filters=alone).total:
            continue
        rest = dataclasses.replace(filters, tags=())
        page = index.search(request.text or "*", limit=TAG_HINT_ITEMS, filters=rest)
        found = store.items(hit.item_id for hit in page.hits).values()
        tags = [t for item in found for t in item.tags]
        near = closest(tag, tags)
        hint = did_you_mean(tag, near) if near else ""
        raise UnknownNameError(f"no collected item is tagged {tag!r}{hint}")
