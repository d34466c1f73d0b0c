"""The two places Learnplace reaches into a library, each applied only where it is needed.

* feedparser's per-element costs (:func:`aggregator.speedups.speed_up_feedparser`): in parse
  workers only, by feature detection, with the very same results;
* Whoosh's segment reading (:class:`aggregator.search.storage.IndexStorage`): only indexes opened
  through :class:`WhooshIndex` read in place; a plain Whoosh index in the same process (the
  benchmarks' baselines) reads as Whoosh does.

Each test fails if its patch silently stops applying (a new release reads differently).
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import random
import re
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

import feedparser
import feedparser.mixin
import feedparser.urls
import whoosh.index
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import MultifieldParser

from aggregator.errors import FeedParseError
from aggregator.models import ParsedFeed, ReadContext, ScrapeRules
from aggregator.parse import registry as parse
from aggregator.parse import speedups
from aggregator.search import WhooshIndex
from aggregator.workers import ParsePool, untracked
from tests.integration.test_index import item

FEEDS = sorted(
    path
    for folder in ("real", "synthetic")
    for path in (Path(__file__).parents[1] / "data" / "feeds" / folder).rglob("*")
    if path.is_file() and path.suffix in (".xml", ".rss", ".atom", ".json")
)


def patches_in_worker(
    content: bytes,
    headers: Mapping[str, str],
    url: str,
    kind: str,
    scrape: ScrapeRules | None,
    item_type: str | None,
    context: ReadContext | None,
) -> ParsedFeed:
    """Run in a parse worker: parse, then say which patches were in place and used."""
    feed = parse.parse_feed(content, headers, url, kind, item_type, context=context)
    cached = feedparser.mixin.make_safe_absolute_uri
    used = []
    if hasattr(cached, "cache_info"):
        used.append(f"xml:base cache hit {cached.cache_info().hits} times")
    if getattr(feedparser.mixin.copy, "deepcopy", None) is speedups._copy_content_params:
        used.append("content params copy")
    return replace(feed, title=", ".join(used))


Outcome = ParsedFeed | str
"""A parsed feed, or the message of the FeedParseError that refused the document."""


def parse_in_workers(function: Callable[..., ParsedFeed] | None = None) -> list[Outcome]:
    async def one(pool: ParsePool, path: Path) -> Outcome:
        try:
            return await pool.parse(
                path.read_bytes(), {}, f"https://example.org/{path.name}", "blog"
            )
        except FeedParseError as exc:
            return str(exc)

    async def run() -> list[Outcome]:
        options = {"function": function} if function else {}
        with ParsePool(1, **options) as pool:
            return [await one(pool, path) for path in FEEDS]

    return asyncio.run(run())


def parse_here(path: Path) -> Outcome:
    try:
        # As a worker reads it: links without their tracking parameters.
        feed = parse.parse_feed(path.read_bytes(), {}, f"https://example.org/{path.name}", "blog")
        return untracked(feed)
    except FeedParseError as exc:
        return str(exc)


def test_feedparser_is_sped_up_in_parse_workers_and_nowhere_else() -> None:
    reports = [feed for feed in parse_in_workers(patches_in_worker) if isinstance(feed, ParsedFeed)]
    assert len(reports) > 20
    assert all(
        re.fullmatch(r"xml:base cache hit \d+ times, content params copy", feed.title)
        for feed in reports
    )
    assert reports[-1].title != reports[0].title  # the cache answers, one worker for all feeds
    # This process (the CLI, the tests) parses with feedparser as released.
    assert feedparser.mixin.copy is copy
    assert feedparser.mixin.make_safe_absolute_uri is feedparser.urls.make_safe_absolute_uri


def test_the_sped_up_parser_gives_the_same_entries() -> None:
    patched = parse_in_workers()
    plain = [parse_here(path) for path in FEEDS]
    assert sum(len(feed.entries) for feed in plain if isinstance(feed, ParsedFeed)) > 50
    assert patched == plain


def test_feedparser_that_uses_copy_otherwise_is_left_alone(tmp_path: Path) -> None:
    """The copy patch is safe only while ``copy`` serves nothing but the content parameters."""
    source = tmp_path / "mixin_like.py"
    source.write_text(
        "import copy\n"
        "def a(self):\n    return copy.deepcopy(self.contentparams)\n"
        "def b(self):\n    return copy.copy(self.entries)\n",
        encoding="utf-8",
    )
    spec = importlib.util.spec_from_file_location("mixin_like", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not speedups._copies_only_content_params(module)
    assert speedups._copies_only_content_params(feedparser.mixin)


def heap_while(search: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        search()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def search_once(ix: whoosh.index.Index, query: object) -> int:
    """Open a searcher (which opens the segment files), search, close."""
    with ix.searcher() as searcher:
        return len(searcher.search(query, limit=10))


def test_only_our_index_reads_its_segments_in_place(tmp_path: Path) -> None:
    """WhooshIndex reads segment files in place; a plain Whoosh index opened in the same
    process, over the same files (benchmarks/relevance.py) or its own (benchmarks/search.py),
    still copies them, as Whoosh does: the baselines run unpatched."""
    rng = random.Random(7)
    words = [f"word{n}" for n in range(3000)]
    texts = [
        (" ".join(rng.sample(words, 8)), " ".join(rng.sample(words, 150))) for _ in range(3000)
    ]
    ours = tmp_path / "ours"
    with WhooshIndex.open(ours) as index:
        index.add(item(n, title, text=text) for n, (title, text) in enumerate(texts, start=1))
    segments = sum(path.stat().st_size for path in ours.glob("*.seg"))
    assert segments > 2_000_000
    with WhooshIndex.open(ours) as index:
        in_place = heap_while(lambda: index.search("word17"))
        assert index.search("word17").total > 0
    assert in_place < segments / 4

    plain = whoosh.index.open_dir(str(ours))
    query = MultifieldParser(["title", "body"], plain.schema).parse("word17")
    assert heap_while(lambda: search_once(plain, query)) > segments / 2

    schema = Schema(id=ID(stored=True), title=TEXT(analyzer=StemmingAnalyzer()), content=TEXT)
    (tmp_path / "baseline").mkdir()
    baseline = whoosh.index.create_in(str(tmp_path / "baseline"), schema)
    writer = baseline.writer()
    for n, (title, text) in enumerate(texts, start=1):
        writer.add_document(id=str(n), title=title, content=text)
    writer.commit()
    baseline_segments = sum(path.stat().st_size for path in (tmp_path / "baseline").glob("*.seg"))
    query = MultifieldParser(["title", "content"], schema).parse("word17")
    opened = whoosh.index.open_dir(str(tmp_path / "baseline"))
    assert heap_while(lambda: search_once(opened, query)) > baseline_segments / 2
