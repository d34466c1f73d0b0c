"""One way to hold what must be closed: ``with thing:`` closes it on leaving.

The store, the search backends and the application each own files or connections that
must be released; each defines ``close`` and inherits the ``with`` protocol from here.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """``with`` support for a class whose ``close`` releases what it holds."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
