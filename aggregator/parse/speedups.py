"""Two of feedparser's per-element costs made cheaper, in the processes that parse most.

Applied by :func:`speed_up_feedparser`, which each parse worker calls at start
(:mod:`aggregator.workers`); every other process parses with feedparser as
released. Both reach into ``feedparser.mixin``, so each is applied only where
that module still reads as expected, and tests/integration/test_patches.py fails if either
stops applying.
"""

from __future__ import annotations

import copy
import inspect
import re
from functools import lru_cache
from types import ModuleType, SimpleNamespace

import feedparser
import feedparser.mixin
import feedparser.urls

BASE_URI_CACHE_SIZE = 4096
"""(base, xml:base) pairs remembered; a feed uses one or a few, so this covers a whole run."""


def _copy_content_params(params: feedparser.FeedParserDict) -> feedparser.FeedParserDict:
    """What ``copy.deepcopy`` makes of a text construct's parameters, without its machinery.

    Their values are strings, numbers or None (type, language, base, src), so a shallow
    copy is as deep as a deep one.
    """
    return feedparser.FeedParserDict(params)


_COPY_USE = re.compile(r"\bcopy\.\w+(?:\([^()]*\))?")
"""A use of the ``copy`` module in source text, with its arguments when it is a call."""


def speed_up_feedparser() -> tuple[str, ...]:
    """Make two of feedparser's per-element costs cheaper in this process; the names applied.

    - feedparser resolves the xml:base in scope at every start tag, nearly always the
      same base against itself: a urljoin per element, ~13% of its parse time. The
      function is pure (strings in, string out), so a cache returns the very same answers;
    - it deep-copies a text construct's parameters for every title, summary and content
      (~5% of its time); :func:`_copy_content_params` makes the same copy cheaply.

    Each is applied only where feedparser's ``mixin`` module still reads as expected
    (it takes the function from ``feedparser.urls``; it uses ``copy`` for nothing but
    ``copy.deepcopy(self.contentparams)``), so another release runs unpatched rather
    than wrong. tests/integration/test_patches.py fails if either stops applying. Calling it again
    changes nothing.
    """
    mixin = feedparser.mixin
    applied = []
    resolve = getattr(mixin, "make_safe_absolute_uri", None)
    if resolve is feedparser.urls.make_safe_absolute_uri:
        mixin.make_safe_absolute_uri = lru_cache(maxsize=BASE_URI_CACHE_SIZE)(resolve)
    cached = getattr(mixin, "make_safe_absolute_uri", None)
    if getattr(cached, "__wrapped__", None) is feedparser.urls.make_safe_absolute_uri:
        applied.append("xml:base cache")
    if getattr(mixin, "copy", None) is copy and _copies_only_content_params(mixin):
        mixin.copy = SimpleNamespace(deepcopy=_copy_content_params)
    if getattr(getattr(mixin, "copy", None), "deepcopy", None) is _copy_content_params:
        applied.append("content params copy")
    return tuple(applied)


def _copies_only_content_params(module: ModuleType) -> bool:
    """Whether ``module`` uses ``copy`` only as ``copy.deepcopy(self.contentparams)``."""
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return False
    uses = _COPY_USE.findall(source)
    return bool(uses) and all(use == "copy.deepcopy(self.contentparams)" for use in uses)
