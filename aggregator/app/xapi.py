"""``learnplace xapi send``: each learning record to the configured LRS, once.

What the LRS took is remembered per endpoint in the store (``xapi_sent``); a batch it did
not take stays unsent, so the next call sends it again. The first failure stops the send:
an LRS that refuses one batch (or cannot be reached) would refuse the rest the same way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.app.learning import EPOCH
from aggregator.deliver.xapi import (
    batches,
    check_endpoint,
    post_statements,
    statement,
    statement_id,
)
from aggregator.errors import LrsError
from aggregator.models import Profile, XapiSettings
from aggregator.store import Store


@dataclass(frozen=True, slots=True)
class XapiSend:
    """What one send did for one person: statements the LRS took, records still waiting."""

    person: str
    sent: int
    waiting: int
    error: str | None = None


def lrs_password(settings: XapiSettings) -> str:
    password = os.environ.get(settings.password_env)
    if not password:
        raise LrsError(
            f"set the environment variable {settings.password_env} to the LRS password "
            "([xapi] password_env in feeds.toml)"
        )
    return password


def send_statements(
    store: Store, settings: XapiSettings, profiles: Sequence[Profile], now: datetime
) -> list[XapiSend]:
    """Send each person's unsent records; one :class:`XapiSend` per person, in order."""
    check_endpoint(settings)
    password = lrs_password(settings)
    reports: list[XapiSend] = []
    failure: str | None = None
    for profile in profiles:
        done = store.xapi_sent(settings.endpoint, profile.name)
        records = [r for r in store.learning([profile.name], EPOCH) if r.item_id not in done]
        items = store.items({record.item_id for record in records})
        records = [record for record in records if record.item_id in items]
        sent = 0
        for batch in batches(records) if failure is None else []:
            statements = [statement(r, items[r.item_id], profile, settings) for r in batch]
            try:
                post_statements(settings, password, statements)
            except LrsError as exc:
                failure = str(exc)
                break
            ids = {record.item_id: statement_id(record) for record in batch}
            store.record_xapi_sent(settings.endpoint, profile.name, ids, now)
            sent += len(batch)
        error = failure if sent < len(records) else None
        reports.append(XapiSend(profile.name, sent, len(records) - sent, error))
    return reports
