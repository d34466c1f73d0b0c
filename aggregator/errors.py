"""The one exception tree users see; the CLI turns these into clean messages.

LearnplaceError
├── ConfigError (ValueError)     a bad feeds.toml or profile: names file, line and key
├── RunLockedError               another ``learnplace run`` holds the project
└── UnknownItemError (LookupError) an item id or URL that matches nothing stored

FeedParseError (ValueError)      a fetched document that is no feed: recorded as that
                                 source's error, never raised to the person

SourceCrashWarning (RuntimeWarning)  a source's document made parsing or storing raise
                                 what no parser should (a bug, here or in a library): the
                                 source's recorded error says so, and the run goes on
"""

from __future__ import annotations


class LearnplaceError(Exception):
    """Base of every error Learnplace reports to a person rather than as a bug."""


class ConfigError(LearnplaceError, ValueError):
    """A configuration or profile file is wrong; nothing has been written."""

    def __init__(self, path: str, message: str, *, line: int | None = None, key: str = "") -> None:
        self.path, self.line, self.key, self.message = path, line, key, message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


class RunLockedError(LearnplaceError):
    """Two runs must not write the same store at once."""


class FeedParseError(ValueError):
    """A fetched document is not a feed at all (an HTML page, an empty body, broken JSON...).

    Here rather than in :mod:`aggregator.parse` so that catching it does not load the
    parser: a run of 304s never parses anything.
    """


class UnknownItemError(LearnplaceError, LookupError):
    """An item reference (id or URL) that matches nothing in the store."""


class SourceCrashWarning(RuntimeWarning):
    """A source's bytes raised an unexpected exception, recorded as that source's failure.

    A warning rather than silence: a person sees it once on stderr, and the test suite,
    which turns warnings into errors, fails on it, so a parser bug is never hidden.
    """
