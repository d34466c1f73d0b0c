"""A person's learning pages: the log by week, the Atom feed of their shared reflections,
and one Atom feed per saved search, each from what the store holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from aggregator.models import Digest, Learned, LearningWeek, Profile
from aggregator.render.site import FEED_ID_PREFIX, SiteWriter, feed_entries, search_feed_name

LOG_TEMPLATE = "learning.html"
REFLECTIONS_TEMPLATE = "reflections.xml"
SEARCH_FEED_TEMPLATE = "feed.xml"
LOG_PAGE = "learning.html"
REFLECTIONS_FEED = "reflections.xml"


def write_learning(
    writer: SiteWriter,
    profile: Profile,
    weeks: Sequence[LearningWeek],
    shared: Sequence[Learned],
    now: datetime,
) -> list[Path]:
    """The log page (every record, private ones included: the site is the person's own
    machine's) and the feed of the reflections they chose to share."""
    return [
        writer.write_person_page(
            profile, LOG_PAGE, LOG_TEMPLATE, weeks=list(weeks), now=now, root="../"
        ),
        writer.write_person_page(
            profile,
            REFLECTIONS_FEED,
            REFLECTIONS_TEMPLATE,
            feed_id=f"{FEED_ID_PREFIX}{profile.name}/reflections",
            entries=list(shared),
            now=now,
        ),
    ]


def write_search_feeds(
    writer: SiteWriter, profile: Profile, digests: Sequence[Digest], now: datetime
) -> list[Path]:
    """One Atom feed per saved search, from its sections of the person's recent digests."""
    written = []
    for search in profile.searches:
        title = f"{writer.site_title}: {profile.display_name}, saved search {search.name}"
        sectioned = [
            Digest(profile, digest.day, dict(digest.searches).get(search.name, ()))
            for digest in digests
        ]
        written.append(
            writer.write_person_page(
                profile,
                search_feed_name(search.name),
                SEARCH_FEED_TEMPLATE,
                feed_title=title,
                self_href=search_feed_name(search.name),
                feed_id=f"{FEED_ID_PREFIX}{profile.name}/{search_feed_name(search.name)}",
                entries=feed_entries(sectioned),
                now=now,
            )
        )
    return written
