"""A person's query text read as Whoosh reads it, within bounds, and ranking's queries translated.

Both backends read typed text here (:func:`parse`), so they refuse and
understand the same queries: what Whoosh would silently misread or take too long
over is refused first, with a :class:`~aggregator.errors.QuerySyntaxError` that
says why. :func:`to_whoosh` turns the neutral queries of
:mod:`aggregator.search.query` into Whoosh's, the only place they meet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice

from whoosh import query
from whoosh.qparser import FieldAliasPlugin, MultifieldParser, QueryParser
from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from aggregator.errors import QuerySyntaxError
from aggregator.search import query as neutral
from aggregator.search.protocol import SORTS, SearchFilters
from aggregator.search.schema import FIELD_ALIASES, FIELD_BOOSTS, SCHEMA, TEXT_FIELDS

MAX_QUERY_CHARS = 1_000
MAX_WORD_CHARS = 100
"""No word is longer; a 70,000-character one cost 40 s of stemming and "did you mean"."""
MAX_QUERY_DEPTH = 10
"""Brackets nested deeper are refused before Whoosh's recursive parser sees them."""
MAX_EXPANDED_TERMS = 500
"""Words of the index that wildcards (``a*``), fuzzy terms and ranges may stand for, in all."""
MAX_SUGGESTED_WORDS = 5
SUGGESTED_WORD_CHARS = 20
""""Did you mean" corrects at most this many words of a query, none longer than this, and
keeps each word's first letter: Whoosh compares a word with every title word that could
be near it (4 s for one 30-letter word among 20,000 words, when any first letter could)."""

_PAIRS = (("(", ")"), ("[", "]"), ("{", "}"))
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})
_WORD_RUN = re.compile(r"\w+")
_WORD = re.compile(r"(?<![\w:])([^\W\d_]{3,})(?![\w:])")
"""A plain word of the query: not a field name (``title:``), not a field's value, not a number."""


def parser() -> QueryParser:
    """The parser of typed queries: every text field, weighed by :data:`FIELD_BOOSTS`."""
    found = MultifieldParser(list(TEXT_FIELDS), SCHEMA, fieldboosts=dict(FIELD_BOOSTS))
    found.add_plugin(FieldAliasPlugin(FIELD_ALIASES))
    return found


def parse(text_parser: QueryParser, text: str) -> query.Query:
    """A person's query text as a Whoosh query, or QuerySyntaxError saying what is wrong."""
    check_query_text(text)
    try:
        parsed = text_parser.parse(text)
    except Exception as exc:  # Whoosh raises a bare Exception for a range of bad dates
        raise QuerySyntaxError(_not_understood(text, str(exc))) from exc
    errors = list(_query_errors(parsed))
    if errors:
        raise QuerySyntaxError(_not_understood(text, "; ".join(errors)))
    return parsed


def search_query(
    text_parser: QueryParser, text: str, filters: SearchFilters, sort: str
) -> query.Query | None:
    """What a search with this text, these filters and this sort looks for; None for nothing.

    Empty text with filters lists what the filters allow; a lone "*" means everything,
    as no text does (Whoosh reads it as "every word").
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    if not text.strip() and not filters:
        return None
    return parse(text_parser, text) if text.strip() not in ("", "*") else query.Every()


def check_query_text(text: str) -> None:
    """Refuse what Whoosh would silently misread (unbalanced quotes and brackets) and what
    would cost more than a search may (a huge query, word or nesting)."""
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"a query of {len(text):,} characters: at most {MAX_QUERY_CHARS:,}, please"
        )
    longest = max(map(len, _WORD_RUN.findall(text)), default=0)
    if longest > MAX_WORD_CHARS:
        raise QuerySyntaxError(
            f"a word of {longest:,} characters: no word searched for is over {MAX_WORD_CHARS}"
        )
    if text.count('"') % 2:
        raise QuerySyntaxError(f'unclosed quote in {text!r}: phrases need a closing "')
    for opening, closing in _PAIRS:
        depth = 0
        for char in text:
            depth += (char == opening) - (char == closing)
            if depth < 0:
                raise QuerySyntaxError(f"{closing!r} without a matching {opening!r} in {text!r}")
            if depth > MAX_QUERY_DEPTH:
                raise QuerySyntaxError(f"{opening!r} nested more than {MAX_QUERY_DEPTH} deep")
        if depth:
            raise QuerySyntaxError(f"{opening!r} is never closed in {text!r}")


def check_query_cost(q: query.Query, reader: IndexReader) -> None:
    """Refuse a query whose wildcards, fuzzy terms and ranges stand for too many words.

    Whoosh expands each into every matching word of the index and searches for them
    all: ``*`` or ``title:[a TO z]`` over 100,000 items took half a minute. The words are
    counted lazily, so counting stops at the limit.
    """
    budget = MAX_EXPANDED_TERMS
    for leaf in q.leaves():
        if isinstance(leaf, query.Every) and leaf.fieldname:
            raise QuerySyntaxError(
                f"{leaf.fieldname}:* stands for every item: search without text to list them"
            )
        if isinstance(leaf, query.MultiTerm):
            budget -= sum(1 for _ in islice(leaf.expanded_terms(reader), budget + 1))
            if budget < 0:
                raise QuerySyntaxError(
                    f"{leaf} stands for more than {MAX_EXPANDED_TERMS} words of the index "
                    "(with the rest of the query): give more letters or a narrower range"
                )


def _not_understood(text: str, detail: str) -> str:
    """Whoosh's own detail (often an int() error from its date parser) needs the hint beside it."""
    hint = " (dates look like 2026-11-30 or [2026-01 TO 2026-11])" if "published:" in text else ""
    return f"cannot understand the query {text!r}{hint}: {detail}"


def _query_errors(q: query.Query) -> Iterator[str]:
    """Whoosh marks the parts it could not parse (a bad date, say) with an ``error`` attribute."""
    error = getattr(q, "error", None)
    if error:
        yield str(error)
    for child in q.children():
        yield from _query_errors(child)


def analysed_terms(q: query.Query) -> frozenset[str]:
    """The words a query looks for in text fields, as the analyser left them (stems)."""
    return frozenset(
        text.decode("utf-8") if isinstance(text, bytes) else str(text)
        for name, text in q.iter_all_terms()
        if name in TEXT_FIELDS and name != "tags"
    )


def suggestion(searcher: Searcher, text: str) -> str | None:
    """The query with unknown words replaced by the closest title words Whoosh knows."""
    corrector = searcher.corrector("title")
    reader = searcher.reader()
    analyzer = SCHEMA["title"].analyzer

    def known(word: str) -> bool:
        stems = [token.text for token in analyzer(word)]
        return not stems or any(
            reader.doc_frequency(name, stem) for stem in stems for name in TEXT_FIELDS
        )

    tries = 0

    def correct(match: re.Match[str]) -> str:
        nonlocal tries
        word = match.group(1)
        if len(word) > SUGGESTED_WORD_CHARS or word in _OPERATORS or known(word):
            return word
        tries += 1
        if tries > MAX_SUGGESTED_WORDS:  # each costs a walk of the title words
            return word
        found = corrector.suggest(word.lower(), limit=1, maxdist=2, prefix=1)
        return found[0] if found else word

    corrected = _WORD.sub(correct, text)
    return corrected if corrected != text else None


def filter_query(filters: SearchFilters) -> query.Query | None:
    """The type, source and tag filters: each must hold; its values are alternatives.

    The date range is left out: a search checks it on the ``published``
    column, because as a query it expands into a term per distinct timestamp.
    """
    parts: list[query.Query] = []
    for field_name, values in (
        ("type", filters.types),
        ("source_name", filters.sources),
        ("tags", tuple(tag.lower() for tag in filters.tags)),
    ):
        if values:
            parts.append(query.Or([query.Term(field_name, value) for value in values]))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)


def to_whoosh(q: neutral.Query | query.Query) -> query.Query:
    """Ranking's query as the Whoosh query that scores the same (a Whoosh query as it is)."""
    if isinstance(q, neutral.Term):
        return query.Term(q.fieldname, q.text, boost=q.boost)
    if isinstance(q, neutral.Phrase):
        return query.Phrase(q.fieldname, list(q.words), boost=q.boost)
    if isinstance(q, neutral.Or):
        return query.Or([to_whoosh(part) for part in q.parts])
    return q
