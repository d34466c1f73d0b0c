"""The only stage that writes ``output/``: digest pages, Atom feeds, the site index.

Templates are Jinja2 with autoescape always on; a person's own ``templates/``
directory overrides the packaged ones file by file. Every file is written to
a temporary sibling and moved into place with ``os.replace``, so a crash at
any point leaves either the old file or the new one, never half of one.

Layout of the site (all links relative, so it works under any path and from
the file system)::

    output/index.html                 every person, today's count
    output/base.css, style.css      the stylesheets (base.css is the web app's too)
    output/in-app.css               hides what only the app can do (it serves its own)
    output/<person>/<YYYY-MM-DD>.html one digest per day
    output/<person>/index.html        the latest day
    output/<person>/archive.html      every day, by month
    output/<person>/feed.xml          Atom 1.0
    output/<person>/event-<id>.ics    "add to calendar" for each upcoming event on a page


    output/teams/<team>.html          this week's shares, one entry per item

Pages show no HTML from sources: a summary is the item's plain text cut to
two lines, so nothing a feed sends can run, restyle the page or load from
elsewhere, and the Content-Security-Policy can allow only the site's own
stylesheet. E-mail bodies are rendered here too (``email.txt``,
``email.html``); sending them is :mod:`aggregator.deliver.mail`'s job.
"""

from __future__ import annotations

import hashlib
import html
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2

from aggregator.atomic import TEMP_SUFFIX, write_atomic
from aggregator.models import (
    ITEM_TYPES,
    PROFILE_NAME,
    Details,
    Digest,
    Item,
    Learned,
    Pick,
    Profile,
    SharedItem,
)
from aggregator.parse.ical import IcsEvent, event_ics
from aggregator.sanitize import html_to_text

LINK_SCHEMES = frozenset({"http", "https", "mailto"})
"""Schemes an item link may use; anything else (``javascript:``, ``data:``) is dropped."""

ITEM_ID_PREFIX = "urn:learnplace:item:"
FEED_ID_PREFIX = "urn:learnplace:feed:"

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

TYPE_LABELS: dict[str, tuple[str, str]] = {
    "article": ("Article", "Articles"),
    "course": ("Course", "Courses"),
    "event": ("Event", "Events"),
    "podcast": ("Podcast", "Podcasts"),
    "video": ("Video", "Videos"),
    "book": ("Book", "Books"),
    "paper": ("Paper", "Papers"),
}
"""Human words for item types: singular for an item, plural for a section heading."""

# XML 1.0 forbids most C0 controls even when escaped; one in a title makes a feed unreadable.
XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

DIGEST_TEMPLATE = "digest.html"
ARCHIVE_TEMPLATE = "archive.html"
TEAM_TEMPLATE = "team.html"
SITE_INDEX_TEMPLATE = "site_index.html"
FEED_TEMPLATE = "feed.xml"
EMAIL_TEXT_TEMPLATE = "email.txt"
EMAIL_HTML_TEMPLATE = "email.html"
STYLESHEET = "style.css"
SHARED_STYLESHEET = "base.css"
FAVICON = "favicon.svg"
IN_APP_STYLESHEET = "in-app.css"
ASSETS = {
    SHARED_STYLESHEET: f"web/static/{SHARED_STYLESHEET}",
    STYLESHEET: STYLESHEET,
    IN_APP_STYLESHEET: IN_APP_STYLESHEET,
    FAVICON: FAVICON,
}
"""Copied verbatim into ``output/`` (name there: template name); a page links its icon so
browsers do not ask the server root for ``/favicon.ico``, which lies outside the site.
``base.css`` is the web app's too: the palette, focus and skip link, in one place.
``in-app.css`` hides what works only in ``learnplace serve``, which serves its own copy."""

MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

SUMMARY_CHARS = 220
"""About two lines on a desktop; CSS clamps to two lines on narrower screens."""

WORDS_PER_MINUTE = 230
"""A common figure for reading non-fiction on a screen."""

LISTEN_VERBS = {"podcast": "listen", "video": "watch"}
"""Types whose text is show notes: the page names the format instead of a reading time."""


def packaged_templates_dir() -> Path:
    """Where the default templates live, installed or not.

    The wheel ships the repository's ``templates/`` as ``aggregator/templates``;
    a source checkout has only the repository folder next to the package.
    """
    package = Path(__file__).parents[1]
    installed = package / "templates"
    if installed.is_dir():
        return installed
    return package.parent / "templates"


def make_environment(template_dirs: Sequence[Path]) -> jinja2.Environment:
    """Jinja with ``template_dirs`` (first match wins) overriding the packaged templates."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(d) for d in template_dirs]
    loaders.append(jinja2.FileSystemLoader(packaged_templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # default=True: a user template with an unexpected extension is escaped too.
        # The plain-text e-mail body is the one template that must not be HTML-escaped.
        autoescape=jinja2.select_autoescape(
            ("html", "xml"), disabled_extensions=("txt",), default_for_string=True, default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        day_label=day_label,
        type_label=type_label,
        section_heading=section_heading,
        safe_href=safe_href,
        xml_text=xml_text,
        atom_time=atom_time,
        event_when=event_when,
        event_datetime=event_datetime,
        duration_label=duration_label,
        short_summary=short_summary,
        time_to_read=time_to_read,
        share_command=share_command,
        share_mailto=share_mailto,
        learned_command=learned_command,
        search_feed=search_feed_name,
    )
    return env


def event_when(details: Details) -> str:
    """``Thu 3 Dec 2026, 14:00 Europe/Berlin``: in the event's own zone when the source named
    one, as "local time" when it gave a time without any zone, else in UTC; an all-day
    event shows its date only. A series says how it repeats."""
    if details.event_start is None:
        return ""
    repeats = f" ({details.event_repeats})" if details.event_repeats else ""
    if details.event_all_day:
        return day_label(details.event_start) + repeats
    if details.event_floating:
        start, label = details.event_start, "local time"
    else:
        zone = ZoneInfo(details.event_timezone) if details.event_timezone else UTC
        start, label = details.event_start.astimezone(zone), details.event_timezone or "UTC"
    return f"{day_label(start)}, {start:%H:%M} {label}{repeats}"


def event_datetime(details: Details) -> str:
    """The start for a ``<time datetime>``: a floating time as a local one, without offset."""
    if details.event_start is None:
        return ""
    if details.event_all_day:
        return details.event_start.date().isoformat()
    if details.event_floating:
        return details.event_start.replace(tzinfo=None).isoformat(timespec="minutes")
    return details.event_start.isoformat(timespec="minutes")


def duration_label(seconds: int | None) -> str:
    """``42 min`` or ``1 h 05 min``; "" when unknown."""
    if not seconds:
        return ""
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


@dataclass(frozen=True, slots=True)
class UpcomingEvent:
    """One line of a page's Upcoming section: the pick and its calendar file (relative link)."""

    pick: Pick
    ics_name: str


def calendar_event(item: Item) -> IcsEvent:
    """What an item's "add to calendar" file says. An occurrence of a series gets a UID of
    its own (the occurrences share the series' link), so adding two adds two."""
    details = item.details
    assert details.event_start is not None
    key = f"{item.source_url}\n{item.guid}" if details.event_series else ""
    return IcsEvent(
        uid_key=key or item.canonical_url or item.guid,
        title=item.title,
        start=details.event_start,
        end=details.event_end,
        all_day=details.event_all_day,
        timezone=details.event_timezone,
        floating=details.event_floating,
        url=safe_href(item.url) or "",
        description=item.text[:1000],
        location=details.location,
    )


def ics_name(item: Item) -> str:
    """The event's calendar file, next to the person's pages; item ids never change."""
    return f"event-{item.id}.ics"


def section_order(profile: Profile) -> tuple[str, ...]:
    """The person's section order: as their profile says, else events first (they are
    dated), then the types they weigh highest, then the rest in the default order."""
    if profile.section_order:
        return profile.section_order
    rest = [kind for kind in ITEM_TYPES if kind != "event"]
    rest.sort(key=lambda kind: -profile.types.get(kind, 1.0))
    return ("event", *rest)


def short_summary(item: Item) -> str:
    """The item's summary as plain text, cut at a word to about two lines."""
    text = html_to_text(item.summary) or item.text
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS].rsplit(" ", 1)[0].rstrip(" ,.;:")
    return cut + "…"


def time_to_read(item: Item) -> str:
    """``6 min read``; for audio and video, whose notes say nothing of their length, the verb."""
    if item.item_type in LISTEN_VERBS:
        length = duration_label(item.details.duration_s)
        verb = LISTEN_VERBS[item.item_type].capitalize()
        return f"{verb}: {length}" if length else verb
    words = len((item.text or html_to_text(item.summary)).split())
    return f"{max(1, round(words / WORDS_PER_MINUTE))} min read"


def share_command(item: Item, person: str) -> str:
    """The ``learnplace share`` line a person copies to pass ``item`` on to their teams."""
    return shlex.join(["learnplace", "share", person, str(item.id), "--note", "why it is worth it"])


def learned_command(item: Item, person: str) -> str:
    """The ``learnplace learned`` line a person copies to log ``item`` from a static page."""
    line = ["learnplace", "learned", person, str(item.id), "--minutes", "10"]
    return shlex.join([*line, "--note", "what I took from it"])


def search_feed_name(name: str) -> str:
    """The file of a saved search's Atom feed: ``search-<words>-<hash>.xml``, safe on disk
    and distinct for names that differ only in punctuation."""
    words = "-".join(re.findall(r"[a-z0-9]+", name.lower()))[:40] or "search"
    tag = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:6]
    return f"search-{words}-{tag}.xml"


def share_mailto(item: Item) -> str:
    """A ``mailto:`` that opens a message with the item's title and link, for any colleague."""
    body = f"{item.title}\n{item.url}\n\nWhy it is worth it: "
    return f"mailto:?subject={quote(item.title)}&body={quote(body)}"


def day_label(value: date | datetime) -> str:
    """``Mon 30 Nov 2026``, the same in every locale (``strftime`` follows the process locale)."""
    day = value.date() if isinstance(value, datetime) else value
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def type_label(item_type: str) -> str:
    """The singular word for one item's type."""
    return TYPE_LABELS.get(item_type, (item_type.capitalize(), ""))[0]


def section_heading(item_type: str) -> str:
    """The plural word heading a section of one type."""
    return TYPE_LABELS.get(item_type, ("", item_type.capitalize() + "s"))[1]


def safe_href(url: str) -> str | None:
    """The URL if a page may link to it, else ``None`` (the title is then shown unlinked)."""
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in LINK_SCHEMES else None


def xml_text(text: str) -> str:
    """Text without the characters XML 1.0 cannot carry; escaping is left to autoescape."""
    return XML_INVALID_CHARS.sub("", str(text))


def atom_time(value: date | datetime) -> str:
    """RFC 3339 in UTC; a bare date means midnight UTC of that day."""
    moment = value if isinstance(value, datetime) else datetime.combine(value, time(), UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def item_entry_id(item: Item) -> str:
    """A feed entry id that survives reruns, other days and other sources of the same article."""
    key = item.canonical_url or item.guid
    return ITEM_ID_PREFIX + hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()


def feed_id(profile: Profile) -> str:
    """One id per person's feed, so a reader keeps it when the site moves."""
    return FEED_ID_PREFIX + checked_person_name(profile.name)


def checked_person_name(name: str) -> str:
    """The name, if it is safe as a directory name; config validates it, this refuses the rest."""
    if not PROFILE_NAME.fullmatch(name):
        raise ValueError(f"refusing person name {name!r}: not a profile name")
    return name


def neighbour_days(day: date, days: Sequence[date]) -> tuple[date | None, date | None]:
    """The closest earlier and later days that have a digest."""
    earlier = [d for d in days if d < day]
    later = [d for d in days if d > day]
    return (max(earlier) if earlier else None, min(later) if later else None)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One Atom entry: a pick, the day it was first picked, and its HTML summary."""

    id: str
    day: date
    pick: Pick
    summary_html: str


def feed_entries(digests: Sequence[Digest]) -> list[FeedEntry]:
    """Entries newest day first, each item once, dated by the first day it was picked.

    Dating an item by its first pick keeps its ``<updated>`` fixed when a later
    digest picks it again, so feed readers do not show it as changed.
    """
    first_pick: dict[str, tuple[date, Pick]] = {}
    for digest in sorted(digests, key=lambda d: d.day):
        for pick in digest.picks:
            first_pick.setdefault(item_entry_id(pick.item), (digest.day, pick))
    ordered = sorted(first_pick.items(), key=lambda kv: kv[1][0], reverse=True)
    return [FeedEntry(eid, day, pick, entry_summary_html(pick)) for eid, (day, pick) in ordered]


def entry_summary_html(pick: Pick) -> str:
    """The item's sanitized summary followed by why it was picked, as one HTML fragment."""
    if not pick.reasons:
        return pick.item.summary
    why = html.escape(" · ".join(pick.reasons))
    return f"{pick.item.summary}<p>Why: {why}</p>"


class SiteWriter:
    """Renders pipeline results into ``output_dir``; nothing else writes there."""

    def __init__(
        self, output_dir: Path, env: jinja2.Environment, *, site_title: str = "Learnplace"
    ) -> None:
        self.output_dir = output_dir
        self.env = env
        self.site_title = site_title
        self._calendars: dict[int, str] = {}

    def write_digest(
        self,
        digest: Digest,
        days: Sequence[date],
        colleagues: Sequence[SharedItem] = (),
        failed_note: str = "",
        *,
        kept: bool = False,
    ) -> list[Path]:
        """Write the day's page, and the person's ``index.html`` when this is their latest day.

        ``days`` is every day the person has a digest; it decides prev/next
        links and whether this day is the latest (an older day re-rendered
        must not replace the front page). ``colleagues`` are teammates' shares
        for the "From your colleagues" section. ``failed_note`` says which sources failed in
        this run, so an empty or kept page never reads as "nothing new"; ``kept`` that this
        digest is an earlier one kept in place of an emptier one (only then does the page say so).
        """
        person_dir = self._person_dir(digest.profile)
        all_days = sorted({*days, digest.day})
        prev_day, next_day = neighbour_days(digest.day, all_days)
        context = {
            "digest": digest,
            "sections": digest.sections(section_order(digest.profile)),
            "colleagues": list(colleagues),
            "prev_day": prev_day,
            "next_day": next_day,
            "root": "../",
            "failed_note": failed_note,
            "kept": kept,
            "upcoming": self._write_calendar_files(person_dir, digest.upcoming),
        }
        day_page = person_dir / f"{digest.day.isoformat()}.html"
        self._render(DIGEST_TEMPLATE, day_page, is_latest_page=False, **context)
        written = [day_page]
        if digest.day == all_days[-1]:
            latest_page = person_dir / "index.html"
            self._render(DIGEST_TEMPLATE, latest_page, is_latest_page=True, **context)
            written.append(latest_page)
        return written

    def _write_calendar_files(self, person_dir: Path, picks: Sequence[Pick]) -> list[UpcomingEvent]:
        """One .ics per upcoming event, so "add to calendar" works from a static page."""
        upcoming = []
        for pick in picks:
            item, details = pick.item, pick.item.details
            if details.event_start is None:
                continue
            text = self._calendars.get(item.id)
            if text is None:  # the same event is upcoming for many people
                text = event_ics(calendar_event(item), now=item.first_seen)
                self._calendars[item.id] = text
            write_atomic(person_dir / ics_name(item), text)
            upcoming.append(UpcomingEvent(pick, ics_name(item)))
        return upcoming

    def write_feed(self, profile: Profile, digests: Sequence[Digest], now: datetime) -> Path:
        """Write the person's Atom feed from their recent digests."""
        strangers = {d.profile.name for d in digests} - {profile.name}
        if strangers:
            raise ValueError(f"digests of {sorted(strangers)} passed for {profile.name!r}'s feed")
        path = self._person_dir(profile) / "feed.xml"
        self._render(
            FEED_TEMPLATE,
            path,
            profile=profile,
            feed_id=feed_id(profile),
            entries=feed_entries(digests),
            now=now,
        )
        return path

    def write_archive(self, profile: Profile, days: Sequence[tuple[date, int]]) -> Path:
        """Write ``<person>/archive.html``: every digest day with its item count, by month."""
        months: dict[tuple[int, int], list[tuple[date, int]]] = {}
        for day, count in sorted(days, reverse=True):
            months.setdefault((day.year, day.month), []).append((day, count))
        path = self._person_dir(profile) / "archive.html"
        grouped = [
            (f"{MONTH_NAMES[m - 1]} {y}", f"{y:04d}-{m:02d}", d) for (y, m), d in months.items()
        ]
        self._render(ARCHIVE_TEMPLATE, path, profile=profile, months=grouped, root="../")
        return path

    def write_team_page(
        self,
        team: str,
        members: Sequence[Profile],
        shared: Sequence[SharedItem],
        now: datetime,
        learned: Sequence[Learned] = (),
    ) -> Path:
        """Write ``teams/<team>.html``: what the team shared this week, each item once, and
        what its members chose to share of what they learned (their reflections)."""
        teams_dir = self.output_dir / "teams"
        teams_dir.mkdir(parents=True, exist_ok=True)
        path = teams_dir / f"{checked_person_name(team)}.html"
        self._render(
            TEAM_TEMPLATE,
            path,
            team=team,
            members=list(members),
            shared=list(shared),
            learned=list(learned),
            now=now,
            root="../",
        )
        return path

    def write_site_index(
        self,
        entries: Sequence[tuple[Profile, int]],
        now: datetime,
        teams: Sequence[str] = (),
        failed_note: str = "",
        *,
        mailing: bool = False,
    ) -> Path:
        """Write ``output/index.html``: every person with today's item count, and the teams;
        ``failed_note`` says that sources failed in the last run; ``mailing`` that feeds.toml
        has an ``[smtp]`` table, so people with an address are e-mailed their digest."""
        for profile, _count in entries:
            checked_person_name(profile.name)
        path = self.output_dir / "index.html"
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._render(
            SITE_INDEX_TEMPLATE,
            path,
            entries=list(entries),
            teams=[checked_person_name(team) for team in teams],
            now=now,
            root="",
            failed_note=failed_note,
            mailing=mailing,
        )
        return path

    def remove_leftovers(self) -> int:
        """Delete temporary files a killed writer left behind; returns how many.

        ``kill -9`` skips :func:`write_atomic`'s cleanup. Call only while
        holding the run lock, so no live writer's temporary file is taken.
        """
        if not self.output_dir.is_dir():
            return 0
        leftovers = list(self.output_dir.rglob(f".*{TEMP_SUFFIX}"))
        for path in leftovers:
            path.unlink(missing_ok=True)
        return len(leftovers)

    def write_assets(self) -> None:
        """Copy the stylesheet and icon (a user's override if there is one) verbatim."""
        loader = self.env.loader
        if loader is None:
            raise ValueError("the Jinja environment has no loader; use make_environment()")
        self.output_dir.mkdir(parents=True, exist_ok=True)
        for name, template in ASSETS.items():
            source, _filename, _uptodate = loader.get_source(self.env, template)
            write_atomic(self.output_dir / name, source)

    def email_bodies(
        self, digest: Digest, colleagues: Sequence[SharedItem] = ()
    ) -> tuple[str, str, str]:
        """Subject, plain-text body and HTML body of ``digest`` as an e-mail."""
        context = {
            "site_title": self.site_title,
            "digest": digest,
            "sections": digest.sections(section_order(digest.profile)),
            "colleagues": list(colleagues),
        }
        person = digest.profile.display_name
        subject = f"{self.site_title}: {person}\u2019s digest, {day_label(digest.day)}"
        text = self.env.get_template(EMAIL_TEXT_TEMPLATE).render(**context)
        body_html = self.env.get_template(EMAIL_HTML_TEMPLATE).render(**context)
        return subject, text, body_html

    def _person_dir(self, profile: Profile) -> Path:
        path = self.output_dir / checked_person_name(profile.name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_person_page(
        self, profile: Profile, name: str, template_name: str, **context: object
    ) -> Path:
        """Write ``<person>/<name>`` from a template (the learning pages and feeds)."""
        path = self._person_dir(profile) / name
        self._render(template_name, path, profile=profile, **context)
        return path

    def _render(self, template_name: str, path: Path, **context: object) -> None:
        template = self.env.get_template(template_name)
        write_atomic(path, template.render(site_title=self.site_title, **context))
