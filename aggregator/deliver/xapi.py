"""Learning records as xAPI 1.0.3 statements, sent to an organisation's Learning Record Store.

::

    LearningRecord + Item + Profile ──► statement(): actor (mbox or account), verb
        (completed; attended for events), object (the item as an Activity), result
        (duration, and the reflection only when the person shared it)
    statements ──► post_statements(): POST <endpoint>/statements in batches, Basic auth,
        X-Experience-API-Version: 1.0.3, no redirects, bounded time and reply size

The record stays the person's: a private reflection never leaves the machine, and a
statement's id is derived from the record, so a batch sent again after a lost reply is the
same statements (an LRS keeps one of each id) rather than new ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from aggregator import __version__
from aggregator.errors import InsecureLrsError, LrsError
from aggregator.models import Item, LearningRecord, Profile, XapiSettings
from aggregator.urls import is_loopback

XAPI_VERSION = "1.0.3"
VERBS: dict[str, tuple[str, str]] = {
    "completed": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
    "attended": ("http://adlnet.gov/expapi/verbs/attended", "attended"),
}
BATCH_SIZE = 50
"""Statements per request: a failed batch costs one retry of this many, not of all."""
MAX_REPLY_BYTES = 1_000_000
"""An LRS answers a POST with the statements' ids; more than this is not an answer."""
_T = TypeVar("_T")
_STATEMENT_IDS = uuid.UUID("5b1f2a9e-7c43-4e0b-9d8a-6f2c1e3b4a70")
"""The namespace of the statement ids derived from records (uuid5)."""


def check_endpoint(settings: XapiSettings) -> None:
    """Refuse plain http to an LRS beyond loopback unless ``allow_http`` says so: the
    statements carry people's names and reflections, and Basic auth a password."""
    parts = urlsplit(settings.endpoint)
    if parts.scheme == "https" or settings.allow_http or is_loopback(parts.hostname or ""):
        return
    raise InsecureLrsError(
        f"the LRS endpoint {settings.endpoint} is plain http: use https://, "
        "or set allow_http = true in [xapi] on a network you trust"
    )


def statement_id(record: LearningRecord) -> str:
    """The same id for the same record, whichever send carries it."""
    key = f"{record.person}\n{record.item_id}\n{record.learned_at.isoformat()}"
    return str(uuid.uuid5(_STATEMENT_IDS, key))


def statement(
    record: LearningRecord, item: Item, profile: Profile, settings: XapiSettings
) -> dict[str, Any]:
    """The xAPI statement of one record: what the person did with which item, and when."""
    verb_id, verb_name = VERBS["attended" if item.item_type == "event" else "completed"]
    result: dict[str, Any] = {"completion": True}
    if record.minutes is not None:
        result["duration"] = iso_duration(record.minutes)
    if record.shared and record.note:
        result["response"] = record.note
    return {
        "id": statement_id(record),
        "actor": _actor(profile, settings),
        "verb": {"id": verb_id, "display": {"en-US": verb_name}},
        "object": {
            "objectType": "Activity",
            "id": item.url,
            "definition": {"name": {"en": item.title or item.url}},
        },
        "result": result,
        "context": {"platform": f"Learnplace {__version__}"},
        "timestamp": record.learned_at.isoformat(),
        "version": XAPI_VERSION,
    }


def iso_duration(minutes: int) -> str:
    """Minutes as an ISO 8601 duration: ``PT1H30M``, ``PT45M``, ``PT0M``."""
    hours, rest = divmod(minutes, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{rest}M" if rest or not hours else "")


def post_statements(
    settings: XapiSettings,
    password: str,
    statements: Sequence[dict[str, Any]],
) -> None:
    """Send one batch; LrsError unless the LRS took it all (a 2xx reply within bounds)."""
    check_endpoint(settings)
    url = settings.endpoint.rstrip("/") + "/statements"
    headers = {
        "X-Experience-API-Version": XAPI_VERSION,
        "User-Agent": f"Learnplace/{__version__}",
    }
    try:
        with (
            httpx.Client(
                auth=(settings.username, password),
                timeout=settings.timeout_s,
                follow_redirects=False,
                trust_env=False,
            ) as client,
            client.stream("POST", url, json=list(statements), headers=headers) as reply,
        ):
            size = 0
            for chunk in reply.iter_bytes():
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise LrsError(f"{url}: the reply is over {MAX_REPLY_BYTES:,} bytes")
    except httpx.HTTPError as exc:
        raise LrsError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    if not 200 <= reply.status_code < 300:
        raise LrsError(f"{url}: HTTP {reply.status_code} {reply.reason_phrase}".rstrip())


def batches(values: Sequence[_T]) -> list[Sequence[_T]]:
    """``values`` in requests of at most :data:`BATCH_SIZE`."""
    return [values[i : i + BATCH_SIZE] for i in range(0, len(values), BATCH_SIZE)]


def _actor(profile: Profile, settings: XapiSettings) -> dict[str, Any]:
    """The person as an e-mail address when the profile has one, else an account here."""
    if profile.email:
        return {
            "objectType": "Agent",
            "name": profile.display_name,
            "mbox": f"mailto:{profile.email}",
        }
    parts = urlsplit(settings.homepage or settings.endpoint)
    home = settings.homepage or f"{parts.scheme}://{parts.netloc}/"
    return {
        "objectType": "Agent",
        "name": profile.display_name,
        "account": {"homePage": home, "name": profile.name},
    }
