"""Follow-up against in-memory ports: approval and circulation, each group mailed once."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from automation.domain.record import TrackerRecord
from automation.domain.workflow import Status
from automation.errors import BadRequestError
from automation.graph.mail import SendResult
from automation.jobs.decisions import is_service_write
from automation.jobs.followup import FollowUp, mail_key
from automation.jobs.intake import Intake
from automation.jobs.report import RunReport
from automation.settings import ApprovalSettings
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


def _held_planner_approval(tmp_path: Path) -> tuple[fakes.FakeServices, str, str]:
    """The PCC completes the approval task of a finished draft; the pass holds it (0.12 s)."""
    services, item_id = filed(tmp_path)
    services.settings = services.settings.model_copy(
        update={"approval": ApprovalSettings(hold_minutes=0.002)}
    )
    task_id = services.tracker.record(item_id).tasks["approval"]["id"]
    fakes.finish_draft(services, item_id)
    services.planner.complete_by(task_id, fakes.PCC.id)
    follow_up(services)
    return services, item_id, task_id


def test_status_set_back_during_the_hold_of_a_planner_approval_cancels_it(
    tmp_path: Path,
) -> None:
    services, item_id, task_id = _held_planner_approval(tmp_path)
    held = services.tracker.record(item_id)
    assert held.status == Status.APPROVED  # accepted and held: the preview went to the PCC
    assert held.approval["source"] == "planner"
    assert [m.to for m in services.mail.sent] == [(fakes.PCC.upn,)]
    # The PCC changes their mind and sets Status back; the hold has ended by the next pass.
    services.tracker.edit(
        item_id, {"Status": "PCC approval"}, by=fakes.PCC.display_name, email=fakes.PCC.upn
    )
    time.sleep(0.2)
    report = follow_up(services)
    follow_up(services)
    assert [m.to for m in services.mail.sent] == [(fakes.PCC.upn,)]  # nothing circulated
    after = services.tracker.record(item_id)
    assert after.status == Status.PCC_APPROVAL
    assert after.approval == {}
    assert services.planner.tasks[task_id]["percentComplete"] < 100  # reopened
    assert any("cancelled" in line for line in report.actions)


def test_a_held_planner_approval_is_not_taken_for_the_services_own_editor(
    tmp_path: Path,
) -> None:
    # The service wrote Approved for the PCC's Planner approval; the version's editor is
    # the service ("SharePoint App" and this application), never an approver to refuse.
    services, item_id, _task = _held_planner_approval(tmp_path)
    time.sleep(0.2)
    follow_up(services)
    record = services.tracker.record(item_id)
    assert record.status == Status.CIRCULATED, record.approval_problem
    assert record.approved_by == f"{fakes.PCC.display_name} <{fakes.PCC.upn}>"
    circulated = [m for m in services.mail.sent if m.to != (fakes.PCC.upn,)]
    assert len(circulated) == len(ON_APPROVAL)


def test_the_services_own_identity_is_told_from_a_person() -> None:
    settings = fakes.fake_settings(Path("unused"))
    app = fakes.as_services(fakes.FakeServices(settings))
    person = {"user": {"displayName": "Sarah Taylor", "email": fakes.PCC.upn}}
    assert not is_service_write(app, person)
    # A person working through another app keeps their own user.
    assert not is_service_write(app, {**person, "application": {"id": "teams"}})
    assert is_service_write(app, {"application": {"id": settings.client_id}})
    assert is_service_write(app, {"user": {"displayName": "SharePoint App"}})
    assert is_service_write(app, fakes.SERVICE)


class _RefusesOnce(fakes.FakeOutbox):
    """Sent Items as usual, but the first send to ``address`` is refused (a 400)."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def send(self, **kwargs: Any) -> SendResult:
        if self.address in kwargs["to"]:
            self.address = ""
            raise BadRequestError(
                status=400,
                code="ErrorInvalidRecipients",
                message="refused",
                request_id="",
                method="POST",
                url="sendMail",
            )
        return super().send(**kwargs)


def test_a_circulation_begun_is_finished_under_the_approval_that_began_it(
    tmp_path: Path,
) -> None:
    services, item_id = filed(tmp_path)
    services.mail = _RefusesOnce(fakes.RECIPIENTS["panel"][0])
    fakes.finish_draft(services, item_id)
    services.tracker.edit(
        item_id, {"Status": "Approved"}, by=fakes.PCC.display_name, email=fakes.PCC.upn
    )
    report = RunReport()
    FollowUp(services, report, today=TODAY, intake=Intake(services, report, today=TODAY)).run()
    assert report.failures  # the Panel's send was refused; the Chief Constable has it
    begun = services.tracker.record(item_id)
    assert "chief_constable" in begun.mail
    assert "panel" not in begun.mail
    # Someone who is not an approver sets Status back and then Approved again: the rest
    # of the circulation goes out as the PCC approved it, not as theirs.
    for status in ("PCC approval", "Approved"):
        services.tracker.edit(
            item_id, {"Status": status}, by=fakes.POLICY.display_name, email=fakes.POLICY.upn
        )
    follow_up(services)
    follow_up(services)
    record = services.tracker.record(item_id)
    assert record.status == Status.CIRCULATED
    assert record.approved_by == f"{fakes.PCC.display_name} <{fakes.PCC.upn}>"
    assert sorted(set(record.mail) & set(ON_APPROVAL)) == sorted(ON_APPROVAL)
    assert len([m for m in services.mail.sent if m.key.endswith("-panel")]) == 1


class _EditedWhileRead(fakes.FakeTracker):
    """The PCC sets Approved just before the service's first Status write lands."""

    def __init__(self, pcc_edit: dict[str, Any]) -> None:
        super().__init__()
        self.pcc_edit = pcc_edit

    def patch(
        self, item_id: str, fields: Mapping[str, Any], *, etag: str | None = None
    ) -> dict[str, Any]:
        if "Status" in fields and self.pcc_edit:
            edit, self.pcc_edit = self.pcc_edit, {}
            self.edit(item_id, edit, by=fakes.PCC.display_name, email=fakes.PCC.upn)
        return super().patch(item_id, fields, etag=etag)


def test_status_moved_with_the_tasks_never_overwrites_a_persons_edit(tmp_path: Path) -> None:
    services, item_id = filed(tmp_path)
    fakes.swap_tracker(services, _EditedWhileRead({"Status": "Approved"}))
    record = services.tracker.record(item_id)
    for key in ("cc_comments", "draft"):  # Status would move to PCC approval
        services.planner.complete_by(record.tasks[key]["id"], fakes.POLICY.id)
    report = RunReport()
    FollowUp(services, report, today=TODAY, intake=Intake(services, report, today=TODAY)).run()
    assert report.failures == []
    assert services.tracker.record(item_id).status == Status.APPROVED  # the PCC's, kept
    assert any("changed while read" in line for line in report.unfinished)


class _CountingTracker(fakes.FakeTracker):
    """Counts the item reads follow-up makes for completed tasks (``get_many``)."""

    reads = 0

    def get_many(self, item_ids: Sequence[str]) -> list[TrackerRecord]:
        if item_ids:
            self.reads += 1
        return super().get_many(item_ids)


def test_a_retitled_approval_task_still_approves_and_a_staff_task_is_read_once(
    tmp_path: Path,
) -> None:
    services, item_id = filed(tmp_path)
    counting = _CountingTracker()
    fakes.swap_tracker(services, counting)
    follow_up(services)  # reads the list once: nothing is approved yet
    record = services.tracker.record(item_id)
    task_id = record.tasks["approval"]["id"]
    # Staff retitle the approval task, and add a task of their own with the item's marker.
    services.planner.tasks[task_id]["title"] = "[S55-1] Sarah to sign off (was PCC approval)"
    own = "task-own"
    services.planner.tasks[own] = {
        **services.planner.tasks[task_id],
        "id": own,
        "title": "[S55-1] Ring the Chief Constable's office",
    }
    services.planner.complete_by(own, fakes.POLICY.id)
    fakes.finish_draft(services, item_id)
    services.planner.complete_by(task_id, fakes.PCC.id)
    follow_up(services)
    after = services.tracker.record(item_id)
    assert after.status == Status.CIRCULATED  # the retitled task was the approval
    assert len(services.mail.sent) == len(ON_APPROVAL)
    reads = counting.reads
    follow_up(services)
    assert counting.reads == reads  # neither task is read again
