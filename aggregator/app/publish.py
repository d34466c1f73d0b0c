"""What a run leaves for people: the static site, the team pages and the e-mailed digests.

A digest is saved in the store before its pages are written, so a run stopped part way
leaves pages only for saved digests, and the next run writes the rest; every page and
feed is rebuilt from what the store holds, so pages written on other days stay whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from aggregator.app.collect import RunSummary
from aggregator.app.learning import log_weeks, shared_reflections
from aggregator.app.project import Project, Reporter
from aggregator.deliver.mail import build_message, send_message
from aggregator.deliver.sharing import TEAM_PAGE_DAYS, colleagues_window, group_shares
from aggregator.errors import MailError
from aggregator.models import Config, Digest, Pick, Profile, SharedItem
from aggregator.rank.daily import learning_extras
from aggregator.rank.rules import muted_by
from aggregator.render.learning import write_learning, write_search_feeds
from aggregator.render.site import SiteWriter, make_environment
from aggregator.store import Store

FEED_DAYS = 14
"""How many days of digests a person's Atom feed carries."""


def render_site(
    project: Project,
    config: Config,
    profiles: Sequence[Profile],
    store: Store,
    digests: Iterable[Digest],
    now: datetime,
    reporter: Reporter,
    summary: RunSummary,
) -> None:
    """Write each digest's pages as it arrives, then the team pages and the site index."""
    reporter.start("render", len(profiles) + len(config.teams) + 1)
    writer = site_writer(project, config)
    writer.remove_leftovers()
    writer.write_assets()
    written = []
    note = failed_note(summary)
    for digest in digests:
        written.append(digest)
        write_person(writer, config, store, digest, now, summary, note)
        reporter.advance("render", digest.profile.name)
    for page in write_team_pages(writer, config, profiles, store, now):
        reporter.advance("render", page.stem)
    entries = [(d.profile, len(d.picks)) for d in written]
    summary.site_index = writer.write_site_index(
        entries, now, list(config.teams), note, mailing=config.smtp is not None
    )
    reporter.advance("render")


def write_person(
    writer: SiteWriter,
    config: Config,
    store: Store,
    digest: Digest,
    now: datetime,
    summary: RunSummary,
    note: str = "",
) -> None:
    """One saved digest's pages, the previous day's "next" link, the person's feeds, learning
    pages and archive; ``note`` says on the page that sources failed."""
    profile = digest.profile
    days = store.digest_days(profile.name)
    colleagues = _colleagues(store, config, profile, digest.day, days)
    kept = profile.name in summary.kept
    paths = writer.write_digest(digest, days, colleagues, note, kept=kept)
    if len(days) > 1 and days[-2] < digest.day:
        # The previous day's page gains its "next day" link.
        previous = stored_digest(store, profile, days[-2])
        writer.write_digest(previous, days, _colleagues(store, config, profile, previous.day, days))
    history = [stored_digest(store, profile, day) for day in days[-FEED_DAYS:]]
    writer.write_feed(profile, history[::-1], now)
    write_search_feeds(writer, profile, history[::-1], now)
    write_person_learning(writer, store, profile, now)
    writer.write_archive(profile, [(day, len(store.digest(profile.name, day))) for day in days])
    summary.digests.append((profile.name, len(digest.picks), paths[-1]))


def failed_note(summary: RunSummary) -> str:
    """What pages say when sources failed in a run ("" when none did)."""
    if not summary.failures:
        return ""
    total = summary.sources_ok + len(summary.failures)
    return f"{len(summary.failures)} of {total} sources failed in the last run"


def write_team_pages(
    writer: SiteWriter,
    config: Config,
    profiles: Sequence[Profile],
    store: Store,
    now: datetime,
) -> list[Path]:
    """Write every team's page of this week's shares."""
    by_name = {profile.name: profile for profile in profiles}
    written = []
    for team, members in config.teams.items():
        since = now - timedelta(days=TEAM_PAGE_DAYS)
        shares = store.shares(members, since)
        shared = group_shares(shares, store.items({share.item_id for share in shares}))
        known = [by_name[name] for name in members if name in by_name]
        learned = shared_reflections(store, members, since)
        written.append(writer.write_team_page(team, known, shared, now, learned))
    return written


def write_person_learning(
    writer: SiteWriter, store: Store, profile: Profile, now: datetime
) -> None:
    """The person's learning log page and shared-reflections feed, as the store holds them."""
    shared = shared_reflections(store, [profile.name])
    write_learning(writer, profile, log_weeks(store, profile.name), shared, now)


def site_writer(project: Project, config: Config) -> SiteWriter:
    env = make_environment([project.templates_dir])
    return SiteWriter(project.output_dir, env, site_title=config.settings.title)


def _colleagues(
    store: Store, config: Config, profile: Profile, day: date, days: Sequence[date]
) -> list[SharedItem]:
    """Teammates' shares made since the person's previous digest, each item once."""
    start, end = colleagues_window(day, days)
    shares = store.shares(config.teammates(profile.name), _day_start(start), _day_start(end))
    return group_shares(shares, store.items({share.item_id for share in shares}))


def _day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the machine's time zone (see ``local_day``)."""
    return datetime.combine(day, time()).astimezone()


def stored_digest(store: Store, profile: Profile, day: date) -> Digest:
    """A saved day's digest: its picks, Upcoming and saved-search sections as saved, its
    Revisit section and goal progress from the person's records as they are now."""
    saved = store.sections(profile.name, day)
    revisit, progress = learning_extras(store, profile, day)
    return Digest(
        profile=profile,
        day=day,
        picks=_picks(store, store.digest(profile.name, day, upcoming=False)),
        upcoming=_picks(store, store.digest(profile.name, day, upcoming=True)),
        searches=tuple(
            (search.name, _picks(store, saved.get(search.name, []))) for search in profile.searches
        ),
        revisit=revisit,
        progress=progress,
    )


def _picks(store: Store, rows: Sequence[tuple[int, float, tuple[str, ...]]]) -> tuple[Pick, ...]:
    items = store.items(item_id for item_id, _, _ in rows)
    return tuple(
        Pick(item=items[item_id], score=score, reasons=reasons)
        for item_id, score, reasons in rows
        if item_id in items
    )


@dataclass(frozen=True, slots=True)
class Mailing:
    """What ``send`` did for one person: ``sent``, ``already sent``, ``no digest`` or ``failed``."""

    person: str
    address: str
    status: str
    detail: str = ""


def send_one(
    store: Store, writer: SiteWriter, config: Config, profile: Profile, today: date, now: datetime
) -> Mailing:
    """E-mail ``profile`` today's stored digest, once: a failure is recorded and retried later."""
    address = profile.email or ""
    if store.mailed(profile.name, today):
        return Mailing(profile.name, address, "already sent")
    days = store.digest_days(profile.name)
    if today not in days:
        return Mailing(profile.name, address, "no digest", "run `learnplace run` first")
    digest = stored_digest(store, profile, today)
    colleagues = _colleagues(store, config, profile, today, days)
    subject, text, html = writer.email_bodies(digest, colleagues)
    assert config.smtp is not None
    try:
        # A header the e-mail library refuses (a line break in a name) fails this person only.
        message = build_message(
            sender=config.smtp.sender,
            recipient=address,
            subject=subject,
            text=text,
            html=html,
            sent_at=now,
        )
        send_message(config.smtp, message)
    except (MailError, ValueError) as exc:
        store.record_mailing(profile.name, today, now, error=str(exc))
        return Mailing(profile.name, address, "failed", str(exc))
    store.record_mailing(profile.name, today, now)
    return Mailing(profile.name, address, "sent", f"{len(digest.picks)} items")


def apply_to_saved(store: Store, writer: SiteWriter, config: Config, profile: Profile) -> int:
    """Take what the profile's mute rules hide out of its latest saved digest and rewrite
    that page; how many items went."""
    days = store.digest_days(profile.name)
    if not days:
        return 0
    digest = stored_digest(store, profile, days[-1])
    picks = [p for p in digest.picks if muted_by(profile, p.item) is None]
    upcoming = [p for p in digest.upcoming if muted_by(profile, p.item) is None]
    searches = {
        name: [p for p in found if muted_by(profile, p.item) is None]
        for name, found in digest.searches
    }
    removed = len(digest.picks) + len(digest.upcoming) - len(picks) - len(upcoming)
    removed += sum(len(found) for _, found in digest.searches) - sum(map(len, searches.values()))
    if removed:
        store.save_sections(profile.name, digest.day, searches)
        store.save_digest(profile.name, digest.day, picks, upcoming)
        kept = stored_digest(store, profile, digest.day)
        writer.write_digest(kept, days, _colleagues(store, config, profile, kept.day, days))
    return removed
