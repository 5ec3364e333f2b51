"""Persistence: state round-trips at every wait state, stale caches reload, loops stay flat and finish."""

from __future__ import annotations

from sqlalchemy import text

from engine.service import WorkflowService, open_service
from tests.conftest import DEMO


def _state_size(service: WorkflowService, instance_id: int) -> int:
    assert service.db_engine is not None
    with service.db_engine.connect() as conn:
        return int(conn.execute(text("SELECT length(state_json) FROM process_instance WHERE id = :i"),
                                {"i": instance_id}).scalar_one())


def _assert_round_trip(service: WorkflowService, instance_id: int) -> None:
    """The workflow in memory and the one restored from the database serialise identically."""
    with service.unit() as uow:
        hot = service.runtime.load(uow, instance_id)
        service.runtime.forget(instance_id)
        cold = service.runtime.load(uow, instance_id)
    assert hot.runner is not cold.runner
    assert service.serializer.state_to_json(hot.runner.workflow) == service.serializer.state_to_json(
        cold.runner.workflow)
    assert hot.runner.ready_user_tasks() == cold.runner.ready_user_tasks()
    assert hot.runner.next_due() == cold.runner.next_due()
    assert hot.runner.data == cold.runner.data


def test_round_trip_at_every_wait_state(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    _assert_round_trip(service, instance.id)
    service.advance("P2DT1H")  # the reminder fired
    _assert_round_trip(service, instance.id)
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang",
                                data={"agenda": "x", "meeting_date": "2026-03-02"})
    _assert_round_trip(service, instance.id)
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang",
                                data={"expected": 10, "present": 8, "yes": 2})  # vote fails: rework
    _assert_round_trip(service, instance.id)
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang",
                                data={"agenda": "y", "meeting_date": "2026-03-04"})
    _assert_round_trip(service, instance.id)
    done = service.complete(instance.open_tasks[0].id, person_id="zhang",
                            data={"expected": 10, "present": 8, "yes": 7})
    assert done.status == "completed"
    _assert_round_trip(service, instance.id)


def test_second_process_sees_changes_made_by_the_first(sqlite_url: str, clock) -> None:
    first = open_service(sqlite_url, clock=clock)
    first.import_org((DEMO / "org.yaml").read_text(encoding="utf-8"), "org.yaml")
    first.deploy_file(DEMO / "branch_meeting.bpmn")
    second = open_service(sqlite_url, clock=clock, migrate=False)
    instance = first.start("branch_meeting", org_unit_id="b1")
    second.instance(instance.id)  # second now caches version 1
    after = first.complete(instance.open_tasks[0].id, person_id="zhang",
                           data={"agenda": "x", "meeting_date": "2026-03-02"})
    done = second.complete(after.open_tasks[0].id, person_id="zhang", data={"expected": 3, "present": 2, "yes": 2})
    assert done.status == "completed" and done.data["agenda"] == "x"
    assert first.verify().ok


def test_thousand_pass_rework_loop_finishes_with_flat_state(service: WorkflowService) -> None:
    instance = service.start("rework_loop", org_unit_id="b1")
    task_id = instance.open_tasks[0].id
    sizes = {}
    for n in range(1, 1001):
        view = service.complete(task_id, person_id="li", data={"approve": n == 1000})
        if n in (10, 999):
            sizes[n] = _state_size(service, instance.id)
            with service.unit() as uow:
                assert service.runtime.load(uow, instance.id).runner.task_count() < 15
        if n < 1000:
            task_id = view.open_tasks[0].id
    assert view.status == "completed"
    assert view.data["n"] == 1000
    assert sizes[999] < sizes[10] * 1.2  # the state does not grow with the number of passes
    assert service.verify().ok


def test_instance_data_is_current_while_running(service: WorkflowService) -> None:
    instance = service.start("rework_loop", org_unit_id="b1")
    assert instance.data["n"] == 1
    view = service.complete(instance.open_tasks[0].id, person_id="li", data={"approve": False})
    assert view.data["n"] == 2 and view.data["approve"] is False
    assert service.instance(instance.id).data["n"] == 2
