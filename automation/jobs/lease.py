"""Work leases on tracker items, so two instances never do the same work twice.

Before an instance works on an existing item (finishing its setup, circulating it,
recording reminders for it), it writes ``S55Lease = "<instance>|<expiry>"`` with
``If-Match`` set to the item's etag. Only one writer can win that race: the other gets
412 and moves on. A lease held by another instance and not yet expired is respected; an
expired one (a crashed instance) can be taken over. Items an instance creates carry its
lease from the start.

The lease also names the process that took it (``<instance>|<expiry>|<host>:<pid>``, the
host a hash of the machine name and PID namespace). A process restarted after a crash or
kill -9 on the same machine may take over a lease whose process is gone, so a restart
carries on at once instead of waiting for the lease to expire; a lease held elsewhere is
respected until it expires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from typing import Any

from automation.domain.calendar import UTC_STAMP_FORMAT
from automation.domain.record import TrackerRecord
from automation.errors import OutcomeUnknownError, PreconditionFailedError
from automation.jobs.ports import Services

log = logging.getLogger(__name__)

INSTANCE = uuid.uuid4().hex[:12]
LEASE_MINUTES = 15
CLAIM_ATTEMPTS = 4
"""Claims written again after a 5xx that the read-back shows was not applied."""
STAMP = UTC_STAMP_FORMAT


def _host_marker() -> str:
    """This machine and PID namespace (pids are only comparable within one)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    text = f"{socket.gethostname()}|{namespace}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


HOST = _host_marker()


def lease_value(now: dt.datetime | None = None, *, instance: str | None = None) -> str:
    """This instance's lease (``instance`` defaults to `INSTANCE`), valid for LEASE_MINUTES."""
    moment = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=LEASE_MINUTES)
    return f"{instance or INSTANCE}|{moment.strftime(STAMP)}|{HOST}:{os.getpid()}"


def _holder_gone(holder: str) -> bool:
    """Whether ``host:pid`` names a process of this machine that no longer runs."""
    host, _, pid_text = holder.partition(":")
    if host != HOST or not pid_text.isdigit() or os.name != "posix":
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # our pid, another instance: an earlier life of this process id
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (owned by another user)
    return False


def held_by_other(lease: str, now: dt.datetime, *, instance: str | None = None) -> bool:
    """Whether another live instance holds an unexpired lease.

    A lease past its expiry is free wherever its holder ran (a machine that died or lost
    its network never comes back to clear it); before that, only a holder on this machine
    whose process is gone gives it up early.
    """
    owner, _, rest = lease.partition("|")
    if not owner or owner == (instance or INSTANCE):
        return False
    expiry, _, holder = rest.partition("|")
    try:
        until = dt.datetime.strptime(expiry, STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return False
    if until <= now:
        return False
    if _holder_gone(holder):
        log.info("lease of %s taken over: its process is gone", owner)
        return False
    return True


def claim(app: Services, record: TrackerRecord, *, fields: Mapping[str, Any] | None = None) -> bool:
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
    value = lease_value(now)
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        try:
            written: dict[str, Any] = app.tracker.patch(
                record.item_id, {**(fields or {}), "S55Lease": value}, etag=record.etag
            )
        except PreconditionFailedError:
            log.info(
                "%s: %s changed under us (another instance?); moving on", record.key, record.marker
            )
            return False
        except OutcomeUnknownError:
            # A conditional PATCH answered 5xx may have been applied: read the item back.
            [current] = app.tracker.get_many([record.item_id]) or [record]
            if current.lease != value:
                if attempt == CLAIM_ATTEMPTS or held_by_other(current.lease, now):
                    raise
                record.etag = current.etag  # not applied: claim again on what is there now
                continue
            written = {"@odata.etag": current.etag}  # applied: the lease (and fields) are ours
        record.lease = value
        record.etag = str(written.get("@odata.etag") or record.etag)
        return True
    return False  # not reached: the last attempt returns or raises
