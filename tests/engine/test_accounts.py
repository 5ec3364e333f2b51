"""Accounts and rights on SQLite and PostgreSQL: passwords, read-only auditors, who deploys, starts and reads."""

from __future__ import annotations

import pytest

from engine import accounts
from engine.errors import InvalidInput, NotAllowed, NotFound
from engine.service import WorkflowService
from tests.conftest import DEMO

MORE_PEOPLE = """
units: []
people:
  - {id: qian, name: 钱委员, unit: c1, membership: full, roles: [{role: committee, unit: c1}]}
  - {id: sun, name: 孙审计, unit: c1, roles: [{role: auditor, unit: c1}]}
  - {id: zhou, name: 周管理, unit: c1, roles: [{role: admin, unit: c1}]}
  - {id: ma, name: 马委员, unit: b2, roles: [{role: committee, unit: b2}]}
  - {id: xu, name: 许群众, unit: b2}
"""
AGENDA = {"agenda": "讨论发展党员", "meeting_date": "2026-03-02"}


@pytest.fixture
def svc(service: WorkflowService) -> WorkflowService:
    """The test service with a committee member, an auditor, an admin and a committee of branch 2."""
    service.import_org(MORE_PEOPLE, "more.yaml")
    return service


def test_passwords_are_hashed_checked_and_recorded(svc: WorkflowService) -> None:
    assert svc.authenticate("zhang", "whatever1") is None  # no password set yet
    svc.set_password("zhang", "correct horse", actor="zhou")
    stored = {u.id: u for u in svc.users()}
    assert stored["zhang"].has_password and not stored["li"].has_password
    who = svc.authenticate("zhang", "correct horse")
    assert who is not None and who.id == "zhang" and who.name == "张书记"
    assert [(r.role, r.org_unit_id) for r in who.roles] == [("secretary", "b1"), ("member", "b1")]
    assert svc.authenticate("zhang", "wrong horse") is None
    assert svc.authenticate("nobody", "correct horse") is None
    events = [e for e in svc.system_history() if e.type == "password_set"]
    assert [(e.actor, e.payload) for e in events] == [("zhou", {"person": "zhang"})]
    assert "argon2" not in str(events[0].payload)


def test_a_new_password_changes_the_session_stamp(svc: WorkflowService) -> None:
    svc.set_password("li", "first-password")
    before = svc.principal("li")
    svc.set_password("li", "second-password")
    after = svc.principal("li")
    assert before is not None and after is not None and before.stamp != after.stamp
    assert svc.authenticate("li", "first-password") is None


def test_short_passwords_and_unknown_people_are_refused(svc: WorkflowService) -> None:
    with pytest.raises(InvalidInput, match="至少 8"):
        svc.set_password("li", "short")
    with pytest.raises(NotFound):
        svc.set_password("ghost", "long enough")
    assert svc.principal("ghost") is None


def test_hashes_are_salted_argon2id() -> None:
    first, second = accounts.hash_password("same password"), accounts.hash_password("same password")
    assert first.startswith("$argon2id$") and first != second
    assert accounts.verify_password(first, "same password") and not accounts.verify_password(None, "same password")
    assert not accounts.verify_password("not a hash", "same password")


def test_only_committee_and_admin_deploy(svc: WorkflowService) -> None:
    content = (DEMO / "branch_meeting.bpmn").read_bytes().replace(b"\xe6\xbc\x94\xe7\xa4\xba", b"v2")
    for person in ("zhang", "li", "sun"):
        with pytest.raises(NotAllowed):
            svc.deploy_as(person, content, "branch_meeting.bpmn")
    assert [d.version for d in svc.definitions() if d.process_id == "branch_meeting"] == [1]
    view = svc.deploy_as("qian", content, "branch_meeting.bpmn")
    assert (view.version, view.deployed_by) == (2, "qian")
    assert svc.deploy_as("zhou", content, "branch_meeting.bpmn").created is False


def test_start_needs_committee_or_admin_at_the_unit_or_above(svc: WorkflowService) -> None:
    with pytest.raises(NotAllowed):
        svc.start_as("zhang", "branch_meeting", org_unit_id="b1")  # a secretary, not the committee
    with pytest.raises(NotAllowed):
        svc.start_as("ma", "branch_meeting", org_unit_id="b1")  # committee of another branch
    with pytest.raises(NotAllowed):
        svc.start_as("sun", "branch_meeting", org_unit_id="b1")  # auditors change nothing
    with pytest.raises(NotFound):
        svc.start_as("qian", "branch_meeting", org_unit_id="nowhere")
    assert svc.instances() == []
    started = svc.start_as("qian", "branch_meeting", org_unit_id="b1")
    assert started.started_by == "qian"
    assert svc.start_as("ma", "branch_meeting", org_unit_id="b2").org_unit_id == "b2"
    assert svc.start_as("zhou", "branch_meeting", org_unit_id="b2").started_by == "zhou"


def test_auditor_reads_everything_and_changes_nothing(svc: WorkflowService) -> None:
    instance = svc.start_as("qian", "branch_meeting", org_unit_id="b1")
    task = instance.open_tasks[0]
    assert svc.instance_as("sun", instance.id).id == instance.id
    assert [i.id for i in svc.instances_as("sun")] == [instance.id]
    assert svc.verify_instance_as("sun", instance.id).ok
    for act in (lambda: svc.claim_as("sun", task.id), lambda: svc.complete_as("sun", task.id, AGENDA),
                lambda: svc.open_task_as("sun", task.id), lambda: svc.unclaim_as("sun", task.id)):
        with pytest.raises(NotAllowed, match="审计"):
            act()
    assert not svc.may_work_on("sun", task.id)
    assert svc.instance(instance.id).version == instance.version


def test_members_do_only_their_own_or_their_roles_tasks(svc: WorkflowService) -> None:
    instance = svc.start_as("qian", "branch_meeting", org_unit_id="b1")
    task = instance.open_tasks[0]
    assert svc.may_work_on("zhang", task.id) and not svc.may_work_on("li", task.id)
    with pytest.raises(NotAllowed):
        svc.complete_as("li", task.id, AGENDA)
    with pytest.raises(NotAllowed):
        svc.claim_as("wang", task.id)
    svc.claim_as("zhang", task.id)
    [entry] = svc.inbox_as("zhang")
    assert (entry.task.state, entry.may_claim, entry.may_unclaim) == ("claimed", False, True)
    view = svc.complete_as("zhang", task.id, AGENDA)
    assert svc.next_task_as("zhang", instance.id) == view.open_tasks[0]
    assert svc.next_task_as("li", instance.id) is None


def test_reading_follows_the_org_tree_and_involvement(svc: WorkflowService) -> None:
    b1 = svc.start_as("qian", "branch_meeting", org_unit_id="b1")
    b2 = svc.start_as("ma", "branch_meeting", org_unit_id="b2")
    assert {i.id for i in svc.instances_as("li")} == {b1.id}  # a member of b1 reads b1's procedures
    assert {i.id for i in svc.instances_as("qian")} == {b1.id, b2.id}  # the committee reads below it
    assert {i.id for i in svc.instances_as("ma")} == {b2.id}
    assert svc.instances_as("xu") == []  # no role anywhere
    with pytest.raises(NotAllowed):
        svc.instance_as("xu", b1.id)
    with pytest.raises(NotAllowed):
        svc.history_as("wang", b1.id)
    with pytest.raises(NotAllowed):
        svc.task_as("wang", b1.open_tasks[0].id)
    assert svc.task_as("zhang", b1.open_tasks[0].id).id == b1.open_tasks[0].id


def test_inbox_pairs_tasks_with_instances_and_the_form_with_its_values(svc: WorkflowService) -> None:
    instance = svc.start_as("qian", "branch_meeting", org_unit_id="b1", title="三月支部大会")
    [entry] = svc.inbox_as("zhang")
    task, where = entry.task, entry.instance
    assert (entry.procedure, entry.may_claim, entry.may_unclaim) == ("支部党员大会（演示）", True, False)
    assert (task.task_spec, where.id, where.title, where.process_id) == ("prepare_agenda", instance.id,
                                                                        "三月支部大会", "branch_meeting")
    fields, values = svc.task_form_as("zhang", task.id)
    assert [(f.id, f.type, f.required) for f in fields] == [("agenda", "string", True), ("meeting_date", "date", True)]
    assert values == {}
    svc.complete_as("zhang", task.id, AGENDA)
    fields, values = svc.task_form_as("zhang", task.id)
    assert values == AGENDA  # as submitted, read back from the history
    assert [u.id for u in svc.org_units()] == ["c1", "b1", "b2"]
    assert svc.lint_bytes(b"<not-bpmn", "bad.bpmn").issues[0].code == "load-error"
