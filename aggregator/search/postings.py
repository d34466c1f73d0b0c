"""Posting blocks laid out as arrays numpy reads in place, in Whoosh's own files.

Whoosh pickles each block of postings as a tuple of Python objects, and
each posting's positions as a pickled list of its own. A search here reads
every posting of a word (totals, facets and profile blending score every
match, not a top N), so unpickling was most of a plain query's time at
100,000 items: an object per posting, a ``codecs.encode`` call per position
list. This layout keeps Whoosh's files, term dictionary, block headers and
compression, and writes a block's data as little-endian arrays::

    b"LPb1" | id width (1 byte) | flags (1 byte) | id gaps | weights (float32) |
    value lengths (uint32) | values

with a position list stored as its positions, a uint32 each
(:class:`Positions`). Whoosh reads these blocks through
:class:`BlockMatcher`, which turns them back into the tuples it expects
(for its own search, merges and highlighting); a search reads them with
:func:`block_arrays` and :func:`block_positions`, a few numpy calls a block.

Whoosh pickles the classes that wrote an index by import path into its table
of contents (:class:`Positions` for each text field, :class:`Codec` for each
segment): ``aggregator/postings.py`` and ``aggregator/index.py`` keep the paths
indexes written before this package existed name.

This module and :mod:`aggregator.search.storage` are the only ones that
replace Whoosh internals; the private names they read or write are listed in
their docstrings. Here, subclassing Whoosh 2.7's ``whoosh3`` codec:

* ``W3LeafMatcher``: ``_postfile``, ``_dataoffset``, ``_nextoffset``,
  ``_compression``, ``_blocklength``, ``_fixedsize``, ``_data``, ``_ids``,
  ``_i``, ``_next_block`` (read), ``_read_data`` (overridden);
* ``W3PostingsWriter``: ``_write_block`` (overridden), ``_byteids``,
  ``_blockcount``, ``_postfile``, ``_terminfo``, ``_ids``, ``_values``,
  ``_weights``, ``_compression``, ``_maxweight``, ``_minlength``,
  ``_maxlength``, ``_new_block``;
* ``W3Codec``: ``_blocklimit``, ``_compression``, ``_inlinelimit``.

Nothing here patches Whoosh: an index opened without these classes reads as
Whoosh reads it, and the fast engine (:mod:`aggregator.search.engine`) reads
only postings whose matcher is a :class:`BlockMatcher`, leaving any other to
Whoosh. tests/integration/test_postings.py reads every posting both ways and fails if
Whoosh's layout moves under these names.
"""

from __future__ import annotations

import pickle
import struct
import sys
import zlib
from array import array
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from whoosh import formats, scoring
from whoosh.codec.whoosh3 import (
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3LeafMatcher,
    W3PostingsWriter,
    W3TermInfo,
)
from whoosh.filedb.structfile import StructFile
from whoosh.matching import Matcher
from whoosh.util.numeric import length_to_byte

BLOCK_POSTINGS = 1024
"""Postings per block (Whoosh writes 128). A search reads every block of a word, and each
costs a header and a decompression; smaller blocks only serve a top-N skip not used here."""

COMPRESS_MIN_BYTES = 64
"""Smaller blocks are stored as they are (their header says so)."""

_MAGIC = b"LPb1"
_HEAD = struct.Struct("<4sBB")
_WEIGHTED = 1
_VALUED = 2
_GAPS: dict[int, np.dtype[Any]] = {1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}
_WEIGHTS = np.dtype("<f4")
"""Whoosh keeps a block's weights as float32 already (``array("f")``): stored exactly."""
_LENGTHS = np.dtype("<u4")
_POSITION = np.dtype("<u4")


class Positions(formats.Positions):
    """Whoosh's positions format with each posting's positions as little-endian uint32s.

    Whoosh pickles a list of gaps per posting. A phrase search reads the
    positions of thousands of postings a query; stored as plain integers,
    a block's are one array (:func:`block_positions`).
    """

    def encode(self, poslist: Sequence[int]) -> bytes:
        return struct.pack(f"<{len(poslist)}I", *poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return list(struct.unpack(f"<{len(valuestring) // 4}I", valuestring))

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // 4


def encode_block(ids: Sequence[int], weights: Sequence[float], values: Sequence[bytes]) -> bytes:
    """A block's data in this module's layout; ``values`` empty when the format keeps none.

    In plain Python with :mod:`array`: most blocks hold a posting or two, where
    numpy's per-call cost would outweigh the work.
    """
    gaps = [ids[0], *(later - earlier for earlier, later in pairwise(ids))]
    top = max(gaps)
    width = 1 if top < 2**8 else 2 if top < 2**16 else 4
    weighted = any(weight != 1 for weight in weights)
    parts = [
        _HEAD.pack(_MAGIC, width, (_WEIGHTED if weighted else 0) | (_VALUED if values else 0)),
        _little(array(_ARRAY_CODES[width], gaps)),
    ]
    if weighted:
        parts.append(_little(array("f", weights)))
    if values:
        parts.append(_little(array("I", map(len, values))))
        parts.extend(values)
    return b"".join(parts)


_ARRAY_CODES = {1: "B", 2: "H", 4: "I"}


def _little(numbers: array[int] | array[float]) -> bytes:
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers.tobytes()


def decode_block(data: bytes, count: int) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """A block's id gaps, weights and values."""
    gaps, weights, end = _arrays(data, count)
    if not _HEAD.unpack_from(data)[2] & _VALUED:
        return gaps, weights, []
    lengths = np.frombuffer(data, _LENGTHS, count, end)
    bounds = (np.cumsum(lengths) + end + lengths.nbytes).tolist()
    starts = [end + lengths.nbytes, *bounds[:-1]]
    return gaps, weights, [data[a:b] for a, b in zip(starts, bounds, strict=True)]


def _arrays(data: bytes, count: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The id gaps and weights at the start of a block, and where they end.

    An index of Whoosh's own layout is refused before any block is read (its
    fields' formats differ: see :func:`aggregator.search.schema.schema_change`), so
    another layout here is a damaged index.
    """
    if not data.startswith(_MAGIC):
        raise ValueError("a posting block not in Learnplace's layout: `learnplace reindex`")
    _, width, flags = _HEAD.unpack_from(data)
    gaps = np.frombuffer(data, _GAPS[width], count, _HEAD.size)
    end = _HEAD.size + width * count
    if not flags & _WEIGHTED:
        return gaps, np.ones(count), end
    weights = np.frombuffer(data, _WEIGHTS, count, end).astype(np.float64)
    return gaps, weights, end + 4 * count


def block_data(matcher: W3LeafMatcher, size: int | None = None) -> bytes:
    """The matcher's current block, decompressed; with ``size``, no more than its first bytes."""
    raw = matcher._postfile.get(matcher._dataoffset, matcher._nextoffset - matcher._dataoffset)
    if not matcher._compression:
        return bytes(raw[:size])
    return zlib.decompressobj().decompress(raw, size or 0)


def block_arrays(
    matcher: W3LeafMatcher, data: bytes | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The current block's id gaps and weights as arrays.

    Only the start of the block is decompressed, unless ``data`` (the whole
    block, decompressed) is given.
    """
    count = matcher._blocklength
    data = data if data is not None else block_data(matcher, _HEAD.size + 8 * count)
    gaps, weights, _ = _arrays(data, count)
    return gaps, weights


def block_positions(data: bytes, count: int, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How many positions each posting ``hits`` (indexes into the block) has, and all of them.

    ``data`` is a whole block of a :class:`Positions` field: its values are
    uint32 positions back to back, so the wanted ones are one gather.
    """
    _, _, end = _arrays(data, count)
    if not _HEAD.unpack_from(data)[2] & _VALUED:
        raise ValueError("a posting block without positions")
    sizes = np.frombuffer(data, _LENGTHS, count, end).astype(np.int64) // 4
    firsts = np.cumsum(sizes) - sizes
    positions = np.frombuffer(data, _POSITION, int(sizes.sum()), end + 4 * count)
    counts = sizes[hits]
    starts = np.repeat(firsts[hits] - (np.cumsum(counts) - counts), counts)
    return counts, positions[starts + np.arange(len(starts))]


class PostingsWriter(W3PostingsWriter):
    """Whoosh's postings writer, writing each block's data in this module's layout."""

    def _write_block(self, last: bool = False) -> None:
        if self._byteids:  # term vectors: this schema keeps none; Whoosh writes them itself
            super()._write_block(last)
            return
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        values = self._values if len(self._values) == len(ids) else []
        data = encode_block(ids, self._weights, values)
        # A block of a posting or two would only grow: Whoosh meant to skip those too.
        compression = self._compression if len(data) >= COMPRESS_MIN_BYTES else 0
        if compression:
            data = zlib.compress(data, compression)
        # The header Whoosh writes, which its block skipping reads without the data.
        info = pickle.dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                compression,
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            ),
            2,
        )
        size = len(info) + len(data)
        self._postfile.write_int(-size if last else size)
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class BlockMatcher(W3LeafMatcher):
    """Whoosh's leaf matcher over blocks of this module's layout, for what Whoosh reads itself."""

    def _read_data(self) -> None:
        gaps, weights, values = decode_block(block_data(self), self._blocklength)
        fixed = self._fixedsize
        self._data = (
            tuple(gaps.tolist()),
            array("f", weights.tolist()),
            values if fixed is None or fixed < 0 else None if fixed == 0 else b"".join(values),
        )


def block_ids(matcher: BlockMatcher) -> tuple[int, ...]:
    """The document numbers of the matcher's current block, from its id gaps alone."""
    if matcher._ids is not None:
        return tuple(matcher._ids)
    return tuple(np.cumsum(block_arrays(matcher)[0], dtype=np.int64).tolist())


class Codec(W3Codec):
    """Whoosh's codec writing posting blocks of this module's layout, without
    per-block length statistics.

    Whoosh reads every posting's field length back from disk at commit to
    record each block's shortest and longest document, which only tightens
    the score bound that lets a top-N search skip blocks. Searches here score
    every match (totals, facets, profile blending), so the bounds buy nothing;
    reading them was a fifth of a commit. Without them a block's bound is
    merely looser, never wrong.
    """

    length_stats = False

    def __init__(self) -> None:
        super().__init__(blocklimit=BLOCK_POSTINGS)

    def postings_writer(self, dbfile: StructFile, byteids: bool = False) -> PostingsWriter:
        return PostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def postings_reader(
        self,
        dbfile: StructFile,
        terminfo: W3TermInfo,
        format_: formats.Format,
        term: tuple[str, bytes] | None = None,
        scorer: scoring.BaseScorer | None = None,
    ) -> Matcher:
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        offset, length = terminfo.extent()
        return BlockMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)
