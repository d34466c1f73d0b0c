"""What one search may cost (finding 4): a query too long, a word too long, brackets too deep,
wildcards and ranges standing for too many words are refused with a clear error; ``*`` lists
everything the fast way; "did you mean" corrects a bounded number of words.

Times are not asserted (a shared machine makes them flaky): each refusal is checked to
happen, and benchmarks/hostile_queries.py measures what the accepted ones cost.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from aggregator.errors import QuerySyntaxError
from aggregator.search import WhooshIndex
from aggregator.search.queries import (
    MAX_EXPANDED_TERMS,
    MAX_QUERY_CHARS,
    MAX_QUERY_DEPTH,
    MAX_SUGGESTED_WORDS,
    MAX_WORD_CHARS,
)
from tests.integration.test_index import item

WORDS = [f"a{''.join(random.Random(n).choices('bcdefghijklmnop', k=6))}" for n in range(1500)]
"""1,500 distinct words starting with "a": ``a*`` stands for more than the limit."""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhooshIndex]:
    rng = random.Random(3)
    path = tmp_path_factory.mktemp("limits") / "index"
    with WhooshIndex.open(path) as opened:
        opened.add(
            item(
                n,
                f"{WORDS[n]} {' '.join(rng.sample(WORDS, 3))} python",
                text=" ".join(rng.sample(WORDS, 20)),
            )
            for n in range(1, 601)
        )
        yield opened


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("x" * 70_000, "a query of 70,000 characters"),
        ("python " * 200, f"at most {MAX_QUERY_CHARS:,}"),
        ("y" * (MAX_WORD_CHARS + 1), f"a word of {MAX_WORD_CHARS + 1} characters"),
        ("(" * (MAX_QUERY_DEPTH + 1) + "python" + ")" * (MAX_QUERY_DEPTH + 1), "nested more than"),
        ("python AND title:*", "title:* stands for every item"),
        ("a*", f"more than {MAX_EXPANDED_TERMS} words"),
        ("title:[a TO z]", f"more than {MAX_EXPANDED_TERMS} words"),
        ("published:[x TO y]", "cannot understand the query"),  # Whoosh raised a bare Exception
        ("published:[0 TO 99999999999999]", "cannot understand the query"),
    ],
)
def test_costly_queries_are_refused_with_a_clear_error(
    index: WhooshIndex, text: str, says: str
) -> None:
    with pytest.raises(QuerySyntaxError, match=says.replace("(", r"\(").replace("*", r"\*")):
        index.search(text)


def test_queries_within_the_limits_run(index: WhooshIndex) -> None:
    depth = MAX_QUERY_DEPTH
    assert index.search("(" * depth + "python" + ")" * depth).total == 600
    assert index.search(f"{WORDS[0][:5]}*").total > 0  # a narrow prefix is fine
    assert index.search("x" * MAX_WORD_CHARS).total == 0


@pytest.mark.parametrize("text", ["*", "*:*"])
def test_a_lone_star_lists_everything(index: WhooshIndex, text: str) -> None:
    page = index.search(text, limit=5, sort="date", facets=True)
    assert page.total == 600 and len(page.hits) == 5
    assert page.facets["type"] == {"article": 600}


def test_did_you_mean_corrects_a_bounded_number_of_words(index: WhooshIndex) -> None:
    typos = [word[:-1] + "z" for word in WORDS[1:13]]  # one letter off titles' words
    single = index.search(typos[0])
    assert single.total == 0 and single.suggestion == WORDS[1]
    page = index.search(" OR ".join(typos))
    assert page.total == 0 and page.suggestion is not None
    corrected = [a != b for a, b in zip(page.suggestion.split(" OR "), typos, strict=True)]
    assert sum(corrected) == MAX_SUGGESTED_WORDS
    assert index.search("z" * 40).suggestion is None  # too long to be a word worth correcting
