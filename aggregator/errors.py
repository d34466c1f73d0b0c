"""The one exception tree a person sees; the CLI and the web app turn it into one-line messages.

Every error raised on purpose is here, so that catching :class:`LearnplaceError` catches
everything that is the person's to fix, and anything else is a bug shown as one. sqlite and
Whoosh errors are wrapped at the store and search boundaries into the branches below.

LearnplaceError
├── ConfigError (ValueError)          a bad feeds.toml or profile: names file, line and key
├── SourceListError                   a change to feeds.toml's sources that cannot be made
│   └── ImportFileError               ``sources import`` of a file that is no OPML list
├── SourceCheckError                  ``sources add`` of a URL that is no feed and names none
├── UnknownNameError (LookupError)    a name a person typed (type, source, tag) that matches
│   │                                 nothing known; names the closest ("did you mean")
│   └── UnknownPersonError            a name that no profile has
├── NothingCollectedError             a command that reads what a run collected, before any run
├── RunLockedError                    another ``learnplace run`` holds the project
├── StoreError                        the store cannot be read or written as asked
│   ├── StoreVersionError             written by a newer Learnplace
│   ├── StoreLockedError              another process held the write lock past the busy timeout
│   ├── StoreDamagedError             a damaged file, or one that is no SQLite database
│   ├── UnknownItemError (LookupError)    an item id or URL that matches nothing stored
│   ├── UnknownSourceError (LookupError)  a source URL the store never recorded
│   └── StoreCopyError                ``store copy`` that cannot be made: the target keeps nothing
│       └── CopyTargetNotEmptyError   a target that already holds a store's rows
├── SearchIndexError                  the search index cannot answer
│   ├── IndexSchemaError              built with another schema: ``learnplace reindex``
│   └── QuerySyntaxError (ValueError) a query that cannot be understood, said why
├── MailError                         one message the SMTP server did not take
├── LearningRecordError (ValueError)  "I learned this" with minutes out of range or a reflection
│                                     too long: nothing is recorded
├── LrsError                          the Learning Record Store refused, or cannot be reached
│   └── InsecureLrsError (ValueError)     plain http:// to a non-loopback LRS, not allowed
└── WebError                          what the local web app refuses
    ├── InsecureBindError (ValueError)    serving beyond loopback without a token
    └── FormError                     a form too large, too many fields, or not url-encoded

FeedParseError (ValueError)           a fetched document that is no feed: recorded as that
                                      source's error, never raised to the person

SourceCrashWarning (RuntimeWarning)   a source's document made parsing or storing raise what
                                      no parser should (a bug, here or in a library): the
                                      source's recorded error says so, and the run goes on
OldNameWarning (UserWarning)          an old name in a file (``kind = "courses"``): read as the
                                      new one ("course"), the CLI says so once as a note naming
                                      file, line and key
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


class SourceListError(LearnplaceError):
    """A change to the source list that cannot be made (duplicate, unknown, bad OPML)."""


class SourceCheckError(LearnplaceError):
    """A URL given to ``sources add`` is neither a working feed nor a page that names one."""


class UnknownNameError(LearnplaceError, LookupError):
    """A name a person typed (an item type, a source, a tag) that matches nothing known.

    The message names the closest known names, as the config loader does for a key.
    """


class UnknownPersonError(UnknownNameError):
    """A name that no profile in ``profiles/`` has."""


class ImportFileError(SourceListError):
    """A file given to ``sources import`` that is not an OPML subscription list."""


class NothingCollectedError(LearnplaceError):
    """The project has no store yet: ``learnplace run`` has not collected anything."""


class RunLockedError(LearnplaceError):
    """Two runs must not write the same store at once."""


class StoreError(LearnplaceError):
    """The store cannot do what was asked; the message says why (locked, damaged, unknown)."""


class StoreVersionError(StoreError):
    """The database was written by a newer Learnplace than this one."""


class StoreLockedError(StoreError):
    """Another process kept the store's write lock longer than this one would wait.

    Usually a second command (the web app saving feedback, a hung run) writing at once; the
    message says to try again once it has finished.
    """


class StoreDamagedError(StoreError):
    """The store's file is damaged, or is no SQLite database at all.

    Raised rather than repaired: the message names the file and what to do with it, and
    nothing more is written to it.
    """


class UnknownItemError(StoreError, LookupError):
    """An item reference (id or URL) that matches nothing in the store."""


class UnknownSourceError(StoreError, LookupError):
    """A source URL that the store never recorded."""


class StoreCopyError(StoreError):
    """``learnplace store copy`` could not finish; its one transaction on the target was
    rolled back, so the target holds what it held before (a new SQLite file is removed)."""


class CopyTargetNotEmptyError(StoreCopyError):
    """The copy's target already holds rows: a copy never merges two stores' ids."""


class SearchIndexError(LearnplaceError):
    """The search index cannot answer; the message says what to do."""


class IndexSchemaError(SearchIndexError):
    """The index on disk was built with another schema: rebuild it with ``learnplace reindex``."""


class QuerySyntaxError(SearchIndexError, ValueError):
    """A query that cannot be understood; the message says why, for the person who typed it."""


class MailError(LearnplaceError):
    """One message could not be handed to the SMTP server; the next run tries again."""


class LearningRecordError(LearnplaceError, ValueError):
    """A learning record that cannot be kept as given; the message says which value and why."""


class LrsError(LearnplaceError):
    """xAPI statements were not stored by the Learning Record Store; the message says why."""


class InsecureLrsError(LrsError, ValueError):
    """A person's learning record would cross the network in clear text (``--allow-http``)."""


class WebError(LearnplaceError):
    """Something the local web app refuses to do."""


class InsecureBindError(WebError, ValueError):
    """Serving beyond loopback without a token would hand profiles to the network."""


class FormError(WebError):
    """A form this app will not read: too large, too many fields, or not url-encoded."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FeedParseError(ValueError):
    """A fetched document is not a feed at all (an HTML page, an empty body, broken JSON...).

    Here rather than in the parser so that catching it does not load the parser: a run of
    304s never parses anything.
    """


class SourceCrashWarning(RuntimeWarning):
    """A source's bytes raised an unexpected exception, recorded as that source's failure.

    A warning rather than silence: a person sees it once on stderr, and the test suite,
    which turns warnings into errors, fails on it, so a parser bug is never hidden.
    """


class OldNameWarning(UserWarning):
    """A file uses an old name (a source ``kind`` such as ``courses``) that still works.

    One vocabulary of item types now serves ``kind``, ``type``, profiles, the CLI and the
    web app; the old names are read as the new ones and the person is told where, so the
    file can be updated at leisure, never refused.
    """
