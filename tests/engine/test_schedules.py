"""Schedules start one instance per unit and period; compliance says on time, late, missed or open."""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import InvalidInput, NotFound
from engine.schedules import period_of
from engine.service import WorkflowService

SCHEDULES = """
schedules:
  - process: branch_meeting
    units: [b1, b2]
    cadence: quarterly
    done_field: meeting_date
"""


@pytest.mark.parametrize("day, months, label, start, end", [
    (date(2026, 3, 2), 1, "2026-03", date(2026, 3, 1), date(2026, 3, 31)),
    (date(2026, 2, 10), 3, "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
    (date(2026, 11, 30), 3, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    (date(2026, 7, 1), 6, "2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
    (date(2024, 2, 29), 12, "2024", date(2024, 1, 1), date(2024, 12, 31)),
    (date(2024, 2, 29), 1, "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
])
def test_periods_follow_the_calendar(day: date, months: int, label: str, start: date, end: date) -> None:
    period = period_of(day, months)
    assert (period.label, period.start, period.end) == (label, start, end)


def test_bad_cadence_is_refused(service: WorkflowService) -> None:
    with pytest.raises(InvalidInput, match="unknown cadence"):
        service.import_schedules("- {process: branch_meeting, unit: b1, cadence: weekly}", "s.yaml")
    with pytest.raises(NotFound):
        service.import_schedules("- {process: branch_meeting, unit: nowhere, cadence: monthly}", "s.yaml")


def test_schedule_starts_each_period_and_compliance_classifies_them(service: WorkflowService) -> None:
    saved = service.import_schedules(SCHEDULES, "schedules.yaml", actor="zhao")
    assert [s.key for s in saved] == ["branch_meeting:b1", "branch_meeting:b2"]
    service.tick()  # the current quarter starts at once
    first = {i.org_unit_id: i for i in service.instances(process_id="branch_meeting")}
    assert set(first) == {"b1", "b2"}
    assert service.instance(first["b1"].id).data["period"] == "2026-Q1"
    assert service.instance(first["b1"].id).data["period_end"] == "2026-03-31"
    # b1 holds its Q1 meeting on time; b2 never does.
    b1 = service.instance(first["b1"].id)
    view = service.complete(b1.open_tasks[0].id, person_id="zhang",
                            data={"agenda": "一季度", "meeting_date": "2026-03-02"})
    service.complete(view.open_tasks[0].id, person_id="zhang", data={"expected": 5, "present": 4, "yes": 4})
    service.advance("P35D")  # into April: Q2 instances start on 1 April, 00:00 Beijing
    second = [i for i in service.instances(process_id="branch_meeting") if i.id not in
              {x.id for x in first.values()}]
    assert sorted(i.org_unit_id for i in second) == ["b1", "b2"]
    assert {i.title.split()[-1] for i in second} == {"2026-Q2"}
    rows = {(r.org_unit_id, r.period): r for r in service.compliance(process_id="branch_meeting")}
    assert rows[("b1", "2026-Q1")].status == "on_time" and rows[("b1", "2026-Q1")].done_on == "2026-03-02"
    assert rows[("b2", "2026-Q1")].status == "missed"
    assert rows[("b1", "2026-Q2")].status == "open"
    only_b2 = service.compliance(process_id="branch_meeting", org_unit_id="b2")
    assert {r.org_unit_id for r in only_b2} == {"b2"}
    everyone = service.compliance(process_id="branch_meeting", org_unit_id="c1")  # the committee sees all
    assert {r.org_unit_id for r in everyone} == {"b1", "b2"}


def test_late_meeting_is_late_not_missed(service: WorkflowService) -> None:
    service.import_schedules(SCHEDULES, "schedules.yaml")
    service.tick()
    [b1] = [i for i in service.instances(process_id="branch_meeting") if i.org_unit_id == "b1"]
    service.advance("P40D")
    b1 = service.instance(b1.id)
    # The agenda step never timed out: it has only a reminder; hold the Q1 meeting in April.
    view = service.complete(b1.open_tasks[0].id, person_id="zhang",
                            data={"agenda": "补开", "meeting_date": "2026-04-08"})
    service.complete(view.open_tasks[0].id, person_id="zhang", data={"expected": 5, "present": 4, "yes": 4})
    rows = {(r.org_unit_id, r.period): r for r in service.compliance(process_id="branch_meeting")}
    assert rows[("b1", "2026-Q1")].status == "late" and rows[("b1", "2026-Q1")].done_on == "2026-04-08"
    assert service.verify().ok


def test_periods_before_the_schedule_began_are_not_missed(service: WorkflowService) -> None:
    service.import_schedules(SCHEDULES, "schedules.yaml")
    service.advance("P1D")
    rows = service.compliance(process_id="branch_meeting", first=date(2025, 1, 1))
    assert {r.period for r in rows} == {"2026-Q1"}


def test_period_instances_are_named_by_what_unit_and_period(service: WorkflowService) -> None:
    service.import_schedules("- {process: branch_meeting, unit: b1, cadence: monthly, "
                             "params: {meeting_type: committee_meeting}}", "s.yaml")
    service.tick()
    [instance] = service.instances(process_id="branch_meeting")
    assert instance.title == "支部委员会会议 · 第一党支部 · 2026-03"
