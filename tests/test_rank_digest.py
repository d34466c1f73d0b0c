"""Ranking arithmetic and digest selection on plain data (no index, no store)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aggregator.digest import build_digest
from aggregator.models import Item, Profile
from aggregator.rank import (
    EXCLUDE_KEY,
    MORE_KEY,
    Feedback,
    Ranked,
    blend,
    expansion_terms,
    explain,
    matched_fields,
    profile_queries,
    recency_factor,
)

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def item(
    item_id: int,
    title: str = "",
    *,
    source: str = "a",
    days_old: float = 1,
    kind: str = "article",
    summary: str = "",
) -> Item:
    published = NOW - timedelta(days=days_old)
    return Item(
        id=item_id,
        source_url=f"https://{source}.example/feed",
        source_name=source.upper(),
        guid=str(item_id),
        url=f"https://{source}.example/{item_id}",
        canonical_url=f"https://{source}.example/{item_id}",
        title=title or f"Item {item_id}",
        summary=summary,
        content="",
        text=summary,
        published=published,
        first_seen=published,
        item_type=kind,
    )


def profile(**changes: object) -> Profile:
    base: dict[str, object] = {
        "name": "ada",
        "display_name": "Ada",
        "interests": {"onboarding": 2.0, "learning design": 1.0},
        "digest_size": 3,
    }
    base.update(changes)
    return Profile(**base)  # type: ignore[arg-type]


def test_profile_queries_cover_interests_and_exclusions() -> None:
    queries = profile_queries(profile(exclude=("crypto",)))
    assert set(queries) == {"onboarding", "learning design", EXCLUDE_KEY}
    assert "learning design" in str(queries["learning design"]).replace('"', "")


def test_interest_words_cannot_inject_query_syntax() -> None:
    queries = profile_queries(profile(interests={"sql OR NOT python": 1.0}))
    text = str(queries["sql OR NOT python"])
    assert "NOT" not in text
    assert "sql" in text and "python" in text


def test_blend_weights_interests_and_drops_exclusions() -> None:
    items = {1: item(1), 2: item(2), 3: item(3)}
    scores = {
        "onboarding": {1: 1.0, 2: 1.0},
        "learning design": {2: 1.0, 3: 5.0},
        EXCLUDE_KEY: {3: 1.0},
    }
    ranked = blend(profile(), scores, items, NOW)
    assert [r.item.id for r in ranked] == [2, 1]
    assert ranked[0].matched == ("onboarding", "learning design")


def test_blend_prefers_recent_and_preferred_types() -> None:
    items = {
        1: item(1, days_old=12),
        2: item(2, days_old=0),
        3: item(3, kind="course", days_old=12),
    }
    scores = {"onboarding": {1: 1.0, 2: 1.0, 3: 1.0}}
    ranked = blend(profile(types={"course": 3.0}), scores, items, NOW)
    assert [r.item.id for r in ranked] == [3, 2, 1]


def test_type_weight_zero_and_excluded_sources_remove_items() -> None:
    items = {1: item(1, kind="podcast"), 2: item(2, source="spam"), 3: item(3)}
    scores = {"onboarding": {1: 1.0, 2: 1.0, 3: 1.0}}
    ranked = blend(profile(types={"podcast": 0.0}, exclude_sources=("Spam",)), scores, items, NOW)
    assert [r.item.id for r in ranked] == [3]


def test_recency_decays_to_floor() -> None:
    fresh = recency_factor(NOW, NOW, 14)
    old = recency_factor(NOW - timedelta(days=14), NOW, 14)
    ancient = recency_factor(NOW - timedelta(days=400), NOW, 14)
    assert fresh == 1.0
    assert fresh > old > ancient >= 0.35


def test_matched_fields_use_stemming_and_phrases() -> None:
    it = item(1, "Onboarding new hires", summary="<p>Practical learning designs for teams</p>")
    assert matched_fields(it, "onboarding") == ["title"]
    assert matched_fields(it, "learning design") == ["summary"]
    assert matched_fields(it, "design learning") == []


def ranked(it: Item, score: float) -> Ranked:
    return Ranked(it, score, ("onboarding",), 1.0, 1.0)


def test_digest_skips_sent_items_and_duplicate_titles() -> None:
    candidates = [
        ranked(item(1, "Same story"), 9),
        ranked(item(2, "Same  story!", source="b"), 8),
        ranked(item(3, source="c"), 7),
        ranked(item(4, source="d"), 6),
        ranked(item(5, source="e"), 5),
    ]
    digest = build_digest(profile(), date(2026, 11, 30), candidates, {3}, NOW)
    assert [p.item.id for p in digest.picks] == [1, 4, 5]


def test_digest_limits_one_source_unless_short() -> None:
    many = [ranked(item(i), 10 - i) for i in range(1, 6)]
    other = [ranked(item(9, source="b"), 0.5)]
    digest = build_digest(profile(digest_size=4), date(2026, 11, 30), many + other, set(), NOW)
    ids = [p.item.id for p in digest.picks]
    assert 9 in ids
    assert len(ids) == 4
    assert ids == sorted(ids, key=[c.item.id for c in many + other].index)


def test_explanations_are_readable() -> None:
    it = item(1, "Onboarding that sticks", kind="course", days_old=0)
    pick = explain(Ranked(it, 2.0, ("onboarding",), 1.0, 1.5), NOW)
    assert pick.reasons[0] == "“onboarding” in title"
    assert "new today" in pick.reasons
    assert "preferred type: course (weight 1.5)" in pick.reasons


def test_feedback_reasons_use_the_items_own_words() -> None:
    liked = item(1, "Ep. 82 — Streaming pipelines without the pager fatigue")
    other = item(2, "Pager fatigue in streaming teams", summary="<p>Idempotent consumers</p>")
    feedback = Feedback(
        more=expansion_terms([liked], profile(), {"fatigu": 3, "82": 1}, 100, min_items=1)
    )
    assert "82" not in feedback.more  # an episode number teaches nothing
    scores = {"onboarding": {2: 1.0}, MORE_KEY: {2: 1.0}}
    ranked = blend(profile(), scores, {2: other}, NOW, feedback)
    reasons = explain(ranked[0], NOW).reasons
    assert "like items you wanted more of (fatigue)" in reasons


def test_interests_sharing_a_word_do_not_count_it_twice() -> None:
    both = item(1, "Unit testing with mock")
    one = item(2, "Pytest fixtures")
    chosen = profile(interests={"testing": 3.0, "unit tests": 2.0, "pytest": 2.0})
    scores = {"testing": {1: 1.0}, "unit tests": {1: 1.0}, "pytest": {2: 1.6}}
    ranked = blend(chosen, scores, {1: both, 2: one}, NOW)
    assert [r.item.id for r in ranked] == [2, 1]  # 3.2 beats 3.0, not 3.0 + 2.0
    assert ranked[1].matched == ("testing", "unit tests")  # both still named in the reasons


def test_interests_naming_different_things_both_count() -> None:
    talk = item(1, "Deep learning for machine learning engineers")
    chosen = profile(interests={"machine learning": 1.0, "deep learning": 1.0})
    scores = {"machine learning": {1: 1.0}, "deep learning": {1: 1.0}}
    ranked = blend(chosen, scores, {1: talk}, NOW)[0]
    assert ranked.score == 2.0 * ranked.recency
