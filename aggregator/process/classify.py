"""What an item is (article, course, event, podcast, video, book, paper), from the evidence it has.

Pure: the readers in :mod:`aggregator.parse` gather the signals into :class:`Signals` and
this module weighs them. Evidence comes first: the item's media (an audio
enclosure is something to listen to, a video one something to watch, found by
MIME type or, where servers send none or a wrong one, by the file's
extension, whichever enclosure carries it), structured data (``ev:``, xCal,
iCalendar, schema.org types), a video site's or a paper's address. Without
evidence, words are only hints: a title word, a category, a word in the link's
path, a labelled date or a registration phrase in the text, the source's kind
hint. A type is taken when two different hints agree on it; one hint alone
is not enough (a blog's title "Podcast picks" is not an episode, a photo
gallery tagged "Books" is not a book), except the source's own kind, which
the person declared. An episode needs its audio: words never make a podcast.

A person's explicit choice (``type =`` on a source, ``learnplace item
set-type``) is applied outside, before any of this.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from aggregator.names import kind_hint

VIDEO_HOSTS = re.compile(
    r"(^|\.)(youtube\.com|youtu\.be|vimeo\.com|dailymotion\.com|twitch\.tv|ted\.com|wistia\.com"
    r"|peertube\.[a-z.]+)$"
)
PAPER_HOSTS = re.compile(
    r"(^|\.)(arxiv\.org|doi\.org|biorxiv\.org|medrxiv\.org|ssrn\.com|openreview\.net"
    r"|aclanthology\.org|semanticscholar\.org|hal\.science|researchgate\.net)$"
)
PAPER_ID = re.compile(
    r"\barxiv(\.org)?:\s*\d{4}\.\d{4,5}|\b10\.\d{4,9}/[^\s\"<>]+|\barxiv\.org/abs/", re.IGNORECASE
)
"""An arXiv identifier or a DOI in the link, the guid or the text."""

AUDIO_EXTENSIONS = frozenset(
    {"mp3", "m4a", "aac", "oga", "ogg", "opus", "wav", "flac", "wma", "mka", "m4b"}
)
VIDEO_EXTENSIONS = frozenset(
    {"mp4", "m4v", "mov", "webm", "mkv", "avi", "wmv", "asf", "flv", "mpg", "mpeg", "3gp", "ogv"}
)
"""What a media file's extension says when its MIME type says nothing (or ``octet-stream``)."""

SCHEMA_TYPES: dict[str, str] = {
    "course": "course",
    "courseinstance": "event",
    "book": "book",
    "videoobject": "video",
    "podcastepisode": "podcast",
    "audioobject": "podcast",
    "scholarlyarticle": "paper",
}
"""schema.org types (JSON-LD in the item's HTML) that say what the item is; Event and its
subtypes arrive as ``has_event_data``."""

CATEGORY_TYPES: dict[str, str] = {
    "event": "event",
    "events": "event",
    "webinar": "event",
    "webinars": "event",
    "meetup": "event",
    "conference": "event",
    "conferences": "event",
    "workshop": "event",
    "course": "course",
    "courses": "course",
    "mooc": "course",
    "video": "video",
    "videos": "video",
    "book": "book",
    "books": "book",
    "book review": "book",
    "book reviews": "book",
    "paper": "paper",
    "papers": "paper",
    "preprint": "paper",
    "research paper": "paper",
}
"""A category (tag) that names a type: a hint, which needs another to agree."""

LINK_SECTIONS: dict[str, str] = {
    "event": "event",
    "events": "event",
    "webinar": "event",
    "webinars": "event",
    "meetups": "event",
    "course": "course",
    "courses": "course",
    "video": "video",
    "videos": "video",
    "watch": "video",
    "book": "book",
    "books": "book",
    "paper": "paper",
    "papers": "paper",
    "publications": "paper",
}
"""A path segment of the item's link that names a section of the site (``/events/...``)."""


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


TITLE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "event",
        _words(
            # Singular on purpose: "Workshop: SQL" announces one, "checklist for workshops" is
            # an article about them.
            r"\b(webinar|workshop|conference|meetup|summit|hackathon|symposium|seminar|roundtable)\b",
            r"\b(ask me anything|AMA|online session|live session|live stream|livestream)\b",
            r"\bcall for (papers|participants|proposals|speakers)\b",
            r"\b(Days|Con|Camp|Fest)\s+(19|20)\d\d\b",
            r"\b(join us|register now|save the date|early[- ]bird)\b",
            r"\bregistration (is )?(now )?open\b|\btickets? (are )?(now )?(on sale|available)\b",
        ),
    ),
    (
        "course",
        _words(
            r"(?<!\bof )\b(courses?|moocs?|bootcamps?|mini-course|masterclass|nanodegree)\b",
            r"\b(certificate|certification|specialization|learning path)\s+"
            r"(in|for|programs?|programmes?)\b",
            r"\bself-paced\b",
            r"\bin \d+ weeks\b",
            r"\b(enrol|enroll)(ment)?\b",
        ),
    ),
    (
        "video",
        _words(
            r"\b(video|screencast|talk recording|recording of|watch:|live-codes?|tutorial video)\b",
            r"\bexplained in \d+ minutes\b",
            r"^\s*watch\b",
        ),
    ),
    (
        "book",
        _words(
            r"\b(book review|new book|reading list|handbook|isbn|paperback|hardcover)\b",
            r"\b(second|third|\d+(st|nd|rd|th)) edition\b",
            r"\bbooks? (on|about)\b|\bbooks\b",
        ),
    ),
    (
        "paper",
        _words(
            r"\b(an empirical study|a survey|systematic review|replication study|meta-analysis)\b",
            r"\b(preprint|arxiv|proceedings)\b",
            r"^\s*towards?\b",
            r"\bevidence from \d+\b",
        ),
    ),
)
"""Words in a title that hint at a type; the first type whose pattern matches is the hint.
There is no podcast rule: "Episode 12" or "podcast" in a title, without the audio, is a
post about one."""

TEXT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "event",
        _words(
            r"\b(when|date|starts?|begins?)\s*:\s*[^\n]{0,40}\d",
            r"\b(you are invited|join us|rsvp|save the date|save your (seat|spot)|early[- ]bird"
            r"|register (now|here|today|for free|online)|registration (is )?(now )?open"
            r"|(buy|get|book) (your )?tickets?|tickets? (are )?(now )?(on sale|available)"
            r"|call for (papers|proposals|speakers|talks|participation))\b",
        ),
    ),
    ("course", _words(r"\b(enrol|enroll) (now|today|here)\b", r"\bself-paced\b")),
    ("book", _words(r"\bISBN(-1[03])?:?\s*[\d-]{10,17}\b", r"\b(paperback|hardcover)\b")),
    ("video", _words(r"<(iframe|embed)[^>]+(youtube(-nocookie)?\.com|vimeo\.com)/")),
)
"""What an item's text says of itself: a labelled date or a registration phrase (an event),
an ISBN (a book), an embedded video player. Hints, like title words."""

TEXT_SCAN = 2_000
"""Characters of text (and of HTML, for embedded players) read for hints."""


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything about an entry that hints at its type, gathered by the parser."""

    kind: str = "article"
    title: str = ""
    text: str = ""
    url: str = ""
    guid: str = ""
    enclosure_type: str = ""
    enclosures: tuple[tuple[str, str], ...] = ()
    """Every enclosure (or JSON Feed attachment) as (URL, MIME type), in document order."""
    categories: tuple[str, ...] = ()
    has_podcast_tags: bool = False
    """itunes:duration / itunes:episode / podcast: namespace elements on the item."""
    has_audio_media: bool = False
    """media:content with an audio medium or type."""
    has_video_media: bool = False
    """media:content or media:group with a video medium or type."""
    has_event_data: bool = False
    """ev:startdate, xCal dtstart, iCalendar VEVENT or schema.org Event."""
    schema_types: tuple[str, ...] = ()
    """schema.org ``@type`` values of the item's JSON-LD, lower-cased."""
    html: str = ""
    """The item's HTML, read for embedded players."""


TITLE_LABELS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (item_type, re.compile(rf"^\s*[\[(]?\s*(?:{labels})\s*(?:[\])]|:|\s[-\u2013\u2014|])", re.I))
    for item_type, labels in (
        (
            "event",
            r"(?:live |free |online )?(?:webinar|workshop|meetup|conference|seminar|hackathon)"
            r"|live stream|livestream",
        ),
        ("course", r"(?:new |online |free )?course|mooc|bootcamp|masterclass"),
        ("video", r"video|screencast|watch"),
        ("book", r"book review|(?:new )?book"),
        ("paper", r"(?:new )?paper|preprint"),
    )
)
"""A title that opens with its type as a label ("Webinar: ...", "[Video] ...", "Book review -
..."): the publisher saying what the item is, which is evidence, not a mere word. Never a
podcast: "Episode 12:" without the audio is a post about an episode."""


def classify(signals: Signals) -> str:
    """One of :data:`aggregator.models.ITEM_TYPES` for an entry; ``article`` when nothing says
    otherwise."""
    return evidence(signals) or _labelled(signals) or _hinted(signals) or "article"


def _labelled(s: Signals) -> str:
    return next((t for t, pattern in TITLE_LABELS if pattern.search(s.title)), "")


def evidence(s: Signals) -> str:
    """The type the item's media, structured data or address prove, or ""."""
    if s.has_event_data:
        return "event"
    media = media_kind(s)
    if media == "audio":
        return "podcast"
    if media == "video" or s.has_video_media or VIDEO_HOSTS.search(_host(s.url)):
        return "video"
    if s.has_audio_media:
        return "podcast"
    for schema_type in s.schema_types:
        if schema_type in SCHEMA_TYPES:
            return SCHEMA_TYPES[schema_type]
    if PAPER_HOSTS.search(_host(s.url)) or PAPER_ID.search(f"{s.url} {s.guid}"):
        return "paper"
    return ""


def media_kind(s: Signals) -> str | None:
    """``audio`` or ``video`` for the first enclosure that is either, by MIME type or, when
    that says nothing, by extension; None without one."""
    enclosures = s.enclosures or ((("", s.enclosure_type),) if s.enclosure_type else ())
    for url, media_type in enclosures:
        found = enclosure_kind(url, media_type)
        if found:
            return found
    return None


def enclosure_kind(url: str, media_type: str) -> str:
    """``audio``, ``video`` or "" for one enclosure."""
    major = media_type.split("/", 1)[0].strip().lower()
    if major in ("audio", "video"):
        return major
    try:
        path = urlsplit(url).path.lower() if url else ""
    except ValueError:
        path = ""
    extension = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    if extension in AUDIO_EXTENSIONS:
        return "audio"
    if extension in VIDEO_EXTENSIONS:
        return "video"
    return ""


def hints(s: Signals) -> Counter[str]:
    """How many different hints name each type: title, categories, link path, text, kind."""
    found: Counter[str] = Counter()
    for hint in (_title(s), _category(s), _link_section(s), *_text(s)):
        if hint:
            found[hint] += 1
    kind = kind_hint(s.kind)
    if kind:
        found[kind] += 1
    if s.has_podcast_tags:
        found["podcast"] += 1
    return found


def _hinted(s: Signals) -> str:
    """A type two different hints agree on (a podcast only with the source's kind), else the
    kind hint alone."""
    kind = kind_hint(s.kind)
    agreed = [
        (count, item_type == kind, -HINT_ORDER.index(item_type), item_type)
        for item_type, count in hints(s).items()
        if count >= 2 and (item_type != "podcast" or kind == "podcast")
    ]
    if agreed:
        return max(agreed)[-1]
    return kind


HINT_ORDER = ("event", "course", "book", "paper", "video", "podcast")
"""Which of two types with as many hints wins, after the source's kind: the more specific."""


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""


def _title(s: Signals) -> str:
    for item_type, pattern in TITLE_RULES:
        if pattern.search(s.title):
            return item_type
    return ""


def _category(s: Signals) -> str:
    for category in s.categories:
        found = CATEGORY_TYPES.get(category.strip().casefold())
        if found:
            return found
    return ""


def _link_section(s: Signals) -> str:
    try:
        path = urlsplit(s.url).path if s.url else ""
    except ValueError:
        return ""
    segments = [segment.casefold() for segment in path.split("/")[:-1] if segment]
    return next((LINK_SECTIONS[seg] for seg in segments if seg in LINK_SECTIONS), "")


def _text(s: Signals) -> list[str]:
    """Each type the text hints at (at most one hint per type)."""
    text = f"{s.text[:TEXT_SCAN]}\n{s.html[:TEXT_SCAN]}"
    found = [item_type for item_type, pattern in TEXT_RULES if pattern.search(text)]
    if PAPER_ID.search(s.text[:TEXT_SCAN]):
        found.append("paper")
    return found
