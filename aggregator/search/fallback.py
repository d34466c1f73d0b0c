"""Scores Whoosh computes itself, for the queries the fast engine does not read.

:class:`~aggregator.search.engine.SearchRun` reads sums of words and phrases;
a range, a wildcard or a scaled group is scored here, by Whoosh's own
matchers, so every query still gets Whoosh's score. Scoring a few documents
cuts each term's postings to them (:class:`_OnlyDocs`), which stands in for
a searcher's postings and reads these private names of Whoosh 2.7's
``W3LeafMatcher``: ``_ids``, ``_i`` and ``_next_block`` (of a
:class:`~aggregator.search.postings.BlockMatcher` only; any other matcher is
walked with the public ``skip_to``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Mapping
from typing import TypeVar

import numpy as np
from whoosh import query, scoring
from whoosh.idsets import BitSet
from whoosh.matching import ListMatcher, Matcher
from whoosh.searching import Searcher

from aggregator.search.postings import BlockMatcher, block_ids

K = TypeVar("K", bound=Hashable)


def doc_scores(
    searcher: Searcher, queries: Mapping[K, query.Query], by_docnum: Mapping[int, int]
) -> dict[K, dict[int, float]]:
    """Each query's score in the documents of ``by_docnum`` (docnum -> item id), by item id,
    from Whoosh's matchers skipping to each wanted document."""
    scores: dict[K, dict[int, float]] = {key: {} for key in queries}
    wanted = sorted(by_docnum)
    context = searcher.context(needs_current=True)
    for subsearcher, start in searcher.leaf_searchers():
        end = start + subsearcher.doc_count_all()
        local = [docnum - start for docnum in wanted if start <= docnum < end]
        if not local:
            continue
        only = _OnlyDocs(subsearcher, local)
        for key, q in queries.items():
            matcher = q.matcher(only, context)
            for docnum in local:
                if not matcher.is_active():
                    break
                if matcher.id() < docnum:
                    matcher.skip_to(docnum)
                if matcher.is_active() and matcher.id() == docnum:
                    scores[key][by_docnum[docnum + start]] = matcher.score()
    return scores


def window_scores(
    searcher: Searcher, q: query.Query, window: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The flagged documents ``q`` matches (ascending) and their scores, by Whoosh's search."""
    # Not empty (the caller checked): Whoosh reads an empty filter as "no filter".
    allowed = BitSet(np.flatnonzero(window).tolist(), size=len(window))
    found = sorted(
        (docnum, score) for score, docnum in searcher.search(q, limit=None, filter=allowed).top_n
    )
    return np.array([d for d, _ in found], np.int64), np.array([v for _, v in found], np.float64)


class _OnlyDocs:
    """A leaf searcher whose postings hold only some documents, for scoring just those.

    Profile queries are phrases and Or-trees over five fields; Whoosh's
    phrase matcher walks every document holding all the words until it finds
    the phrase, so scoring 200 hits cost a pass over the index per interest.
    Restricting each term's postings to the wanted documents (a skip per
    document) makes every matcher built on them that small. Scores are the
    same: the scorer still comes from the real searcher (index-wide
    statistics), only the postings are cut.
    """

    def __init__(self, searcher: Searcher, docnums: list[int]) -> None:
        self._searcher = searcher
        self._docnums = docnums
        self._cut: dict[tuple[str, bytes], tuple[list[int], list[float], list[bytes]]] = {}

    def __getattr__(self, name: str) -> object:
        return getattr(self._searcher, name)

    def postings(
        self,
        fieldname: str,
        text: bytes,
        weighting: scoring.WeightingModel | None = None,
        qf: int = 1,
    ) -> Matcher:
        weighting = weighting or self._searcher.weighting
        scorer = weighting.scorer(self._searcher, fieldname, text, qf=qf)
        cut = self._cut.get((fieldname, text))
        if cut is None:
            cut = self._cut[fieldname, text] = self._postings_of_docs(fieldname, text)
        fmt = self._searcher.schema[fieldname].format
        return ListMatcher(*cut, format=fmt, scorer=scorer, term=(fieldname, text))

    def _postings_of_docs(
        self, fieldname: str, text: bytes
    ) -> tuple[list[int], list[float], list[bytes]]:
        """The term's (docnum, weight, encoded value) postings for the wanted documents."""
        full = self._searcher.reader().postings(fieldname, text)
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []
        if type(full) is BlockMatcher:
            # Whoosh's skip_to steps through a block one posting at a time; a decoded
            # block is a sorted tuple, so bisect finds each wanted document in it.
            wanted = self._docnums
            k = 0
            while full.is_active() and k < len(wanted):
                block_max = full.block_max_id()
                if wanted[k] <= block_max:
                    # Only the ids: blocks without a wanted document are never decoded whole.
                    block = full._ids = block_ids(full)
                    while k < len(wanted) and wanted[k] <= block_max:
                        i = bisect_left(block, wanted[k])
                        if i < len(block) and block[i] == wanted[k]:
                            full._i = i
                            ids.append(wanted[k])
                            weights.append(full.weight())
                            values.append(full.value())
                        k += 1
                full._i = 0
                full._next_block()
            return ids, weights, values
        for docnum in self._docnums:
            if not full.is_active():
                break
            if full.id() < docnum:
                full.skip_to(docnum)
            if full.is_active() and full.id() == docnum:
                ids.append(docnum)
                weights.append(full.weight())
                values.append(full.value())
        return ids, weights, values
