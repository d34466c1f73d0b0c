"""Old import paths that indexes on disk still name: do not remove without a rebuild.

Whoosh pickles the codec that wrote each segment, by import path, into the
index's table of contents. Indexes written before :mod:`aggregator.search`
existed name ``aggregator.index._Codec``; this keeps that path, so they open
without a rebuild (tests/integration/test_previous_index.py opens one). New indexes name
``aggregator.search.postings.Codec``. The code lives in :mod:`aggregator.search`.
"""

from aggregator.search.postings import Codec as _Codec

__all__ = ["_Codec"]
