"""The application object: what the CLI and the web app call, and what it keeps open.

Everything a person can do is a method here, so an interface (the ``learnplace`` CLI,
the local web app, a test) holds one :class:`Application` and never opens the store or
the index itself. Reads share one read-only store connection per thread and one search
index for the application's lifetime: the index's caches (column arrays, posting
lengths) are what make a second search fast, and an open index notices a run's commit.
Writes take the run lock and open the store for writing, as a run does.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomlkit

from aggregator.app import learning
from aggregator.app.collect import RunSummary
from aggregator.app.learning import RuleEffect
from aggregator.app.project import Project, Reporter
from aggregator.app.publish import (
    Mailing,
    apply_to_saved,
    send_one,
    site_writer,
    stored_digest,
    write_person_learning,
    write_team_pages,
)
from aggregator.app.queue import Cycle, cycle_state, run_worker, start_cycle
from aggregator.app.run import (
    collected,
    refresh,
    run,
    run_demo,
    run_lock,
    update_index,
    writable_index,
)
from aggregator.app.search import SearchRequest, SearchResults, search_in
from aggregator.app.sources import AddedSource, ImportReport, add_source, import_sources
from aggregator.app.starter import init_project
from aggregator.app.xapi import XapiSend, send_statements
from aggregator.closing import Closing
from aggregator.config import learning_edit, profile_edit
from aggregator.config import sources as edit_sources
from aggregator.config.files import load_config, load_profile, load_profiles
from aggregator.config.files import profile_path as config_profile_path
from aggregator.errors import (
    ConfigError,
    LearnplaceError,
    SourceListError,
    UnknownItemError,
    UnknownPersonError,
)
from aggregator.models import (
    Digest,
    Item,
    Learned,
    LearningRecord,
    LearningWeek,
    Profile,
    SavedSearch,
    Settings,
    Share,
    Source,
    SourceStatus,
    local_day,
)
from aggregator.names import check_name, did_you_mean
from aggregator.rank.daily import digest_for
from aggregator.search import SearchIndex, open_index, rebuild_index
from aggregator.store import Store, open_store, store_exists
from aggregator.store.copy import CopyReport, Progress, copy_store


@dataclass(frozen=True, slots=True)
class Reading:
    """A person's latest digest as the web app shows it, with what they did about its items."""

    profile: Profile
    digest: Digest | None
    judgements: Mapping[int, int]
    notes: Mapping[int, str]
    """The person's own share notes, by item: a second share edits the note."""
    teams: list[str]
    learned: Mapping[int, LearningRecord] = dataclasses.field(default_factory=dict)
    """The person's own learning records, by item."""


class Application(Closing):
    """One project, opened for what a person asks of it."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._index: SearchIndex | None = None

    @classmethod
    def at(cls, root: Path) -> Application:
        return cls(Project.at(root))

    def close(self) -> None:
        """Close what reads opened; the next read opens them again."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            if self._index is not None:
                self._index.close()
                self._index = None

    @contextmanager
    def _reading(self) -> Iterator[tuple[Store, SearchIndex]]:
        """The kept read-only store and index; before the first run, NothingCollectedError.

        Reads are serialized: the index's caches are not built for two threads at once,
        and a read costs milliseconds beside a request's other work.
        """
        collected(self.project)
        with self._lock:
            if self._store is None:
                self._store = open_store(self.project.store_location, read_only=True)
            if self._index is None:
                self._index = open_index(self.project.index_location)
            yield self._store, self._index

    # The daily run and what follows it.

    def run(
        self,
        *,
        now: datetime,
        reporter: Reporter | None = None,
        force: bool = False,
        profiles: Sequence[Profile] | None = None,
    ) -> RunSummary:
        return run(self.project, now=now, reporter=reporter, force=force, profiles=profiles)

    def enqueue_run(self, *, now: datetime, force: bool = False, mail: bool = False) -> Cycle:
        """Start a cycle of the daily run as jobs for ``learnplace worker`` processes
        (with ``mail``, each digest is e-mailed as ``send`` does, once a day)."""
        return start_cycle(self.project, now, force=force, mail=mail)

    def run_state(self, cycle: int) -> dict[str, object]:
        """A queued cycle's stage and the states of its jobs' work."""
        return cycle_state(self.project.store_location, cycle)

    def work(self, *, concurrency: int, stall_seconds: float, schedule: bool = False) -> None:
        """Run queued jobs until stopped (with ``schedule``, the periodic check too)."""
        run_worker(self.project, concurrency=concurrency, stall_s=stall_seconds, schedule=schedule)

    def refresh(self, *, now: datetime, force: bool = False) -> RunSummary:
        return refresh(self.project, now=now, force=force)

    @staticmethod
    def run_demo(root: Path, *, now: datetime, reporter: Reporter | None = None) -> RunSummary:
        return run_demo(root, now=now, reporter=reporter)

    def send(self, *, now: datetime, only: str | None = None) -> list[Mailing]:
        """E-mail today's digest to everyone with an address (or just ``only``), once a day.

        A person whose send fails is reported and tried again on the next call;
        one already sent today is skipped, so cron may call this as often as it likes.
        """
        config = load_config(self.project.feeds_path)
        if config.smtp is None:
            raise LearnplaceError(f"{self.project.feeds_path}: add an [smtp] table to send e-mail")
        profiles = self.profiles()
        if only is not None:
            profiles = [profile for profile in profiles if profile.name == only]
            if not profiles:
                raise self._unknown_person(only)
        today = local_day(now)
        writer = site_writer(self.project, config)
        store_location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project), open_store(store_location) as store:
            return [
                send_one(store, writer, config, profile, today, now)
                for profile in profiles
                if profile.email is not None
            ]

    def send_xapi(self, *, now: datetime, only: str | None = None) -> list[XapiSend]:
        """Send everyone's (or ``only``'s) learning records not yet sent to the LRS of
        ``[xapi]`` as xAPI statements; what it did not take waits for the next call."""
        config = load_config(self.project.feeds_path)
        if config.xapi is None:
            raise LearnplaceError(f"{self.project.feeds_path}: add an [xapi] table to send xAPI")
        profiles = self.profiles() if only is None else [self.profile(only)]
        store_location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project), open_store(store_location) as store:
            return send_statements(store, config.xapi, profiles, now)

    def share(self, person: str, ref: str, note: str, *, now: datetime) -> Share:
        """Record that ``person`` passes the item ``ref`` (id or URL) on to their teams,
        and rewrite the team pages so the share shows at once."""
        config = load_config(self.project.feeds_path)
        profiles = self.profiles()
        if person not in {profile.name for profile in profiles}:
            raise self._unknown_person(person)
        location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project), open_store(location) as store:
            item_id = store.find_item(ref)
            if item_id is None:
                raise UnknownItemError(f"no item {ref!r}: use the number or link on a digest page")
            recorded = store.add_share(person, item_id, note.strip(), now)
            write_team_pages(site_writer(self.project, config), config, profiles, store, now)
        return recorded

    def set_item_type(self, item_id: int, item_type: str | None) -> Item:
        """Override an item's type (``None`` goes back to the parser's guess) in store and index."""
        location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project), open_store(location) as store:
            store.set_item_type(item_id, item_type)
            with writable_index(self.project) as index:
                update_index(store, index)
            return store.items([item_id])[item_id]

    def prune(self, *, older_than: timedelta, now: datetime) -> int:
        """Delete items published more than ``older_than`` ago from store and index; how many.

        Kept: items someone shared or liked, and items in any digest of the same
        window (so recent pages, feeds and team pages stay whole). The store
        deletes and queues in one transaction, then the index follows, as in a run.
        """
        cutoff = now - older_than
        location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project), open_store(location) as store:
            removed = store.prune(cutoff, keep_digests_since=local_day(cutoff))
            with writable_index(self.project) as index:
                update_index(store, index)
        return removed

    def reindex(self) -> int:
        """Rebuild the search index from the store; searches use the old one until the swap."""
        location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project), open_store(location) as store:
            count = rebuild_index(self.project.index_location, store.iter_items())
            store.clear_index_queue()
        return count

    def copy_store(self, to: str, *, progress: Progress | None = None) -> CopyReport:
        """Copy the project's whole store (SQLite or PostgreSQL) into an empty database or a
        new SQLite file ``to``, checked table by table; the project keeps using its own.

        The run lock keeps this project's runs and commands from writing meanwhile, and
        the source is read from one snapshot, so queue workers that write to a PostgreSQL
        store do not make its checksums differ (what they write is not copied).
        """
        location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project):
            return copy_store(location, to, progress=progress)

    # Sources.

    def source_statuses(self) -> list[SourceStatus]:
        """Every listed source with its health and how often it helped (liked, learned,
        shared), so a person can prune those that never do; sources never fetched show
        no status yet."""
        config = load_config(self.project.feeds_path)
        known: dict[str, SourceStatus] = {}
        if self.has_collected():
            with self._reading() as (store, _):
                use = store.source_usefulness()
                known = {
                    status.url: dataclasses.replace(status, use=use.get(status.url, status.use))
                    for status in store.source_statuses()
                }
        new = [
            SourceStatus(s.url, s.name, None, None, None, 0, 0, fetch_url=s.url)
            for s in config.sources
        ]
        disabled = {s.url for s in config.sources if s.disabled}
        listed = [
            dataclasses.replace(found, disabled=found.url in disabled)
            for found in (known.pop(status.url, status) for status in new)
        ]
        # Sources the last run fetched that feeds.toml does not list: the demo's samples.
        return listed + [dataclasses.replace(status, listed=False) for status in known.values()]

    def refresh_source(self, url: str) -> None:
        """Have the next run fetch a listed source, whatever its backoff or ``Retry-After`` said."""
        if url not in {source.url for source in load_config(self.project.feeds_path).sources}:
            raise SourceListError(f"{url!r} is not in {self.project.feeds_path}")
        with open_store(collected(self.project)) as store:
            store.make_due(url)

    def add_source(
        self, url: str, *, name: str | None = None, kind: str = "article"
    ) -> AddedSource:
        return add_source(self.project.feeds_path, self._settings(), url, name=name, kind=kind)

    def source_names(self) -> list[str]:
        """Every source name a person may mean: feeds.toml's, then those only the store
        knows (the demo's samples)."""
        return list(dict.fromkeys(status.name for status in self.source_statuses()))

    def set_source_disabled(self, url_or_name: str, disabled: bool) -> Source:
        """Stop fetching a listed source (``disabled = true``), or start again; items stay."""
        return edit_sources.set_disabled(self.project.feeds_path, url_or_name, disabled)

    def remove_source(self, url_or_name: str) -> Source:
        """Drop a source from feeds.toml; its items and history stay in the store."""
        return edit_sources.remove_source(self.project.feeds_path, url_or_name)

    def import_opml(self, content: bytes, name: str, *, check: bool = True) -> ImportReport:
        """Append an OPML list's feeds (each checked to be one, unless ``check`` is off)."""
        feeds = self.project.feeds_path
        return import_sources(feeds, self._settings(), content, name, check=check)

    def export_opml(self, now: datetime) -> bytes:
        """The source list as OPML 2.0, for another reader."""
        return edit_sources.write_opml(load_config(self.project.feeds_path), now)

    def _settings(self) -> Settings:
        """A new project has no feeds.toml yet: fetch with the defaults then."""
        if not self.project.feeds_path.exists():
            return Settings()
        return load_config(self.project.feeds_path).settings

    # Profiles.

    def profiles(self) -> list[Profile]:
        return load_profiles(self.project.profiles_dir)

    def profile_names(self) -> list[str]:
        return sorted(path.stem for path in self.project.profiles_dir.glob("*.toml"))

    def profile_path(self, name: str) -> Path:
        """An existing profile's file; names that could leave ``profiles/`` are refused."""
        return config_profile_path(self.project.profiles_dir, name)

    def profile(self, name: str) -> Profile:
        return load_profile(self.profile_path(name))

    def new_profile(self, name: str, interests: dict[str, float]) -> Profile:
        """Create ``profiles/NAME.toml`` from the commented template."""
        return profile_edit.create(self.project.profiles_dir, name, interests)

    def _edit_profile(self, name: str, change: Callable[[tomlkit.TOMLDocument], None]) -> Profile:
        return profile_edit.edit(self.profile_path(name), change)

    def add_interest(self, name: str, phrase: str, weight: float) -> Profile:
        """Add an interest or change its weight, keeping the file's comments."""
        return self._edit_profile(name, lambda doc: profile_edit.set_interest(doc, phrase, weight))

    def remove_interest(self, name: str, phrase: str) -> Profile:
        return self._edit_profile(name, lambda doc: profile_edit.remove_interest(doc, phrase))

    def exclude(self, name: str, value: str, *, source: bool = False) -> Profile:
        """Add a word (or a source name, which must be one) the profile never wants."""
        if source:
            check_name(value, self.source_names(), "source")
        key = "sources" if source else "words"
        return self._edit_profile(name, lambda doc: profile_edit.add_exclusion(doc, key, value))

    def replace_profile_text(self, name: str, text: str) -> Profile:
        """Save a whole new text for a profile (``profile edit``) only if it is valid."""
        return profile_edit.replace_text(self.profile_path(name), text)

    def save_profile_changes(self, path: Path, changes: Mapping[str, object]) -> None:
        """Save a form's changes to a profile file if the result is valid (comments kept)."""
        self._check_excluded_sources(path, changes)
        profile_edit.update_profile(path, changes)

    def draft_profile(self, path: Path, changes: Mapping[str, object]) -> Profile:
        """The profile a form's changes would make, validated; nothing is written."""
        self._check_excluded_sources(path, changes)
        return profile_edit.apply(path, changes)[1]

    def _check_excluded_sources(self, path: Path, changes: Mapping[str, object]) -> None:
        """A form's excluded sources must be sources: a near miss silently excluded nothing.

        Names the profile already excludes pass (a source since removed stays excluded).
        """
        wanted = changes.get("exclude_sources")
        if not isinstance(wanted, list | tuple):
            return
        known = [*self.source_names(), *load_profile(path).exclude_sources]
        for value in wanted:
            try:
                check_name(str(value), known, "source")
            except LearnplaceError as exc:
                raise ConfigError(str(path), str(exc), key="exclude.sources") from None

    def _unknown_person(self, name: str) -> UnknownPersonError:
        hint = did_you_mean(name, self.profile_names())
        return UnknownPersonError(f"no profile named {name!r} in {self.project.profiles_dir}{hint}")

    def teams_of(self, name: str) -> list[str]:
        """The teams feeds.toml puts ``name`` in (none without a feeds.toml)."""
        if not self.project.feeds_path.exists():
            return []
        config = load_config(self.project.feeds_path)
        return [team for team, members in config.teams.items() if name in members]

    # Reading what was collected.

    def preview_profile(self, name: str, now: datetime) -> Digest:
        """What ``name`` would get at ``now``, read from the store and index; nothing is written."""
        return self.preview(self.profile(name), now)

    def preview(self, profile: Profile, now: datetime) -> Digest:
        """The digest a profile (saved or not) would get at ``now``; nothing is written."""
        with self._reading() as (store, index):
            return digest_for(store, index, profile, now)

    def search(self, request: SearchRequest, *, now: datetime) -> SearchResults:
        """Items matching a request (the index's query language), best first."""
        with self._reading() as (store, index):
            return search_in(store, index, request, now=now)

    def item(self, item_id: int) -> Item | None:
        """One stored item, or None (also before anything is collected)."""
        if not self.has_collected():
            return None
        with self._reading() as (store, _):
            return store.items([item_id]).get(item_id)

    def has_collected(self) -> bool:
        return store_exists(self.project.store_location)

    def session_key(self) -> bytes | None:
        """The key the web app signs sessions with when several servers share the project
        (kept in its PostgreSQL database); None on SQLite, where one server makes its own."""
        if self.project.database_url is None:
            return None
        from aggregator.store.postgres.shared import session_key  # psycopg only where used

        return session_key(self.project.database_url)

    def reading(self, name: str) -> Reading:
        """``name``'s latest saved digest (None before any run), with their judgements and
        share notes, as the web app shows it."""
        profile = self.profile(name)
        teams = self.teams_of(name)
        if not self.has_collected():
            return Reading(profile, None, {}, {}, teams)
        with self._reading() as (store, _):
            days = store.digest_days(name)
            digest = stored_digest(store, profile, days[-1]) if days else None
            shares = store.shares([name], datetime.min.replace(tzinfo=UTC))
            notes = {share.item_id: share.note for share in shares}
            learned = {r.item_id: r for r in store.learning([name], learning.EPOCH)}
            return Reading(profile, digest, store.feedback(name), notes, teams, learned)

    # Starting a project.

    @staticmethod
    def init(root: Path, person: str) -> list[Path]:
        """Write a starter feeds.toml and one profile where missing; the files written."""
        return init_project(root, person)

    # Feedback.

    def record_feedback(self, name: str, ref: str, judgement: int, now: datetime) -> Item:
        """Store a person's judgement of an item (by id or URL); 0 takes it back."""
        self.profile(name)
        with open_store(collected(self.project)) as store:
            item_id = store.find_item(ref)
            if item_id is None:
                raise UnknownItemError(f"no item {ref!r}: give an item id or URL from a digest")
            store.set_feedback(name, item_id, judgement, now)
            return store.items([item_id])[item_id]

    def judgements(self, name: str) -> list[tuple[Item, int, datetime]]:
        """A person's judgements, newest first: the item, 1 (more) or -1 (less), and when."""
        self.profile(name)
        with self._reading() as (store, _):
            found = store.judgements(name)
            items = store.items(item_id for item_id, _, _ in found)
        return [(items[i], sign, at) for i, sign, at in found if i in items]

    def clear_feedback(self, name: str) -> int:
        """Take back all of a person's judgements; how many there were."""
        self.profile(name)
        with open_store(collected(self.project)) as store:
            return store.clear_feedback(name)

    # Learning: the person's own record.

    def learned(
        self,
        name: str,
        ref: str,
        *,
        now: datetime,
        minutes: int | None = None,
        note: str | None = None,
        shared: bool | None = None,
    ) -> tuple[Learned, LearningRecord | None]:
        """Record (or edit) that ``name`` learned the item ``ref`` (id or URL); what is not
        given keeps its earlier value (a new record is private, without minutes or note).
        Returns the record with its item, and the record it replaced; team pages are
        rewritten when a shared reflection changes."""
        self.profile(name)
        store_location = collected(self.project)  # before the lock, which creates state/
        with run_lock(self.project), open_store(store_location) as store:
            item_id = store.find_item(ref)
            if item_id is None:
                raise UnknownItemError(f"no item {ref!r}: use the number or link on a digest page")
            earlier = {r.item_id: r for r in store.learning([name], learning.EPOCH)}.get(item_id)
            record = LearningRecord(
                name,
                item_id,
                now if earlier is None else earlier.learned_at,
                minutes if minutes is not None else (earlier.minutes if earlier else None),
                learning.checked_learning(
                    minutes, note if note is not None else (earlier.note if earlier else "")
                ),
                shared if shared is not None else (earlier.shared if earlier else False),
            )
            replaced = store.record_learning(record)
            self._rewrite_learning_pages(store, name, now)
            return Learned(record, store.items([item_id])[item_id]), replaced

    def forget_learning(self, name: str, ref: str, *, now: datetime) -> bool:
        """Delete the person's record of an item; whether there was one."""
        self.profile(name)
        with run_lock(self.project), open_store(collected(self.project)) as store:
            item_id = store.find_item(ref)
            if item_id is None:
                raise UnknownItemError(f"no item {ref!r}")
            deleted = store.delete_learning(name, item_id)
            self._rewrite_learning_pages(store, name, now)
            return deleted

    def learning_log(self, name: str) -> list[LearningWeek]:
        """The person's log by week, newest first (empty before anything is collected)."""
        self.profile(name)
        if not self.has_collected():
            return []
        with self._reading() as (store, _):
            return learning.log_weeks(store, name)

    def _rewrite_learning_pages(self, store: Store, name: str, now: datetime) -> None:
        """The person's log and feed, and the team pages, show a change at once."""
        if self.project.feeds_path.exists():
            config = load_config(self.project.feeds_path)
            writer = site_writer(self.project, config)
            write_person_learning(writer, store, self.profile(name), now)
            write_team_pages(writer, config, self.profiles(), store, now)

    # Saved searches and rules.

    def save_search(self, name: str, search: SavedSearch, *, now: datetime) -> list[Item]:
        """Add or change a saved search once its query reads; what its section shows now."""
        found = self.preview_search(name, search, now=now)
        self._edit_profile(
            name, lambda doc: learning_edit.set_search(doc, search.name, search.query, search.types)
        )
        return found

    def remove_search(self, name: str, search_name: str) -> Profile:
        return self._edit_profile(name, lambda doc: learning_edit.remove_search(doc, search_name))

    def preview_search(self, name: str, search: SavedSearch, *, now: datetime) -> list[Item]:
        """The items ``search`` would show in ``name``'s digest now; nothing is written."""
        profile = self.profile(name)
        if not self.has_collected():
            return []
        with self._reading() as (store, index):
            return learning.search_preview(store, index, profile, search, now)

    def add_rule(
        self, name: str, action: str, matcher: str, value: str, field: str = ""
    ) -> Profile:
        return self._edit_profile(
            name, lambda doc: learning_edit.add_rule(doc, action, matcher, value, field)
        )

    def remove_rule(self, name: str, number: int) -> Profile:
        return self._edit_profile(name, lambda doc: learning_edit.remove_rule(doc, number))

    def rule_effects(
        self, name: str, *, now: datetime, profile: Profile | None = None
    ) -> list[RuleEffect]:
        """Each of the profile's rules with the stored items it matches now."""
        profile = profile or self.profile(name)
        if not self.has_collected():
            return [RuleEffect(n, r, ()) for n, r in enumerate(profile.rules, start=1)]
        with self._reading() as (store, _):
            return learning.rule_effects(store, profile, now)

    def apply_rules(self, name: str, *, now: datetime) -> int:
        """Apply the mute rules to what is already stored: the person's latest saved digest
        loses the items they hide, and its page is rewritten; how many were taken out."""
        profile = self.profile(name)
        config = load_config(self.project.feeds_path)
        with run_lock(self.project), open_store(collected(self.project)) as store:
            return apply_to_saved(store, site_writer(self.project, config), config, profile)
