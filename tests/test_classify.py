"""Item types from signals: structured ones decide, then title words, categories, text, kind."""

from __future__ import annotations

import pytest

from aggregator.classify import CATEGORY_TYPES, KIND_ITEM_TYPES, TITLE_RULES, Signals, classify
from aggregator.models import ITEM_TYPES


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        # The source's kind hint decides only when the item itself says nothing.
        (Signals(kind="podcast", title="Anything"), "podcast"),
        (Signals(kind="video", title="Anything"), "video"),
        (Signals(kind="papers", title="Anything"), "paper"),
        (Signals(kind="courses", title="Anything"), "course"),
        (Signals(kind="events", title="Anything"), "event"),
        (Signals(kind="courses", title="Live webinar: SQL window functions"), "event"),
        (Signals(kind="blog", title="Anything"), "article"),
        # Structured signals.
        (Signals(title="Episode 12", enclosure_type="audio/mpeg"), "podcast"),
        (Signals(title="Demo", has_podcast_tags=True), "podcast"),
        (Signals(title="Demo", enclosure_type="video/mp4"), "video"),
        (Signals(title="Demo", has_video_media=True), "video"),
        (Signals(title="Demo", url="https://www.youtube.com/watch?v=x"), "video"),
        (Signals(title="Demo", url="https://youtu.be/x"), "video"),
        (Signals(title="Attention", url="https://arxiv.org/abs/1706.03762"), "paper"),
        (Signals(title="A study", url="https://doi.org/10.1000/182"), "paper"),
        (Signals(title="A study", guid="oai:arXiv.org:2401.01234"), "paper"),
        (Signals(title="A study", text="See arXiv:2401.01234 for details."), "paper"),
        (Signals(kind="podcast", title="Show notes", has_event_data=True), "event"),
        # Title words.
        (Signals(title="Free webinar on SQL"), "event"),
        (Signals(title="PyCon Summit 2026"), "event"),
        (Signals(title="Data Meetup Berlin"), "event"),
        (Signals(title="Ask me anything: pytest (Hooli)"), "event"),
        (Signals(title="New MOOC: statistics"), "course"),
        (Signals(title="Rust Bootcamp"), "course"),
        (Signals(title="Cloud certificate programme"), "course"),
        (Signals(title="Of course it works"), "article"),
        (Signals(title="A checklist for expert workshops"), "article"),
        (Signals(title="Ep. 42: Jane Doe on testing"), "podcast"),
        (Signals(title="Kafka explained in 10 minutes"), "video"),
        (Signals(title="Book review: “Testing at Work” by Jane Doe"), "book"),
        (Signals(title="Flaky tests: an empirical study"), "paper"),
        (Signals(title="Why SQLite is great", enclosure_type="image/png"), "article"),
        # Categories, then text.
        (Signals(title="Notes", categories=("Uncategorized", "Webinar")), "event"),
        (Signals(title="Notes", categories=("Books",)), "book"),
        (Signals(title="Notes", text="When: 3 October 2026, 18:00 CET. Where: Online"), "event"),
    ],
)
def test_classify(signals: Signals, expected: str) -> None:
    assert classify(signals) == expected


def test_classifier_only_produces_known_types() -> None:
    produced = (
        set(KIND_ITEM_TYPES.values())
        | set(CATEGORY_TYPES.values())
        | {item_type for item_type, _ in TITLE_RULES}
    )
    assert produced <= set(ITEM_TYPES)
