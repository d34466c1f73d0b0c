"""The Whoosh index against real index directories under tmp_path."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import pytest
import whoosh.index
from whoosh import query, scoring
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup
from whoosh.util.numeric import byte_to_length, length_to_byte

from aggregator.errors import IndexSchemaError, QuerySyntaxError, SearchIndexError
from aggregator.models import Item
from aggregator.search import Near, SearchPage, WhooshIndex, document, postings, schema, storage
from aggregator.search import index as index_module
from aggregator.search.engine import matching_docs
from aggregator.search.postings import block_ids
from aggregator.search.schema import SCHEMA, TEXT_FIELDS

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def item(item_id: int, title: str, **overrides: object) -> Item:
    fields: dict[str, object] = {
        "id": item_id,
        "source_url": "https://blog.example/feed.xml",
        "source_name": "Example Blog",
        "guid": f"g{item_id}",
        "url": f"https://blog.example/{item_id}",
        "canonical_url": f"https://blog.example/{item_id}",
        "title": title,
        "summary": "",
        "content": "",
        "text": "",
        "published": NOW - timedelta(days=1),
        "first_seen": NOW,
        "item_type": "article",
    }
    fields.update(overrides)
    return Item(**fields)  # type: ignore[arg-type]


ITEMS = [
    item(1, "Learning Rust the hard way", text="Ownership and borrowing explained."),
    item(
        2,
        "Weekly notes",
        summary='<p>A new <strong class="hot">kubernetes</strong> course &amp; workshop</p>',
        tags=("cloud", "devops"),
        item_type="course",
    ),
    item(3, "Machine learning in production", text="Feature stores and model serving."),
    item(4, "Production machine notes", text="Learning about machines in production."),
    item(5, "Old post about Rust", published=NOW - timedelta(days=60)),
]


@pytest.fixture
def index(tmp_path: Path) -> Iterator[WhooshIndex]:
    with WhooshIndex.open(tmp_path / "index") as opened:
        assert opened.add(ITEMS) == len(ITEMS)
        yield opened


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Posting blocks of a few postings, so a small index has words spanning many blocks."""
    monkeypatch.setattr(postings, "BLOCK_POSTINGS", 16)
    return 16


def ids(page: SearchPage) -> list[int]:
    return [hit.item_id for hit in page.hits]


def test_open_creates_the_directory_and_an_empty_index(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "index"
    with WhooshIndex.open(path) as index:
        assert index.doc_count() == 0
        assert index.ids() == set()
        assert index.search("anything").hits == ()
    assert path.is_dir()


def test_adding_the_same_id_twice_replaces_the_document(index: WhooshIndex) -> None:
    assert index.doc_count() == 5
    index.add([item(1, "Rewritten title about Haskell")])
    assert index.doc_count() == 5
    assert index.ids() == {1, 2, 3, 4, 5}
    assert ids(index.search("haskell")) == [1]
    assert 1 not in ids(index.search("ownership"))


def test_search_by_title_word_and_by_summary_text(index: WhooshIndex) -> None:
    assert set(ids(index.search("rust"))) == {1, 5}
    assert ids(index.search("kubernetes")) == [2]
    # Summary markup is not indexed as words.
    assert index.search("strong").hits == ()
    assert index.search("hot").hits == ()
    assert ids(index.search("tags:devops")) == [2]
    assert ids(index.search("type:course")) == [2]


def test_the_body_is_indexed_once_beside_its_summary(tmp_path: Path) -> None:
    """A body that begins with the summary adds only what follows it; every word stays findable."""
    summary = "<p>Cooking   with <b>Rust</b></p>"
    fields = document(item(1, "Notes", summary=summary, text="Cooking with Rust"))
    assert (fields["summary"], fields["body"]) == ("Cooking with Rust", "")
    assert document(item(1, "Notes", summary=summary, text="Other words"))["body"] == "Other words"
    with WhooshIndex.open(tmp_path / "index") as index:
        index.add([item(1, "Notes", summary=summary, text="Cooking with Rust and Python today")])
        assert ids(index.search("summary:rust")) == [1]
        assert index.search("body:rust").hits == ()  # counted once, in the summary
        assert ids(index.search("body:python")) == [1]
        # ``content:`` and ``text:`` are the body's other names in the query language.
        assert ids(index.search("content:python")) == ids(index.search("text:python")) == [1]
        assert ids(index.search("rust python")) == [1]


def test_stemming_matches_word_forms(index: WhooshIndex) -> None:
    assert {1, 3, 4} <= set(ids(index.search("learn")))
    assert 4 in ids(index.search("machines"))


def test_all_words_must_match_by_default(index: WhooshIndex) -> None:
    assert ids(index.search("rust ownership")) == [1]
    assert set(ids(index.search("rust OR ownership"))) == {1, 5}


def test_a_title_match_outranks_a_body_match(tmp_path: Path) -> None:
    with WhooshIndex.open(tmp_path / "boost") as index:
        index.add(
            [
                item(1, "Unrelated notes", text="graphql appears only here, in the body text"),
                item(2, "GraphQL basics", text="an introduction for busy people"),
            ]
        )
        hits = index.search("graphql").hits
    assert [hit.item_id for hit in hits] == [2, 1]
    assert hits[0].score > hits[1].score > 0


def test_phrase_query_needs_adjacent_words(index: WhooshIndex) -> None:
    assert ids(index.search('"machine learning"')) == [3]
    assert set(ids(index.search("machine learning"))) == {3, 4}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('"machine learning', "unclosed quote"),
        ("(rust OR go", "never closed"),
        ("rust)", "without a matching"),
        ("published:[garbage TO 2020]", "dates look like"),
    ],
)
def test_malformed_query_is_a_clear_error(index: WhooshIndex, text: str, says: str) -> None:
    with pytest.raises(QuerySyntaxError, match=says) as raised:
        index.search(text)
    assert isinstance(raised.value, ValueError)


def test_delete_removes_documents(index: WhooshIndex) -> None:
    index.delete([1, 5])
    assert index.ids() == {2, 3, 4}
    assert index.doc_count() == 3
    assert index.search("rust").hits == ()


def test_reopen_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "index"
    with WhooshIndex.open(path) as index:
        index.add(ITEMS)
    with WhooshIndex.open(path) as index:
        assert index.doc_count() == len(ITEMS)
        assert ids(index.search('"machine learning"')) == [3]


def profile_query(text: str) -> query.Query:
    return MultifieldParser(list(TEXT_FIELDS), SCHEMA, group=OrGroup).parse(text)


def test_score_queries_per_key_with_since_window(index: WhooshIndex) -> None:
    queries = {"rust": profile_query("rust"), "ml": profile_query('"machine learning"')}
    everything = index.score_queries(queries)
    assert set(everything["rust"]) == {1, 5}
    assert set(everything["ml"]) == {3}
    assert all(score > 0 for score in everything["rust"].values())

    recent = index.score_queries(queries, since=NOW - timedelta(days=7))
    assert set(recent["rust"]) == {1}
    assert set(recent["ml"]) == {3}


def test_score_queries_with_an_empty_window_matches_nothing(index: WhooshIndex) -> None:
    result = index.score_queries({"rust": profile_query("rust")}, since=NOW + timedelta(days=1))
    assert result == {"rust": {}}


def test_searcher_sees_items_added_after_a_search(index: WhooshIndex) -> None:
    assert index.search("haskell").hits == ()
    index.add([item(6, "Haskell for beginners")])
    assert ids(index.search("haskell")) == [6]
    assert set(index.score_queries({"h": profile_query("haskell")})["h"]) == {6}


def test_empty_index_scores_nothing(tmp_path: Path) -> None:
    with WhooshIndex.open(tmp_path / "empty") as index:
        assert index.score_queries({"x": profile_query("rust")}, since=NOW) == {"x": {}}


def test_score_queries_equal_whooshs_own_search_across_segments_and_deletions(
    tmp_path: Path,
    small_blocks: int,
) -> None:
    """Leaf-by-leaf scoring with the window skip must give exactly what Whoosh's search gives."""
    with WhooshIndex.open(tmp_path / "index") as index:
        for day in range(6):  # one commit per day: several segments, newest last
            index.add(
                [
                    item(
                        day * 10 + n,
                        f"Machine learning notes {n}" if n % 2 else f"Rust and learning {n}",
                        text="machine learning in production " * n,
                        published=NOW - timedelta(days=30 - day * 5),
                    )
                    for n in range(1, 5)
                ]
            )
        index.delete([52, 13])
        since = NOW - timedelta(days=12)
        q = query.Or(
            [
                query.Phrase("title", ["machin", "learn"], boost=3.0),
                query.Term("body", "learn"),
                query.Or([query.Term("title", "rust", boost=2.0), query.Term("summary", "rust")]),
            ]
        )
        ours = index.score_queries({"q": q}, since=since)["q"]
        searcher = index._current()
        window = query.DateRange("published", since.replace(tzinfo=None), None)
        expected = {
            int(searcher.stored_fields(docnum)["id"]): score
            for score, docnum in searcher.search(q, limit=None, filter=window).top_n
        }
        assert set(ours) == set(expected) and 52 not in ours and 11 not in ours
        assert ours == pytest.approx(expected)
        assert index.score_queries({"q": q}, since=since)["q"] == ours  # from the cache


def _pair_counts(text: str, first: str, second: str, window: int) -> int:
    """How often ``first`` has ``second`` after it (window 1) or within ``window`` either side."""
    tokens = [t.text for t in SCHEMA["title"].analyzer(text)]
    where = [i for i, t in enumerate(tokens) if t == second]
    return sum(
        1
        for i, token in enumerate(tokens)
        if token == first
        and any((j == i + 1) if window == 1 else 0 < abs(j - i) < window for j in where)
    )


@pytest.mark.parametrize("window", [1, 3])
def test_near_scores_a_pair_as_a_word_of_its_own(
    tmp_path: Path, small_blocks: int, window: int
) -> None:
    """Pairs in order and out of order, across segments, blocks and deletions, against a
    count by hand and Whoosh's own bm25() with the pair's document frequency in the window."""
    titles = [
        "unit tests for every unit",
        "tests of a unit",
        "unit and integration tests",
        "testing units with mocks",
        "a unit, then a long gap before any tests at all",
    ]
    with WhooshIndex.open(tmp_path / "index") as index:
        for day in range(4):  # one commit per day: several segments, newest last
            index.add(
                item(day * 10 + n, title, published=NOW - timedelta(days=20 - day * 5))
                for n, title in enumerate(titles, start=1)
            )
        index.delete([33])
        since = NOW - timedelta(days=12)
        pair = Near("title", "unit", "test", window)
        ours = index.score_queries({"p": pair}, since=since)["p"]
        searcher = index._current()
        window_docs = {
            int(searcher.stored_fields(d)["id"]): d
            for d in searcher.docs_for_query(
                query.DateRange("published", since.replace(tzinfo=None), None)
            )
        }
        counts = {
            item_id: _pair_counts(titles[item_id % 10 - 1], "unit", "test", window)
            for item_id in window_docs
        }
        holding = {item_id: c for item_id, c in counts.items() if c}
        assert set(ours) == set(holding) and 33 not in ours
        idf = math.log(len(window_docs) / (len(holding) + 1)) + 1
        avgfl = searcher.avg_field_length("title")
        expected = {
            item_id: scoring.bm25(
                idf,
                count,
                byte_to_length(
                    length_to_byte(searcher.doc_field_length(window_docs[item_id], "title"))
                ),
                avgfl,
                schema.BM25_B,
                schema.BM25_K1,
            )
            for item_id, count in holding.items()
        }
        assert ours == pytest.approx(expected)
        hits = index.search("unit", limit=50).hits
        assert index.score_docs({"p": pair}, hits)["p"].keys() == {
            hit.item_id
            for hit in hits
            if _pair_counts(titles[hit.item_id % 10 - 1], "unit", "test", window)
        }


# Whoosh leaves the table of contents open when it cannot unpickle it.
@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
@pytest.mark.parametrize("earlier", ["content field", "Whoosh's positions", "unknown classes"])
def test_an_index_of_an_earlier_schema_is_recreated_or_refused(
    tmp_path: Path, earlier: str, whooshs_schema: Schema
) -> None:
    """Before the body lost its summary the field was ``content``; before positions were plain
    integers they were Whoosh's pickles; a later version may pickle classes this one lacks.
    None of these indexes is read."""
    schema, fields, problem = {
        "content field": (
            Schema(id=ID(stored=True, unique=True), content=TEXT()),
            {"content": "old words"},
            "the index has fields",
        ),
        "Whoosh's positions": (
            whooshs_schema,
            {"title": "old words"},
            "the index stores body, source, summary, title in an earlier format",
        ),
        "unknown classes": (
            Schema(id=ID(stored=True, unique=True), content=TEXT()),
            {"content": "old words"},
            "written by another version",
        ),
    }[earlier]
    path = tmp_path / "index"
    path.mkdir()
    writer = whoosh.index.create_in(str(path), schema).writer()
    writer.add_document(id="1", **fields)
    writer.commit()
    if earlier == "unknown classes":  # as a later version's format class would read here
        toc = next(path.glob("_MAIN_*.toc"))
        toc.write_bytes(toc.read_bytes().replace(b"whoosh.fields", b"whoosh.later0"))
    with pytest.raises(IndexSchemaError, match=f"{problem}.*rebuilds it from the store"):
        WhooshIndex.open(path)
    with WhooshIndex.open(path, recreate_if_stale=True) as index:
        assert index.doc_count() == 0
        index.add([item(1, "Notes", text="new words")])
        assert ids(index.search('content:"new words"')) == [1]


def test_many_items_are_written_as_segments_by_worker_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PARALLEL_MIN_DOCS, workers write segments: the same documents and answers."""
    monkeypatch.setattr(index_module, "PARALLEL_MIN_DOCS", 2)
    monkeypatch.setattr(storage, "SMALL_SEGMENT_DOCS", 2)
    many = [
        item(n, f"Rust notes {n}", text=f"ownership part {n}", published=NOW - timedelta(hours=n))
        for n in range(101, 112)
    ]
    with WhooshIndex.open(tmp_path / "serial") as serial:
        serial.apply([(ITEMS, ()), (many, ())])  # the first batch goes in before the threshold
        expected = serial.search("rust", limit=50)
    with WhooshIndex.open(tmp_path / "index") as index:
        assert index.apply([(ITEMS[:1], ()), (many[:1] + ITEMS[1:], ()), (many[1:], ())]) == 16
        segments = list((tmp_path / "index").glob("*.seg"))
        assert len(segments) > 1, "workers wrote segments of their own"
        assert index.doc_count() == 16 and index.ids() == {item.id for item in ITEMS + many}
        page = index.search("rust", limit=50)
        assert ids(page) == ids(expected) and page.total == expected.total
        # Replacing and deleting reach documents in the workers' segments.
        index.apply([([item(103, "Go notes", text="goroutines")], [104])])
        assert 103 not in ids(index.search("rust", limit=50)) and ids(index.search("go")) == [103]
        assert index.doc_count() == 15 and 104 not in index.ids()
        # A small daily commit leaves the large segments alone.
        assert set(segments) <= set((tmp_path / "index").glob("*.seg"))
    assert not list((tmp_path / "index").glob("*.tmp")), "no temporary files are left behind"


_KILLED_WRITER = """
import sys
from datetime import UTC, datetime
from pathlib import Path

from aggregator.search import index
from aggregator.models import Item

index.PARALLEL_MIN_DOCS = 50
now = datetime(2026, 11, 30, tzinfo=UTC)
items = [
    Item(id=n, source_url="https://a.example/feed", source_name="A", guid=str(n),
         url=f"https://a.example/{n}", canonical_url=f"https://a.example/{n}",
         title=f"Notes {n} on testing", summary="", content="", text="words " * 50,
         published=now, first_seen=now, item_type="article")
    for n in range(int(sys.argv[2]), int(sys.argv[2]) + 1500)
]
with index.WhooshIndex.open(Path(sys.argv[1])) as opened:
    opened.add(items)
"""


def test_a_kill_while_workers_write_segments_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "index"

    def writer(first_id: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", _KILLED_WRITER, str(path), str(first_id + 1)],
            start_new_session=True,  # the kill takes the workers with it
        )

    assert writer(0).wait() == 0
    count = 1500
    rng = random.Random(3)
    for attempt in range(1, 4):
        run = writer(attempt * 10_000)
        time.sleep(rng.uniform(0.5, 2.5))
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        with WhooshIndex.open(path) as index:
            assert index.doc_count() in (count, count + 1500), "all of the commit or none of it"
            count = index.doc_count()
            assert index.search("testing").total == count
            index.delete([attempt])  # the next commit, which cleans up after a killed one
            count -= 1
        ix = whoosh.index.open_dir(str(path))
        live = {segment.segment_id() for segment in ix._segments()}
        ix.close()
        assert {name.stem for name in path.glob("MAIN_*.seg")} == live


def test_block_ids_read_whooshs_posting_blocks_exactly(tmp_path: Path, small_blocks: int) -> None:
    """Id gaps of one and two pickled bytes, short blocks and phrase fields all read alike."""
    docnums = list(accumulate(300 if n % 50 == 0 else 1 for n in range(200)))
    wanted = set(docnums)
    with WhooshIndex.open(tmp_path / "index") as index:
        writer = index._writer()
        for n in range(docnums[-1] + 1):
            title = "common rare" if n in wanted else "filler"
            writer.add_document(id=str(n), title=title, summary=title, type="article")
        writer.commit()
        reader = index._current().reader()
        for fieldname, text in [("title", b"rare"), ("summary", b"rare"), ("type", b"article")]:
            ours, theirs = reader.postings(fieldname, text), reader.postings(fieldname, text)
            read: list[int] = []
            while ours.is_active():
                theirs._read_ids()
                assert block_ids(ours) == tuple(theirs._ids)
                read.extend(block_ids(ours))
                ours._next_block()
                theirs._next_block()
            assert read == list(reader.postings(fieldname, text).all_ids())
        assert list(reader.postings("title", b"rare").all_ids()) == docnums


@pytest.mark.parametrize(
    "text",
    [
        "rust",
        "machine learning",
        "learning NOT rust",
        "NOT rust",
        '"machine learning"',
        "x OR rust",
    ],
)
def test_matching_docs_equal_whooshs_own_matches(index: WhooshIndex, text: str) -> None:
    searcher = index._current()
    parsed = index.parse(text)
    assert matching_docs(searcher, parsed) == set(searcher.docs_for_query(parsed))


def test_date_sort_equals_whooshs_sorted_search_with_ties_and_deletions(tmp_path: Path) -> None:
    from whoosh import sorting

    with WhooshIndex.open(tmp_path / "index") as index:
        for batch in range(3):  # several segments
            index.add(
                [
                    item(batch * 10 + n, f"Rust notes {n}", published=NOW - timedelta(days=n % 3))
                    for n in range(8)
                ]
            )
        index.delete([12, 3])
        searcher = index._current()
        expected = searcher.search(
            index.parse("rust"),
            limit=None,
            sortedby=sorting.FieldFacet("published", reverse=True),
        ).top_n
        page = index.search("rust", sort="date", limit=100)
        assert [hit.docnum for hit in page.hits] == [docnum for _, docnum in expected]
        assert {hit.item_id for hit in page.hits}.isdisjoint({12, 3}) and page.total == 22
        assert [
            hit.docnum for hit in index.search("rust", sort="date", offset=5, limit=4).hits
        ] == [docnum for _, docnum in expected[5:9]]


@pytest.mark.parametrize(
    "text",
    [
        "learning",
        "machine learning",
        "learning NOT rust",
        "rust OR notes",
        "title:notes",
        '"a b"',
        '"machine learning"',
        '"learning in production" OR rust',
        '"learning notes" learning',
        'title:"rust and learning"',
        '"notes machine"',
        '"learning learning"',
        'summary:"rust notes" NOT title:rust',
    ],
)
def test_relevance_pages_equal_whooshs_ranking_of_every_match(
    tmp_path: Path, small_blocks: int, text: str
) -> None:
    """Several segments, one with a deletion (Whoosh scores that one itself), varied weights."""
    with WhooshIndex.open(tmp_path / "index") as index:
        for batch in range(3):
            index.add(
                [
                    item(
                        batch * 100 + n,
                        f"Machine learning notes {n}" if n % 3 else f"Rust and learning {n}",
                        summary="learning " * (n % 4) + "rust notes" * (n % 2),
                        text="machine learning in production " * (1 + n % 5) + "a b",
                        tags=("learning",) if n % 2 else (),
                    )
                    for n in range(40)
                ]
            )
            if batch == 1:
                index.delete([105])
            searcher = index._current()
            parsed = index.parse(text)
            expected = searcher.search(parsed, limit=None).top_n
            for offset, limit in ((0, 10), (7, 5), (0, 200)):
                page = index.search(text, offset=offset, limit=limit)
                wanted = expected[offset : offset + limit]
                assert [hit.docnum for hit in page.hits] == [docnum for _, docnum in wanted]
                assert [hit.score for hit in page.hits] == pytest.approx([s for s, _ in wanted])


def test_large_posting_blocks_read_alike_by_whoosh_and_by_search(tmp_path: Path) -> None:
    """The index writes blocks of postings.BLOCK_POSTINGS; Whoosh's matchers and search agree."""
    count = postings.BLOCK_POSTINGS + 76
    with WhooshIndex.open(tmp_path / "index") as index:
        index.add(
            item(n, f"learning {'deep ' * (n % 3)}", text="notes " * (n % 4))
            for n in range(1, count + 1)
        )
        searcher = index._current()
        matcher = searcher.reader().postings("title", b"learn")
        sizes = []
        while matcher.is_active():
            sizes.append(matcher._blocklength)
            matcher._next_block()
        assert sizes == [postings.BLOCK_POSTINGS, 76]
        for text in ("learning", "deep learning", "learning notes"):
            expected = searcher.search(index.parse(text), limit=None).top_n
            for offset in (0, count - 150):
                page = index.search(text, offset=offset, limit=100)
                wanted = expected[offset : offset + 100]
                assert page.total == len(expected) > 0
                assert [hit.docnum for hit in page.hits] == [docnum for _, docnum in wanted]
                assert [hit.score for hit in page.hits] == pytest.approx([s for s, _ in wanted])


def test_a_searcher_reads_its_segments_in_place(tmp_path: Path) -> None:
    """Opening a searcher must not copy the segment files onto the heap.

    Whoosh's own compound-file reader copied every postings and term file,
    so each reading process held the whole index in memory.
    """
    import tracemalloc

    words = [f"word{n}" for n in range(3000)]
    rng = random.Random(7)
    with WhooshIndex.open(tmp_path / "index") as index:
        index.add(
            item(n, " ".join(rng.sample(words, 8)), text=" ".join(rng.sample(words, 150)))
            for n in range(1, 3001)
        )
    segments = sum(path.stat().st_size for path in (tmp_path / "index").glob("*.seg"))
    assert segments > 2_000_000
    with WhooshIndex.open(tmp_path / "index") as index:
        tracemalloc.start()
        try:
            index.search("word17")
            allocated = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert index.search("word17").total > 0
    assert allocated < segments / 4


def test_score_queries_read_only_the_blocks_around_the_window(
    tmp_path: Path, small_blocks: int
) -> None:
    """Old items before and after the window in one segment (history stored late) are skipped
    block by block, and the window's scores stay Whoosh's own."""
    ages = [60] * 400 + [2] * 200 + [400] * 400
    with WhooshIndex.open(tmp_path / "index") as index:
        index.add(
            item(
                n,
                f"Notes {n}",
                text="machine learning " * (1 + n % 5),
                published=NOW - timedelta(days=age),
            )
            for n, age in enumerate(ages, start=1)
        )
        since = NOW - timedelta(days=7)
        q = query.Or([query.Term("body", "learn"), query.Term("title", "note", boost=3.0)])
        ours = index.score_queries({"q": q}, since=since)["q"]
        searcher = index._current()
        assert len(searcher.reader().leaf_readers()) == 1
        window = query.DateRange("published", since.replace(tzinfo=None), None)
        expected = {
            int(searcher.stored_fields(docnum)["id"]): score
            for score, docnum in searcher.search(q, limit=None, filter=window).top_n
        }
        assert set(ours) == set(range(401, 601))
        assert ours == pytest.approx(expected)
        # Read: the window's 200 postings and at most a block on either side, not all 1,000.
        read = index._ranking_runs[since]._words["body", b"learn"].ids
        assert 200 <= len(read) <= 200 + 2 * small_blocks


def test_relevance_equals_whoosh_when_the_last_documents_have_no_body(
    tmp_path: Path, small_blocks: int
) -> None:
    """A segment's length column stops at its last document with the field; the rest are 0."""
    with WhooshIndex.open(tmp_path / "index") as index:
        index.add(
            [
                item(n, f"learning {n}", text="learning in depth " * (1 + n % 3))
                for n in range(1, 30)
            ]
            + [item(n, f"learning {n}") for n in range(30, 40)]
        )
        searcher = index._current()
        for text in ("learning", '"learning in depth"', "learning depth"):
            expected = searcher.search(index.parse(text), limit=None).top_n
            page = index.search(text, limit=100)
            assert [hit.docnum for hit in page.hits] == [docnum for _, docnum in expected], text
            assert [hit.score for hit in page.hits] == pytest.approx([s for s, _ in expected])


def test_a_locked_index_is_a_search_index_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoosh's own LockError stops at the search boundary, as the branch the CLI reports."""
    monkeypatch.setattr(index_module, "WRITE_LOCK_TIMEOUT_S", 0.2)
    with WhooshIndex.open(tmp_path / "index") as index:
        other = whoosh.index.open_dir(str(tmp_path / "index")).writer()  # another writer
        try:
            with pytest.raises(SearchIndexError, match="another process is writing the index"):
                index.add(ITEMS[:1])
        finally:
            other.cancel()
        assert index.add(ITEMS[:1]) == 1
