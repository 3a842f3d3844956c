"""The people of the office during the simulated year, acting through SharePoint and Planner.

Each person acts as themselves (the sandbox's acting-user header), on the tracker item or
its Planner tasks, never through the service:

* the policy officer decides triage items a few days after they are filed (Yes or No), and
  now and then decides that a response already under way is not needed after all;
* the stage owners complete their tasks, most on time, some late (so overdue notices and
  escalations happen);
* the PCC approves, either by setting Status *Approved* or by completing the approval task;
* the officer writes the response into the draft before ticking off the drafting task;
* the website team publishes a circulated response and fills in its web address (sometimes
  also completing the publish task); the officer completes the HMICFRS portal task.

Who does what to which item is a pure function of the item's key (seeded), so a run can be
repeated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automation.app import App
from automation.domain.calendar import london_date
from automation.domain.record import TrackerRecord
from automation.domain.workflow import Status
from automation.sandbox.seed import user_email
from automation.sandbox.server import Sandbox
from tests.tenant_edits import as_user, edit_item, write_response

OFFICER = user_email("policy_officer")
PCC = user_email("pcc")
WEBSITE = user_email("website")


def _rng(key: str, what: str) -> random.Random:
    seed = hashlib.sha256(f"{key}|{what}".encode()).hexdigest()[:16]
    return random.Random(int(seed, 16))


@dataclass(slots=True)
class Staff:
    """Acts on the tenant once a day, before the day's passes."""

    sandbox: Sandbox
    observer: App
    on_no: Callable[[str], None]
    """Told the item id whenever a person decides No (the audit watches it from then on)."""
    actions: int = 0
    decided: dict[str, str] = field(default_factory=dict)

    def act(self, day: dt.date, records: list[TrackerRecord]) -> None:
        """Everything people do on ``day``, given the tracker as it was last night."""
        tasks: dict[str, dict[str, Any]] | None = None
        for record in records:
            if not record.key or record.published_on is None:
                continue
            if record.response_required == "To be decided" and record.setup == "triage":
                self._triage(day, record)
                continue
            if record.response_required != "Yes" or record.setup != "complete":
                continue
            if tasks is None:
                plan = self.observer.resolve().plan_id
                tasks = {str(t["id"]): t for t in self.observer.planner.list_tasks(plan)}
            self._respond(day, record, tasks)

    # -- triage -----------------------------------------------------------------------------
    def _triage(self, day: dt.date, record: TrackerRecord) -> None:
        rng = _rng(record.key, "triage")
        assert record.published_on is not None
        when = record.published_on + dt.timedelta(days=2 + rng.randint(0, 5))
        if day < when:
            return
        decision = "Yes" if rng.random() < 0.4 else "No"
        self._edit(record, OFFICER, {"ResponseRequired": decision})
        self.decided[record.item_id] = decision
        if decision == "No":
            self.on_no(record.item_id)

    # -- the response -------------------------------------------------------------------------
    def _respond(self, day: dt.date, record: TrackerRecord, tasks: dict[str, Any]) -> None:
        rng = _rng(record.key, "profile")
        profile = rng.random()
        late = 0 if profile < 0.7 else 5 + rng.randint(0, 6)
        if profile > 0.95 and record.status == Status.DRAFTING:
            # Decided, weeks in, that no response is needed after all.
            assert record.published_on is not None
            if day >= record.published_on + dt.timedelta(days=20):
                self._edit(record, OFFICER, {"ResponseRequired": "No"})
                self.decided[record.item_id] = "No"
                self.on_no(record.item_id)
            return
        status = record.status
        if status in (Status.DRAFTING, Status.CHIEF_CONSTABLE_COMMENTS, Status.PCC_APPROVAL):
            for key in ("cc_comments", "draft"):
                self._complete_when_due(day, record, tasks, key, late=late - 1)
            approval = self._task(record, tasks, "approval")
            due = london_date(approval.get("dueDateTime")) if approval else None
            if approval and due is not None and day >= due + dt.timedelta(days=late - 1):
                if rng.random() < 0.5:
                    self._edit(record, PCC, {"Status": Status.APPROVED.value})
                else:
                    self._complete(approval, PCC)
        elif status == Status.CIRCULATED:
            publish_rng = _rng(record.key, f"publish{day.isoformat()}")
            if publish_rng.random() < 0.4 and not record.published_url:
                # The published address is what HMICFRS and the Home Secretary are sent.
                url = f"https://www.opcc.example.org/s55/{record.item_id}/"
                self._edit(record, WEBSITE, {"PublishedUrl": url})
                if publish_rng.random() < 0.5:
                    task = self._task(record, tasks, "publish")
                    if task:
                        self._complete(task, WEBSITE)
            self._complete_when_due(day, record, tasks, "portal", late=late)

    def _complete_when_due(
        self, day: dt.date, record: TrackerRecord, tasks: dict[str, Any], key: str, *, late: int
    ) -> None:
        task = self._task(record, tasks, key)
        if not task or int(task.get("percentComplete") or 0) >= 100:
            return
        due = london_date(task.get("dueDateTime"))
        if due is not None and day >= due + dt.timedelta(days=late):
            if key == "draft":
                # The response is written before the drafting task is ticked off.
                write_response(self.sandbox, self.observer, record, OFFICER)
                self.actions += 1
            self._complete(task, OFFICER)
            task["percentComplete"] = 100

    @staticmethod
    def _task(record: TrackerRecord, tasks: dict[str, Any], key: str) -> dict[str, Any] | None:
        entry = record.tasks.get(key)
        if not isinstance(entry, dict):
            return None
        found = tasks.get(str(entry.get("id")))
        return found if isinstance(found, dict) else None

    # -- edits ------------------------------------------------------------------------------
    def _edit(self, record: TrackerRecord, user: str, fields: dict[str, Any]) -> None:
        edit_item(self.sandbox, self.observer, record.item_id, user, fields)
        self.actions += 1

    def _complete(self, task: dict[str, Any], user: str) -> None:
        fresh = self.observer.planner.get_task(str(task["id"]))
        if int(fresh.get("percentComplete") or 0) >= 100:
            return
        as_user(
            self.sandbox,
            "PATCH",
            f"/planner/tasks/{task['id']}",
            user,
            json={"percentComplete": 100},
            headers={"If-Match": fresh["@odata.etag"]},
        )
        self.actions += 1
