"""Full-text search: the :class:`SearchIndex` protocol, and the Whoosh backend Learnplace runs.

    protocol   what the rest of Learnplace asks of an index (the seam a backend implements)
    query      ranking's queries, in a form no backend owns
    schema     what the index holds of an item, how fields are analysed and weighed
    queries    typed query text read within bounds; "did you mean"; ranking's queries for Whoosh
    index      WhooshIndex: the backend, on the modules below
    engine     matches and scores over postings as numpy arrays, Whoosh's own numbers
    fallback   what Whoosh scores itself when the engine does not read a query
    postings   the posting-block layout the engine reads in place (a Whoosh codec)
    storage    segments read in place, and written by worker processes
    reference  ReferenceIndex: Whoosh's public API only, what the tests hold the backend to
    display    the query's words marked in a text
    postgres   PostgresIndex: search in the PostgreSQL database (pgdocs: rows and SQL,
               pgscore: BM25F in Python over the candidates)

:func:`open_index` and :func:`rebuild_index` pick the backend from a location: a folder
is Whoosh's, a ``postgresql://`` URL PostgreSQL's.

Only ``engine``, ``fallback``, ``postings`` and ``storage`` reach into Whoosh's
internals; each lists the names it reads in its docstring.
"""

from collections.abc import Iterable
from pathlib import Path

from aggregator.models import Item
from aggregator.search.display import highlight
from aggregator.search.index import WhooshIndex, finish_swap
from aggregator.search.protocol import (
    SEARCH_LIMIT_MAX,
    SORTS,
    SearchFilters,
    SearchHit,
    SearchIndex,
    SearchPage,
)
from aggregator.search.query import Near, Or, Phrase, Scored, Term
from aggregator.search.schema import analysed, document
from aggregator.store import is_url

__all__ = [
    "SEARCH_LIMIT_MAX",
    "SORTS",
    "Near",
    "Or",
    "Phrase",
    "Scored",
    "SearchFilters",
    "SearchHit",
    "SearchIndex",
    "SearchPage",
    "Term",
    "WhooshIndex",
    "analysed",
    "document",
    "finish_swap",
    "highlight",
    "open_index",
    "rebuild_index",
]


def open_index(location: str | Path, *, recreate_if_stale: bool = False) -> SearchIndex:
    """The index at ``location``: a Whoosh folder (a killed reindex's swap finished first,
    for a writer), or the search tables of a PostgreSQL database."""
    if is_url(location):
        from aggregator.search.postgres import PostgresIndex  # psycopg only where it is used

        return PostgresIndex.open(str(location), recreate_if_stale=recreate_if_stale)
    if recreate_if_stale:
        finish_swap(Path(location))
    return WhooshIndex.open(Path(location), recreate_if_stale=recreate_if_stale)


def rebuild_index(location: str | Path, items: Iterable[Item]) -> int:
    """A new index of ``items`` in place of the one at ``location``; how many it holds."""
    if is_url(location):
        from aggregator.search.postgres import PostgresIndex

        return PostgresIndex.rebuild(str(location), items)
    return WhooshIndex.rebuild(Path(location), items)
