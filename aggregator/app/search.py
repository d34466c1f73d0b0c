"""Searching what was collected, optionally ranked by a person's interests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.index import SearchFilters, SearchIndex
from aggregator.models import Item, Profile
from aggregator.rank import EXCLUDE_KEY, personalize, plan, profile_queries
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
    """Items matching a request (the query language of :mod:`aggregator.index`), best first."""
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
