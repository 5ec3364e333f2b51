"""Timers on the virtual clock: a one-year probation, working days past the package's range, due order."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.clock import VirtualClock
from engine.errors import NotAllowed
from engine.service import WorkflowService
from tests.conftest import DEMO, FIXTURES


@pytest.fixture
def probation(service: WorkflowService) -> WorkflowService:
    service.deploy_file(FIXTURES / "probation.bpmn")
    return service


def _types(service: WorkflowService, instance_id: int) -> list[str]:
    return [e.type for e in service.history(instance_id)]


def test_boundary_timer_fires_after_one_year(probation: WorkflowService, clock: VirtualClock) -> None:
    instance = probation.start("probation", org_unit_id="b1",
                               data={"meeting_at": "2027-06-01T09:00:00+08:00"})
    assert instance.next_timer_due == datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    result = probation.advance("P364D")
    assert result.timers_fired == 0 and probation.instance(instance.id).open_tasks[0].task_spec == "observe"
    result = probation.advance("P1D")
    assert result.timers_fired >= 1
    after = probation.instance(instance.id)
    assert after.open_tasks == []  # the probation task was interrupted; the notice is running
    fired = [e for e in probation.history(instance.id) if e.type == "timer_fired"][0]
    assert fired.payload["due"] == "2027-03-02T09:00:00+00:00"
    assert fired.payload["fired_at"] == fired.payload["due"]  # the clock stepped to the due time
    assert "escalation" in _types(probation, instance.id)
    assert probation.task(instance.open_tasks[0].id).state == "cancelled"


def test_working_day_notice_and_date_timer(probation: WorkflowService) -> None:
    instance = probation.start("probation", org_unit_id="b1",
                               data={"meeting_at": "2026-03-20T09:00:00+08:00"})
    probation.complete(instance.open_tasks[0].id, person_id="zhang", data={})
    notice = [e for e in probation.history(instance.id) if e.type == "timer_due"][-1]
    # Monday 2026-03-02 17:00 Beijing + 5 working days = Monday 2026-03-09 17:00 Beijing.
    assert notice.payload["due"] == "2026-03-09T09:00:00+00:00"
    assert notice.payload["provisional_calendar"] is False
    probation.advance("P30D")
    [convert] = probation.instance(instance.id).open_tasks
    assert convert.task_spec == "convert"
    dues = [e.payload["due"] for e in probation.history(instance.id) if e.type == "timer_fired"]
    assert dues == ["2026-03-09T09:00:00+00:00", "2026-03-20T01:00:00+00:00"]  # in due order


def test_notice_beyond_the_calendar_package_is_provisional(probation: WorkflowService,
                                                            clock: VirtualClock) -> None:
    clock.set(datetime(2026, 12, 28, 9, 0, tzinfo=UTC))
    instance = probation.start("probation", org_unit_id="b1", data={"meeting_at": "2027-02-01"})
    probation.complete(instance.open_tasks[0].id, person_id="zhang", data={})
    notice = [e for e in probation.history(instance.id) if e.type == "timer_due"][-1]
    assert notice.payload["due"] == "2027-01-04T09:00:00+00:00"
    assert notice.payload["provisional_calendar"] is True


def test_calendar_override_decides_a_new_year(probation: WorkflowService, clock: VirtualClock) -> None:
    for day in (1, 2, 3):
        probation.set_calendar_day(date(2027, 1, day), is_workday=False, note="元旦")
    for day in (4, 5, 6, 7, 8):
        probation.set_calendar_day(date(2027, 1, day), is_workday=True)
    clock.set(datetime(2026, 12, 28, 9, 0, tzinfo=UTC))
    instance = probation.start("probation", org_unit_id="b1", data={"meeting_at": "2027-02-01"})
    probation.complete(instance.open_tasks[0].id, person_id="zhang", data={})
    notice = [e for e in probation.history(instance.id) if e.type == "timer_due"][-1]
    # Dec 29, 30, 31, then Jan 4, 5 (Jan 1-3 are the New Year holiday).
    assert notice.payload["due"] == "2027-01-05T09:00:00+00:00"
    assert notice.payload["provisional_calendar"] is False


def test_reminder_keeps_the_task_and_deadline_escalates(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    task = instance.open_tasks[0]
    service.advance("P2DT1H")
    assert service.task(task.id).state == "ready"  # non-interrupting reminder
    escalations = [e.payload for e in service.history(instance.id) if e.type == "escalation"]
    assert escalations == [{"kind": "reminder", "attached_to": "prepare_agenda", "timer": "remind_agenda",
                            "due": "2026-03-04T09:00:00+00:00"}]
    instance = service.complete(task.id, person_id="zhang", data={"agenda": "x", "meeting_date": "2026-03-04"})
    hold = instance.open_tasks[0]
    assert hold.due_at == datetime(2026, 4, 4, 10, 0, tzinfo=UTC)  # P1M deadline is its due date
    service.advance("P1M")
    assert service.task(hold.id).state == "cancelled"
    assert [t.task_spec for t in service.tasks_for("zhao")] == ["supervise"]  # higher committee, ancestor scope


def test_month_deadline_clamps_to_month_end(service: WorkflowService, clock: VirtualClock) -> None:
    clock.set(datetime(2026, 1, 31, 2, 0, tzinfo=UTC))
    instance = service.start("branch_meeting", org_unit_id="b1")
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang",
                                data={"agenda": "x", "meeting_date": "2026-01-31"})
    assert instance.open_tasks[0].due_at == datetime(2026, 2, 28, 2, 0, tzinfo=UTC)


def test_tick_fires_what_is_due_under_the_stored_clock(sqlite_url: str) -> None:
    from engine.service import open_service

    svc = open_service(sqlite_url)  # no injected clock: the database's own clock
    svc.import_org((DEMO / "org.yaml").read_text(encoding="utf-8"), "org.yaml")
    svc.deploy_file(DEMO / "branch_meeting.bpmn")
    svc.set_clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    instance = svc.start("branch_meeting", org_unit_id="b1")
    svc.set_clock(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    result = svc.tick()
    assert result.timers_fired == 1
    assert "escalation" in [e.type for e in svc.history(instance.id)]
    assert svc.tick().timers_fired == 0
    assert svc.clock().mode == "virtual"
    assert svc.use_system_clock().mode == "system"
    with pytest.raises(NotAllowed):
        svc.advance("P1D")
