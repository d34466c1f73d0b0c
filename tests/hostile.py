"""The hostile documents of issue 15, built here so tests (and a person) can serve them.

Each one once crashed a run, grew past the body cap, or reached a terminal unescaped.
"""

from __future__ import annotations

import json

NOW_RFC822 = "Mon, 30 Nov 2026 06:00:00 GMT"

ICAL_OVERFLOW = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:overflow@hostile.example\r\nDTSTAMP:20261101T000000Z\r\n"
    b"DTSTART:99991231T235959Z\r\nDURATION:P1W\r\nSUMMARY:Overflow workshop\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)
"""An event a week long starting in the last second of year 9999 (OverflowError in ical.py)."""

JSON_YEAR_ONE = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Year one",
        "items": [
            {
                "id": "year-one",
                "url": "https://hostile.example/year-one",
                "title": "Posted before the calendar began",
                "content_text": "python",
                "date_published": "0001-01-01T00:00:00+14:00",
            }
        ],
    }
).encode()
"""A date that is before year 1 once moved into UTC (OverflowError in parse.py)."""

TERMINAL_ESCAPES = (
    "python \x1b]0;pwned\x07window title \x1b]52;c;ZWNobyBwd25lZA==\x07clipboard "
    "\x1b[31mred\x1b[0m \x9b31mC1 \u202eevil\u202c [bold]markup[/bold] [link=https://x]l[/link]"
)
"""OSC 0 (window title), OSC 52 (clipboard write), CSI, an 8-bit CSI, a bidi override, and
rich markup, in one title."""


def entity_bomb(
    references: int = 35_000, entity_chars: int = 1_000, encoding: str = "utf-8"
) -> bytes:
    """An RSS document declaring one long internal entity and referring to it many times.

    expat refuses it (input amplification), and feedparser's loose parser then expands
    every reference: the defaults make 105 KB into a 35 MB summary.
    """
    declaration = "utf-16" if encoding.startswith("utf-16") else encoding
    text = (
        f'<?xml version="1.0" encoding="{declaration}"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY e "{"A" * entity_chars}">\n]>\n'
        '<rss version="2.0"><channel><title>Entities</title><link>https://hostile.example/</link>'
        "<item><title>Expanding python</title><link>https://hostile.example/boom</link>"
        f"<description>{'&e;' * references}</description></item></channel></rss>\n"
    )
    raw = text.encode(encoding)
    if encoding == "utf-7":
        # UTF-7 may spell "<!" in base64, which no search for the ASCII bytes finds.
        raw = raw.replace(b"<!ENTITY", b"+ADwAIQ-ENTITY")
    return raw


def rss(*items: str, title: str = "Hostile") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://hostile.example/</link>{''.join(items)}"
        "</channel></rss>\n"
    ).encode()


def item(title: str, link: str, description: str = "python", date: str = NOW_RFC822) -> str:
    return (
        f"<item><title>{title}</title><link>{link}</link>"
        f"<description>{description}</description><pubDate>{date}</pubDate></item>"
    )


ESCAPES_FEED = rss(
    item(TERMINAL_ESCAPES, "https://hostile.example/escapes", TERMINAL_ESCAPES),
    title="Escapes \x1b]0;feed title\x07",
)
FAR_FUTURE_FEED = rss(
    item(
        "From the far future python",
        "https://hostile.example/future",
        date="Fri, 31 Dec 9999 00:00:00 GMT",
    )
)
NEWLINE_LINK_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Line breaks",
        "items": [
            {
                "id": "newline\r\nid",
                "url": "https://hostile.example/a\r\nSet-Cookie: x=1",
                "title": "Link with a line break python",
                "content_text": "python",
            },
            {"id": "plain", "url": "https://hostile.example/plain", "title": "Plain python"},
        ],
    }
).encode()
"""JSON keeps a link's line break as written (feedparser drops it from RSS and Atom links)."""
LONG_FIELDS_FEED = rss(
    item("python " * 20_000, "https://hostile.example/long", "python data " * 100_000)
)

GOOD_FEED = rss(
    *(
        item(f"Good python item {n}", f"https://good.example/{n}", f"python data pipelines {n}")
        for n in range(12)
    ),
    title="Good",
)
