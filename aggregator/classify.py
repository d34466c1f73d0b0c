"""What an item is (article, course, event, podcast, video, book, paper), from every signal it has.

Pure: :mod:`aggregator.parse` gathers the signals into :class:`Signals` and
this module weighs them. Strong, structured signals decide alone (an audio
enclosure is a podcast episode, an ``ev:startdate`` an event); words in the
title come next, the source's kind hint after them, because a course
catalogue also announces webinars and a blog sometimes reviews a book. A
person's explicit choice (``type =`` on a source, ``learnplace item
set-type``) is applied outside, before any of this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

KIND_ITEM_TYPES: dict[str, str] = {
    "podcast": "podcast",
    "video": "video",
    "papers": "paper",
    "courses": "course",
    "events": "event",
}
"""The type a source's kind hint in ``feeds.toml`` suggests when the item itself says nothing."""

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

CATEGORY_TYPES: dict[str, str] = {
    "event": "event",
    "events": "event",
    "webinar": "event",
    "webinars": "event",
    "meetup": "event",
    "conference": "event",
    "workshop": "event",
    "course": "course",
    "courses": "course",
    "mooc": "course",
    "podcast": "podcast",
    "podcasts": "podcast",
    "episode": "podcast",
    "video": "video",
    "videos": "video",
    "book": "book",
    "books": "book",
    "book review": "book",
    "paper": "paper",
    "papers": "paper",
    "preprint": "paper",
    "research paper": "paper",
}
"""A category (tag) that names a type outright."""


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


TITLE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "event",
        _words(
            # Singular on purpose: "Workshop: SQL" announces one, "checklist for workshops" is
            # an article about them.
            r"\b(webinar|workshop|conference|meetup|summit|hackathon|symposium)\b",
            r"\b(ask me anything|AMA|online session|live session|live stream|livestream)\b",
            r"\bcall for (papers|participants|proposals|speakers)\b",
            r"\b(Days|Con|Camp|Fest)\s+(19|20)\d\d\b",
            r"\b(join us|register now|save the date)\b",
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
        "podcast",
        _words(
            r"^\s*(ep\.?|episode|#)\s*\d+",
            r"\b(episode|podcast)\s*\d*\b",
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
            r"\bbooks? (on|about)\b",
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
"""Words in a title that say what the item is; the first type whose pattern matches wins."""

EVENT_CUE = re.compile(r"\b(when|date|starts?|begins?)\s*:\s*[^\n]{0,40}\d", re.IGNORECASE)
"""A labelled date in the text ("When: 15 June"): how event pages announce themselves."""


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything about an entry that hints at its type, gathered by the parser."""

    kind: str = "blog"
    title: str = ""
    text: str = ""
    url: str = ""
    guid: str = ""
    enclosure_type: str = ""
    categories: tuple[str, ...] = ()
    has_podcast_tags: bool = False
    """itunes:duration / itunes:episode / podcast: namespace elements on the item."""
    has_video_media: bool = False
    """media:content or media:group with a video medium or type."""
    has_event_data: bool = False
    """ev:startdate, xCal dtstart, iCalendar VEVENT or schema.org Event."""


def classify(signals: Signals) -> str:
    """One of :data:`aggregator.models.ITEM_TYPES` for an entry; ``article`` when nothing says
    otherwise."""
    for rule in (_structured, _title, _category, _text, _kind):
        found = rule(signals)
        if found:
            return found
    return "article"


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "") if url else ""
    except ValueError:
        return ""


def _structured(s: Signals) -> str:
    media = s.enclosure_type.lower()
    if s.has_event_data:
        return "event"
    if media.startswith("audio/") or (s.has_podcast_tags and not media.startswith("video/")):
        return "podcast"
    if media.startswith("video/") or s.has_video_media or VIDEO_HOSTS.search(_host(s.url)):
        return "video"
    if PAPER_HOSTS.search(_host(s.url)) or PAPER_ID.search(f"{s.url} {s.guid}"):
        return "paper"
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


def _text(s: Signals) -> str:
    if EVENT_CUE.search(s.text[:2000]):
        return "event"
    if PAPER_ID.search(s.text[:2000]):
        return "paper"
    return ""


def _kind(s: Signals) -> str:
    return KIND_ITEM_TYPES.get(s.kind, "")
