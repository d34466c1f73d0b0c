"""A second query engine over Whoosh's postings, as numpy arrays: the same matches and scores.

Whoosh is pure Python: it finds a query's matches with its matcher tree and
scores them in its collector, several Python calls per posting each time.
Search pages count every match (totals, facets) and ranking scores every
match of a profile, so that was most of their time at 100,000 items. Here a
word's postings are read a block at a time into arrays
(:func:`~aggregator.search.postings.block_arrays`), matches are operations on
one flag per document, and scores follow Whoosh's BM25F statistics and
formula operation by operation, so scores and order are Whoosh's own. Anything
it does not read raises :class:`Unsupported`, and the caller leaves the query
to Whoosh (:mod:`aggregator.search.fallback`);
:class:`~aggregator.search.reference.ReferenceIndex` is what tests hold it to.

Like :mod:`aggregator.search.postings` it stands in for Whoosh internals, and
reads these private names of Whoosh 2.7: a leaf matcher's ``_fixedsize`` and
``_next_block`` (of :class:`~aggregator.search.postings.BlockMatcher` only: any
other matcher is :class:`Unsupported`), a deletion-skipping wrapper's ``child``
(read with ``getattr``, absent is fine), and ``BM25F._field_B`` (per-field
constants, which this engine does not apply: with any set, it is
:class:`Unsupported`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from whoosh import query, scoring
from whoosh.reading import IndexReader, TermNotFound
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from aggregator.search.postings import (
    BlockMatcher,
    Positions,
    block_arrays,
    block_data,
    block_positions,
)
from aggregator.search.query import Near
from aggregator.search.schema import SCHEMA

_DECODED_LENGTHS = np.array([byte_to_length(code) for code in range(256)], np.float64)
"""Whoosh stores a field's length per document as one byte; this decodes it (exactly:
the lengths are small integers)."""


def _scored_terms(q: query.Query) -> tuple[list[query.Term | query.Phrase], float] | None:
    """The terms and phrases whose scores, plus a constant, add up to ``q``'s score; or None.

    Whoosh scores ``And`` and a plain ``Or`` as the sum of their matching
    parts, a boosted term or phrase as its score times the boost, ``a NOT b``
    as ``a``, and a ``NOT b`` part of an ``And`` as 1.0. Anything else
    (ranges, scaled or boosted groups, a ``NOT`` deeper in the query) is
    scored by Whoosh itself.
    """
    if type(q) is not query.And or q.boost != 1:
        terms = _summed_terms(q)
        return (terms, 0.0) if terms is not None else None
    terms = []
    constant = 0.0
    for child in q.children():
        found = _summed_terms(child) if type(child) is not query.Not else []
        if found is None:
            return None
        terms += found
        constant += type(child) is query.Not
    return terms, constant


def _summed_terms(q: query.Query) -> list[query.Term | query.Phrase] | None:
    kind = type(q)
    if kind is query.Term or kind is query.Phrase:
        return [q]
    if q.boost != 1:
        return None
    if kind is query.And or (kind is query.Or and not q.minmatch and q.scale is None):
        terms: list[query.Term | query.Phrase] = []
        for child in q.children():
            found = _summed_terms(child)
            if found is None:
                return None
            terms += found
        return terms
    if kind is query.AndNot:
        return _summed_terms(q.a)
    return None


def matching_docs(searcher: Searcher, q: query.Query) -> set[int]:
    """The document numbers ``q`` matches, as Whoosh's ``docs_for_query`` would give them:
    what a search counts (:meth:`SearchRun.docs`), for a caller holding only a searcher."""
    run = SearchRun(searcher, live_flags(searcher.reader()), lambda fieldname: None)
    return set(np.flatnonzero(run.docs(q)).tolist())


def live_flags(reader: IndexReader) -> np.ndarray:
    """One flag per document number: not deleted."""
    flags = np.ones(reader.doc_count_all(), bool)
    if reader.has_deletions():
        flags[:] = False
        flags[list(reader.all_doc_ids())] = True
    return flags


class Unsupported(Exception):
    """A part of a query :class:`SearchRun` does not read: Whoosh finds that part's matches,
    and scores the whole query."""


@dataclass(slots=True)
class _Word:
    """One word's postings in one field over the whole index, as one search reads them."""

    ids: np.ndarray
    """Document numbers (index-wide, ascending) holding the word, deleted ones included."""
    weights: np.ndarray
    """The word's weight (how often it occurs) in each of ``ids``."""
    blocks: list[tuple[int, int, bytes]] | None
    """For a phrase's words: each block's postings' range in ``ids`` and its data
    (decompressed), to read positions from where they are needed."""
    within: np.ndarray | None
    """The documents it was read for: blocks holding none of them were skipped (None: all)."""


def _size(word: _Word) -> int:
    blocks = sum(len(data) for _, _, data in word.blocks or ())
    return word.ids.nbytes + word.weights.nbytes + blocks


class SearchRun:
    """One search's reading of the index: every word's postings once, for matching and scoring.

    Whoosh would find the matches with its matcher tree and then find them
    again in its collector to score them, several Python calls per posting
    each time, and a phrase twice over positions. Here each word's ids and
    weights are read a block at a time into arrays
    (:func:`~aggregator.search.postings.block_arrays`), the matches are
    operations on one flag per document, a phrase reads positions only for
    documents holding all its words, and the matches are scored with Whoosh's
    own BM25F statistics and formula, in the same order of operations, so
    scores and order are the same. numpy keeps the work per
    posting out of Python, which at 100,000 items is most of a search's time.
    Nothing is kept beyond the search. Anything else raises
    :class:`Unsupported`, and the caller leaves the query to Whoosh.
    """

    def __init__(
        self,
        searcher: Searcher,
        live: np.ndarray,
        lengths: Callable[[str], np.ndarray | None],
        within: np.ndarray | None = None,
    ) -> None:
        """``within``: the only documents the caller asks about (phrases are checked there only)."""
        self._searcher = searcher
        self._segments = list(searcher.reader().leaf_readers())
        self._live = live
        self._within = live if within is None else within & live
        self._restrict = within
        self._lengths = lengths
        self._words: dict[tuple[str, bytes], _Word] = {}
        self._phrases: dict[query.Phrase, np.ndarray] = {}  # the documents of each
        self._nears: dict[Near, tuple[np.ndarray, np.ndarray]] = {}  # documents and counts
        self._kept = 0
        self._bm25: dict[tuple[str, str], tuple[float, float, np.ndarray, np.ndarray]] = {}

    @property
    def restricted_to(self) -> np.ndarray:
        """The ``within`` this reading was made for (every live document without one)."""
        return self._within

    def footprint(self) -> int:
        """Bytes kept for reuse: the words' postings and the phrases' matches read so far."""
        return self._kept

    def docs(self, q: query.Query, within: np.ndarray | None = None) -> np.ndarray:
        """Which documents ``q`` matches, one flag per document, as Whoosh's ``docs_for_query``.

        Search pages show the exact number of matches and facet counts over
        all of them; Whoosh would find them by running the query's matcher
        tree a document at a time. Here And/Or/Not are operations on flags, and
        a word or phrase this does not read (or a range, a wildcard) takes its
        matches from Whoosh. With ``within``, the flags are right for those
        documents only: posting blocks holding none of them are not read. An
        ``And`` narrows ``within`` part by part, so a common word after a rare
        one reads only the blocks where the rare one is.
        """
        kind = type(q)
        if kind is query.Term or kind is query.Phrase:
            try:
                return self._leaf_docs(q, within)
            except Unsupported:
                pass  # Whoosh's matches, below
        elif kind is query.And or kind is query.Require:
            # "a NOT b" parses as And([a, Not(b)]): subtract b rather than build the complement.
            children = list(q.children())
            found = None if within is None else self._live & within
            for child in children:
                if type(child) is not query.Not:
                    part = self.docs(child, found)
                    found = part if found is None else found & part
            if found is None:
                found = self._live.copy()
            for child in children:
                if type(child) is query.Not:
                    found = found & ~self.docs(child.query, found)
            return found
        elif kind is query.Or and not q.minmatch:
            found = np.zeros_like(self._live)
            for child in q.children():
                found |= self.docs(child, within)
            return found
        elif kind is query.AndNot:
            found = self.docs(q.a, within)
            return found & ~self.docs(q.b, found)
        elif kind is query.AndMaybe:
            return self.docs(q.a, within)
        elif kind is query.Not:
            return self._live & ~self.docs(q.query, within)
        return self._flags(np.fromiter(self._searcher.docs_for_query(q), np.int64))

    def _leaf_docs(self, q: query.Term | query.Phrase, within: np.ndarray | None) -> np.ndarray:
        if type(q) is query.Phrase:
            return self._phrase_docs(q)
        text = term_bytes(q)
        if text is None:
            raise Unsupported
        return self._flags(self._word(q.fieldname, text, within=within).ids)

    def scored(self, q: query.Query, within: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The documents of ``within`` that ``q`` matches, and their scores.

        None when ``q`` is not read here: the caller leaves it to Whoosh.
        """
        try:
            matched = self.docs(q, within) & within
            summed = self.scores(q, matched)
        except Unsupported:
            return None
        if summed is None:
            return None
        found, constant = summed
        docs = np.flatnonzero(matched)
        return docs, found[docs] + constant

    def top(
        self, q: query.Query, matched: np.ndarray, count: int
    ) -> list[tuple[float, int]] | None:
        """The ``count`` best of ``matched`` by ``q``'s score, ties to the lower document number.

        None when ``q`` is not a sum of terms and phrases (see :func:`_scored_terms`).
        """
        summed = self.scores(q, matched)
        if summed is None:
            return None
        scores, constant = summed
        docs = np.flatnonzero(matched)
        best = scores[docs]
        if len(docs) > count:
            kth = np.partition(best, len(best) - count)[len(best) - count]
            keep = best >= kth
            docs, best = docs[keep], best[keep]
        order = np.lexsort((docs, -best))[:count]
        return [(float(best[i]) + constant, int(docs[i])) for i in order]

    def scores(self, q: query.Query, matched: np.ndarray) -> tuple[np.ndarray, float] | None:
        """``q``'s score for each of ``matched`` (one per document), less a constant all add.

        None when ``q`` is not a sum of terms and phrases (see :func:`_scored_terms`).
        """
        summed = _scored_terms(q)
        if summed is None:
            return None
        parts, constant = summed
        scores = np.zeros(len(matched))
        for part in parts:
            if type(part) is query.Phrase:
                docs = np.flatnonzero(self._phrase_docs(part) & matched)
                found = self._phrase_scores(part, docs)
            else:
                text = term_bytes(part)
                if text is None:
                    raise Unsupported
                word = self._word(part.fieldname, text, within=matched)
                hit = matched[word.ids]
                docs = word.ids[hit]
                found = self._scores(part, docs, word.weights[hit])
            scores[docs] += found * part.boost
        return scores, constant

    def _flags(self, docnums: np.ndarray) -> np.ndarray:
        found = np.zeros_like(self._live)
        found[docnums] = True
        return found & self._live

    def _word(
        self,
        fieldname: str,
        text: bytes,
        *,
        positions: bool = False,
        within: np.ndarray | None = None,
    ) -> _Word:
        """A word's postings in ``fieldname``; with ``positions``, where to read them too.

        With ``within``, only the blocks that may hold one of those documents
        are read (a block's last id is in its header; the one before ends it).
        """
        word = self._words.get((fieldname, text))
        if (
            word is not None
            and (word.blocks is not None or not positions)
            and (word.within is None or (within is not None and not (within > word.within).any()))
        ):
            return word
        wanted = within.tobytes() if within is not None else None  # bytes.find is a memchr
        gaps: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        total = 0
        firsts: list[int] = []  # where each block begins in the word's postings
        offsets: list[int] = []
        blocks: list[tuple[int, int, bytes]] | None = [] if positions else None
        for reader, start in self._segments:
            if wanted is not None and wanted.find(1, start, start + reader.doc_count_all()) < 0:
                continue  # none wanted here (a segment of old items, for ranking's window)
            try:
                postings = reader.postings(fieldname, text)
            except TermNotFound:  # one look-up in the term dictionary rather than two
                continue
            # A segment with deletions wraps its postings to skip them; the live flags do here.
            postings = getattr(postings, "child", postings)
            if type(postings) is not BlockMatcher or (
                positions and not (postings._fixedsize is None or postings._fixedsize < 0)
            ):
                raise Unsupported
            last = -1
            while postings.is_active():
                if wanted is not None:
                    first, last = last + 1, postings.block_max_id()
                    if wanted.find(1, start + first, start + last + 1) < 0:
                        postings._next_block()
                        continue
                # Positions will be read from most blocks: decompress each once, whole.
                data = block_data(postings) if blocks is not None else None
                arrays = block_arrays(postings, data)
                firsts.append(total)
                offsets.append(start)
                total += len(arrays[0])
                gaps.append(arrays[0])
                weights.append(arrays[1])
                if blocks is not None and data is not None:
                    blocks.append((firsts[-1], total, data))
                postings._next_block()
        # A block's gaps start from 0: a running sum over all of them, less the sum
        # before the block, plus the block's segment offset, gives index-wide numbers.
        summed = np.cumsum(np.concatenate(gaps) if gaps else np.zeros(0), dtype=np.int64)
        before = np.concatenate(([0], summed))[firsts]
        sizes: np.ndarray = np.diff(np.array([*firsts, total], np.int64))
        word = _Word(
            summed + np.repeat(np.array(offsets, np.int64) - before, sizes),
            np.concatenate(weights) if weights else np.zeros(0),
            blocks,
            within,
        )
        replaced = self._words.get((fieldname, text))
        self._kept += _size(word) - (_size(replaced) if replaced is not None else 0)
        self._words[fieldname, text] = word
        return word

    def _scores(self, term: query.Term, docs: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The word's BM25F score (unboosted) in ``docs``, where it has ``weights``."""
        if not len(docs):
            return np.zeros(0)
        key = (term.fieldname, term.text)
        found = self._bm25.get(key)
        if found is None:
            found = self._bm25[key] = self._bm25_parts(term)
        idf, k1, norms, lengths = found
        return idf * ((weights * (k1 + 1)) / (weights + norms[lengths[docs]]))

    def _bm25_parts(self, term: query.Term) -> tuple[float, float, np.ndarray, np.ndarray]:
        """A word's idf, K1, the length part of Whoosh's bm25() per length code, and the codes.

        The same statistics a ``BM25FScorer`` takes from the searcher (its idf
        is cached there), without the scorer's per-segment look-ups of the
        word's maximum weight, which scoring every match does not use.
        """
        weighting = self._searcher.weighting
        text = term_bytes(term)
        lengths = self._lengths(term.fieldname)
        if (
            type(weighting) is not scoring.BM25F
            or weighting._field_B
            or text is None
            or lengths is None
            or not self._searcher.schema[term.fieldname].scorable
        ):
            raise Unsupported
        idf = self._searcher.idf(term.fieldname, text)
        avgfl = self._searcher.avg_field_length(term.fieldname) or 1
        b, k1 = weighting.B, weighting.K1
        # Whoosh's bm25(), operation by operation, with the length part per length code.
        norms = k1 * ((1 - b) + b * _DECODED_LENGTHS / avgfl)
        return idf, k1, norms, lengths

    def _phrase_docs(self, phrase: query.Phrase) -> np.ndarray:
        """Documents holding ``phrase``'s words one after another, as Whoosh's phrase matcher."""
        known = self._phrases.get(phrase)
        if known is not None:
            return self._flags(known)
        field_type = self._searcher.schema[phrase.fieldname] if phrase.fieldname in SCHEMA else None
        if (
            field_type is None
            or phrase.slop != 1
            or len(phrase.words) < 2
            or type(field_type.format) is not Positions
        ):
            raise Unsupported
        try:
            texts = [field_type.to_bytes(word) for word in phrase.words]
        except ValueError:
            raise Unsupported from None
        reader = self._searcher.reader()
        found = np.zeros(0, np.int64)
        if all((phrase.fieldname, text) in reader for text in texts):
            words = [
                self._word(phrase.fieldname, text, positions=True, within=self._restrict)
                for text in texts
            ]
            candidates = self._within.copy()
            for word in words:
                candidates &= self._flags(word.ids)
            # Where the phrase could start, narrowed word by word: the k-th word at start + k.
            starts = _position_keys(words[0], candidates)
            for k, word in enumerate(words[1:], 1):
                starts = starts[np.isin(starts + k, _position_keys(word, candidates))]
            found = np.unique(starts >> 32)
        # Kept as the matching document numbers: a phrase matches few, and flags for every
        # document would make what a run keeps grow with the index.
        self._phrases[phrase] = found
        self._kept += found.nbytes
        return self._flags(found)

    def _phrase_scores(self, phrase: query.Phrase, docs: np.ndarray) -> np.ndarray:
        """A phrase's score (unboosted) in ``docs``, which all hold it: its words' scores
        added up as Whoosh adds them (a binary tree, first half plus second half)."""
        scores = []
        for word in phrase.words:
            term = query.Term(phrase.fieldname, word)
            postings = self._word(
                phrase.fieldname,
                term_bytes(term),  # type: ignore[arg-type]
                within=self._restrict,
            )
            weights = postings.weights[np.searchsorted(postings.ids, docs)]
            scores.append(self._scores(term, docs, weights))
        return _tree_sum(scores)

    def near(self, pair: Near, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The documents of ``within`` holding ``pair``, and its BM25 score in each.

        Where the pair occurs is found once per run over the run's documents
        (its idf needs how many hold it); each call only narrows and scores.
        """
        found = self._nears.get(pair)
        if found is None:
            found = self._nears[pair] = self._near_counts(pair)
            self._kept += found[0].nbytes + found[1].nbytes
        holding, counts = found
        keep = within[holding]
        docs = holding[keep]
        if not len(docs):
            return docs, np.zeros(0)
        weighting = self._searcher.weighting
        lengths = self._lengths(pair.fieldname)
        if type(weighting) is not scoring.BM25F or weighting._field_B or lengths is None:
            raise Unsupported
        b, k1 = weighting.B, weighting.K1
        avgfl = self._searcher.avg_field_length(pair.fieldname) or 1
        norms = k1 * ((1 - b) + b * _DECODED_LENGTHS / avgfl)
        idf = math.log(int(np.count_nonzero(self._within)) / (len(holding) + 1)) + 1
        tf = counts[keep]
        return docs, idf * ((tf * (k1 + 1)) / (tf + norms[lengths[docs]]))

    def _near_counts(self, pair: Near) -> tuple[np.ndarray, np.ndarray]:
        """Documents of the run holding ``pair``, and how often: occurrences of the first word
        with the second right after it (window 1) or within the window on either side."""
        field_type = self._searcher.schema[pair.fieldname] if pair.fieldname in SCHEMA else None
        if field_type is None or type(field_type.format) is not Positions or pair.window < 1:
            raise Unsupported
        try:
            texts = [field_type.to_bytes(word) for word in (pair.first, pair.second)]
        except ValueError:
            raise Unsupported from None
        reader = self._searcher.reader()
        if not all((pair.fieldname, text) in reader for text in texts):
            return np.zeros(0, np.int64), np.zeros(0)
        first, second = (
            self._word(pair.fieldname, text, positions=True, within=self._restrict)
            for text in texts
        )
        candidates = self._within & self._flags(first.ids) & self._flags(second.ids)
        starts = _position_keys(first, candidates)
        others = np.sort(_position_keys(second, candidates))
        if pair.window == 1:
            hit = np.isin(starts + 1, others)
        else:
            # Keys are docnum << 32 | position: a window never reaches into another document.
            reach = pair.window - 1
            around = np.searchsorted(others, starts + reach, "right") - np.searchsorted(
                others, starts - reach, "left"
            )
            hit = around > (1 if texts[0] == texts[1] else 0)  # a word is not near itself
        docs, counts = np.unique(starts[hit] >> 32, return_counts=True)
        return docs, counts.astype(np.float64)


def near(run: SearchRun, pair: Near, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A proximity feature's matches and scores: Whoosh has no reading of it to fall back on."""
    try:
        return run.near(pair, within)
    except Unsupported:
        raise ValueError(f"{pair}: proximity needs a positional field") from None


def _tree_sum(scores: list[np.ndarray]) -> np.ndarray:
    """Scores added up in the order of Whoosh's ``make_binary_tree``."""
    if len(scores) == 1:
        return scores[0]
    half = len(scores) // 2
    return _tree_sum(scores[:half]) + _tree_sum(scores[half:])


def _position_keys(word: _Word, docs: np.ndarray) -> np.ndarray:
    """Where the word is in each of the flagged ``docs``, as ``docnum << 32 | position``.

    Only blocks holding one of them are read, each with one gather
    (:func:`~aggregator.search.postings.block_positions`).
    """
    wanted = docs[word.ids]
    keys = [np.zeros(0, np.int64)]
    for begin, end, data in word.blocks or ():
        hits = np.flatnonzero(wanted[begin:end])
        if len(hits):
            counts, positions = block_positions(data, end - begin, hits)
            docnums = np.repeat(word.ids[begin:end][hits], counts)
            keys.append(docnums << 32 | positions.astype(np.int64))
    return np.concatenate(keys)


def term_bytes(term: query.Term) -> bytes | None:
    """The word as its field indexes it; None when no field of the schema could hold it."""
    if term.fieldname not in SCHEMA:
        return None
    try:
        return SCHEMA[term.fieldname].to_bytes(term.text)
    except ValueError:
        return None
