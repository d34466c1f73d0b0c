"""The learning part of a profile, checked; the spacing schedule; the time budget."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config.files import parse_profile
from aggregator.errors import ConfigError
from aggregator.models import Details, Item, LearningRecord, Profile, Rule, Share
from aggregator.rank.blending import Ranked
from aggregator.rank.digest import build_digest
from aggregator.rank.learning import (
    MAX_REVISITS_A_DAY,
    REVISIT_DAYS,
    UNKNOWN_LENGTH_MINUTES,
    WORDS_PER_MINUTE,
    item_minutes,
    revisits,
    week_minutes,
)
from aggregator.rank.rules import matches

BASE = "[interests]\npython = 1\n"
MONDAY = datetime(2026, 11, 30, 12, tzinfo=UTC)


def item(n: int, title: str = "Title", **fields: object) -> Item:
    return Item(
        n,
        "https://s.example/feed",
        "Source",
        f"g{n}",
        f"https://s.example/{n}",
        "",
        title,
        "",
        "",
        str(fields.pop("text", "")),
        MONDAY,
        MONDAY,
        "article",
        **fields,  # type: ignore[arg-type]
    )


def test_searches_rules_and_goals_are_read() -> None:
    text = (
        "weekly_minutes = 60\ndigest_minutes = 30\n"
        + BASE
        + '[[search]]\nname = "Rust"\nquery = "rust async"\ntypes = ["video"]\n'
        + '[[rule]]\naction = "mute"\nwords = ["Webinar"]\n'
        + '[[rule]]\naction = "keep"\nfield = "author"\ncontains = "Ada"\n'
    )
    profile = parse_profile(text, Path("p/ana.toml"))
    assert (profile.weekly_minutes, profile.digest_minutes) == (60, 30)
    assert profile.searches[0].query == "rust async" and profile.searches[0].types == ("video",)
    assert profile.rules == (
        Rule("mute", "words", ("webinar",)),
        Rule("keep", "field", ("Ada",), field="author"),
    )


@pytest.mark.parametrize(
    ("extra", "line", "key", "says"),
    [
        ('[[rule]]\naction = "hide"\nwords = ["x"]\n', 4, "rule.action", "mute or keep"),
        ('[[rule]]\naction = "mute"\n', 3, "rule", "exactly one of"),
        (
            '[[rule]]\naction = "keep"\nfield = "colour"\ncontains = "x"\n',
            5,
            "rule.field",
            "one of",
        ),
        (
            '[[search]]\nname = "A"\nquery = "a"\ntypes = ["courses"]\n',
            6,
            "search.types",
            "unknown",
        ),
        ('[[search]]\nname = "A"\nqeury = "a"\n', 5, "search.qeury", "did you mean 'query'"),
    ],
)
def test_a_wrong_rule_or_search_names_file_line_and_key(
    extra: str, line: int, key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_profile(BASE + extra, Path("p/ana.toml"))
    assert (raised.value.path, raised.value.line, raised.value.key) == ("p/ana.toml", line, key)
    assert says in raised.value.message


def test_rules_match_words_whole_phrases_sources_and_fields() -> None:
    it = item(1, "Webinars about Rust", text="async rust in practice", author="Ada Lovelace")
    assert not matches(Rule("mute", "words", ("webinar",)), it)  # whole words only
    assert matches(Rule("mute", "words", ("webinars",)), it)
    assert matches(Rule("mute", "phrase", ("Rust in practice",)), it)
    assert matches(Rule("mute", "source", ("source",)), it)
    assert matches(Rule("keep", "field", ("lovelace",), field="author"), it)


def test_an_item_comes_back_on_its_days_two_a_day_at_most() -> None:
    items = {n: item(n) for n in range(1, 5)}
    records = [LearningRecord("ana", n, MONDAY, 10, f"note {n}") for n in range(1, 4)]
    shares = [Share("ana", 4, "shared note", MONDAY)]
    first = MONDAY.date() + timedelta(days=REVISIT_DAYS[0])
    back = revisits("ana", records, shares, items, first)
    assert len(back) == MAX_REVISITS_A_DAY
    assert all(r.step == 0 and r.note.endswith("note " + str(r.item.id)) for r in back[:1])
    assert revisits("ana", records, shares, items, first - timedelta(days=1)) == ()
    later = [
        revisits("ana", records, shares, items, MONDAY.date() + timedelta(days=d))
        for d in REVISIT_DAYS[1:]
    ]
    assert all(r.step > 0 for found in later for r in found)


def test_week_minutes_count_from_monday() -> None:
    records = [
        LearningRecord("ana", 1, MONDAY - timedelta(days=1), 50),
        LearningRecord("ana", 2, MONDAY, 20),
        LearningRecord("ana", 3, MONDAY + timedelta(days=2), 15),
    ]
    assert week_minutes(records, date(2026, 12, 2)) == 35
    assert Profile("ana", "Ana", {}).weekly_minutes is None


def test_digest_minutes_fit_the_picks_into_the_budget_passing_long_items_over() -> None:
    words = " ".join(["word"] * WORDS_PER_MINUTE)

    def timed(n: int, minutes: int, kind: str = "article", seconds: int | None = None) -> Ranked:
        found = dataclasses.replace(
            item(n, f"Item {n}", text=" ".join([words] * minutes)),
            source_url=f"https://s{n}.example/feed",  # one each: the source cap stays out of it
            item_type=kind,
            details=Details(duration_s=seconds),
        )
        return Ranked(found, 10.0 - n, ("python",), 1.0)

    ranked = [
        timed(1, 12),  # 12 of 20: 8 left
        timed(2, 10),  # longer than what is left: passed over
        timed(3, 0, "podcast"),  # no length given: counts as half an hour, passed over
        timed(4, 0, "podcast", seconds=300),  # 5 minutes: 3 left
        timed(5, 3),  # 0 left
        timed(6, 1),  # nothing left
    ]
    budgeted = Profile("ada", "Ada", {"python": 1.0}, digest_size=10, digest_minutes=20)
    digest = build_digest(budgeted, MONDAY.date(), ranked, set(), MONDAY)
    assert [pick.item.id for pick in digest.picks] == [1, 4, 5]
    assert sum(item_minutes(pick.item) for pick in digest.picks) == 20
    assert item_minutes(ranked[2].item) == UNKNOWN_LENGTH_MINUTES
    unbudgeted = dataclasses.replace(budgeted, digest_minutes=None)
    everything = build_digest(unbudgeted, MONDAY.date(), ranked, set(), MONDAY)
    assert [pick.item.id for pick in everything.picks] == [1, 2, 3, 4, 5, 6]
