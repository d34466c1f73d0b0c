"""Ranking arithmetic, feedback, reasons and digest selection on plain data (no index, no store)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from aggregator.models import Item, Profile
from aggregator.rank import EXCLUDE_KEY, Ranked, blend, explain, plan, profile_queries
from aggregator.rank.analysis import analysed
from aggregator.rank.digest import build_digest
from aggregator.rank.feedback import Feedback, is_content_word, learn, moved
from aggregator.rank.model import Scores, fuse, hits, plain, rankings, universe
from aggregator.rank.reasons import interest_reasons, matched_fields
from aggregator.sanitize import html_to_text

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
        text=html_to_text(summary),
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


def scored(found: dict[tuple[str, ...], dict[int, float]]) -> Scores:
    """The index's answer for plain data: each query's matches as arrays."""
    return {key: hits(values) for key, values in found.items()}


def test_every_word_of_an_interest_is_asked_for_with_its_neighbour_pairs() -> None:
    chosen = plan(profile(exclude=("crypto",)))
    queries = profile_queries(profile(exclude=("crypto",)), chosen)
    assert {k for k in queries if k[0] == "term"} == {
        ("term", "onboard"),
        ("term", "learn"),
        ("term", "design"),
    }
    assert ("near", "title", "learn", "design", "1") in queries
    assert ("near", "summary", "learn", "design", "8") in queries
    assert ("tag", "learning design") in queries and EXCLUDE_KEY in queries


def test_interest_words_cannot_inject_query_syntax() -> None:
    chosen = plan(profile(interests={"sql OR NOT python": 1.0}))
    assert chosen.interests[0].terms == ("sql", "python")


def test_a_word_shared_by_interests_counts_once_at_the_weightier() -> None:
    chosen = plan(profile(interests={"testing": 3.0, "unit tests": 2.0, "pytest": 2.0}))
    assert chosen.term_weights() == {"test": 3.0, "unit": 2.0, "pytest": 2.0}


def test_words_alone_count_and_words_together_count_more() -> None:
    chosen = plan(profile(interests={"incident response planning": 1.0}))
    incident, response, planning = chosen.interests[0].terms
    words = {("term", incident): {1: 1.0, 2: 1.0}, ("term", planning): {1: 1.0, 2: 1.0}}
    together = {("near", "summary", incident, response, "8"): {2: 1.0}}
    found = scored({**words, **together})
    weighted, unweighted = rankings(chosen, found, universe(found))
    assert weighted[1] > weighted[0] > 0  # 1 found by its words alone, 2 also by a pair
    assert unweighted.tolist() == [2.0, 2.0]


def test_weights_shape_the_order_but_the_plain_ranking_holds_its_own() -> None:
    chosen = plan(profile(interests={"leadership": 3.0, "decision making": 1.0}))
    scores = scored(
        {
            ("term", "leadership"): {1: 1.0},
            ("term", "decis"): {2: 1.2, 3: 2.5},
            ("term", "make"): {2: 1.2, 3: 0.5},
        }
    )
    ids = universe(scores)
    weighted, unweighted = rankings(chosen, scores, ids)
    assert ids[weighted.argmax()] == 1  # the weightier interest leads
    assert plain(chosen, scores, ids).tolist() == unweighted.tolist()
    assert ids[unweighted.argmax()] == 3  # every word, each once
    fused = fuse([weighted, unweighted], 60)
    assert set(ids[fused.argsort()[::-1][:2]].tolist()) == {1, 3}


def test_fusion_ranks_ties_alike_and_leaves_non_matches_out() -> None:
    fused = fuse([np.array([2.0, 2.0, 1.0, 0.0]), np.array([0.0, 3.0, 3.0, 0.0])], 60)
    assert fused.tolist() == [1 / 61, 1 / 61 + 1 / 61, 1 / 63 + 1 / 61, 0.0]


def test_blend_drops_exclusions_types_and_sources_and_applies_preferences() -> None:
    items = {
        1: item(1),
        2: item(2, kind="podcast"),
        3: item(3, source="spam"),
        4: item(4),
        5: item(5, kind="course"),
    }
    chosen_profile = profile(types={"podcast": 0.0, "course": 3.0}, exclude_sources=("Spam",))
    chosen = plan(chosen_profile)
    scores = scored({("term", "onboard"): dict.fromkeys(items, 1.0), EXCLUDE_KEY: {4: 1.0}})
    ranked = blend(chosen_profile, chosen, scores, items)
    assert [r.item.id for r in ranked] == [5, 1]
    assert ranked[0].type_weight == 3.0 and ranked[0].matched == ("onboarding",)


def test_of_two_items_as_relevant_the_newer_comes_first() -> None:
    items = {1: item(1, days_old=10), 2: item(2, days_old=0)}
    chosen = plan(profile())
    ranked = blend(profile(), chosen, scored({("term", "onboard"): {1: 1.0, 2: 1.0}}), items)
    assert [r.item.id for r in ranked] == [2, 1]


def test_reasons_name_the_interest_and_where_or_which_of_its_words() -> None:
    it = item(1, "Onboarding new hires", summary="<p>Practical learning designs for teams</p>")
    assert matched_fields(it, "onboarding") == ["title"]
    assert matched_fields(it, "learning design") == ["summary"]
    assert matched_fields(it, "design learning") == []
    partial = item(2, "Planning for incidents", summary="<p>How a team responds</p>")
    assert interest_reasons(partial, ["incident response planning"]) == [
        "“incident response planning”: “incidents”, “planning” in title"
    ]
    both = item(3, "Learning design for onboarding", summary="<p>A learning culture</p>")
    assert interest_reasons(both, ["learning design", "learning culture", "design thinking"]) == [
        "“learning design” in title",
        "“learning culture” in summary",
    ]  # "design" of "design thinking" was told already


def test_explanations_are_readable() -> None:
    it = item(1, "Onboarding that sticks", kind="course", days_old=0)
    pick = explain(Ranked(it, 2.0, ("onboarding",), 1.5), NOW)
    assert pick.reasons[0] == "“onboarding” in title"
    assert "new today" in pick.reasons
    assert "preferred type: course (weight 1.5)" in pick.reasons
    older = explain(Ranked(item(2, "Onboarding", days_old=9), 1.0, ("onboarding",), 1.0), NOW)
    assert "older (9 days)" in older.reasons


@pytest.mark.parametrize(("word", "frequency"), [("five", 1), ("after", 2), ("what", 3)])
def test_function_words_are_never_learnt(word: str, frequency: int) -> None:
    assert not is_content_word(word, word, frequency, 1000)


def test_numbers_and_words_in_many_documents_are_never_learnt() -> None:
    assert not is_content_word("82", "82", 1, 1000)
    assert not is_content_word("time", "time", 170, 1000)  # in a sixth of the documents
    assert is_content_word("fatigu", "fatigue", 3, 1000)


def test_judgements_move_the_query_toward_liked_words_and_away_from_the_rest() -> None:
    liked = item(1, "Ep. 82 — Five streaming pipelines after the pager fatigue, what a time")
    disliked = item(2, "Crypto onboarding giveaways")
    judged = {1: liked, 2: disliked}
    chosen = plan(profile())
    rare = {analysed(w)[0]: 3 for w in ("fatigue", "pager", "streaming", "pipelines")}
    rare |= {analysed(w)[0]: 2 for w in ("crypto", "giveaways")}

    def lookup(terms: set[str]) -> tuple[dict[str, int], int]:
        return {t: rare.get(t, 150) for t in terms}, 1000  # the rest in 15% of documents

    feedback = learn(judged, {1: 1, 2: -1}, lookup, chosen)
    assert set(feedback.more) == {
        analysed(w)[0] for w in ("fatigue", "pager", "streaming", "pipelines")
    }
    assert set(feedback.less) == {analysed(w)[0] for w in ("crypto", "giveaways")}
    assert feedback.rejected == {2}
    weights = moved(chosen, feedback)
    assert weights.terms[analysed("fatigue")[0]] > 0 and "crypto" not in weights.terms
    assert weights.terms["onboard"] > weights.terms["design"]  # the profile's own weights stay


def test_feedback_reasons_use_the_items_own_words() -> None:
    other = item(2, "Pager fatigue in streaming teams", summary="<p>Idempotent consumers</p>")
    chosen = plan(profile())
    fatigue, pager = analysed("fatigue pager")
    feedback = Feedback(more={fatigue: 0.5, pager: 0.2})
    scores = scored({("term", "onboard"): {2: 1.0}, ("term", fatigue): {2: 1.0}})
    ranked = blend(profile(), chosen, scores, {2: other}, feedback, moved(chosen, feedback))
    reasons = explain(ranked[0], NOW).reasons
    assert "like items you wanted more of (fatigue, pager in title)" in reasons


def ranked(it: Item, score: float) -> Ranked:
    return Ranked(it, score, ("onboarding",), 1.0)


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
