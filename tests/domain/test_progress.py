"""Progress cycles: request days, due dates, which rows are due and which are overdue."""

from __future__ import annotations

import datetime as dt

import pytest

from automation.domain.progress import CycleRules, add_working_days, digest_key, is_due, is_overdue
from automation.domain.recommendations import RecommendationRow

RULES = CycleRules(every_months=3, meetings=(), days_before=15, response_days=10)


def _row(**values: object) -> RecommendationRow:
    fields: dict[str, object] = {"status": "Open", **values}
    return RecommendationRow(item_id="1", **fields)  # type: ignore[arg-type]


def test_working_days_skip_weekends_and_bank_holidays() -> None:
    assert add_working_days(dt.date(2023, 12, 22), 1) == dt.date(2023, 12, 27)  # Christmas
    assert add_working_days(dt.date(2023, 10, 2), 10) == dt.date(2023, 10, 16)
    assert add_working_days(dt.date(2023, 10, 16), -10) == dt.date(2023, 10, 2)


def test_quarterly_cycles_start_on_the_first_working_day() -> None:
    cycle = RULES.current(dt.date(2023, 11, 20))
    assert (cycle.id, cycle.request_on, cycle.due_by) == (
        "2023-10",
        dt.date(2023, 10, 2),
        dt.date(2023, 10, 16),
    )
    january = RULES.current(dt.date(2024, 1, 1))
    assert january.id == "2023-10"  # 1 January is a bank holiday: the 2nd starts it
    assert RULES.current(dt.date(2024, 1, 2)).id == "2024-01"
    assert RULES.next(dt.date(2023, 9, 2)).due_by == dt.date(2023, 10, 16)


def test_a_panel_meeting_starts_a_cycle_working_days_before_it() -> None:
    rules = CycleRules(meetings=(dt.date(2023, 11, 23),))
    cycle = rules.current(dt.date(2023, 11, 2))
    assert cycle.id == "panel-2023-11-23"
    assert cycle.request_on == dt.date(2023, 11, 2)  # 15 working days before the meeting
    assert cycle.due_by == dt.date(2023, 11, 16)
    assert cycle.meeting == dt.date(2023, 11, 23)
    assert "Panel meeting" in cycle.label
    assert rules.current(dt.date(2023, 11, 1)).id == "2023-10"
    assert rules.next(dt.date(2023, 10, 20)).id == "panel-2023-11-23"


@pytest.mark.parametrize(
    ("values", "due"),
    [
        ({}, True),
        ({"status": "In progress"}, True),
        ({"status": "Closed by HMICFRS"}, False),
        ({"status": "Not applicable"}, False),
        ({"next_update_due": dt.date(2023, 10, 16)}, True),
        ({"next_update_due": dt.date(2024, 1, 31)}, False),  # a later update agreed
        ({"last_update_on": dt.date(2023, 9, 25)}, False),  # fresh: within 10 working days
        ({"last_update_on": dt.date(2023, 9, 1)}, True),
        ({"progress": {"requested": {"2023-10": "2023-10-02"}}}, False),  # already asked
    ],
)
def test_which_rows_are_due(values: dict[str, object], due: bool) -> None:
    cycle = RULES.current(dt.date(2023, 10, 2))
    row = _row(**values)
    assert is_due(row, cycle, response_days=10) is due


def test_an_asked_row_without_an_update_is_overdue_after_the_due_date_once() -> None:
    cycle = RULES.current(dt.date(2023, 10, 20))
    asked = {"requested": {"2023-10": "2023-10-02"}}
    assert is_overdue(_row(progress=asked), cycle, today=dt.date(2023, 10, 17))
    assert not is_overdue(_row(progress=asked), cycle, today=dt.date(2023, 10, 16))
    updated = _row(progress=asked, last_update_on=dt.date(2023, 10, 5))
    assert not is_overdue(updated, cycle, today=dt.date(2023, 10, 17))
    done = _row(progress={**asked, "escalated": {"2023-10": "2023-10-17"}})
    assert not is_overdue(done, cycle, today=dt.date(2023, 10, 18))
    assert not is_overdue(_row(), cycle, today=dt.date(2023, 10, 17))  # never asked


def test_the_digest_key_names_kind_cycle_recipient_and_rows() -> None:
    cycle = RULES.current(dt.date(2023, 10, 2))
    one = digest_key("progress", cycle, "a@x.test", [_row()])
    assert one.startswith("s55-progress-2023-10-")
    assert one == digest_key("progress", cycle, "A@X.test", [_row()])
    assert one != digest_key("progress", cycle, "b@x.test", [_row()])
    two = [_row(), RecommendationRow(item_id="2")]
    assert one != digest_key("progress", cycle, "a@x.test", two)
