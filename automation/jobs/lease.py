"""Work leases on tracker items, so two instances never do the same work twice.

Before an instance works on an existing item (finishing its setup, circulating it,
recording reminders for it), it writes ``S55Lease = "<instance>|<expiry>"`` with
``If-Match`` set to the item's etag. Only one writer can win that race: the other gets
412 and moves on. A lease held by another instance and not yet expired is respected; an
expired one (a crashed instance) can be taken over. Items an instance creates carry its
lease from the start.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from automation.app import App
from automation.errors import PreconditionFailedError
from automation.tracker import TrackerRecord

log = logging.getLogger(__name__)

INSTANCE = uuid.uuid4().hex[:12]
LEASE_MINUTES = 15


def lease_value(now: dt.datetime | None = None, *, instance: str = INSTANCE) -> str:
    """This instance's lease, valid for LEASE_MINUTES."""
    moment = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=LEASE_MINUTES)
    return f"{instance}|{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def held_by_other(lease: str, now: dt.datetime, *, instance: str = INSTANCE) -> bool:
    """Whether another instance holds an unexpired lease."""
    owner, _, expiry = lease.partition("|")
    if not owner or owner == instance:
        return False
    try:
        until = dt.datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return False
    return until > now


def claim(app: App, record: TrackerRecord, *, fields: Mapping[str, Any] | None = None) -> bool:
    """Take the item's lease (If-Match on its etag); False when another instance has it.

    ``fields`` are written in the same request as the lease, so they land exactly when the
    claim does (used to record facts that the claim itself would otherwise hide, such as
    who last edited the item). When ``fields`` are given the write always happens, even if
    this instance already holds the lease.
    """
    now = dt.datetime.now(dt.UTC)
    if held_by_other(record.lease, now):
        log.info("%s: another instance is working on %s; moving on", record.key, record.marker)
        return False
    owner, _, _ = record.lease.partition("|")
    if owner == INSTANCE and not fields:
        return True
    ws = app.workspace
    value = lease_value(now)
    try:
        written: dict[str, Any] = app.sharepoint.update_fields(
            ws.site_id,
            ws.list_id,
            record.item_id,
            {**(fields or {}), "S55Lease": value},
            etag=record.etag,
        )
    except PreconditionFailedError:
        log.info(
            "%s: %s changed under us (another instance?); moving on", record.key, record.marker
        )
        return False
    record.lease = value
    record.etag = str(written.get("@odata.etag") or record.etag)
    return True
