"""Reminders against in-memory ports: one digest per person per day, recorded on the item."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from automation.jobs.reminders import Reminders, allowed_addresses, sent_entries
from automation.jobs.report import RunReport
from automation.settings import RECIPIENT_GROUPS
from tests import feeds
from tests.jobs import fakes

PUBLISHED = dt.date(2023, 7, 20)  # the seed: statutory deadline 13 September 2023
# The statutory deadline (Wednesday 13 September): the owner, the PCC and the manager are
# each told once (README, "Reminders").
DAY = dt.date(2023, 9, 13)
PEOPLE = {fakes.POLICY.upn, fakes.MANAGER.upn, fakes.PCC.upn}


def filed(tmp_path: Path) -> tuple[fakes.FakeServices, str]:
    return fakes.filed(tmp_path, feeds.SEED, today=PUBLISHED)


def remind(services: fakes.FakeServices, day: dt.date) -> RunReport:
    report = RunReport()
    Reminders(services, report, today=day).run()
    assert report.failures == []
    return report


def test_one_digest_per_person_sent_and_recorded_once(tmp_path: Path) -> None:
    services, item_id = filed(tmp_path)

    report = remind(services, DAY)
    remind(services, DAY)  # the same day again: everything is recorded, nothing is sent

    sent = services.mail.sent
    assert sorted(m.to for m in sent) == sorted((person,) for person in PEOPLE)
    assert len({m.key for m in sent}) == len(sent)
    assert sorted(report.sent) == sorted(m.key for m in sent)
    record = services.tracker.record(item_id)
    entries = sent_entries(record)
    assert {entry.partition("|")[2] for entry in entries if "|" in entry} == PEOPLE
    assert record.lease == ""


def test_a_digest_already_in_sent_items_is_recorded_not_sent_again(tmp_path: Path) -> None:
    services, item_id = filed(tmp_path)
    remind(services, DAY)
    first = list(services.mail.sent)
    # The record of the sends is lost (a crash before the tracker write): Sent Items heals it.
    services.tracker.patch(item_id, {"S55Reminders": {}})

    remind(services, DAY)

    assert services.mail.sent == first
    assert len(sent_entries(services.tracker.record(item_id))) >= len(PEOPLE)


def test_every_address_the_settings_name_is_allowed_and_no_other(tmp_path: Path) -> None:
    # Each recipient group (the Home Secretary's too) and a deputy approver: a circulation,
    # a preview or a refusal notice may go to them; the soak's audit checks every email
    # against this set.
    groups = {group: [f"{group}@example.org"] for group in RECIPIENT_GROUPS}
    services = fakes.services(
        tmp_path,
        recipients=groups,
        people={
            "response_owner": fakes.POLICY.upn,
            "pcc": fakes.PCC.upn,
            "manager": fakes.MANAGER.upn,
            "approvers": [fakes.PCC.upn, "Deputy.PCC@example.org"],
        },
    )
    allowed = allowed_addresses(fakes.as_services(services))
    assert allowed == {
        *(f"{group}@example.org" for group in RECIPIENT_GROUPS),
        fakes.POLICY.upn.casefold(),
        fakes.PCC.upn.casefold(),
        fakes.MANAGER.upn.casefold(),
        "deputy.pcc@example.org",
    }
