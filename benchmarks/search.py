"""Search at 100,000 items: plain and profile-ranked query latency, index build and update.

    .venv/bin/python benchmarks/search.py [--feeds 2000] [--items 50] [--rounds 5]

The corpus comes from ./feedfarm's generator (2,000 feeds x 50 items by
default); every item is sanitized by the product, stored in a real store and
indexed by the product's own index code. Building
100,000 Whoosh documents takes minutes, so the store and both indexes are
cached in a temp folder keyed by the corpus parameters and the index layout.

Beside the product's figures it prints a baseline measured in the same run:
a plain Whoosh setup (the default MultifieldParser over all text fields, with
stored bodies, loading each hit's stored fields), as a first version would do.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import whoosh.index  # noqa: E402
from whoosh.analysis import StemmingAnalyzer  # noqa: E402
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema  # noqa: E402
from whoosh.qparser import MultifieldParser  # noqa: E402

from aggregator import app as application  # noqa: E402
from aggregator.app.search import search_in  # noqa: E402
from aggregator.models import ITEM_TYPES, Entry, Item, Profile, Source  # noqa: E402
from aggregator.names import OLD_TYPE_NAMES  # noqa: E402
from aggregator.rank import plan, profile_queries  # noqa: E402
from aggregator.sanitize import html_to_text, sanitize_html  # noqa: E402
from aggregator.search import SearchFilters, WhooshIndex, document  # noqa: E402
from aggregator.search.postings import BLOCK_POSTINGS  # noqa: E402
from aggregator.search.queries import to_whoosh  # noqa: E402
from aggregator.search.schema import SCHEMA  # noqa: E402
from aggregator.store import SqliteStore  # noqa: E402
from feedfarm import corpus as ff_corpus  # noqa: E402

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
QUERIES = [
    "python",
    "machine learning",
    '"data pipelines"',
    "kubernetes OR docker",
    "leadership AND coaching",
    "sql NOT nosql",
    "title:onboarding",
    "observability",
    "accessibility design",
    "privacy",
    "feedback",
    "course",
    '"user research"',
    "security testing",
    "mentoring",
    "react",
]
FILTERED = [
    ("python", SearchFilters(types=("course",))),
    ("data", SearchFilters(since=NOW - timedelta(days=30))),
]
PROFILE = Profile(
    name="tomas",
    display_name="Tomás",
    interests={
        "data pipelines": 3,
        "data quality": 3,
        "sql": 2.5,
        "streaming": 2.5,
        "python": 2,
        "kafka": 2,
        "dbt": 1.5,
        "airflow": 1.5,
        "data contracts": 2,
        "data modeling": 1.5,
        "lakehouse": 1,
        "spark": 1,
    },
    exclude=("crypto", "blockchain", "sponsored"),
    types={"podcast": 1.3, "course": 1.2, "event": 0.8},
    freshness_days=30,
)
BASELINE_SCHEMA = Schema(
    id=ID(stored=True, unique=True),
    title=TEXT(analyzer=StemmingAnalyzer(), stored=True),
    summary=TEXT(analyzer=StemmingAnalyzer(), stored=True),
    content=TEXT(analyzer=StemmingAnalyzer(), stored=True),
    tags=KEYWORD(lowercase=True, commas=True, stored=True),
    source=TEXT(stored=True),
    type=ID(stored=True),
    published=DATETIME(stored=True),
)


def _source(seed: str, n: int) -> Source:
    spec = ff_corpus.feed_spec(seed, n)
    kind = OLD_TYPE_NAMES.get(spec["kind"], spec["kind"])
    kind = kind if kind in ITEM_TYPES else "article"
    return Source(
        url=f"https://feedfarm.example{spec['path']}", name=f"{spec['title']} #{n}", kind=kind
    )


def _entries(args: tuple[str, int, int]) -> tuple[str, list[Entry]]:
    """One feedfarm feed's items as entries, cleaned by the product's own sanitizer.

    The items come from feedfarm's generator directly, not through XML and
    feedparser: parsing is not what this benchmark measures, and it would
    triple the time to set up 100,000 items on two cores.
    """
    seed, n, items = args
    spec = ff_corpus.feed_spec(seed, n)
    entries = []
    for it in ff_corpus.feed_items(seed, spec, items, 0, {})[:items]:
        html = sanitize_html(it["html"], it["link"])
        entries.append(
            Entry(
                guid=it["guid"] or it["link"],
                url=it["link"],
                title=it["title"],
                summary=sanitize_html(it["summary"], it["link"]),
                content=html,
                text=html_to_text(html),
                published=it["pub"].astimezone(UTC),
                author=it["author"],
                tags=tuple(it["categories"]),
                item_type=it["type"] if it["type"] in ITEM_TYPES else "event",
            )
        )
    return _source(seed, n).url, entries


def build_store(cache: Path, feeds: int, items: int, seed: str) -> Path:
    """Generate the corpus and store every item (cached)."""
    store_path = cache / "store.sqlite3"
    if store_path.exists():
        SqliteStore(store_path).close()  # a store cached by an older version: migrate it in place
        return store_path
    partial = store_path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    jobs = [(seed, n, items) for n in range(feeds)]
    with SqliteStore(partial) as store, ProcessPoolExecutor(2) as pool:
        store.sync_sources([_source(seed, n) for n in range(feeds)])
        for url, entries in pool.map(_entries, jobs, chunksize=20):
            store.add_entries(url, entries, NOW)
    partial.rename(store_path)
    print(f"corpus generated and stored in {time.perf_counter() - started:.0f} s", flush=True)
    return store_path


def build_product_index(cache: Path, store_path: Path) -> tuple[Path, float | None]:
    path = cache / "index"
    if (path / ".done").exists():
        return path, None
    shutil.rmtree(path, ignore_errors=True)
    started = time.perf_counter()
    with SqliteStore(store_path, read_only=True) as store, WhooshIndex.open(path) as index:
        index.add(store.iter_items())
    took = time.perf_counter() - started
    (path / ".done").write_text(f"{took:.1f}\n", encoding="utf-8")
    return path, took


def build_baseline_index(cache: Path, store_path: Path) -> tuple[Path, float | None]:
    path = cache / "baseline"
    if (path / ".done").exists():
        return path, None
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    started = time.perf_counter()
    ix = whoosh.index.create_in(str(path), BASELINE_SCHEMA)
    writer = ix.writer()
    with SqliteStore(store_path, read_only=True) as store:
        for item in store.iter_items():
            fields = document(item)
            fields.pop("source_name")
            fields.pop("body")
            fields["content"] = item.text  # a plain setup indexes the whole text
            writer.add_document(**fields)
    writer.commit()
    ix.close()
    took = time.perf_counter() - started
    (path / ".done").write_text(f"{took:.1f}\n", encoding="utf-8")
    return path, took


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000
    return f"p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   (n={len(ordered)})"


def timed(fn, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def bench_baseline(path: Path, rounds: int) -> dict[str, list[float]]:
    """Plain Whoosh: the top 20 with their stored fields, and the same with the total count.

    The product always shows how many items matched; plain Whoosh only knows
    that after ``len(results)``, a second pass over every match.
    """
    ix = whoosh.index.open_dir(str(path))
    parser = MultifieldParser(["title", "summary", "content", "tags", "source"], ix.schema)
    samples: dict[str, list[float]] = {"top": [], "counted": []}
    with ix.searcher() as searcher:
        for text in QUERIES:
            q = parser.parse(text)

            def run(q=q) -> None:
                results = searcher.search(q, limit=20)
                [hit.fields() for hit in results]

            def run_counted(q=q) -> None:
                results = searcher.search(q, limit=20)
                [hit.fields() for hit in results]
                len(results)

            run()  # warm the searcher's caches, as a long-lived app would have them
            samples["top"] += timed(run, rounds)
            samples["counted"] += timed(run_counted, rounds)
    ix.close()
    return samples


def bench_product(store_path: Path, index_path: Path, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {
        "bare": [],
        "plain": [],
        "filtered": [],
        "profile": [],
        "date": [],
    }
    with SqliteStore(store_path, read_only=True) as store, WhooshIndex.open(index_path) as index:
        cases = [("bare", application.SearchRequest(text, facets=False)) for text in QUERIES]
        cases += [("plain", application.SearchRequest(text)) for text in QUERIES]
        cases += [("filtered", application.SearchRequest(t, f)) for t, f in FILTERED]
        cases += [("date", application.SearchRequest(t, sort="date")) for t in QUERIES[:4]]
        cases += [("profile", application.SearchRequest(t, profile=PROFILE)) for t in QUERIES]
        for kind, request in cases:

            def run(request=request) -> None:
                search_in(store, index, request, now=NOW)

            run()
            out[kind] += timed(run, rounds)
    return out


def check_results(index_path: Path) -> list[str]:
    """Where the product's search differs from Whoosh's own on the benchmark's queries.

    Plain queries: the same top 20 (documents and scores) as Whoosh's ranking
    of every match (``limit=None``; its top-N search with a limit can miss
    better documents: it drops parts of an Or once they cannot lift a
    document into the top N, and under-scores some that then stay in) and
    the same total as ``docs_for_query``. Profile-ranked: the interest
    scores of the first query's 200 candidates equal Whoosh's scores for them.
    """
    differences = []
    with WhooshIndex.open(index_path) as index:
        searcher = index._current()
        for text in QUERIES:
            parsed = index.parse(text)
            page = index.search(text, limit=20)
            expected = searcher.search(parsed, limit=None).top_n[:20]
            if [hit.docnum for hit in page.hits] != [docnum for _, docnum in expected] or any(
                abs(hit.score - score) > 1e-9
                for hit, (score, _) in zip(page.hits, expected, strict=False)
            ):
                differences.append(f"top 20 of {text!r}")
            if page.total != len(set(searcher.docs_for_query(parsed))):
                differences.append(f"total of {text!r}")
        hits = index.search(QUERIES[0], limit=200).hits
        docnums = {hit.docnum for hit in hits}
        # Whoosh has no reading of a proximity pair (Near): the other queries are compared,
        # as the Whoosh queries they translate to.
        queries = {
            k: q for k, q in profile_queries(PROFILE, plan(PROFILE)).items() if k[0] != "near"
        }
        for key, scores in index.score_docs(queries, hits).items():
            q = queries[key]
            expected_scores = {
                int(searcher.stored_fields(docnum)["id"]): round(score, 9)
                for score, docnum in searcher.search(to_whoosh(q), limit=None, filter=docnums).top_n
            }
            if {k: round(v, 9) for k, v in scores.items()} != expected_scores:
                differences.append(f"profile scores for {key!r}")
    return differences


def bench_add(store_path: Path, index_path: Path, cache: Path, count: int = 1000) -> float:
    """Add ``count`` new items to a copy of the index and commit once."""
    copy = cache / "index-add"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(index_path, copy)
    with SqliteStore(store_path, read_only=True) as store:
        base = list(store.items(range(1, count + 1)).values())
    fresh = [
        Item(**{**{s: getattr(i, s) for s in Item.__slots__}, "id": 10_000_000 + n})
        for n, i in enumerate(base)
    ]
    with WhooshIndex.open(copy) as index:
        started = time.perf_counter()
        index.add(fresh)
        took = time.perf_counter() - started
    shutil.rmtree(copy)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--seed", default="1")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    # The fields, their posting formats (by module: a format may keep Whoosh's name) and blocks.
    fields = [(name, repr(field), type(field.format).__module__) for name, field in SCHEMA.items()]
    layout = repr((sorted(fields), BLOCK_POSTINGS))
    schema_key = hashlib.sha256(layout.encode()).hexdigest()[:10]
    key = f"{args.feeds}x{args.items}-s{args.seed}-{schema_key}"
    cache = Path(tempfile.gettempdir()) / f"learnplace-bench-search-{key}"
    cache.mkdir(exist_ok=True)
    print(f"cache: {cache}", flush=True)
    store_path = build_store(cache, args.feeds, args.items, args.seed)
    with SqliteStore(store_path, read_only=True) as store:
        print(f"items: {store.item_count():,}", flush=True)
    # Both indexes build at once, one process each: on two cores that halves the wait.
    with ProcessPoolExecutor(2) as pool:
        product = pool.submit(build_product_index, cache, store_path)
        baseline = pool.submit(build_baseline_index, cache, store_path)
        index_path, product_build = product.result()
        baseline_path, baseline_build = baseline.result()
    for label, took, path in (
        ("product", product_build, index_path),
        ("baseline", baseline_build, baseline_path),
    ):
        note = "" if took is not None else " (cached; time of the run that built it)"
        took = took if took is not None else float((path / ".done").read_text())
        print(f"full build, {label:8}: {took:6.1f} s{note}")
    print(f"add 1,000 items + commit: {bench_add(store_path, index_path, cache):.2f} s")
    differences = check_results(index_path)
    print(f"same results as Whoosh's own search: {differences or 'yes'}")
    baseline = bench_baseline(baseline_path, args.rounds)
    product = bench_product(store_path, index_path, args.rounds)
    print(f"baseline plain queries           {percentiles(baseline['top'])}")
    print(f"baseline plain queries + count   {percentiles(baseline['counted'])}")
    print(f"product plain queries, no facets {percentiles(product['bare'])}")
    print(f"product plain queries (+facets)  {percentiles(product['plain'])}")
    print(f"product filtered queries         {percentiles(product['filtered'])}")
    print(f"product date-sorted queries      {percentiles(product['date'])}")
    print(f"product profile-ranked queries   {percentiles(product['profile'])}")


if __name__ == "__main__":
    main()
