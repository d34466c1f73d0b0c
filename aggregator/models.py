"""Plain data passed between the pipeline stages.

Nothing here does I/O. Datetimes are always timezone-aware UTC; stages
receive ``now`` explicitly so tests control time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

PROFILE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""A profile id, matched whole (``fullmatch``: ``$`` would let ``"evil\\n"`` through); also
what a person's pages are named after in ``output/``, so nothing else can escape it."""

ITEM_TYPES: tuple[str, ...] = ("article", "course", "event", "podcast", "video", "book", "paper")
"""Every item is exactly one of these; the order is the default digest section order.

The one vocabulary of types: a source's ``kind`` (a hint) and ``type`` (a decision), a
profile's weights, search filters. :mod:`aggregator.names` reads the old kind names."""

UPCOMING_DAYS = 60
"""How far ahead a digest's Upcoming section looks by default (a profile's ``upcoming_days``)."""


@dataclass(frozen=True, slots=True)
class ScrapeRules:
    """CSS selectors that turn a web page without a feed into items (``[source.scrape]``).

    ``item`` selects each item; the others are relative to it. ``link``
    defaults to the item's first ``a[href]``; ``date`` (when it was published),
    ``start`` and ``end`` (when the event it announces happens), ``location``
    and ``summary`` are optional. An item with a ``start`` is an event.
    """

    item: str
    title: str
    link: str = ""
    date: str = ""
    summary: str = ""
    start: str = ""
    end: str = ""
    location: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """One entry of ``feeds.toml``."""

    url: str
    name: str
    kind: str = "article"
    """The item type the source's items usually are: a hint the classifier weighs."""
    tags: tuple[str, ...] = ()
    item_type: str | None = None
    """``type = "..."`` in ``feeds.toml``: every item of the source gets this type, no guessing."""
    scrape: ScrapeRules | None = None
    timezone: str = ""
    """The IANA zone in which the source's times without a zone are meant ("" for none)."""
    disabled: bool = False
    """``disabled = true``: listed but not fetched, until the person turns it back on."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``[settings]`` table of ``feeds.toml``, with safe defaults."""

    title: str = "Learnplace"
    user_agent_contact: str = "https://github.com/learnplace/learnplace"
    timeout_s: float = 10.0
    deadline_s: float = 30.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 32
    per_host_concurrency: int = 4
    allow_private_networks: bool = False
    timezone: str = ""
    """The zone for local times of sources that name none; "" leaves them floating."""


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The ``[smtp]`` table of ``feeds.toml``: where e-mail digests go out.

    The password never sits in the file: ``password_env`` names the
    environment variable that holds it.
    """

    host: str
    sender: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password_env: str | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class XapiSettings:
    """The ``[xapi]`` table of ``feeds.toml``: a Learning Record Store (xAPI 1.0.3) that
    receives the learning records as statements, for organisations that run one.

    The password never sits in the file: ``password_env`` names the environment variable
    that holds it. Plain ``http://`` is refused unless the LRS is on loopback or
    ``allow_http`` says so.
    """

    endpoint: str
    """The LRS's xAPI base URL (statements go to ``<endpoint>/statements``)."""
    username: str
    password_env: str
    allow_http: bool = False
    homepage: str = ""
    """Where a person without an e-mail address has their account (the actor's
    ``account.homePage``); the endpoint's origin when empty."""
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Config:
    """Everything ``feeds.toml`` says.

    ``teams`` maps a team name to the profile names in it; a person may be in
    several teams.
    """

    path: str
    settings: Settings
    sources: tuple[Source, ...]
    smtp: SmtpSettings | None = None
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    xapi: XapiSettings | None = None
    store_url: str | None = None
    """``[store] url``: a PostgreSQL database instead of the SQLite file in ``state/``."""

    def teammates(self, person: str) -> set[str]:
        """Everyone who shares a team with ``person``, not counting ``person``."""
        return {m for members in self.teams.values() if person in members for m in members} - {
            person
        }


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
    prefer_sources: tuple[str, ...] = ()
    types: Mapping[str, float] = field(default_factory=dict)
    digest_size: int = 15
    freshness_days: int = 14
    path: str = ""
    section_order: tuple[str, ...] = ()
    """Item types in the order the person wants their digest sections; () is the default order."""
    wanted_types: tuple[str, ...] = ()
    """The only item types the person wants at all; () means every type."""
    upcoming_days: int = UPCOMING_DAYS
    """How far ahead the Upcoming section looks: events starting within it are listed."""
    weekly_minutes: int | None = None
    """A goal: minutes of learning a week; the digest shows how far this week has come."""
    digest_minutes: int | None = None
    """A time budget: the picks fit in this many minutes of reading and listening."""
    searches: tuple[SavedSearch, ...] = ()
    rules: tuple[Rule, ...] = ()


RULE_MATCHERS: tuple[str, ...] = ("words", "phrase", "source", "type", "field")
"""What a rule can match on: any of some words, a phrase, a source, an item type, or a text
found in one field (``field`` names it, ``contains`` says what)."""

RULE_FIELDS: tuple[str, ...] = ("title", "author", "url", "tags", "summary")


@dataclass(frozen=True, slots=True)
class SavedSearch:
    """A named search in a profile: its own digest section and its own Atom feed."""

    name: str
    query: str
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """A hard rule: ``mute`` hides what it matches, ``keep`` brings it into the digest
    whatever the interests say. ``matcher`` is one of :data:`RULE_MATCHERS`; ``values``
    are the words (one value for the others); ``field`` is set for the ``field`` matcher."""

    action: str
    matcher: str
    values: tuple[str, ...]
    field: str = ""

    def describe(self) -> str:
        """The rule as a person wrote it, for why-lines and previews."""
        shown = ", ".join(f"“{value}”" for value in self.values)
        what = {
            "words": f"any of the words {shown}",
            "phrase": f"the phrase {shown}",
            "source": f"the source {shown}",
            "type": f"the type {shown}",
            "field": f"{self.field} containing {shown}",
        }[self.matcher]
        return f"{self.action} {what}"


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
class SourceState:
    """What the store keeps about fetching one source; :mod:`aggregator.schedule` decides it.

    ``fetch_url`` is where the source is fetched now: the ``feeds.toml`` URL
    until a permanent redirect moves it. ``next_attempt`` ``None`` means due.
    """

    fetch_url: str
    last_status: int | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    failures: int = 0
    next_attempt: datetime | None = None
    retired: bool = False
    moved_from: str | None = None


@dataclass(frozen=True, slots=True)
class Details:
    """What an item is beyond its text: when an event happens, how long an episode lasts.

    ``event_start``/``event_end`` are aware datetimes; ``event_timezone`` is
    the IANA name the source gave (for showing local time and for the .ics),
    "" when it gave only an offset or nothing. ``event_all_day`` marks a date
    without a time; ``event_floating`` a local time given without any zone
    (kept as if it were UTC, shown and exported as local time).
    ``event_series`` is the UID of the series an occurrence belongs to and
    ``event_repeats`` says how it repeats ("every week"); ``event_cancelled``
    marks an event its calendar cancelled or no longer lists.
    ``duration_s`` is a podcast's or video's length.
    ``provider`` and ``course_start`` describe a course.
    """

    event_start: datetime | None = None
    event_end: datetime | None = None
    event_timezone: str = ""
    event_all_day: bool = False
    event_floating: bool = False
    event_series: str = ""
    event_repeats: str = ""
    event_cancelled: bool = False
    location: str = ""
    duration_s: int | None = None
    provider: str = ""
    course_start: datetime | None = None


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
    details: Details = field(default_factory=Details)
    former_guids: tuple[str, ...] = ()
    """Ids an earlier version of Learnplace gave this entry: a stored item under one of them
    is this entry, and takes its new id instead of being copied."""


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into entries; ``problems`` records what was wrong but survivable."""

    title: str
    link: str
    entries: tuple[Entry, ...]
    format: str
    problems: tuple[str, ...] = ()
    complete_until: datetime | None = None
    """A calendar lists every event it has up to this moment (recurring series are expanded
    that far): an event the store holds from it that starts by then and is missing was
    withdrawn. ``None`` for feeds, which are windows onto a longer history."""


@dataclass(frozen=True, slots=True)
class ReadContext:
    """What reading a document needs besides its bytes: when, how far ahead, in which zone.

    ``horizon`` is how far ahead recurring series are expanded; ``timezone``
    the zone for local times the document gives without one.
    """

    now: datetime
    horizon: timedelta = timedelta(days=UPCOMING_DAYS)
    timezone: str = ""


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
    enclosure_url: str = ""
    enclosure_type: str = ""
    details: Details = field(default_factory=Details)
    dated: bool = True
    """Whether the source gave a date: an undated item's ``published`` is when it was first
    seen, which says nothing of when it was written."""

    def is_upcoming(self, now: datetime) -> bool:
        """A dated event that has not ended yet (an event without an end ends when it starts)."""
        details = self.details
        if self.item_type != "event" or details.event_start is None or details.event_cancelled:
            return False
        return (details.event_end or details.event_start) >= now

    def is_past_event(self, now: datetime) -> bool:
        """A dated event that is over: it has no place in a digest any more."""
        return (
            self.item_type == "event"
            and self.details.event_start is not None
            and (not self.is_upcoming(now))
        )


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
    upcoming: tuple[Pick, ...] = ()
    """Dated events still ahead, soonest first; shown apart from ``picks`` with a calendar file."""
    searches: tuple[tuple[str, tuple[Pick, ...]], ...] = ()
    """Each saved search's section, by its name, in the profile's order."""
    revisit: tuple[Revisit, ...] = ()
    """What the person learned or shared before, coming back with their own words."""
    progress: tuple[int, int] | None = None
    """Minutes learned this week and the weekly goal, when the profile sets one."""

    def sections(self, order: tuple[str, ...] | None = None) -> list[tuple[str, list[Pick]]]:
        """Picks grouped by item type in ``order`` (the profile's, else the default), keeping
        rank order inside each group."""
        order = order or self.profile.section_order or ITEM_TYPES
        groups: dict[str, list[Pick]] = {}
        for pick in self.picks:
            groups.setdefault(pick.item.item_type, []).append(pick)
        return [(kind, groups[kind]) for kind in order if kind in groups]


@dataclass(frozen=True, slots=True)
class Share:
    """One person passing an item to their teams, with a note saying why."""

    person: str
    item_id: int
    note: str
    shared_at: datetime
    replaced_note: str | None = None
    """The note of the person's earlier share of the item, which this one replaces."""


@dataclass(frozen=True, slots=True)
class LearningRecord:
    """ "I learned this": a person's own record of an item, private unless they share it.

    Nothing here is anyone else's to track: the person writes, edits and deletes it.
    """

    person: str
    item_id: int
    learned_at: datetime
    minutes: int | None = None
    note: str = ""
    """The person's reflection: what they took from the item."""
    shared: bool = False
    """Shown to the person's teams (team page, reflections feed); private otherwise."""


@dataclass(frozen=True, slots=True)
class Learned:
    """One record with its item, as the log and the team pages show it."""

    record: LearningRecord
    item: Item


@dataclass(frozen=True, slots=True)
class LearningWeek:
    """A week of a person's log: its Monday, its records newest first, and its minutes."""

    start: date
    entries: tuple[Learned, ...]

    @property
    def minutes(self) -> int:
        return sum(entry.record.minutes or 0 for entry in self.entries)


@dataclass(frozen=True, slots=True)
class Revisit:
    """An item coming back on its day of the spacing schedule, with the person's words."""

    item: Item
    note: str
    learned_at: datetime
    step: int
    """Which return this is: 0 for the first (see ``rank.learning.REVISIT_DAYS``)."""


@dataclass(frozen=True, slots=True)
class SourceUse:
    """How often a source's items helped: judged "more like this", learned, shared."""

    liked: int = 0
    learned: int = 0
    shared: int = 0

    @property
    def total(self) -> int:
        return self.liked + self.learned + self.shared


@dataclass(frozen=True, slots=True)
class SharedItem:
    """An item as a team sees it: shown once, with every share's note."""

    item: Item
    shares: tuple[Share, ...]


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
    listed: bool = True
    """Whether feeds.toml lists it (the demo's samples are fetched without being listed)."""
    last_new_item: datetime | None = None
    """When the source last brought an item not seen before."""
    last_attempt: datetime | None = None
    """When a run last tried to fetch it, whatever came of it."""
    disabled: bool = False
    """feeds.toml says ``disabled = true``: listed, not fetched."""
    use: SourceUse = field(default_factory=SourceUse)
    """How often its items helped someone (``source_usefulness``)."""

    @property
    def health(self) -> str:
        """The source's state in one word, each interface saying it in its own: ``unlisted``
        (the store has it, feeds.toml does not), ``disabled``, ``gone`` (retired), ``new``
        (never fetched), ``failing``, ``moved`` (permanently, and working), ``ok``; the first
        that holds, in that order."""
        if not self.listed:
            return "unlisted"
        if self.disabled:
            return "disabled"
        if self.retired:
            return "gone"
        if self.last_status is None and self.last_error is None:
            return "new"
        if self.last_error:
            return "failing"
        return "moved" if self.moved_from else "ok"


def local_day(now: datetime) -> date:
    """The calendar day a person reading the digest is in (the machine's time zone)."""
    return now.astimezone().date()
