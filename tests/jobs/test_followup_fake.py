"""Follow-up against in-memory ports: approval and circulation, each group mailed once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from automation.domain.workflow import Status
from automation.jobs.followup import FollowUp, mail_key
from automation.jobs.intake import Intake
from automation.jobs.report import RunReport
from tests import feeds
from tests.jobs import fakes

TODAY = dt.date(2023, 8, 4)
# Sent on approval; HMICFRS and the Home Secretary once the response is published.
ON_APPROVAL = ("chief_constable", "panel", "website")


def filed(tmp_path: Path) -> tuple[fakes.FakeServices, str]:
    """Fakes holding one set-up response (Norfolk PEEL), and its item id."""
    return fakes.filed(tmp_path, feeds.NORFOLK_PEEL, today=TODAY)


def follow_up(services: fakes.FakeServices) -> RunReport:
    report = RunReport()
    intake = Intake(services, report, today=TODAY)
    FollowUp(services, report, today=TODAY, intake=intake).run()
    assert report.failures == []
    return report


def test_an_approved_response_goes_to_each_group_once(tmp_path: Path) -> None:
    services, item_id = filed(tmp_path)
    fakes.finish_draft(services, item_id)
    services.tracker.edit(
        item_id, {"Status": "Approved"}, by="Police and Crime Commissioner", email=fakes.PCC.upn
    )

    follow_up(services)
    follow_up(services)  # nothing left to do: no second message to anyone

    sent = services.mail.sent
    assert sorted(m.to for m in sent) == sorted(
        tuple(addresses) for group, addresses in fakes.RECIPIENTS.items() if group in ON_APPROVAL
    )
    assert len({m.key for m in sent}) == len(ON_APPROVAL)
    for message in sent:
        assert any(name.endswith(".pdf") for name in message.attachments)
    website = next(m for m in sent if m.to == tuple(fakes.RECIPIENTS["website"]))
    assert any(name.endswith(".docx") for name in website.attachments)
    record = services.tracker.record(item_id)
    assert record.status == Status.CIRCULATED
    assert set(record.mail) == set(ON_APPROVAL)
    assert record.approved_by == f"Police and Crime Commissioner <{fakes.PCC.upn}>"
    assert record.forwarded_chief_constable
    assert record.forwarded_panel
    assert not record.forwarded_hmicfrs  # on publication, with the published address
    approval = services.planner.tasks[record.tasks["approval"]["id"]]
    assert approval["percentComplete"] == 100


def test_a_message_already_in_sent_items_is_recorded_not_sent_again(tmp_path: Path) -> None:
    services, item_id = filed(tmp_path)
    fakes.finish_draft(services, item_id)
    services.tracker.edit(item_id, {"Status": "Approved"}, by="PCC", email=fakes.PCC.upn)
    # A crash after the panel's send and before its record: Sent Items has the message.
    key = mail_key(services.tracker.record(item_id), "panel")
    services.mail.send(key=key, subject="sent before the crash", html="", to=["panel@council.test"])

    follow_up(services)

    assert [m.key for m in services.mail.sent].count(key) == 1
    assert len(services.mail.sent) == len(ON_APPROVAL)
    assert services.tracker.record(item_id).mail["panel"]["key"] == key


def test_a_completed_approval_task_approves_and_circulates(tmp_path: Path) -> None:
    services, item_id = filed(tmp_path)
    follow_up(services)  # reads the list once: nothing is approved yet
    assert services.mail.sent == []
    task_id = services.tracker.record(item_id).tasks["approval"]["id"]
    fakes.finish_draft(services, item_id)
    services.planner.complete_by(task_id, fakes.PCC.id)

    follow_up(services)

    record = services.tracker.record(item_id)
    assert record.status == Status.CIRCULATED
    assert record.approved_by == f"{fakes.PCC.display_name} <{fakes.PCC.upn}>"
    assert len(services.mail.sent) == len(ON_APPROVAL)
