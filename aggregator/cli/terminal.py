"""The one way the CLI prints: nothing from a feed, a profile or an error reaches the terminal raw.

Feed titles, source names, errors and URLs can hold terminal escape sequences
(OSC 0 retitles the window, OSC 52 writes the clipboard, CSI moves the cursor
and recolours), C1 controls that some terminals read the same way, carriage
returns that overwrite a line, and bidirectional overrides that make text read
other than it is. Every command prints through :func:`echo`, :func:`text`,
:func:`markup` or :func:`json_text`, which remove them; rich's markup in such
text (``[link=…]`` makes OSC 8 hyperlinks) is escaped, never interpreted.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from aggregator.app import ESCAPE_SEQUENCE

_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""Controls but tab and newline, line separators, bidi embeddings/overrides/isolates, lone
surrogates (which a UTF-8 terminal cannot even be sent)."""


def clean(value: object) -> str:
    """``value`` as text that prints as itself: escape sequences and controls removed."""
    return _UNPRINTABLE.sub("", ESCAPE_SEQUENCE.sub("", str(value)))


def echo(value: object = "", *, err: bool = False) -> None:
    """``click.echo`` of :func:`clean` text."""
    click.echo(clean(value), err=err)


def note_line(message: object) -> None:
    """A note on stderr (an old name that still works): said, never in the way of stdout."""
    echo(f"note: {message}", err=True)


def markup(value: object) -> str:
    """Text to put inside a rich markup string: cleaned, its brackets escaped."""
    return escape(clean(value))


def text(value: object, style: str = "") -> Text:
    """A rich ``Text`` (never read as markup) of :func:`clean` text, for tables and highlights."""
    return Text(clean(value), style=style)


def json_text(data: Any) -> str:
    """``data`` as indented JSON that decodes to the very same values but prints safely.

    ``json`` escapes C0 controls itself; C1 controls, bidi controls and lone surrogates
    are written as ``\\uXXXX`` escapes too (they can only occur inside strings).
    """
    dumped = json.dumps(data, indent=2, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", dumped)


def console(*, stderr: bool = False) -> Console:
    """The rich console every command prints tables and summaries with."""
    return Console(stderr=stderr)
