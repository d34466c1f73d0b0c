"""Posting blocks as arrays: what they hold equals what Whoosh's own codec holds."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import whoosh.index
from whoosh.fields import Schema
from whoosh.reading import IndexReader

from aggregator.models import Item
from aggregator.search import WhooshIndex, document, postings
from aggregator.search.postings import (
    BlockMatcher,
    Positions,
    block_arrays,
    block_data,
    block_positions,
    decode_block,
    encode_block,
)

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
WORDS = ["data", "pipelines", "learning", "machine", "rust", "notes", "coaching", "privacy"]


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(postings, "BLOCK_POSTINGS", 16)
    return 16


def items(count: int) -> list[Item]:
    """Items whose words are rare and common, repeated, and far apart (gaps past 255)."""
    rng = random.Random(5)
    return [
        Item(
            id=n,
            source_url="https://blog.example/feed.xml",
            source_name=f"Blog {n % 3}",
            guid=f"g{n}",
            url=f"https://blog.example/{n}",
            canonical_url=f"https://blog.example/{n}",
            title=" ".join(rng.choices(WORDS, k=1 + n % 4)) + (" sparse" if n % 300 == 0 else ""),
            summary=" ".join(rng.choices(WORDS, k=n % 9)),
            content="",
            text=" ".join(rng.choices(WORDS, k=n % 40)),
            published=NOW - timedelta(days=n % 30),
            first_seen=NOW,
            item_type="article",
            tags=tuple(rng.sample(WORDS, 2)) if n % 2 else (),
        )
        for n in range(1, count + 1)
    ]


def read_all(reader: IndexReader) -> dict[tuple[str, bytes], list[tuple[int, float, object]]]:
    """Every posting of every term, through Whoosh's matcher API."""
    found = {}
    for fieldname, text in reader.all_terms():
        matcher = reader.postings(fieldname, text)
        with_positions = matcher.supports("positions")
        rows = []
        while matcher.is_active():
            positions = matcher.value_as("positions") if with_positions else None
            rows.append((matcher.id(), matcher.weight(), positions))
            matcher.next()
        found[fieldname, text] = rows
    return found


@pytest.fixture
def both(
    tmp_path: Path, small_blocks: int, whooshs_schema: Schema
) -> Iterator[tuple[IndexReader, IndexReader]]:
    """The same 700 items in this project's index and in a plain Whoosh index."""
    corpus = items(700)
    with WhooshIndex.open(tmp_path / "ours") as ours:
        ours.add(corpus)
    (tmp_path / "whoosh").mkdir()
    plain = whoosh.index.create_in(str(tmp_path / "whoosh"), whooshs_schema)
    writer = plain.writer()
    for item in corpus:
        writer.add_document(**document(item))
    writer.commit()
    ix = whoosh.index.open_dir(str(tmp_path / "ours"))
    with ix.reader() as mine, plain.reader() as theirs:
        yield mine, theirs
    ix.close()
    plain.close()


def test_positions_format_round_trips() -> None:
    fmt = Positions(field_boost=2.0)
    value = fmt.encode([0, 3, 70_000])
    assert value == np.array([0, 3, 70_000], "<u4").tobytes()
    assert fmt.decode_positions(value) == [0, 3, 70_000]
    assert fmt.decode_frequency(value) == 3
    assert fmt.decode_weight(value) == 6.0
    assert fmt.decode_positions(fmt.combine([fmt.encode([5, 1]), fmt.encode([2, 5])])) == [1, 2, 5]
    words = {word: values for word, _, _, values in fmt.word_values("a b a", _analyzer())}
    assert fmt.decode_positions(words["a"]) == [0, 2]


def _analyzer() -> object:
    from whoosh.analysis import SimpleAnalyzer

    return SimpleAnalyzer()


@pytest.mark.parametrize(
    ("ids", "width"),
    [([3, 4, 200], 1), ([3, 300, 301], 2), ([0, 70_000, 2**31], 4)],
)
def test_a_block_round_trips_with_the_narrowest_gaps(ids: list[int], width: int) -> None:
    weights = [1.0, 2.5, 1.0]
    values = [b"\x01\x00\x00\x00", b"", b"\x02\x00\x00\x00\x07\x00\x00\x00"]
    data = encode_block(ids, weights, values)
    assert data[4] == width
    found = decode_block(data, 3)
    assert found is not None
    gaps, read_weights, read_values = found
    assert np.cumsum(gaps, dtype=np.int64).tolist() == ids
    assert read_weights.tolist() == weights and read_values == values
    unweighted = decode_block(encode_block(ids, [1.0] * 3, []), 3)
    assert unweighted is not None and unweighted[1].tolist() == [1.0] * 3 and unweighted[2] == []
    assert len(encode_block(ids, [1.0] * 3, [])) < len(data)
    with pytest.raises(ValueError, match="not in Learnplace's layout"):
        decode_block(b"\x80\x02(K\x01tq\x00.", 1)  # a block of Whoosh's layout


def test_the_index_holds_every_posting_whooshs_own_codec_holds(
    both: tuple[IndexReader, IndexReader],
) -> None:
    mine, theirs = both
    expected = read_all(theirs)
    assert read_all(mine) == expected
    assert len(expected[("title", b"spars")]) == 2  # far apart: gaps past 255
    many = [key for key, rows in expected.items() if len(rows) > 16]
    assert len(many) > 20  # words spanning several blocks of the small ones


def test_block_arrays_and_positions_read_what_whoosh_reads(
    both: tuple[IndexReader, IndexReader], small_blocks: int
) -> None:
    mine, _ = both
    rng = random.Random(2)
    blocks = 0
    for fieldname in ("title", "body", "tags"):
        for word in WORDS:
            text = word.encode() if fieldname == "tags" else word[:4].encode()
            if (fieldname, text) not in mine:
                continue
            matcher = mine.postings(fieldname, text)
            assert type(matcher) is BlockMatcher
            while matcher.is_active():
                arrays = block_arrays(matcher)
                assert arrays is not None
                matcher._read_ids()
                matcher._read_weights()
                assert np.cumsum(arrays[0]).tolist() == list(matcher._ids)
                assert arrays[1].tolist() == list(matcher._weights)
                if matcher.supports("positions"):
                    count = matcher._blocklength
                    hits = np.array(sorted(rng.sample(range(count), min(count, 5))))
                    counts, flat = block_positions(block_data(matcher), count, hits)
                    matcher._read_values()
                    expected = [matcher.format.decode_positions(matcher._values[i]) for i in hits]
                    assert counts.tolist() == [len(p) for p in expected]
                    assert flat.tolist() == [p for ps in expected for p in ps]
                blocks += 1
                matcher._next_block()
    assert blocks > 50


def test_a_block_of_whooshs_layout_is_refused_not_misread(
    both: tuple[IndexReader, IndexReader],
) -> None:
    """Such an index is refused by its fields' formats before any block is read; a block of
    that layout met anyway (a damaged index) is an error, not garbage."""
    _, theirs = both
    terms = theirs._terms
    for key in [("body", b"data"), ("title", b"spars"), ("type", b"article")]:
        offset, length = terms.term_info(*key).extent()
        ours = BlockMatcher(terms._postfile, offset, length, theirs.schema[key[0]].format)
        with pytest.raises(ValueError, match="not in Learnplace's layout"):
            block_arrays(ours)
        with pytest.raises(ValueError, match="not in Learnplace's layout"):
            list(ours.all_ids())
