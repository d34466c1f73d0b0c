"""What the PostgreSQL search backend stores of an item, and typed queries as SQL.

An item is analysed exactly as the Whoosh backend analyses it (the same field analysers of
:data:`~aggregator.search.schema.SCHEMA`, over :func:`~aggregator.search.schema.document`),
so ranking's analysed words meet the same terms in both backends. Its row holds:

* ``document``: a weighted ``tsvector`` of those terms (title A, summary B, body C, source
  D), each field's positions apart from the next, for GIN matching and phrases
  (``<->``); tags are a ``text[]`` (a tag is one keyword, as in Whoosh's KEYWORD field);
* ``positions``: each field's terms and where they are, which the Python scoring reads
  (PostgreSQL's ``ts_rank`` has no idf, and a tsvector keeps at most 256 positions);
* ``lengths``: each field's length in terms, for BM25's length normalisation.

Typed queries are read by the Whoosh parser that the Whoosh backend uses
(:func:`~aggregator.search.queries.parse`), so both backends understand and refuse the
same text; :func:`where` turns the parsed tree into SQL over these columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import query

from aggregator.errors import QuerySyntaxError
from aggregator.models import Item
from aggregator.search.schema import SCHEMA, document, naive_utc

FIELDS: tuple[str, ...] = ("title", "summary", "body", "tags", "source")
"""The scored text fields, in the order of the ``lengths`` column."""

WEIGHTS = {"title": "A", "summary": "B", "body": "C", "source": "D"}
"""Each tsvector field's weight letter (tags are a column of their own)."""

MAX_POSITION = 16_383
"""A tsvector's largest position; later words of a long body share it (phrases in SQL
may then miss there, the scoring does not: it reads ``positions``)."""

FIELD_GAP = 100
"""Positions between the end of one field and the start of the next: no phrase spans two."""


@dataclass(frozen=True, slots=True)
class DocRow:
    """The columns of one item's row in ``search_docs``."""

    item_id: int
    published: Any
    item_type: str
    source_name: str
    tags: list[str]
    document: str
    lengths: list[int]
    positions: dict[str, dict[str, list[int]]]
    title_words: list[str]


def quoted(lexeme: str) -> str:
    """A lexeme as tsvector and tsquery literals write it."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def analyse(field: str, text: str) -> dict[str, list[int]]:
    """Each term of ``text`` in ``field`` and its positions, as Whoosh indexes them."""
    found: dict[str, list[int]] = {}
    if not text:
        return found
    for token in SCHEMA[field].analyzer(text, positions=True, mode="index"):
        found.setdefault(token.text, []).append(token.pos)
    return found


def doc_row(item: Item) -> DocRow:
    """The row that indexes ``item``."""
    fields = document(item)
    positions = {name: analyse(name, str(fields[name])) for name in FIELDS}
    lexemes: dict[str, list[str]] = {}
    offset = 1
    for name in ("title", "summary", "body", "source"):
        terms = positions[name]
        last = 0
        for term, where in terms.items():
            for pos in where[:256]:
                at = min(offset + pos, MAX_POSITION)
                lexemes.setdefault(term, []).append(f"{at}{WEIGHTS[name]}")
            last = max(last, *where)
        offset += last + FIELD_GAP if terms else 0
    vector = " ".join(f"{quoted(term)}:{','.join(where)}" for term, where in lexemes.items())
    title_words = sorted({token.text for token in _plain_words(item.title)})
    return DocRow(
        item_id=item.id,
        published=naive_utc(item.published),
        item_type=item.item_type,
        source_name=item.source_name,
        tags=sorted(positions["tags"]),
        document=vector,
        lengths=[sum(len(where) for where in positions[name].values()) for name in FIELDS],
        positions={name: terms for name, terms in positions.items() if terms},
        title_words=title_words,
    )


def _plain_words(text: str) -> Iterator[Any]:
    """Unstemmed title words: "did you mean" suggests words, not stems."""
    analyzer = SCHEMA["source"].analyzer  # lower-cased words, stop words dropped, no stemming
    return (token for token in analyzer(text) if token.text.isalpha())


def term_text(term: query.Term) -> str:
    text = term.text
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)


def _tsquery(field: str, words: Sequence[str], *, prefix: bool = False) -> str:
    weight = WEIGHTS[field]
    star = "*" if prefix else ""
    return " <-> ".join(f"{quoted(word)}:{star}{weight}" for word in words)


def where(q: query.Query, params: list[Any]) -> str:
    """SQL that is true for the rows ``q`` matches; its values appended to ``params``."""
    kind = type(q)
    if kind is query.Every:
        return "TRUE"
    if kind is query.NullQuery or q is query.NullQuery:
        return "FALSE"
    if kind in (query.And, query.Require):
        return "(" + " AND ".join(where(child, params) for child in q.children()) + ")"
    if kind is query.Or or kind is query.DisjunctionMax:
        return "(" + " OR ".join(where(child, params) for child in q.children()) + ")"
    if kind is query.Not:
        return f"NOT {where(q.query, params)}"
    if kind is query.AndNot:
        return f"({where(q.a, params)} AND NOT {where(q.b, params)})"
    if kind is query.AndMaybe:
        return where(q.a, params)
    if kind is query.Term:
        return _term_where(q.fieldname, term_text(q), params)
    if kind is query.Phrase:
        if q.fieldname not in WEIGHTS or q.slop != 1:
            raise _unsupported(q)
        params.append(_tsquery(q.fieldname, [str(word) for word in q.words]))
        return "document @@ %s::tsquery"
    if kind is query.Prefix and q.fieldname in WEIGHTS:
        params.append(_tsquery(q.fieldname, [term_text(q)], prefix=True))
        return "document @@ %s::tsquery"
    if kind is query.DateRange and q.fieldname == "published":
        parts = []
        if q.startdate is not None:
            parts.append("published >= %s")
            params.append(q.startdate)
        if q.enddate is not None:
            parts.append("published <= %s")
            params.append(q.enddate)
        return "(" + " AND ".join(parts or ["TRUE"]) + ")"
    raise _unsupported(q)


def _term_where(field: str, text: str, params: list[Any]) -> str:
    if field in WEIGHTS:
        params.append(_tsquery(field, [text]))
        return "document @@ %s::tsquery"
    column = {"tags": None, "type": "item_type", "source_name": "source_name"}.get(field, "")
    if column is None:
        params.append([text])
        return "tags @> %s::text[]"
    if column:
        params.append(text)
        return f"{column} = %s"
    if field == "id":
        params.append(int(text) if text.isdigit() else -1)
        return "item_id = %s"
    raise QuerySyntaxError(f"no field {field!r} to search")


def _unsupported(q: query.Query) -> QuerySyntaxError:
    return QuerySyntaxError(
        f"{q} cannot be searched with the PostgreSQL search backend: use words, "
        '"phrases", prefixes (word*), AND/OR/NOT, fields (title:word) and published: ranges'
    )


def scored_leaves(q: query.Query) -> tuple[list[query.Term | query.Phrase], float]:
    """The terms and phrases whose boosted scores, plus a constant, add up to ``q``'s score,
    as Whoosh adds them (see :func:`aggregator.search.engine._scored_terms`): a ``NOT`` part
    of an ``And`` adds 1.0, ``a ANDNOT b`` scores as ``a``; other leaves add nothing."""
    kind = type(q)
    if kind is query.Term or kind is query.Phrase:
        return [q], 0.0
    if kind is query.AndNot or kind is query.AndMaybe:
        return scored_leaves(q.a)
    if kind is query.Not:
        return [], 0.0
    leaves: list[query.Term | query.Phrase] = []
    constant = 0.0
    if kind in (query.And, query.Or, query.Require, query.DisjunctionMax):
        for child in q.children():
            if kind is query.And and type(child) is query.Not:
                constant += 1.0
                continue
            found, extra = scored_leaves(child)
            leaves += found
            constant += extra
    return leaves, constant
