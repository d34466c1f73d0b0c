"""Adding sources: check that a URL is a feed, or a page that announces one, before
feeds.toml gains it, and say why that feed was chosen; an OPML import checks each of its
feeds the same way, concurrently, and reports what it added, skipped and could not read."""

from __future__ import annotations

import asyncio
import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aggregator.bounds import clean_text
from aggregator.config import sources as edit_sources
from aggregator.config.files import load_config
from aggregator.errors import FeedParseError, SourceCheckError, SourceCrashWarning
from aggregator.fetch.discover import announced_feeds, looks_like_html
from aggregator.fetch.http import fetch_one
from aggregator.models import CacheInfo, ParsedFeed, Settings, Source


@dataclass(frozen=True, slots=True)
class AddedSource:
    """A source ``sources add`` wrote to feeds.toml, and why that feed was chosen."""

    source: Source
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What ``sources import`` did with each feed of an OPML file."""

    added: list[Source]
    skipped: list[Source]
    """Already in feeds.toml (or twice in the file): left as they were."""
    unreadable: list[tuple[str, str]]
    """(a feed's title or address, why it was not added): no feed address, or the check failed."""
    checked: bool
    """Whether each feed was fetched and parsed before it was added."""


def import_sources(
    feeds_path: Path, settings: Settings, content: bytes, name: str, *, check: bool = True
) -> ImportReport:
    """Append an OPML file's feeds to feeds.toml; with ``check``, only those that are feeds.

    Each feed is checked as ``sources add`` checks one (the same bounded fetch; a page is
    replaced by the feed it announces), all at once up to ``settings.concurrency``, each
    within its own deadline, so a dead host costs its timeout and no more.
    """
    listed = edit_sources.read_opml(content, name)
    known = (
        {source.url for source in load_config(feeds_path).sources} if feeds_path.exists() else set()
    )
    fresh: list[Source] = []
    skipped: list[Source] = []
    for source in listed.sources:
        (skipped if source.url in known else fresh).append(source)
        known.add(source.url)
    unreadable = list(listed.unreadable)
    if check:
        checked = asyncio.run(_check_all(fresh, settings))
        fresh = [source for source, problem in checked if not problem]
        unreadable += [(source.name, problem) for source, problem in checked if problem]
    added = edit_sources.add_sources(feeds_path, fresh)
    skipped += [source for source in fresh if source not in added]
    return ImportReport(added, skipped, unreadable, check)


async def _check_all(sources: Sequence[Source], settings: Settings) -> list[tuple[Source, str]]:
    """Each source with "" when it is a feed (its URL the feed found), else why it is not."""
    slots = asyncio.Semaphore(settings.concurrency)
    # A page costs two bounded fetches (the page, then the feed it announces).
    deadline = 2 * (settings.deadline_s + settings.timeout_s)

    async def one(source: Source) -> tuple[Source, str]:
        async with slots:
            try:
                async with asyncio.timeout(deadline):
                    found, _, _ = await _find_feed(source.url, settings, source.kind)
            except SourceCheckError as exc:
                return source, str(exc).split("\n", 1)[0]
            except TimeoutError:
                return source, f"{source.url}: no answer within {deadline:g} s"
        return dataclasses.replace(source, url=found), ""

    return await asyncio.gather(*(one(source) for source in sources))


def add_source(
    feeds_path: Path,
    settings: Settings,
    url: str,
    *,
    name: str | None = None,
    kind: str = "article",
) -> AddedSource:
    """Check that ``url`` is a feed, or a page announcing one, and append it to feeds.toml.

    A page's main feed is the first it announces; when that one fails, nothing is
    added in its place (the next is often the comments feed): the error lists what
    the page announces, so the person can add the one they want by its URL.
    """
    found, feed, reason = asyncio.run(_find_feed(url, settings, kind))
    source = Source(url=found, name=name or feed.title.strip() or found, kind=kind)
    if not edit_sources.add_sources(feeds_path, [source]):
        raise SourceCheckError(f"{found} is already in {feeds_path}")
    return AddedSource(source, reason)


FORMAT_NAMES = {
    "rss090": "RSS 0.90",
    "rss091n": "RSS 0.91",
    "rss091u": "RSS 0.91",
    "rss092": "RSS 0.92",
    "rss093": "RSS 0.93",
    "rss094": "RSS 0.94",
    "rss10": "RSS 1.0",
    "rss20": "RSS 2.0",
    "atom03": "Atom 0.3",
    "atom10": "Atom 1.0",
    "json10": "JSON Feed 1.0",
    "json11": "JSON Feed 1.1",
    "ical": "iCalendar",
    "html-scrape": "a scraped page",
}


def _described(feed: ParsedFeed) -> str:
    return f"{FORMAT_NAMES.get(feed.format, feed.format)}, {len(feed.entries)} items"


async def _find_feed(url: str, settings: Settings, kind: str) -> tuple[str, ParsedFeed, str]:
    """The feed to add for ``url``, its parsed document and why it was chosen."""
    # Imported here: feedparser and the rest of the parser load only when a command
    # parses in this process (fetch runs parse in workers; a run of 304s in none).
    from aggregator.parse.registry import parse_feed

    page = await fetch_one(url, CacheInfo(), settings)
    if page.error or page.content is None:
        raise SourceCheckError(f"{url}: {page.error or f'HTTP {page.status}'}")
    home = page.final_url if page.moved_permanently else url
    content_type = page.headers.get("content-type", "")
    if not looks_like_html(page.content, content_type):
        try:
            feed = parse_feed(page.content, page.headers, page.final_url, kind)
        except Exception as exc:  # whatever the document makes the parser raise: not a feed
            raise SourceCheckError(f"{url}: {_not_parsed(exc)}") from None
        return home, feed, f"the address is a feed itself ({_described(feed)})"
    candidates = announced_feeds(page.content, page.final_url)
    if not candidates:
        raise SourceCheckError(
            f'{url} is a web page without a working feed: no <link rel="alternate"> feed link'
        )
    main = candidates[0]
    result = await fetch_one(main.url, CacheInfo(), settings)
    problem = result.error or (None if result.content else f"HTTP {result.status}")
    if problem is None and result.content is not None:
        try:
            feed = parse_feed(result.content, result.headers, result.final_url, kind)
        except Exception as exc:
            problem = _not_parsed(exc)
        else:
            chosen = result.final_url if result.moved_permanently else main.url
            called = f' "{main.title}"' if main.title else ""
            first = (
                f"the first of the {len(candidates)} it announces"
                if len(candidates) > 1
                else ("the only one it announces")
            )
            return chosen, feed, f"the page's main feed{called}, {first} ({_described(feed)})"
    listed = "\n".join(
        f"  {n}. {c.url}" + (f' "{c.title}"' if c.title else "") + (" (failed)" if n == 1 else "")
        for n, c in enumerate(candidates, start=1)
    )
    raise SourceCheckError(
        f"{url} is a web page without a working feed: its main feed {main.url} failed "
        f"({problem}), and another one it announces is not taken in its place (often its "
        f"comments). The page announces:\n{listed}\nAdd the one you want by its address."
    )


def _not_parsed(exc: Exception) -> str:
    """Why a document is no feed; an exception other than FeedParseError is also a bug,
    reported as :func:`aggregator.app.collect` reports one during a run."""
    if isinstance(exc, FeedParseError):
        return str(exc)
    message = f"the parser failed on it ({type(exc).__name__}: {exc}); a bug: please report it"
    warnings.warn(SourceCrashWarning(clean_text(message)), stacklevel=3)
    return clean_text(message)
