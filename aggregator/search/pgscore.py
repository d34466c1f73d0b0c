"""BM25F in Python over candidates read from PostgreSQL: the scores the Whoosh backend gives.

PostgreSQL finds the candidates (GIN over the weighted tsvector, tags, the freshness
window); the scores follow Whoosh's BM25F operation by operation, as
:mod:`aggregator.search.engine` does over Whoosh's own postings: Robertson's idf
``log(N / (df + 1)) + 1`` over the whole index, field lengths quantised to Whoosh's
one-byte code, phrases as the sum of their words, proximity pairs scored as a word of
their own with an idf from the documents read. A :class:`Reading` holds what it read
about a set of documents (a ranking window, a search's matches), so the profiles of a
run share every word they have in common.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from whoosh.util.numeric import byte_to_length, length_to_byte

from aggregator.search.engine import tree_sum
from aggregator.search.pgdocs import FIELDS, WEIGHTS, quoted
from aggregator.search.query import Near, Or, Phrase, Scored, Term
from aggregator.search.schema import BM25_B, BM25_K1

_QUANTISED = np.array([byte_to_length(length_to_byte(n)) for n in range(4096)], np.float64)
"""Whoosh keeps a field's length per document as one byte: what a length reads back as."""

KEYS_PER_QUERY = 100
"""Words one SQL statement reads: each is an expression of its select list."""

Key = tuple[str, str]
"""A field and an analysed word in it."""

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs SQL with ``%s`` placeholders and gives its rows."""


def quantised(lengths: np.ndarray) -> np.ndarray:
    capped = np.minimum(lengths.astype(np.int64), len(_QUANTISED) - 1)
    exact = lengths >= len(_QUANTISED)
    found = _QUANTISED[capped]
    if exact.any():
        found[exact] = [byte_to_length(length_to_byte(int(n))) for n in lengths[exact]]
    return found


def key_condition(key: Key, params: list[Any]) -> str:
    """SQL true for the rows holding ``key``'s word in its field."""
    fieldname, text = key
    if fieldname == "tags":
        params.append([text])
        return "tags @> %s::text[]"
    params.append(f"{quoted(text)}:{WEIGHTS[fieldname]}")
    return "document @@ %s::tsquery"


@dataclass
class Stats:
    """The whole index's statistics that BM25F takes: documents, field lengths, df."""

    documents: int
    totals: dict[str, float]
    frequencies: dict[Key, int] = field(default_factory=dict)

    def average(self, fieldname: str) -> float:
        return (self.totals.get(fieldname, 0.0) / (self.documents or 1)) or 1.0

    def idf(self, key: Key) -> float:
        return math.log(self.documents / (self.frequencies.get(key, 0) + 1)) + 1


def read_stats(execute: Execute) -> Stats:
    sums = ", ".join(f"COALESCE(SUM(lengths[{n + 1}]), 0)" for n in range(len(FIELDS)))
    row = execute(f"SELECT COUNT(*), {sums} FROM search_docs", ())[0]  # noqa: S608
    return Stats(int(row[0]), {name: float(row[n + 1]) for n, name in enumerate(FIELDS)})


def load_frequencies(execute: Execute, stats: Stats, keys: Iterable[Key]) -> None:
    """Each key's document frequency over the whole index, a statement per batch of keys."""
    missing = sorted({key for key in keys if key not in stats.frequencies})
    for start in range(0, len(missing), KEYS_PER_QUERY):
        batch = missing[start : start + KEYS_PER_QUERY]
        params: list[Any] = []
        counts = [f"COUNT(*) FILTER (WHERE {key_condition(key, params)})" for key in batch]
        any_of = " OR ".join(key_condition(key, params) for key in batch)
        sql = f"SELECT {', '.join(counts)} FROM search_docs WHERE {any_of}"  # noqa: S608
        row = execute(sql, params)[0]
        stats.frequencies.update(zip(batch, (int(n) for n in row), strict=True))


@dataclass
class _Postings:
    rows: np.ndarray
    """Rows of the reading (indices into ``Reading.ids``) holding the word, ascending."""
    weights: np.ndarray
    positions: list[list[int]]


class Reading:
    """Documents of one scope (SQL over ``search_docs``) and every word read in them."""

    def __init__(self, execute: Execute, stats: Stats, scope: str, scope_params: Sequence[Any]):
        self._execute = execute
        self.stats = stats
        self._scope = scope
        self._scope_params = list(scope_params)
        rows = execute(
            f"SELECT item_id, lengths FROM search_docs WHERE {scope} ORDER BY item_id",  # noqa: S608
            self._scope_params,
        )
        self.ids = np.array([row[0] for row in rows], np.int64)
        lengths = np.array([row[1] for row in rows], np.float64).reshape(len(rows), len(FIELDS))
        self._lengths = {name: quantised(lengths[:, n]) for n, name in enumerate(FIELDS)}
        self._words: dict[Key, _Postings] = {}
        self._nears: dict[Near, tuple[np.ndarray, np.ndarray]] = {}

    def size(self) -> int:
        return len(self.ids)

    def load(self, keys: Iterable[Key]) -> None:
        """Read the words not read yet, with their positions, in the scope's documents."""
        missing = sorted({key for key in keys if key not in self._words})
        load_frequencies(self._execute, self.stats, missing)
        for key in missing:
            self._words[key] = _Postings(np.zeros(0, np.int64), np.zeros(0), [])
        if not len(self.ids):
            return
        for start in range(0, len(missing), KEYS_PER_QUERY):
            batch = missing[start : start + KEYS_PER_QUERY]
            paths = ", ".join("positions #> %s::text[]" for _ in batch)
            conditions: list[Any] = []
            any_of = " OR ".join(key_condition(key, conditions) for key in batch)
            sql = (
                f"SELECT item_id, {paths} FROM search_docs "  # noqa: S608
                f"WHERE ({self._scope}) AND ({any_of})"
            )
            paths_params = [[fieldname, text] for fieldname, text in batch]
            found = self._execute(sql, [*paths_params, *self._scope_params, *conditions])
            self._fill(batch, found)

    def _fill(self, batch: Sequence[Key], found: list[tuple[Any, ...]]) -> None:
        found.sort(key=lambda row: row[0])
        rows = np.searchsorted(self.ids, np.array([row[0] for row in found], np.int64))
        for n, key in enumerate(batch):
            keep = [i for i, row in enumerate(found) if row[n + 1]]
            positions = [list(found[i][n + 1]) for i in keep]
            self._words[key] = _Postings(
                rows[keep] if keep else np.zeros(0, np.int64),
                np.array([len(where) for where in positions], np.float64),
                positions,
            )

    def _bm25(self, key: Key, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self._bm25_with(self.stats.idf(key), key[0], rows, weights)

    def _bm25_with(
        self, idf: float, fieldname: str, rows: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Whoosh's bm25(), with the quantised length of each document's field."""
        if not len(rows):
            return np.zeros(0)
        lengths = self._lengths[fieldname][rows]
        norms = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / self.stats.average(fieldname))
        return idf * ((weights * (BM25_K1 + 1)) / (weights + norms))

    def term(self, term: Term) -> tuple[np.ndarray, np.ndarray]:
        """Rows holding the word, and its unboosted score in each."""
        key = (term.fieldname, term.text)
        self.load([key])
        word = self._words[key]
        return word.rows, self._bm25(key, word.rows, word.weights)

    def phrase(self, phrase: Phrase) -> tuple[np.ndarray, np.ndarray]:
        """Rows holding the words one after another, and the phrase's score: its words'
        scores added as Whoosh adds them (first half plus second half)."""
        keys = [(phrase.fieldname, word) for word in phrase.words]
        self.load(keys)
        words = [self._words[key] for key in keys]
        common = words[0].rows
        for word in words[1:]:
            common = np.intersect1d(common, word.rows)
        matched = [row for row in common.tolist() if self._consecutive(words, row)]
        rows = np.array(matched, np.int64)
        parts = []
        for key, word in zip(keys, words, strict=True):
            at = np.searchsorted(word.rows, rows)
            parts.append(self._bm25(key, rows, word.weights[at]))
        return rows, tree_sum(parts)

    @staticmethod
    def _consecutive(words: Sequence[_Postings], row: int) -> bool:
        sets = [set(word.positions[int(np.searchsorted(word.rows, row))]) for word in words]
        return any(all(start + k in sets[k] for k in range(1, len(sets))) for start in sets[0])

    def near(self, pair: Near) -> tuple[np.ndarray, np.ndarray]:
        """Rows holding the pair (the second word right after the first, or both within the
        window), and its BM25 with an idf from the documents of this reading."""
        found = self._nears.get(pair)
        if found is None:
            found = self._nears[pair] = self._near_counts(pair)
        rows, counts = found
        if not len(rows):
            return rows, np.zeros(0)
        idf = math.log(self.size() / (len(rows) + 1)) + 1
        return rows, self._bm25_with(idf, pair.fieldname, rows, counts)

    def _near_counts(self, pair: Near) -> tuple[np.ndarray, np.ndarray]:
        first_key, second_key = (pair.fieldname, pair.first), (pair.fieldname, pair.second)
        self.load([first_key, second_key])
        first, second = self._words[first_key], self._words[second_key]
        same = pair.first == pair.second
        rows, counts = [], []
        for row in np.intersect1d(first.rows, second.rows).tolist():
            starts = first.positions[int(np.searchsorted(first.rows, row))]
            others = sorted(second.positions[int(np.searchsorted(second.rows, row))])
            if pair.window == 1:
                hits = sum(1 for start in starts if start + 1 in set(others))
            else:
                reach = pair.window - 1
                hits = sum(
                    1
                    for start in starts
                    if np.searchsorted(others, start + reach, "right")
                    - np.searchsorted(others, start - reach, "left")
                    > (1 if same else 0)
                )
            if hits:
                rows.append(row)
                counts.append(float(hits))
        return np.array(rows, np.int64), np.array(counts, np.float64)

    def scores(self, q: Scored) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``q`` matches and its score in each (an ``Or`` adds up its parts)."""
        if isinstance(q, Near):
            return self.near(q)
        total = np.zeros(len(self.ids))
        matched = np.zeros(len(self.ids), bool)
        for part, boost in _leaves(q):
            rows, values = self.phrase(part) if isinstance(part, Phrase) else self.term(part)
            total[rows] += values * boost
            matched[rows] = True
        rows = np.flatnonzero(matched)
        return rows, total[rows]

    def keys(self, queries: Iterable[Scored]) -> set[Key]:
        """Every word ``queries`` read, to load them in few statements."""
        found: set[Key] = set()
        for q in queries:
            if isinstance(q, Near):
                found |= {(q.fieldname, q.first), (q.fieldname, q.second)}
                continue
            for part, _ in _leaves(q):
                if isinstance(part, Phrase):
                    found |= {(part.fieldname, word) for word in part.words}
                else:
                    found.add((part.fieldname, part.text))
        return found


def _leaves(q: Term | Phrase | Or, boost: float = 1.0) -> list[tuple[Term | Phrase, float]]:
    if isinstance(q, Or):
        return [leaf for part in q.parts for leaf in _leaves(part, boost)]
    return [(q, q.boost * boost)]
