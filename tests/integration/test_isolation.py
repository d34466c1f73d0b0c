"""One source's document can fail only that source: whatever parsing or storing it raises,
and even when it kills its parse worker or needs more memory than a worker may use.

The fetch, the parse workers and the store are real; the worker function raises or dies
as a parser bug or the kernel's OOM killer would (neither can be had on demand).
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregator.app import SilentReporter
from aggregator.app.collect import RunSummary, collect
from aggregator.config.files import parse_config
from aggregator.errors import SourceCrashWarning
from aggregator.models import Entry, ParsedFeed
from aggregator.store import SqliteStore
from aggregator.workers import ParsePool, parse_document
from tests.hostile import GOOD_FEED, item, rss

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def hostile_parse(content: bytes, *arguments: Any) -> ParsedFeed:
    """The real parser, except for three documents: one raises what no parser should, one
    kills its process, one yields an entry the store cannot encode (a lone surrogate)."""
    if content.startswith(b"RAISE"):
        raise OverflowError("int too large to convert, deep in a library")
    if content.startswith(b"KILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    if content.startswith(b"SURROGATE"):
        entry = Entry(guid="s", url="https://hostile.example/s", title="bad \ud800 title")
        return ParsedFeed(title="", link="", entries=(entry,), format="rss20")
    return parse_document(content, *arguments)


def feeds(static_server, documents: dict[str, bytes], **settings: object) -> str:
    lines = ["[settings]", "allow_private_networks = true", "timeout = 5", "deadline = 30"]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    for name, body in documents.items():
        url = static_server.add(f"/{name}", body, headers={"Content-Type": "application/rss+xml"})
        lines += ["[[source]]", f'name = "{name}"', f'url = "{url}"']
    return "\n".join(lines)


def collect_with(tmp_path: Path, toml: str, pool: ParsePool) -> tuple[RunSummary, dict, dict]:
    config = parse_config(toml, tmp_path / "feeds.toml")
    summary = RunSummary()
    with SqliteStore(tmp_path / "store.sqlite3") as store:
        store.sync_sources(config.sources)
        ahead = timedelta(days=60)
        asyncio.run(collect(config, store, NOW, SilentReporter(), summary, False, ahead, pool))
        statuses = {status.name: status for status in store.source_statuses()}
        titles = {
            name: sorted(
                i.title
                for i in store.items_since(datetime(2000, 1, 1, tzinfo=UTC))
                if i.source_name == name
            )
            for name in statuses
        }
    return summary, statuses, titles


def good(n: int) -> bytes:
    return rss(*(item(f"Good {n}.{k}", f"https://good.example/{n}/{k}") for k in range(5)))


def test_what_a_source_makes_the_parser_or_store_raise_is_only_its_failure(
    static_server, tmp_path: Path
) -> None:
    documents = {"raise": b"RAISE", "kill": b"KILL", "surrogate": b"SURROGATE"}
    documents |= {f"good-{n}": good(n) for n in range(6)}
    toml = feeds(static_server, documents)
    with pytest.warns(SourceCrashWarning) as warned:
        summary, statuses, titles = collect_with(
            tmp_path, toml, ParsePool(2, function=hostile_parse)
        )
    failed = dict(summary.failures)
    assert set(failed) == {"raise", "kill", "surrogate"}
    assert failed["raise"].startswith("OverflowError while parsing its document")
    assert "a bug" in failed["raise"]
    assert "the parser's process died" in failed["kill"]
    assert failed["surrogate"].startswith("UnicodeEncodeError while storing its entries")
    for name in failed:
        assert statuses[name].last_error == failed[name]
        assert statuses[name].failures == 1
    # Every good source is stored in full, also those in flight when a worker died.
    assert summary.sources_ok == 6
    for n in range(6):
        assert titles[f"good-{n}"] == [f"Good {n}.{k}" for k in range(5)]
    # The warnings carry the worker's traceback, so the bug is visible.
    messages = [str(w.message) for w in warned]
    assert any("OverflowError" in m and "hostile_parse" in m for m in messages)


def test_a_document_needing_more_memory_than_a_worker_may_use_is_its_sources_failure(
    static_server, tmp_path: Path
) -> None:
    """A real parse under a real limit: MemoryError in the worker, not the OOM killer."""
    huge = rss(
        *(item(f"Item {n}", f"https://big.example/{n}", "words " * 300) for n in range(5000))
    )
    assert len(huge) > 9_000_000
    toml = feeds(static_server, {"huge": huge, "good": GOOD_FEED}, max_body_mb=20)
    summary, statuses, titles = collect_with(tmp_path, toml, ParsePool(1, memory_limit=64 << 20))
    assert summary.failures == [("huge", "the document needs more than 64 MiB to parse")]
    assert statuses["huge"].last_error == "the document needs more than 64 MiB to parse"
    assert len(titles["good"]) == 12
