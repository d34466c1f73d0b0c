"""An old import path that indexes on disk still name: do not remove without a rebuild.

Whoosh pickles each field's posting format, by import path, into the index's
table of contents. Indexes written before :mod:`aggregator.search` existed
name ``aggregator.postings.Positions``; this keeps that path, so they open
without a rebuild (tests/integration/test_previous_index.py opens one). New indexes name
``aggregator.search.postings.Positions``.
"""

from aggregator.search.postings import Positions

__all__ = ["Positions"]
