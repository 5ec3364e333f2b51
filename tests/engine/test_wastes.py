"""DOWNTIME wastes found in the metrics of instances driven through the real service under the virtual clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.metrics import ProcedureMetrics
from engine.service import WorkflowService
from engine.wastes import KINDS, WasteFinding, find_wastes
from tests.conftest import START

AGENDA = {"agenda": "讨论发展党员", "meeting_date": "2026-03-02"}
VOTE_PASS = {"expected": 10, "present": 8, "yes": 6}
H = timedelta(hours=1)


def lean_classes(service: WorkflowService, process_id: str) -> dict[str, str]:
    """Lean classes per step from the deployed model of the procedure's latest version."""
    with service.unit() as uow:
        row = uow.definitions.latest(process_id)
        assert row is not None
        model = service.runtime.definition(uow, row.id).model
    return {spec: t.lean_class for spec, t in model.user_tasks.items() if t.lean_class}


def wastes(service: WorkflowService, process_id: str) -> tuple[ProcedureMetrics, list[WasteFinding]]:
    m = service.metrics(process_id)
    return m, find_wastes(m, lean_classes=lean_classes(service, process_id))


def of_kind(findings: list[WasteFinding], kind: str) -> list[WasteFinding]:
    return [f for f in findings if f.kind == kind]


def test_lean_classes_come_from_the_deployed_model(service: WorkflowService) -> None:
    assert lean_classes(service, "branch_meeting") == {"prepare_agenda": "NNVA", "hold_meeting": "VA",
                                                       "supervise": "W"}
    assert lean_classes(service, "rework_loop") == {"review": "VA"}


def test_clean_fast_run_has_no_findings(service: WorkflowService) -> None:
    instance = service.start("rework_loop", org_unit_id="b1")
    [task] = instance.open_tasks
    service.open_task(task.id, person_id="li")
    service.complete(task.id, person_id="li", data={"approve": True})
    meeting = service.start("branch_meeting", org_unit_id="b1")
    agenda = meeting.open_tasks[0].id
    service.open_task(agenda, person_id="zhang")
    vote = service.complete(agenda, person_id="zhang", data=AGENDA).open_tasks[0].id
    service.complete(vote, person_id="zhang", data=VOTE_PASS)
    for process_id in ("rework_loop", "branch_meeting"):
        m, found = wastes(service, process_id)
        assert m.completed == 1 and found == []


def test_rework_loop_with_two_rejections_is_a_defect_at_review(service: WorkflowService) -> None:
    clean = service.start("rework_loop", org_unit_id="b1")
    service.complete(clean.open_tasks[0].id, person_id="li", data={"approve": True})
    instance = service.start("rework_loop", org_unit_id="b1")
    for approve in (False, False, True):
        [task] = service.instance(instance.id).open_tasks
        service.complete(task.id, person_id="li", data={"approve": approve})
    _, found = wastes(service, "rework_loop")
    [defect] = of_kind(found, "defects")
    assert defect.steps == ("review",) and defect.instance_ids == (instance.id,)
    assert defect.evidence["rework_extra_visits"] == 2 and defect.evidence["affected_share"] == 0.5
    assert defect.severity == "high" and "返工" in defect.detail_zh and "review" in defect.title_zh
    assert [f.kind for f in found] == ["defects"]


def test_failed_check_is_a_defect(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    meeting = service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA).open_tasks[0].id
    with pytest.raises(Exception, match="实到人数"):  # the check rejects it, and the failure is recorded
        service.complete(meeting, person_id="zhang", data={"expected": 10, "present": 11, "yes": 2})
    service.complete(meeting, person_id="zhang", data=VOTE_PASS)
    _, found = wastes(service, "branch_meeting")
    [defect] = of_kind(found, "defects")
    assert defect.steps == ("hold_meeting",) and defect.instance_ids == (instance.id,)
    assert defect.evidence["check_failed"] == 1


def test_meeting_left_past_its_sla_is_waiting_at_prepare_agenda(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    task = instance.open_tasks[0]
    assert task.due_at is not None
    service.advance(task.due_at + timedelta(days=2) - START)  # left open two days past working_days(3)
    m, found = wastes(service, "branch_meeting")
    [waiting] = of_kind(found, "waiting")
    assert waiting.steps == ("prepare_agenda",) and waiting.instance_ids == (instance.id,)
    assert waiting.severity == "high" and waiting.evidence["sla_breach_share"] == 1.0
    assert waiting.evidence["breaches"][0]["kind"] == "overdue"
    # The P2D reminder fired on the only visit: the case was handed on (transportation).
    [handover] = of_kind(found, "transportation")
    assert handover.steps == ("prepare_agenda",) and handover.instance_ids == (instance.id,)
    assert m.step("prepare_agenda").open == 1 and not of_kind(found, "inventory")  # one open visit is no pile


def test_long_queue_against_short_touch_is_waiting_and_nnva_touch_is_extra_processing(
        service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    agenda = instance.open_tasks[0].id
    service.advance(timedelta(days=1))  # queue 24 h, within the SLA
    service.open_task(agenda, person_id="zhang")
    service.advance(H)  # touch 1 h of an NNVA step
    meeting = service.complete(agenda, person_id="zhang", data=AGENDA).open_tasks[0].id
    service.open_task(meeting, person_id="zhang")  # queue 0
    service.advance(2 * H)  # touch 2 h of a VA step
    service.complete(meeting, person_id="zhang", data=VOTE_PASS)
    _, found = wastes(service, "branch_meeting")
    [waiting] = of_kind(found, "waiting")
    assert waiting.steps == ("prepare_agenda",) and waiting.instance_ids == (instance.id,)
    assert waiting.evidence["queue_touch_ratio"] == 24.0 and waiting.severity == "high"
    [extra] = of_kind(found, "extra_processing")
    assert extra.steps == ("prepare_agenda",) and extra.instance_ids == (instance.id,)
    assert extra.evidence["touch_share"] == 1 / 3 and extra.severity == "medium"
    assert [f.kind for f in found] == ["waiting", "extra_processing"]  # DOWNTIME order


def test_overriding_lean_class_to_va_removes_extra_processing(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    agenda = instance.open_tasks[0].id
    service.open_task(agenda, person_id="zhang")
    service.advance(H)
    service.complete(agenda, person_id="zhang", data=AGENDA)
    m = service.metrics("branch_meeting")
    assert [f.kind for f in find_wastes(m, lean_classes={})] == ["extra_processing"]  # falls back to the event's
    assert find_wastes(m, lean_classes={"prepare_agenda": "VA"}) == []


def test_open_visits_piling_up_are_inventory(service: WorkflowService) -> None:
    started = [service.start("branch_meeting", org_unit_id="b1") for _ in range(3)]
    _, found = wastes(service, "branch_meeting")
    [pile] = of_kind(found, "inventory")
    assert pile.steps == ("prepare_agenda",) and pile.severity == "high"
    assert pile.evidence["open"] == 3 and pile.evidence["candidate_instance_ids"] == [s.id for s in started]
    assert pile.instance_ids == ()  # none overdue yet, and the metrics do not say which case holds a visit


def test_cancelled_instances_are_overproduction(service: WorkflowService) -> None:
    kept = service.start("rework_loop", org_unit_id="b1")
    service.complete(kept.open_tasks[0].id, person_id="li", data={"approve": True})
    dropped = service.start("rework_loop", org_unit_id="b1")
    service.complete(dropped.open_tasks[0].id, person_id="li", data={"approve": False})  # work done, then dropped
    service.cancel(dropped.id, actor="zhao", reason="不再需要")
    _, found = wastes(service, "rework_loop")
    [over] = of_kind(found, "overproduction")
    assert over.instance_ids == (dropped.id,) and over.steps == ("review",) and over.severity == "high"
    assert all(f.kind in KINDS for f in found)
