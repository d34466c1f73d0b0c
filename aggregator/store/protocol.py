"""What a store backend must do: the operations Learnplace calls, grouped by domain.

:class:`Store` is every domain protocol below together with opening and closing; the
pipeline, collection, the web app and the CLI see a store only through it, so a second
backend (PostgreSQL, issue 19) implements these classes and nothing else. SQLite is
:class:`aggregator.store.sqlite.SqliteStore`.

What every backend guarantees, beyond each method's own contract:

* Every method that writes is one transaction: after a crash the store holds either all
  of the call's changes or none of them.
* Datetimes go in aware and come back aware, in UTC.
* Errors a person can act on (another process holding the store, a damaged database, a
  full disk) are raised as :class:`aggregator.errors.StoreError` or a subclass, never as
  the driver's own exception; a missing source or item is ``UnknownSourceError`` or
  ``UnknownItemError``, and an invalid argument ``ValueError``.
* Item ids are positive integers below 2**63, unique among the items stored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

from aggregator.models import (
    CacheInfo,
    Entry,
    FetchResult,
    Item,
    LearningRecord,
    Pick,
    Share,
    Source,
    SourceState,
    SourceStatus,
    SourceUse,
)


@dataclass(frozen=True, slots=True)
class AddResult:
    """Items one call created or changed: both need reindexing (and are queued for it)."""

    new_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """One source's fetch outcome to store: its new schedule state, and a 200's entries."""

    source_url: str
    result: FetchResult
    state: SourceState
    problems: tuple[str, ...] = ()
    entries: Sequence[Entry] | None = None
    complete_until: datetime | None = None
    """For a calendar: it lists every event it has up to then (see ``ParsedFeed``)."""
    reread_at: datetime | None = None
    """For a calendar: from then on it is fetched without validators, so that its series
    are expanded again before the horizon passes the end of what was expanded."""


class SourceStore(Protocol):
    """Sources and their fetch state. A source is never deleted: its items and history stay."""

    def sync_sources(self, sources: Sequence[Source]) -> None:
        """Make the active sources match ``feeds.toml``; dropped ones go inactive."""
        ...

    def cache_info(self, url: str, now: datetime | None = None) -> CacheInfo:
        """Validators for a conditional GET; empty for a source never fetched (or unknown),
        and for a calendar due to be read in full again at ``now`` (its ``reread_at``)."""
        ...

    def source_state(self, url: str) -> SourceState:
        """The fetch schedule as :func:`aggregator.schedule.decide` left it; an unknown
        ``url`` is ``UnknownSourceError``."""
        ...

    def record_fetches(self, records: Sequence[FetchRecord], now: datetime) -> AddResult:
        """Many sources' fetch outcomes, and each 200's entries, in one transaction.

        Validators change only with a fresh 200 body. A calendar read in full
        (``complete_until``) has its events up to then that it no longer lists marked
        cancelled; they count as updated. Every item created or changed is queued for
        the index in the same transaction.
        """
        ...

    def source_statuses(self) -> list[SourceStatus]:
        """Active sources by name, with the number of items each supplied (syndicated
        copies count for every source that had them), when each last brought an item not
        seen before, and when a run last tried it (``record_fetches``'s ``now``, whatever
        came of the fetch)."""
        ...

    def make_due(self, url: str) -> bool:
        """Fetch the source at the next run, whatever its backoff said; False if unknown."""
        ...


class ItemStore(Protocol):
    """Items: stored from entries, read by id, date or event time, corrected, pruned."""

    def add_entries(self, source_url: str, entries: Sequence[Entry], now: datetime) -> AddResult:
        """Store one feed's entries, as :meth:`SourceStore.record_fetches` does for a 200.

        An entry is its source's item by guid (or a guid it had before); another source's
        item for the same story (same canonical URL, else same title key, and the same event
        start) gains this source instead of a copy. A stored item is rewritten only when what
        is shown changed, keeping its id and first-seen time. An undated entry is dated when
        first seen. A guid repeated within ``entries`` is a later version of the same entry.
        """
        ...

    def add_feeds(self, feeds: Iterable[tuple[str, Sequence[Entry]]], now: datetime) -> AddResult:
        """:meth:`add_entries` for many feeds, in one transaction."""
        ...

    def items(self, ids: Iterable[int]) -> dict[int, Item]:
        """Items by id; ids that name no item (any integer at all) are absent from the result."""
        ...

    def items_since(self, since: datetime) -> list[Item]:
        """Items published at or after ``since``, newest first (then by id)."""
        ...

    def upcoming_event_ids(self, now: datetime, until: datetime) -> list[int]:
        """Events (by type, a person's override first) that have not ended by ``now`` and
        start by ``until``, soonest first: chosen by when they happen, whatever the date
        they were announced on."""
        ...

    def iter_items(self) -> Iterator[Item]:
        """Every item in id order, in memory that stays flat however many there are."""
        ...

    def set_item_type(self, item_id: int, item_type: str | None) -> None:
        """A person's own type for an item, kept across refetches; ``None`` returns to the
        parser's guess. Queues the item for the index; an unknown id is ``UnknownItemError``,
        an unknown type ``ValueError``."""
        ...

    def item_count(self) -> int: ...

    def item_ids(self) -> set[int]: ...

    def find_item(self, ref: str) -> int | None:
        """An item id from what a person typed: the id itself, or the item's (canonical) URL."""
        ...

    def prune(self, before: datetime, keep_digests_since: date) -> int:
        """Delete items published before ``before``, queueing their ids for deletion from
        the index; how many.

        Kept whatever their age: items someone shared or liked, and items in a digest
        (or its Upcoming list) from ``keep_digests_since`` on, so recent pages and the
        team pages never point at a missing item.
        """
        ...


class IndexQueue(Protocol):
    """The change-tracking contract between the store and the search index.

    The store records which items the index must bring up to date; the index never
    reads the store otherwise during a run. In the manner of lemon24/reader's
    ``ChangeTrackerType``, but level-triggered: a queued id means "make the index's
    entry for this id match the store", not "apply this one change", so repeating
    work is harmless and coalescing it is allowed. A backend guarantees:

    * Atomic with the change: every operation that creates an item, changes what the
      index holds of it (entries rewritten, a type override, a calendar withdrawal) or
      deletes it queues its id in the same transaction. A change is never committed
      without its queue entry, nor queued without being committed.
    * At least once: an id leaves the queue only through :meth:`clear_index_queue`,
      which the caller calls after the index commit that covered it. A crash between
      the store's commit and the index's leaves the work queued for the next run; a
      crash between the index's commit and the clear repeats idempotent updates.
    * Coalescing and order: an id queued several times is one entry; the queue is read
      in ascending id order, not in the order of the changes, which is safe because
      every entry is resolved against the store's state when it is read.
    * Deletes: a queued id whose item no longer exists is a delete. Its entry outlives
      the item (no cascade): a pruned item stays queued until its index entry is gone.
    * One writer: queueing and clearing happen under the project's run lock, so nothing
      is queued between a read of the queue and the clear that follows it. A backend
      with concurrent writers must keep that true (for example by clearing only entries
      no newer than the read).
    """

    def index_queue(self) -> Iterator[tuple[list[Item], list[int]]]:
        """Queued work in ascending id order, a bounded batch at a time: the items to
        (re)index as they are now, and the queued ids that name no item (to delete)."""
        ...

    def index_queue_size(self) -> int: ...

    def clear_index_queue(self, up_to: int | None = None) -> None:
        """Forget queued ids up to ``up_to`` (all of them with ``None``), once the index
        commit that covered them is done."""
        ...


class DigestStore(Protocol):
    """What each person was sent, day by day: picks in order, and Upcoming events apart."""

    def delivered_before(self, person: str, day: date) -> set[int]:
        """Items earlier digests picked; a rerun of ``day`` itself may pick them again, and
        Upcoming events do not count as sent."""
        ...

    def save_digest(
        self, person: str, day: date, picks: Sequence[Pick], upcoming: Sequence[Pick] = ()
    ) -> None:
        """Replace the person's digest for ``day`` (rerunning a day must not add to it). An
        item in it twice is ``ValueError``."""
        ...

    def digest(
        self, person: str, day: date, *, upcoming: bool = False
    ) -> list[tuple[int, float, tuple[str, ...]]]:
        """A saved digest's picks in order as (item id, score, reasons), or with
        ``upcoming`` its Upcoming events."""
        ...

    def digest_days(self, person: str) -> list[date]:
        """The days the person has a saved digest for, oldest first."""
        ...


class FeedbackStore(Protocol):
    """A person's judgements of items: one per person and item, the latest kept."""

    def set_feedback(self, person: str, item_id: int, judgement: int, now: datetime) -> None:
        """Record "more like this" (1) or "less like this" (-1); 0 clears the judgement.
        Anything else is ``ValueError``."""
        ...

    def feedback(self, person: str) -> dict[int, int]:
        """The person's judgements: item id -> 1 (more) or -1 (less)."""
        ...

    def judgements(self, person: str) -> list[tuple[int, int, datetime]]:
        """The person's judgements with when each was made, newest first: (item id, sign, at)."""
        ...

    def clear_feedback(self, person: str) -> int:
        """Take back every judgement of the person; how many there were."""
        ...


class ShareStore(Protocol):
    """Items people pass on to their teams."""

    def add_share(self, person: str, item_id: int, note: str, now: datetime) -> Share:
        """Record a share; sharing the same item again replaces the note (one voice each),
        and the returned share's ``replaced_note`` says which note it replaced."""
        ...

    def shares(
        self, people: Collection[str], since: datetime, until: datetime | None = None
    ) -> list[Share]:
        """Shares by ``people`` made at or after ``since`` (and before ``until``), oldest first."""
        ...


class MailingStore(Protocol):
    """The e-mail log: a digest goes out at most once a day, a failed send is retried."""

    def mailed(self, person: str, day: date) -> bool:
        """Whether ``person``'s digest for ``day`` already went out."""
        ...

    def record_mailing(
        self, person: str, day: date, now: datetime, error: str | None = None
    ) -> None:
        """Remember a send (``error`` None) or a failed attempt, which the next run retries."""
        ...


class LearningStore(Protocol):
    """A person's own learning record, a digest's named sections, and what helped.

    Schema (SQLite versions 9 and 10): ``learned`` (person, item_id, learned_at, minutes,
    note, shared; one row per person and item, deleted with the item), ``digest_sections``
    (person, day, section, position, item_id, score, reasons) and ``xapi_sent`` (endpoint,
    person, item_id, statement_id, sent_at: what a Learning Record Store has taken).
    """

    def record_learning(self, record: LearningRecord) -> LearningRecord | None:
        """Add or edit the person's record of the item; the record it replaced (None for a
        new one). An edit keeps the first ``learned_at``: the day it was learned stays.
        An unknown item is ``UnknownItemError``, negative minutes ``ValueError``."""
        ...

    def delete_learning(self, person: str, item_id: int) -> bool:
        """Delete the person's record of the item; whether there was one."""
        ...

    def learning(
        self, people: Collection[str], since: datetime, until: datetime | None = None
    ) -> list[LearningRecord]:
        """Records by ``people`` learned at or after ``since`` (and before ``until``),
        oldest first (then by person and item), private and shared alike: callers that
        show others' records keep the shared ones only."""
        ...

    def save_sections(self, person: str, day: date, sections: Mapping[str, Sequence[Pick]]) -> None:
        """Replace the person's extra digest sections for ``day`` (saved searches, by name)."""
        ...

    def sections(
        self, person: str, day: date
    ) -> dict[str, list[tuple[int, float, tuple[str, ...]]]]:
        """The extra sections saved for ``day``: name -> (item id, score, reasons) in order."""
        ...

    def source_usefulness(self) -> dict[str, SourceUse]:
        """Per source URL (every source ever synced): items of it judged "more like this",
        learned and shared, by anyone (syndicated copies count for every source)."""
        ...

    def xapi_sent(self, endpoint: str, person: str) -> set[int]:
        """The items whose records of ``person`` the LRS at ``endpoint`` has taken."""
        ...

    def record_xapi_sent(
        self, endpoint: str, person: str, sent: Mapping[int, str], now: datetime
    ) -> None:
        """Remember that the LRS took the person's records of these items (item id ->
        statement id), so a later send skips them."""
        ...


class Store(
    SourceStore,
    ItemStore,
    IndexQueue,
    DigestStore,
    FeedbackStore,
    ShareStore,
    MailingStore,
    LearningStore,
    Protocol,
):
    """Everything Learnplace keeps except the search index, open until :meth:`close`.

    Opened with :func:`aggregator.store.open_store`; a read-only store never migrates
    nor blocks a writer. A writer is used from one thread; a read-only store from any
    thread, one call at a time.
    """

    @property
    def location(self) -> str:
        """What :func:`aggregator.store.open_store` takes to open this store again, from
        another process (a ranking worker)."""
        ...

    @property
    def schema_version(self) -> int:
        """The version of the layout the store holds: the backend's current one once a
        writer has opened it."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
