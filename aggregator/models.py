"""Plain data passed between the pipeline stages.

Nothing here does I/O. Datetimes are always timezone-aware UTC; stages
receive ``now`` explicitly so tests control time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

ITEM_TYPES: tuple[str, ...] = ("article", "course", "event", "podcast", "video", "book", "paper")
"""Every item is exactly one of these; the order is the default digest section order."""

SOURCE_KINDS: tuple[str, ...] = (
    "blog",
    "courses",
    "events",
    "podcast",
    "video",
    "papers",
    "news",
)
"""Kind hints a source can carry in ``feeds.toml``; they seed the item type."""


@dataclass(frozen=True, slots=True)
class ScrapeRules:
    """CSS selectors that turn a web page without a feed into items (``[source.scrape]``).

    ``item`` selects each item; the others are relative to it. ``link``
    defaults to the item's first ``a[href]``; ``date`` and ``summary`` are optional.
    """

    item: str
    title: str
    link: str = ""
    date: str = ""
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """One entry of ``feeds.toml``."""

    url: str
    name: str
    kind: str = "blog"
    tags: tuple[str, ...] = ()
    scrape: ScrapeRules | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``[settings]`` table of ``feeds.toml``, with safe defaults."""

    title: str = "Learnplace"
    user_agent_contact: str = "https://github.com/learnplace/learnplace"
    timeout_s: float = 10.0
    deadline_s: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16
    per_host_concurrency: int = 4
    allow_private_networks: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """Everything ``feeds.toml`` says."""

    path: str
    settings: Settings
    sources: tuple[Source, ...]


@dataclass(frozen=True, slots=True)
class Profile:
    """One person's interests, from ``profiles/<name>.toml``.

    ``interests`` maps a word or phrase (several words) to a weight; a
    negative weight is not allowed, exclusions say "never".
    """

    name: str
    display_name: str
    interests: Mapping[str, float]
    email: str | None = None
    exclude: tuple[str, ...] = ()
    exclude_sources: tuple[str, ...] = ()
    types: Mapping[str, float] = field(default_factory=dict)
    digest_size: int = 15
    freshness_days: int = 14
    path: str = ""


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """Conditional-GET validators remembered from the last 200 response."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What fetching one source produced. Never an exception: errors are values.

    ``content`` is the (decompressed) body on a 200, else ``None``.
    ``headers`` has lower-case names. ``error`` is a short human-readable
    reason when the fetch failed (no response, a cap was hit, 4xx/5xx...).
    ``redirects`` lists each hop followed as (status, location), in order, so
    the caller can tell a permanent move (all 301/308) from a temporary one.
    """

    url: str
    final_url: str
    status: int | None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    elapsed_s: float = 0.0
    redirects: tuple[tuple[int, str], ...] = ()

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None and self.status in (200, 304)

    @property
    def moved_permanently(self) -> bool:
        """Every hop was 301/308: the source has a new address for good."""
        return bool(self.redirects) and all(code in (301, 308) for code, _ in self.redirects)

    @property
    def cache_info(self) -> CacheInfo:
        return CacheInfo(self.headers.get("etag"), self.headers.get("last-modified"))


@dataclass(frozen=True, slots=True)
class Entry:
    """One item as parsed from a feed, before it is stored.

    ``summary`` and ``content`` are sanitized HTML; ``title`` and ``text``
    are plain text. ``guid`` is stable across fetches of the same feed.
    """

    guid: str
    url: str
    title: str
    summary: str = ""
    content: str = ""
    text: str = ""
    published: datetime | None = None
    author: str = ""
    tags: tuple[str, ...] = ()
    item_type: str = "article"
    enclosure_url: str = ""
    enclosure_type: str = ""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into entries; ``problems`` records what was wrong but survivable."""

    title: str
    link: str
    entries: tuple[Entry, ...]
    format: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Item:
    """A stored item (an :class:`Entry` that has an id and a source)."""

    id: int
    source_url: str
    source_name: str
    guid: str
    url: str
    canonical_url: str
    title: str
    summary: str
    content: str
    text: str
    published: datetime
    first_seen: datetime
    item_type: str
    tags: tuple[str, ...] = ()
    author: str = ""


@dataclass(frozen=True, slots=True)
class Pick:
    """An item chosen for a digest, with its score and why it was chosen."""

    item: Item
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """One person's digest for one day, grouped in section order."""

    profile: Profile
    day: date
    picks: tuple[Pick, ...]

    def sections(self, order: tuple[str, ...] = ITEM_TYPES) -> list[tuple[str, list[Pick]]]:
        """Picks grouped by item type in ``order``, keeping rank order inside each group."""
        groups: dict[str, list[Pick]] = {}
        for pick in self.picks:
            groups.setdefault(pick.item.item_type, []).append(pick)
        return [(kind, groups[kind]) for kind in order if kind in groups]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source's health as kept by the store."""

    url: str
    name: str
    last_status: int | None
    last_error: str | None
    last_success: datetime | None
    failures: int
    items: int
    next_attempt: datetime | None = None
    retired: bool = False
    fetch_url: str = ""
    moved_from: str | None = None
    problems: tuple[str, ...] = ()
