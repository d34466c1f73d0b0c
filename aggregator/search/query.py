"""Queries as ranking builds them, in a form no search backend owns.

:mod:`aggregator.rank` asks the index for the scores of words, phrases and
pairs of words found near each other. It writes them with these small values
rather than with a library's query objects, so that any backend implementing
:class:`~aggregator.search.protocol.SearchIndex` can score them: the Whoosh
backend translates them (:func:`aggregator.search.queries.to_whoosh`), a
PostgreSQL one would write SQL. Each is scored as a plain search scores the same
words: BM25 per field, a boost multiplying, an ``Or`` adding up its parts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    """One analysed word (as :func:`~aggregator.search.schema.analysed` gives it) in one field."""

    fieldname: str
    text: str
    boost: float = 1.0


@dataclass(frozen=True, slots=True)
class Phrase:
    """Analysed words of one field, one right after another."""

    fieldname: str
    words: tuple[str, ...]
    boost: float = 1.0


@dataclass(frozen=True, slots=True)
class Or:
    """Any of its parts; a document's score is the sum of the parts it matches."""

    parts: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Near:
    """Two analysed words of one field found close together: a proximity feature for ranking.

    ``window`` 1 means ``second`` right after ``first`` (an exact two-word
    phrase); a larger window means both within that many positions of each
    other, in either order, as the sequential dependence model's ordered and
    unordered windows (Metzler and Croft 2005). It is scored as a word of its
    own would be: BM25 of how often the pair occurs in the document, with an
    idf from how many documents of the ranked window hold it.
    """

    fieldname: str
    first: str
    second: str
    window: int = 1


Query = Term | Phrase | Or
"""What matches documents and scores them."""

Scored = Query | Near
"""What :meth:`~aggregator.search.protocol.SearchIndex.score_arrays` and its kin score."""
