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

Only ``engine``, ``fallback``, ``postings`` and ``storage`` reach into Whoosh's
internals; each lists the names it reads in its docstring.
"""

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
]
