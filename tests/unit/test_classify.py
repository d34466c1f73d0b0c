"""Item types from evidence: media and structured data decide; words only when two agree."""

from __future__ import annotations

import pytest

from aggregator.models import ITEM_TYPES
from aggregator.names import OLD_TYPE_NAMES, kind_hint
from aggregator.parse.registry import parse_feed
from aggregator.process.classify import (
    CATEGORY_TYPES,
    TITLE_RULES,
    Signals,
    classify,
    enclosure_kind,
)


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        # The source's kind hint decides when the item itself says nothing.
        (Signals(kind="podcast", title="Anything"), "podcast"),
        (Signals(kind="video", title="Anything"), "video"),
        (Signals(kind="paper", title="Anything"), "paper"),
        (Signals(kind="course", title="Anything"), "course"),
        (Signals(kind="event", title="Anything"), "event"),
        (Signals(kind="article", title="Anything"), "article"),
        # Media: by MIME type, else by the file's extension, on whichever enclosure has it.
        (Signals(title="Episode 12", enclosure_type="audio/mpeg"), "podcast"),
        (Signals(title="Demo", enclosure_type="video/mp4"), "video"),
        (Signals(enclosures=(("https://c.example/clip.wmv", ""),)), "video"),
        (
            Signals(enclosures=(("https://c.example/clip.wmv", "application/octet-stream"),)),
            "video",
        ),
        (
            Signals(enclosures=(("https://c.example/ep.mp3?x=1", "application/octet-stream"),)),
            "podcast",
        ),
        (
            Signals(
                enclosures=(
                    ("https://c.example/cover.jpg", "image/jpeg"),
                    ("https://c.example/talk.mp4", "video/mp4"),
                )
            ),
            "video",
        ),
        (Signals(title="Why SQLite is great", enclosure_type="image/png"), "article"),
        (Signals(title="Demo", has_video_media=True), "video"),
        (Signals(title="Demo", has_audio_media=True), "podcast"),
        (Signals(title="Demo", url="https://www.youtube.com/watch?v=x"), "video"),
        (Signals(title="Demo", url="https://youtu.be/x"), "video"),
        # Structured data and addresses.
        (Signals(title="Attention", url="https://arxiv.org/abs/1706.03762"), "paper"),
        (Signals(title="A study", url="https://doi.org/10.1000/182"), "paper"),
        (Signals(title="A study", guid="oai:arXiv.org:2401.01234"), "paper"),
        (Signals(kind="podcast", title="Show notes", has_event_data=True), "event"),
        (Signals(title="Intro to SQL", schema_types=("course",)), "course"),
        (Signals(title="Testing at Work", schema_types=("book",)), "book"),
        # A title that opens with its type as a label says what the item is.
        (Signals(title="Webinar: SQL window functions"), "event"),
        (Signals(title="[Video] Kafka in ten minutes"), "video"),
        (Signals(title="Book review: “Testing at Work” by Jane Doe"), "book"),
        (Signals(kind="course", title="Live webinar: SQL window functions"), "event"),
        # Words elsewhere are hints: two different ones must agree.
        (Signals(title="Free webinar on SQL"), "article"),
        (Signals(title="Free webinar on SQL", categories=("Webinars",)), "event"),
        (Signals(title="Free webinar on SQL", text="Register now: seats are limited."), "event"),
        (Signals(title="Data Meetup Berlin", url="https://m.example/events/42"), "event"),
        (Signals(kind="course", title="Live session: SQL window functions"), "course"),
        (Signals(kind="course", title="Live session: SQL", text="Register now!"), "event"),
        (Signals(title="Notes", text="When: 3 October 2026, 18:00 CET. Where: Online"), "article"),
        (Signals(title="Rust Bootcamp", kind="course"), "course"),
        (
            Signals(title="Flaky tests: an empirical study", text="DOI 10.1145/3368089.3409694"),
            "paper",
        ),
        (Signals(title="Of course it works"), "article"),
        (Signals(title="A checklist for expert workshops"), "article"),
    ],
)
def test_classify(signals: Signals, expected: str) -> None:
    assert classify(signals) == expected


@pytest.mark.parametrize(
    "signals",
    [
        # Issue 16, defect 8: a company blog's posts about its podcast, with no audio anywhere.
        Signals(title="Episode 12: Jane Doe on testing"),
        Signals(title="Ep. 42: our favourite tools", categories=("Podcast",)),
        Signals(title="Podcast: the year in review", categories=("podcast", "episodes")),
        # A category alone: a photo gallery tagged "Books", a how-to tagged "event".
        Signals(title="Holiday photos", categories=("Books",)),
        Signals(title="How to write a good changelog", categories=("event",)),
    ],
)
def test_words_alone_do_not_make_a_type(signals: Signals) -> None:
    assert classify(signals) == "article"


def test_episode_titles_in_a_podcast_source_are_podcasts() -> None:
    assert classify(Signals(kind="podcast", title="Show notes, no audio")) == "podcast"


@pytest.mark.parametrize(
    ("url", "media_type", "expected"),
    [
        ("https://x.example/a.wmv", "", "video"),
        ("https://x.example/a.WMV", "application/octet-stream", "video"),
        ("https://x.example/a.m4a", "", "audio"),
        ("https://x.example/a.mp4", "audio/mp4", "audio"),
        ("https://x.example/download?id=3", "video/quicktime", "video"),
        ("https://x.example/a.pdf", "application/pdf", ""),
        ("https://x.example/mp3/", "", ""),
    ],
)
def test_enclosure_kind(url: str, media_type: str, expected: str) -> None:
    assert enclosure_kind(url, media_type) == expected


def test_a_video_given_as_the_second_enclosure_is_kept_and_decides() -> None:
    """Defect 8: the first enclosure (a cover image) hid the video after it."""
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>
    <item><title>Conference keynote</title><link>https://c.example/keynote</link>
    <enclosure url="https://c.example/cover.jpg" type="image/jpeg" length="1"/>
    <enclosure url="https://c.example/keynote.wmv" type="application/octet-stream" length="1"/>
    </item></channel></rss>"""
    (entry,) = parse_feed(rss, {}, "https://c.example/feed").entries
    assert entry.item_type == "video"
    assert entry.enclosure_url == "https://c.example/keynote.wmv"


def test_classifier_only_produces_known_types() -> None:
    produced = (
        {kind_hint(kind) or "article" for kind in (*ITEM_TYPES, *OLD_TYPE_NAMES)}
        | set(CATEGORY_TYPES.values())
        | {item_type for item_type, _ in TITLE_RULES}
        | {"article"}
    )
    assert produced <= set(ITEM_TYPES)
