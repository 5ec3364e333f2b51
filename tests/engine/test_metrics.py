"""Metrics from the event table: instances driven through the real service under the virtual clock."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

import pytest

from engine.metrics import ProcedureMetrics, compute_metrics, percentile
from engine.service import WorkflowService
from engine.workdays import SHANGHAI
from tests.conftest import START

AGENDA = {"agenda": "讨论发展党员", "meeting_date": "2026-03-02"}
VOTE_PASS = {"expected": 10, "present": 8, "yes": 6}
H = timedelta(hours=1)

# The scripted waits of the first scenario.
QUEUE_AGENDA = timedelta(days=1)
HOLD_AGENDA = timedelta(hours=2)
TOUCH_AGENDA = timedelta(hours=1)
QUEUE_MEETING = timedelta(hours=3)
TOUCH_MEETING = timedelta(hours=2)


def metrics(service: WorkflowService, process_id: str = "branch_meeting", **kw: object) -> ProcedureMetrics:
    with service.unit() as uow:
        return compute_metrics(uow, process_id=process_id, now=uow.now, **kw)  # type: ignore[arg-type]


def run_meeting(service: WorkflowService, unit: str = "b1", person: str = "zhang") -> int:
    """Start a meeting and walk it through with the scripted waits; return the instance id."""
    instance = service.start("branch_meeting", org_unit_id=unit, actor=person)
    agenda = instance.open_tasks[0].id
    service.advance(QUEUE_AGENDA)
    service.claim(agenda, person_id=person)
    service.advance(HOLD_AGENDA)
    service.open_task(agenda, person_id=person)
    service.advance(TOUCH_AGENDA)
    meeting = service.complete(agenda, person_id=person, data=AGENDA).open_tasks[0].id
    service.advance(QUEUE_MEETING)
    service.open_task(meeting, person_id=person)  # opened without a claim: no hold time
    service.advance(TOUCH_MEETING)
    service.complete(meeting, person_id=person, data=VOTE_PASS)
    return instance.id


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(range(1, 11), 90) == pytest.approx(9.1)


def test_queue_hold_touch_lead_and_pce_follow_the_script(service: WorkflowService) -> None:
    instance_id = run_meeting(service)
    m = metrics(service)
    lead = QUEUE_AGENDA + HOLD_AGENDA + TOUCH_AGENDA + QUEUE_MEETING + TOUCH_MEETING
    assert (m.instances, m.completed, m.wip_now) == (1, 1, 0)
    assert m.lead_time.median == m.lead_time.p90 == m.lead_time.mean == lead / H
    assert m.lead_time.instance_ids == (instance_id,)

    agenda, meeting = m.step("prepare_agenda"), m.step("hold_meeting")
    assert [s.spec for s in m.steps] == ["prepare_agenda", "hold_meeting"]
    assert (agenda.frequency, agenda.visits, agenda.instance_ids) == (1, 1, (instance_id,))
    assert agenda.queue.median == QUEUE_AGENDA / H and agenda.queue.instance_ids == (instance_id,)
    assert agenda.hold.median == HOLD_AGENDA / H
    assert agenda.touch.mean == TOUCH_AGENDA / H
    assert meeting.queue.median == QUEUE_MEETING / H
    assert meeting.hold.count == 0  # never claimed
    assert meeting.touch.p90 == TOUCH_MEETING / H
    assert agenda.touch_unknown == meeting.touch_unknown == 0
    # prepare_agenda is NNVA, hold_meeting VA.
    assert m.pce == pytest.approx(TOUCH_MEETING / lead)
    assert m.activity == pytest.approx((TOUCH_AGENDA + TOUCH_MEETING) / lead)
    assert m.first_pass_yield == 1.0 and m.first_pass_ids == (instance_id,)
    assert agenda.sla_with_due == 1 and agenda.sla_breaches == 0  # done within working_days(3)
    json.dumps(m.to_dict(), ensure_ascii=False)  # JSON-ready
    assert m.to_dict()["steps"][0]["queue"]["instance_ids"] == [instance_id]


def test_completed_without_open_has_unknown_touch(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    service.advance(QUEUE_AGENDA)
    service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA)
    agenda = metrics(service).step("prepare_agenda")
    assert agenda.queue.median == QUEUE_AGENDA / H  # ready → completed
    assert (agenda.touch.count, agenda.touch_unknown, agenda.touch_unknown_instance_ids) == (0, 1, (instance.id,))
    assert any("never opened" in note for note in metrics(service).notes)


def test_rework_loop_counts_visits_and_breaks_first_pass_yield(service: WorkflowService) -> None:
    instance = service.start("rework_loop", org_unit_id="b1")
    answers = [False, False, True]
    for approve in answers:
        [task] = service.instance(instance.id).open_tasks
        service.advance(H)
        service.complete(task.id, person_id="li", data={"approve": approve})
    m = metrics(service, "rework_loop")
    review = m.step("review")
    assert (review.visits, review.frequency) == (len(answers), len(answers))
    assert (review.rework_instances, review.rework_extra_visits) == (1, len(answers) - 1)
    assert review.rework_instance_ids == (instance.id,)
    assert m.completed == 1 and m.first_pass_yield == 0.0


def test_check_failed_counts_per_step_and_breaks_first_pass_yield(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    meeting = service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA).open_tasks[0].id
    with pytest.raises(Exception, match="实到人数"):
        service.complete(meeting, person_id="zhang", data={"expected": 10, "present": 11, "yes": 2})
    service.complete(meeting, person_id="zhang", data=VOTE_PASS)
    m = metrics(service)
    assert m.step("hold_meeting").check_failed == 1
    assert m.step("hold_meeting").check_failed_instance_ids == (instance.id,)
    assert m.step("prepare_agenda").check_failed == 0
    assert m.first_pass_yield == 0.0


def test_sla_breach_late_and_overdue(service: WorkflowService) -> None:
    late = service.start("branch_meeting", org_unit_id="b1")
    open_ = service.start("branch_meeting", org_unit_id="b1")
    task = late.open_tasks[0]
    assert task.due_at is not None
    over = timedelta(days=1)
    service.advance(task.due_at + over - START)  # a day past the working_days(3) due date
    service.complete(task.id, person_id="zhang", data=AGENDA)
    agenda = metrics(service).step("prepare_agenda")
    assert (agenda.sla_with_due, agenda.sla_breaches, agenda.sla_breach_share) == (2, 2, 1.0)
    by_kind = {b.kind: b for b in agenda.breaches}
    assert by_kind["late"].instance_id == late.id and by_kind["late"].task_id is not None
    assert by_kind["late"].hours_over == pytest.approx(over / H)
    assert by_kind["overdue"].instance_id == open_.id and by_kind["overdue"].completed_at is None
    assert agenda.escalations == 2  # the P2D reminder fired on both


def test_org_and_date_filters(service: WorkflowService) -> None:
    mine = run_meeting(service, "b1", "zhang")
    theirs = run_meeting(service, "b2", "wang")
    assert metrics(service, org_unit_id="b1").instance_ids == (mine,)
    assert metrics(service, org_unit_id="b2").instance_ids == (theirs,)
    assert metrics(service, org_unit_id="c1").instance_ids == (mine, theirs)
    with service.unit() as uow:
        second_start = uow.history.for_instance(theirs)[0].at
    assert metrics(service, start=second_start).instance_ids == (theirs,)
    assert metrics(service, end=second_start).instance_ids == (mine,)
    with pytest.raises(Exception, match="org unit"):
        metrics(service, org_unit_id="nowhere")


def test_littles_law_and_wip_for_a_steady_load(service: WorkflowService) -> None:
    """An instance arrives every 6 h; agenda done 12 h later, meeting 24 h after arrival; look after one week."""
    every, agenda_at, lead, horizon = 6, 12, 24, 168
    arrivals: dict[int, int] = {}  # arrival hour → instance id
    agendas: dict[int, int] = {}  # arrival hour → agenda task id
    for t in range(0, horizon, every):
        for a in list(arrivals):
            if a + lead == t:
                meeting = service.instance(arrivals[a]).open_tasks[0].id
                service.complete(meeting, person_id="zhang", data={**VOTE_PASS})
            if a + agenda_at == t:
                service.complete(agendas[a], person_id="zhang", data=AGENDA)
        started = service.start("branch_meeting", org_unit_id="b1")
        arrivals[t], agendas[t] = started.id, started.open_tasks[0].id
        service.advance(timedelta(hours=every))
    m = metrics(service)
    done = [a for a in arrivals if a + lead < horizon]  # the script acts before each advance, never at the horizon
    # Both sides from the script: L = Σ time in progress / horizon, λ·W = (completions / horizon) · lead.
    expected_l = sum((a + lead if a in done else horizon) - a for a in arrivals) / horizon
    expected_lw = len(done) / horizon * lead
    law = m.littles_law
    print(f"Little's law: L={law.average_wip:.3f} λW={law.predicted_wip:.3f} ratio={law.ratio:.3f}")
    assert law.window_hours == horizon and law.completed_in_window == len(done)
    assert law.average_wip == pytest.approx(expected_l)
    assert law.predicted_wip == pytest.approx(expected_lw)
    assert law.ratio == pytest.approx(expected_l / expected_lw) and abs(law.ratio - 1) < 0.15
    assert m.wip_now == len(arrivals) - len(done)
    assert m.throughput_per_week == pytest.approx(len(done) / (horizon / 168))
    assert m.wip_series[-1].wip_end == m.wip_now
    # The daily (Beijing) averages weighted by the hours of the window in each day give back L.
    spans = [(min(datetime.combine(p.day + timedelta(days=1), time(), SHANGHAI), m.window_end)
              - max(datetime.combine(p.day, time(), SHANGHAI), m.window_start)) / H for p in m.wip_series]
    assert sum(spans) == horizon
    weighted = sum(p.wip_average * s for p, s in zip(m.wip_series, spans, strict=True))
    assert weighted / horizon == pytest.approx(expected_l)
    assert m.lead_time.median == lead and m.lead_time.instance_ids == tuple(arrivals[a] for a in done)
