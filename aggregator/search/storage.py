"""The index folder on disk: segments read in place, and segments written by other processes.

Along with :mod:`aggregator.search.postings`, the only module that reaches
into Whoosh's internals. The private names of Whoosh 2.7 it reads or writes:

* reading in place: ``FileStorage._fpath``, ``StructFile._name``, and
  ``BufferFile``'s ``_buf`` and ``file`` (set, as its own ``__init__`` does);
* field lengths: ``SegmentReader._perdoc``, ``whoosh3._lenfield``, and a column
  reader's ``_fixedlen``, ``_reverse``, ``_dbfile``, ``_basepos``, ``_doccount``;
* segments of worker processes: ``SegmentWriter(_lk=False)``,
  ``_finalize_segment``, ``_close_segment``, ``_merge_segments``, ``_added``,
  ``_commit_toc``, ``_finish``.

Each is applied by feature detection or fails loudly: segments are read in
place only because Whoosh asks a storage that says it cannot map files for a
``subset`` (a public option; tests/integration/test_patches.py fails if it stops asking),
:func:`segment_lengths` answers None for a column it does not recognise (the
engine then leaves scoring to Whoosh), and a writer that lacks the segment
methods raises before anything is committed (tests/integration/test_index.py writes
through them).
"""

from __future__ import annotations

import contextlib
import io
import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import whoosh.index
from whoosh.codec.base import Segment
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import BufferFile, StructFile
from whoosh.writing import MERGE_SMALL, SegmentWriter

from aggregator.models import Item
from aggregator.search.postings import Codec
from aggregator.search.schema import document

WRITER_LIMIT_MB = 256
"""Memory for the writer's pool: more means fewer temporary runs when indexing many items."""

PEEK_BYTES = 512
"""Enough for a posting block's pickled header, small enough to copy for each one."""


class _ViewReader(io.RawIOBase):
    """A read-only file over a memory view, without copying it."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._view[self._position : self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk

    def peek(self, size: int = 0) -> bytes:
        """What follows, without moving: pickle reads a posting block's header through it in
        two calls instead of one per opcode."""
        return bytes(self._view[self._position : self._position + PEEK_BYTES])

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = base[whence] + offset
        return self._position


class _MappedFile(BufferFile):
    """Whoosh's file over a slice of a memory-mapped segment, reading it in place.

    Whoosh's own ``BufferFile`` hands the slice to ``BytesIO``, which copies
    it: opening a searcher then copied every segment's postings and term
    index onto the heap, 1 GB at 465,000 items, in every process that reads
    the index. Its positional reads already use the view; only the
    sequential ones went through the copy.
    """

    def __init__(self, buf: memoryview, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _ViewReader(buf)


class _SegmentFile(StructFile):
    """A compound segment file that maps itself and hands out its parts as :class:`_MappedFile`.

    Whoosh asks a segment file for each part with ``subset`` when it does not map the
    file itself (see :class:`IndexStorage`).
    """

    def __init__(self, fileobj: Any, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(fileobj, name=name, onclose=onclose)
        self._map = mmap.mmap(fileobj.fileno(), 0, access=mmap.ACCESS_READ)

    def subset(self, offset: int, length: int, name: str | None = None) -> _MappedFile:
        return _MappedFile(memoryview(self._map)[offset : offset + length], name or self._name)

    def close(self) -> None:
        # A reader may still hold a view of it: then the map goes with the last view.
        with contextlib.suppress(BufferError):
            self._map.close()
        super().close()


class IndexStorage(FileStorage):
    """The index folder, whose segments are read in place through :class:`_SegmentFile`.

    Told that the storage cannot map files (``supports_mmap=False``, a public
    option), Whoosh reads each part of a compound segment through the segment
    file's ``subset``, which :class:`_SegmentFile` answers with a view of its map.
    Only indexes opened through :meth:`~aggregator.search.index.WhooshIndex.open`
    read this way: a plain Whoosh index in the same process (a benchmark's
    baseline) is left as Whoosh reads it. tests/integration/test_patches.py fails if Whoosh
    stops asking for ``subset``.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), supports_mmap=False)

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        if not name.endswith(Segment.COMPOUND_EXT):
            return super().open_file(name, **kwargs)
        return _SegmentFile(Path(self._fpath(name)).open("rb"), name=name, **kwargs)


def segment_lengths(reader: object, fieldname: str) -> bytes | None:
    """A segment's encoded field length per document (one byte each), or None when its
    column is not the plain one-byte kind read here.

    A segment none of whose documents has the field writes no column: every length
    is 0 there, as Whoosh's own ``doc_field_length`` reads it.
    """
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is None:
        return None
    if not perdoc.has_column(_lenfield(fieldname)):
        return bytes(reader.doc_count_all())  # type: ignore[attr-defined]
    column = perdoc.column_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if getattr(column, "_fixedlen", None) != 1 or column._reverse:
        return None
    return column._dbfile.get(column._basepos, column._doccount)


SMALL_SEGMENT_DOCS = 5_000
"""Segments from this size on (what one commit writes in its own process, at most) are
never merged by a daily commit (Whoosh would merge many equal large segments at once, a
multi-minute commit); ``reindex`` rebuilds them."""


def merge_small_segments(writer: SegmentWriter, segments: list[Segment]) -> list[Segment]:
    """Whoosh's own merge policy, among the small segments that daily commits leave."""
    large = [segment for segment in segments if segment.doc_count_all() >= SMALL_SEGMENT_DOCS]
    small = [segment for segment in segments if segment.doc_count_all() < SMALL_SEGMENT_DOCS]
    return large + MERGE_SMALL(writer, small)


def write_segment(path: str, items: Sequence[Item]) -> Segment:
    """Write ``items`` as one new segment of the index at ``path`` (runs in a worker).

    The parent holds the index's write lock and commits the segment
    (:func:`commit_with_segments`); until then its files are referenced by
    nothing, and Whoosh deletes such files at the next commit, so a killed run
    leaves no trace in the index.
    """
    writer = SegmentWriter(
        whoosh.index.open_dir(path), _lk=False, limitmb=WRITER_LIMIT_MB, codec=Codec()
    )
    try:
        for item in items:
            writer.add_document(**document(item))
        return writer._finalize_segment()
    except BaseException:
        # Not cancel(): it would delete the temporary folder the parent's writer shares.
        writer._close_segment()
        raise


def commit_with_segments(writer: SegmentWriter, segments: list[Segment]) -> None:
    """Commit ``writer``'s deletions, and what its merge policy merges, with ``segments``
    (written by :func:`write_segment` in other processes) in one table of contents."""
    kept = writer._merge_segments(None, None, None)
    if writer._added:  # the merge policy merged small segments into this writer
        kept.append(writer._finalize_segment())
    else:
        writer._close_segment()
    writer._commit_toc(kept + segments)
    writer._finish()
