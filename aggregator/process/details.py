"""An entry's type and the details that go with it (event time, duration, provider),
decided from the evidence its document gave.

Pure logic, called by every reader in :mod:`aggregator.parse` on each entry it reads:
the evidence (enclosures, JSON-LD, calendar fields, ``itunes:`` tags) is format-specific
and gone once parsing ends, the decision is the same for every format.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aggregator.models import Details, Entry
from aggregator.process import events
from aggregator.process.classify import Signals, classify


@dataclass(frozen=True, slots=True)
class Media:
    """What an entry carries to listen to or watch: the evidence of its type."""

    enclosures: tuple[tuple[str, str], ...] = ()
    podcast_tags: bool = False
    audio: bool = False
    video: bool = False


def with_type_and_details(
    parsed: Entry,
    *,
    kind: str,
    item_type: str | None,
    language: str,
    feed_title: str,
    media: Media = Media(),
    structured: tuple[events.EventTime | None, ...] = (),
    raw_html: str = "",
    duration: int | None = None,
) -> Entry:
    """The entry with its type and details, from every signal its document gave.

    ``item_type`` is the person's own choice for the source (no guessing then); ``kind`` the
    source's hint; ``feed_title`` names a course's provider when the entry names none.
    """
    has_event_data = any(found is not None for found in structured) or (
        "ld+json" in raw_html and events.from_json_ld(raw_html) is not None
    )
    chosen = item_type or classify(
        Signals(
            kind=kind,
            title=parsed.title,
            text=parsed.text,
            url=parsed.url,
            guid=parsed.guid,
            enclosure_type=parsed.enclosure_type,
            enclosures=media.enclosures,
            categories=parsed.tags,
            has_podcast_tags=media.podcast_tags,
            has_audio_media=media.audio,
            has_video_media=media.video,
            has_event_data=has_event_data,
            schema_types=events.json_ld_types(raw_html),
            html=raw_html,
        )
    )
    details = Details(
        duration_s=duration if chosen in ("podcast", "video") else None,
    )
    if chosen == "event":
        when = events.find_event_time(
            structured=structured,
            html=raw_html,
            text=parsed.text,
            published=parsed.published,
            language=language,
            is_event=True,
        )
        if when is not None:
            details = replace(
                details,
                event_start=when.start,
                event_end=when.end,
                event_timezone=when.timezone,
                event_all_day=when.all_day,
                event_floating=when.floating,
                location=when.location,
            )
    elif chosen == "course":
        starts = (
            events.from_cue(parsed.text, parsed.published, language)
            if parsed.published is not None
            else None
        )
        details = replace(
            details,
            provider=parsed.author or feed_title,
            course_start=starts.start if starts is not None else None,
        )
    return replace(parsed, item_type=chosen, details=details)
