"""The service end to end on SQLite and PostgreSQL: start, inbox, rights, checks, completion, cancel."""

from __future__ import annotations

import pytest

from engine.errors import CheckFailed, Conflict, NotAllowed, NotFound
from engine.service import WorkflowService
from tests.conftest import START as START_OF_TEST  # noqa: E402

AGENDA = {"agenda": "讨论发展党员", "meeting_date": "2026-03-02"}
VOTE_PASS = {"expected": 10, "present": 8, "yes": 6}


def test_start_offers_first_step_to_the_role(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1", actor="zhang")
    assert instance.status == "running"
    [task] = instance.open_tasks
    assert (task.task_spec, task.role, task.org_unit_id, task.state) == ("prepare_agenda", "secretary", "b1", "ready")
    assert task.lean_class == "NNVA" and task.sla == "working_days(3)"
    # Monday 17:00 Beijing + 3 working days = Thursday 17:00 Beijing.
    assert task.due_at is not None and task.due_at.isoformat() == "2026-03-05T09:00:00+00:00"
    assert [t.id for t in service.tasks_for("zhang")] == [task.id]
    assert service.tasks_for("wang") == []  # secretary of another branch
    assert service.tasks_for("li") == []  # member, not secretary


def test_meeting_runs_to_completion(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1", actor="zhang")
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA)
    [hold] = instance.open_tasks
    assert hold.task_spec == "hold_meeting"
    done = service.complete(hold.id, person_id="zhang", data=VOTE_PASS)
    assert done.status == "completed" and done.open_tasks == []
    assert done.ended_at is not None
    assert done.data["yes"] == 6 and done.data["written_yes"] == 0  # the form's default was applied
    types = [e.type for e in service.history(done.id)]
    assert types[0] == "instance_started" and types[-1] == "instance_completed"
    assert types.count("task_completed") == 2
    assert service.verify().ok


def test_failed_vote_returns_to_agenda(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA)
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang",
                                data={"expected": 10, "present": 8, "yes": 3, "written_yes": 1})
    assert instance.status == "running"
    assert [t.task_spec for t in instance.open_tasks] == ["prepare_agenda"]


def test_failed_checks_change_nothing_and_report_every_message(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA)
    hold = instance.open_tasks[0]
    before = service.instance(instance.id)
    with pytest.raises(CheckFailed) as failed:
        service.complete(hold.id, person_id="zhang", data={"expected": 10, "present": 11, "yes": 2})
    messages = [f.message for f in failed.value.failures]
    assert "实到人数不能多于应到人数" in messages
    with pytest.raises(CheckFailed) as failed:
        service.complete(hold.id, person_id="zhang", data={"expected": 10, "present": 5, "yes": 2})
    assert [f.field for f in failed.value.failures] == ["present"]
    assert "到会人数未超过应到会人数的一半" in failed.value.failures[0].message
    after = service.instance(instance.id)
    assert (after.version, after.status, after.data) == (before.version, before.status, before.data)
    assert service.task(hold.id).state == "ready"
    events = service.history(instance.id)
    assert [e.type for e in events].count("check_failed") == 2
    assert events[-1].payload["failures"][0]["field"] == "present"
    assert service.verify().ok


def test_form_errors_are_all_reported_in_chinese(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    with pytest.raises(CheckFailed) as failed:
        service.complete(instance.open_tasks[0].id, person_id="zhang",
                         data={"agenda": "", "meeting_date": "2026-02-30", "extra": "x"})
    by_field = {f.field: f.message for f in failed.value.failures}
    assert set(by_field) == {"agenda", "meeting_date", "extra"}
    assert "必填" in by_field["agenda"] and "日期" in by_field["meeting_date"]


def test_rights_are_enforced_in_the_service(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    task = instance.open_tasks[0]
    with pytest.raises(NotAllowed):
        service.complete(task.id, person_id="wang", data=AGENDA)  # secretary elsewhere
    with pytest.raises(NotAllowed):
        service.claim(task.id, person_id="li")
    with pytest.raises(NotFound):
        service.complete(task.id, person_id="nobody", data=AGENDA)
    assert service.task(task.id).state == "ready"


def test_claim_unclaim_and_open(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    task = instance.open_tasks[0]
    claimed = service.claim(task.id, person_id="zhang")
    assert (claimed.state, claimed.assignee) == ("claimed", "zhang")
    with pytest.raises(Conflict):
        service.claim(task.id, person_id="zhang")
    opened = service.open_task(task.id, person_id="zhang")
    assert opened.opened_at is not None
    back = service.unclaim(task.id, person_id="zhang")
    assert (back.state, back.assignee) == ("ready", None)
    types = [e.type for e in service.history(instance.id)]
    assert types[-3:] == ["task_claimed", "task_opened", "task_unclaimed"]


def test_completing_twice_is_a_conflict(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    task = instance.open_tasks[0]
    service.complete(task.id, person_id="zhang", data=AGENDA)
    with pytest.raises(Conflict, match="already completed by zhang"):
        service.complete(task.id, person_id="zhang", data=AGENDA)


def test_cancel_closes_open_tasks(service: WorkflowService) -> None:
    instance = service.start("branch_meeting", org_unit_id="b1")
    cancelled = service.cancel(instance.id, actor="zhao", reason="重复发起")
    assert cancelled.status == "cancelled" and cancelled.open_tasks == []
    assert service.task(instance.open_tasks[0].id).state == "cancelled"
    assert service.tasks_for("zhang") == []
    with pytest.raises(Conflict):
        service.cancel(instance.id)
    assert [e.type for e in service.history(instance.id)][-1] == "instance_cancelled"


def test_deploy_makes_a_new_version_only_when_content_changes(service: WorkflowService, tmp_path) -> None:
    from tests.conftest import DEMO

    again = service.deploy_file(DEMO / "branch_meeting.bpmn")
    assert (again.created, again.version) == (False, 1)
    running = service.start("branch_meeting", org_unit_id="b1")
    changed = (DEMO / "branch_meeting.bpmn").read_text(encoding="utf-8").replace("拟定议程", "拟定会议议程")
    path = tmp_path / "meeting.bpmn"
    path.write_text(changed, encoding="utf-8")
    v2 = service.deploy_file(path)
    assert (v2.created, v2.version) == (True, 2)
    assert service.instance(running.id).definition_id != v2.id  # running instances keep their version
    new = service.start("branch_meeting", org_unit_id="b1")
    assert new.definition_id == v2.id and new.open_tasks[0].name == "拟定会议议程"


def test_unknown_things_are_not_found(service: WorkflowService) -> None:
    with pytest.raises(NotFound):
        service.start("no_such_process", org_unit_id="b1")
    with pytest.raises(NotFound):
        service.start("branch_meeting", org_unit_id="nowhere")
    with pytest.raises(NotFound):
        service.tasks_for("nobody")


def test_parameters_default_and_are_checked(service: WorkflowService) -> None:
    from engine.errors import InvalidInput

    instance = service.start("branch_meeting", org_unit_id="b1")
    assert instance.data["rule_version"] == "2026-05"
    older = service.start("branch_meeting", org_unit_id="b1", data={"rule_version": "2014"})
    assert older.data["rule_version"] == "2014"
    started = service.history(older.id)[0]
    assert started.payload["data"] == {"rule_version": "2014"}
    with pytest.raises(InvalidInput, match="rule_version must be one of 2014, 2026-05"):
        service.start("branch_meeting", org_unit_id="b1", data={"rule_version": "1990"})


def test_rules_see_every_form_field_and_the_organisation(service: WorkflowService) -> None:
    from engine.rule_helpers import make_helpers
    from engine.sandbox import SandboxEnvironment
    from engine.workdays import WorkCalendar

    with service.unit() as uow:
        sandbox = SandboxEnvironment(service.runtime.sandbox_helpers(uow, "b1"))
        assert sandbox.eval_expression("unit()", {}) == "b1"
        assert sandbox.eval_expression("holders('secretary')", {}) == ["zhang"]
        assert sandbox.eval_expression("holders('higher_committee', 'c1')", {}) == ["zhao"]
        assert ["secretary", "b1"] in sandbox.eval_expression("roles_of('zhang')", {})
    assert make_helpers(START_OF_TEST, WorkCalendar())["holders"]("secretary") == []  # no organisation bound
    # written_yes is optional and left out: the quorum rule still evaluates instead of failing on a missing name.
    instance = service.start("branch_meeting", org_unit_id="b1")
    instance = service.complete(instance.open_tasks[0].id, person_id="zhang", data=AGENDA)
    done = service.complete(instance.open_tasks[0].id, person_id="zhang", data={"expected": 4, "present": 3, "yes": 3})
    assert done.status == "completed"
