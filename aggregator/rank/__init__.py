"""Ranking: a profile's interests and judgements become a ranked list with reasons.

    plan (model) -> index scores -> relevance (model) -> blend -> digest -> explain

:mod:`~aggregator.rank.model` says how relevance is computed and why;
:mod:`~aggregator.rank.feedback` what judgements teach; :mod:`~aggregator.rank.blending`
how recency and preferences enter; :mod:`~aggregator.rank.reasons` the reasons;
:mod:`~aggregator.rank.choose` runs them over the index for one profile.
"""

from aggregator.rank.blending import EXCLUDE_KEY, Ranked, blend, personalize, profile_queries
from aggregator.rank.choose import choose_digest, rank_items, rank_profile
from aggregator.rank.feedback import Feedback
from aggregator.rank.model import DEFAULT_MODEL, TUNED, TUNED_FEEDBACK, RankingModel, plan
from aggregator.rank.reasons import explain

__all__ = [
    "DEFAULT_MODEL",
    "EXCLUDE_KEY",
    "TUNED",
    "TUNED_FEEDBACK",
    "Feedback",
    "Ranked",
    "RankingModel",
    "blend",
    "choose_digest",
    "explain",
    "personalize",
    "plan",
    "profile_queries",
    "rank_items",
    "rank_profile",
]
