"""title_key: what counts as the same title on the same day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from aggregator.dedupe import title_key, title_words
from aggregator.rank import digest

MORNING = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_case_punctuation_quotes_and_spaces_do_not_matter():
    a = title_key("“Teaching SQL” — a field guide, part 2", MORNING)
    b = title_key('"teaching  sql": A Field-Guide (part 2)', MORNING + timedelta(hours=5))
    assert a == b == "teaching sql a field guide part 2|2026-11-30"


def test_the_day_is_the_utc_day():
    late_in_new_york = datetime(2026, 11, 29, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert title_key("Four words in title", late_in_new_york).endswith("|2026-11-30")


def test_short_titles_have_no_key():
    assert title_key("Weekly links #12", MORNING) == ""


def test_the_store_and_a_digest_tell_one_story_by_the_same_words():
    """One normalisation: a digest collapses exactly the copies the store would key together."""
    wide = "\uff34\uff45\uff41\uff43\uff48\uff49\uff4e\uff47_SQL: a field guide"  # full-width
    assert (
        title_words(wide)
        == title_words("teaching sql — A Field Guide")
        == "teaching sql a field guide"
    )
    assert title_key(wide, MORNING) == f"{title_words(wide)}|2026-11-30"
    assert digest.title_words is title_words
