"""Tests for the procedure model LeanFlow reads from BPMN extension elements."""

from __future__ import annotations

import json

import pytest

from engine.loader import load_bpmn, read_bpmn_file
from engine.model import (
    BPMN,
    CheckRule,
    FormField,
    ProcedureModel,
    TimerModel,
    extract_model,
    find_process,
)
from tests.conftest import DEMO, FIXTURES


def model_of(name: str, process_id: str) -> ProcedureModel:
    doc = read_bpmn_file(FIXTURES / name)
    process = find_process(doc.root, process_id)
    assert process is not None
    return extract_model(process)


@pytest.fixture(scope="module")
def meeting() -> ProcedureModel:
    return model_of(str(DEMO / "branch_meeting.bpmn"), "branch_meeting")


@pytest.fixture(scope="module")
def loop() -> ProcedureModel:
    return model_of("rework_loop.bpmn", "rework_loop")


def process_of(body: str, process_id: str = "p") -> ProcedureModel:
    """Extract the model of a process built from body text."""
    doc = load_bpmn(
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://leanflow/test">'
        f'<bpmn:process id="{process_id}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'
    )
    process = find_process(doc.root, process_id)
    assert process is not None
    return extract_model(process)


# -- the meeting fixture -----------------------------------------------------------------------------------


def test_process_identity(meeting: ProcedureModel) -> None:
    assert meeting.process_id == "branch_meeting"
    assert meeting.name == "支部党员大会（演示）"
    assert set(meeting.user_tasks) == {"prepare_agenda", "hold_meeting", "supervise"}


def test_user_task_roles_come_from_lane_properties(meeting: ProcedureModel) -> None:
    prepare = meeting.user_tasks["prepare_agenda"]
    assert (prepare.name, prepare.lane, prepare.role, prepare.scope) == ("拟定议程", "支部书记", "secretary", "unit")
    assert prepare.assignee is None
    hold = meeting.user_tasks["hold_meeting"]
    assert (hold.lane, hold.role, hold.scope) == ("支部书记", "secretary", "unit")


def test_higher_committee_lane_gives_ancestor_scope(meeting: ProcedureModel) -> None:
    supervise = meeting.user_tasks["supervise"]
    assert (supervise.lane, supervise.role, supervise.scope) == ("上级党委", "higher_committee", "ancestor")


def test_lanes_carry_their_id_and_properties(meeting: ProcedureModel) -> None:
    assert meeting.lanes == {
        "支部书记": {"id": "lane_secretary", "role": "secretary"},
        "上级党委": {"id": "lane_higher", "role": "higher_committee", "scope": "ancestor"},
    }


def test_lean_class_and_sla(meeting: ProcedureModel) -> None:
    tasks = meeting.user_tasks
    assert [(t, tasks[t].lean_class, tasks[t].sla) for t in ("prepare_agenda", "hold_meeting", "supervise")] == [
        ("prepare_agenda", "NNVA", "working_days(3)"),
        ("hold_meeting", "VA", None),
        ("supervise", "W", None),
    ]


def test_form_fields_with_constraints(meeting: ProcedureModel) -> None:
    assert meeting.user_tasks["prepare_agenda"].form == [
        FormField("agenda", "议程", "string", required=True, constraints={"maxlength": "500"}),
        FormField("meeting_date", "会议日期", "date", required=True),
    ]


def test_form_field_default_and_min(meeting: ProcedureModel) -> None:
    form = {f.id: f for f in meeting.user_tasks["hold_meeting"].form}
    assert list(form) == ["expected", "present", "yes", "written_yes"]  # document order
    assert form["expected"] == FormField("expected", "应到人数", "long", required=True, constraints={"min": "1"})
    assert form["present"].constraints == {"min": "0"}
    assert form["yes"].required and form["yes"].constraints == {}
    assert form["written_yes"] == FormField("written_yes", "书面赞成", "long", default="0")
    assert meeting.user_tasks["supervise"].form == []


def test_check_rules_with_message_and_field(meeting: ProcedureModel) -> None:
    assert meeting.user_tasks["hold_meeting"].checks == [
        CheckRule("present_le_expected", "present <= expected", "实到人数不能多于应到人数", "present"),
        CheckRule("quorum", "present * 2 > expected", "到会人数未超过应到会人数的一半，会议无效", "present"),
        CheckRule("date_ok", "meeting_date <= today()", "会议日期不能晚于今天", None),
    ]
    assert meeting.user_tasks["prepare_agenda"].checks == []


def test_timers(meeting: ProcedureModel) -> None:
    remind = meeting.timers["remind_agenda"]
    assert (remind.name, remind.kind, remind.expression, remind.attached_to, remind.interrupting) == (
        "议程提醒", "duration", "P2D", "prepare_agenda", False)
    deadline = meeting.timers["meeting_deadline"]
    assert (deadline.name, deadline.kind, deadline.expression, deadline.attached_to, deadline.interrupting) == (
        "会议期限", "duration", "P1M", "hold_meeting", True)  # cancelActivity defaults to true
    assert set(meeting.timers) == {"remind_agenda", "meeting_deadline"}
    assert isinstance(remind.line, int) and remind.line > 0


def test_code_items_are_conditions_and_check_rules(meeting: ProcedureModel) -> None:
    items = [(c.element_id, c.mode, c.source) for c in meeting.code]
    assert items == [
        ("f_pass", "eval", "(yes + written_yes) * 2 > expected"),
        ("hold_meeting", "eval", "present <= expected"),
        ("hold_meeting", "eval", "present * 2 > expected"),
        ("hold_meeting", "eval", "meeting_date <= today()"),
    ]
    assert all(isinstance(c.line, int) for c in meeting.code)


def test_user_task_lines_point_into_the_file(meeting: ProcedureModel) -> None:
    lines = (DEMO / "branch_meeting.bpmn").read_text(encoding="utf-8").splitlines()
    for task in meeting.user_tasks.values():
        assert task.line is not None
        assert f'id="{task.id}"' in lines[task.line - 1]


# -- the rework loop fixture -------------------------------------------------------------------------------


def test_rework_loop_scripts_and_condition(loop: ProcedureModel) -> None:
    # Every scriptTask's script is an exec item (read from the file so the fixture may grow), then conditions.
    doc = read_bpmn_file(FIXTURES / "rework_loop.bpmn")
    scripts = [
        (s.getparent().get("id"), "exec", s.text)
        for s in doc.root.iter(f"{{{BPMN}}}script")
    ]
    assert any(element == "count" for element, _, _ in scripts)
    items = [(c.element_id, c.mode, c.source) for c in loop.code]
    assert items == [*scripts, ("f_yes", "eval", "approve")]
    review = loop.user_tasks["review"]
    assert (review.role, review.lean_class, review.sla) == ("member", "VA", None)
    assert review.form == [FormField("approve", "通过", "boolean", required=True)]
    assert loop.timers == {}
    assert loop.name == "返工循环（测试）"


# -- round trip --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "process_id"), [(str(DEMO / "branch_meeting.bpmn"), "branch_meeting"),
                                                  ("rework_loop.bpmn", "rework_loop")])
def test_to_dict_from_dict_round_trip_through_json(name: str, process_id: str) -> None:
    model = model_of(name, process_id)
    stored = json.loads(json.dumps(model.to_dict(), ensure_ascii=False))
    rebuilt = ProcedureModel.from_dict(stored)
    assert rebuilt == model
    assert rebuilt.to_dict() == model.to_dict()


def test_round_trip_keeps_enum_options_as_tuples() -> None:
    model = process_of(
        '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:formData>'
        '<camunda:formField id="result" label="结果" type="enum">'
        '<camunda:value id="pass" name="通过"/><camunda:value id="fail"/></camunda:formField>'
        "</camunda:formData></bpmn:extensionElements></bpmn:userTask>"
    )
    options = model.user_tasks["t"].form[0].options
    assert options == [("pass", "通过"), ("fail", "fail")]  # a value without a name shows its id
    rebuilt = ProcedureModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert rebuilt == model
    assert rebuilt.user_tasks["t"].form[0].options == [("pass", "通过"), ("fail", "fail")]


# -- vocabulary details, on small documents ----------------------------------------------------------------


def test_assignee_expression_names_a_data_variable() -> None:
    model = process_of(
        '<bpmn:laneSet><bpmn:lane id="l" name="申请人"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="role" value="applicant"/></camunda:properties></bpmn:extensionElements>'
        "<bpmn:flowNodeRef>t1</bpmn:flowNodeRef><bpmn:flowNodeRef>t2</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
        '<bpmn:userTask id="t1" camunda:assignee="${ applicant }"/>'
        '<bpmn:userTask id="t2" camunda:assignee="fixed_person"/>'
    )
    assert model.user_tasks["t1"].assignee == "applicant"
    assert model.user_tasks["t2"].assignee == "fixed_person"
    assert model.user_tasks["t1"].role == "applicant"
    assert model.user_tasks["t1"].name == "t1"  # no name: the id stands in


def test_task_properties_override_the_lane() -> None:
    model = process_of(
        '<bpmn:laneSet><bpmn:lane id="l" name="支部书记"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="role" value="secretary"/></camunda:properties></bpmn:extensionElements>'
        "<bpmn:flowNodeRef>t</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
        '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="role" value="committee"/><camunda:property name="scope" value="ancestor"/>'
        "</camunda:properties></bpmn:extensionElements></bpmn:userTask>"
    )
    task = model.user_tasks["t"]
    assert (task.lane, task.role, task.scope) == ("支部书记", "committee", "ancestor")


def test_task_in_no_lane_has_no_role_and_unit_scope() -> None:
    task = process_of('<bpmn:userTask id="t" name="孤立任务"/>').user_tasks["t"]
    assert (task.lane, task.role, task.scope, task.lean_class, task.form, task.checks) == (
        None, None, "unit", None, [], [])


def test_nested_lane_wins_over_its_parent() -> None:
    model = process_of(
        '<bpmn:laneSet><bpmn:lane id="outer" name="支部"><bpmn:flowNodeRef>t</bpmn:flowNodeRef>'
        '<bpmn:childLaneSet><bpmn:lane id="inner" name="组织委员"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="role" value="organizer"/></camunda:properties></bpmn:extensionElements>'
        "<bpmn:flowNodeRef>t</bpmn:flowNodeRef></bpmn:lane></bpmn:childLaneSet></bpmn:lane></bpmn:laneSet>"
        '<bpmn:userTask id="t"/>'
    )
    assert (model.user_tasks["t"].lane, model.user_tasks["t"].role) == ("组织委员", "organizer")


def test_check_without_message_gets_a_default_and_sub_keys_are_not_rules() -> None:
    task = process_of(
        '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="check.adult" value="age(birthday) &gt;= 18"/>'
        '<camunda:property name="check.adult.field" value="birthday"/>'
        '<camunda:property name="check.orphan.message" value="没有规则"/>'
        "</camunda:properties></bpmn:extensionElements></bpmn:userTask>"
    ).user_tasks["t"]
    assert task.checks == [CheckRule("adult", "age(birthday) >= 18", "检查未通过：adult", "birthday")]


def test_form_field_defaults_label_and_type_and_keeps_unknown_constraints() -> None:
    task = process_of(
        '<bpmn:userTask id="t"><bpmn:extensionElements><camunda:formData>'
        '<camunda:formField id="note"><camunda:validation><camunda:constraint name="readonly"/>'
        '<camunda:constraint name="pattern" config="\\d+"/><camunda:constraint name="colour" config="red"/>'
        "</camunda:validation></camunda:formField></camunda:formData></bpmn:extensionElements></bpmn:userTask>"
    ).user_tasks["t"]
    assert task.form == [
        FormField("note", "note", "string", readonly=True, constraints={"pattern": "\\d+", "colour": "red"})
    ]


def test_timer_kinds_and_a_catch_event_timer() -> None:
    model = process_of(
        '<bpmn:intermediateCatchEvent id="wait_probation" name="预备期满">'
        "<bpmn:timerEventDefinition><bpmn:timeDate> probation_end </bpmn:timeDate></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:startEvent id="monthly"><bpmn:timerEventDefinition><bpmn:timeCycle>R/P1M</bpmn:timeCycle>'
        "</bpmn:timerEventDefinition></bpmn:startEvent>"
        '<bpmn:intermediateCatchEvent id="broken"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>'
    )
    assert model.timers == {
        "wait_probation": TimerModel("wait_probation", "预备期满", "date", "probation_end", None, True,
                                     model.timers["wait_probation"].line),
        "monthly": TimerModel("monthly", "monthly", "cycle", "R/P1M", None, True, model.timers["monthly"].line),
        "broken": TimerModel("broken", "broken", "missing", "", None, True, model.timers["broken"].line),
    }


def test_scripts_keep_their_text_and_only_script_tasks_count() -> None:
    model = process_of(
        '<bpmn:scriptTask id="s"><bpmn:script>a = 1\nb = a + 1\n</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="s"><bpmn:conditionExpression>\n   a &gt; 0\n'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
    )
    assert [(c.element_id, c.mode, c.source) for c in model.code] == [
        ("s", "exec", "a = 1\nb = a + 1\n"),
        ("f", "eval", "a > 0"),  # conditions are stripped of the XML's indentation
    ]


def test_process_name_defaults_to_its_id() -> None:
    assert process_of("", process_id="bare").name == "bare"


def test_find_process_returns_none_for_an_unknown_id() -> None:
    doc = read_bpmn_file(DEMO / "branch_meeting.bpmn")
    assert find_process(doc.root, "no_such_process") is None


def test_start_form_and_checks_are_read_from_the_start_event() -> None:
    from engine.loader import load_bpmn
    from engine.model import extract_model, find_process

    text = (DEMO / "branch_meeting.bpmn").read_text(encoding="utf-8").replace(
        '<bpmn:startEvent id="start" name="开始"/>',
        '<bpmn:startEvent id="start" name="开始"><bpmn:extensionElements><camunda:formData>'
        '<camunda:formField id="chair" label="主持人" type="person"><camunda:validation>'
        '<camunda:constraint name="required" /></camunda:validation></camunda:formField></camunda:formData>'
        '<camunda:properties><camunda:property name="check.not_self" value="chair != &quot;nobody&quot;" />'
        '<camunda:property name="check.not_self.message" value="主持人无效" /></camunda:properties>'
        '</bpmn:extensionElements></bpmn:startEvent>')
    root = load_bpmn(text.encode("utf-8")).root
    model = extract_model(find_process(root, "branch_meeting"))
    assert [(f.id, f.type, f.required) for f in model.start_form] == [("chair", "person", True)]
    assert [(c.name, c.message) for c in model.start_checks] == [("not_self", "主持人无效")]
    assert any(c.element_id == "start" for c in model.code)
    assert type(model).from_dict(model.to_dict()) == model
