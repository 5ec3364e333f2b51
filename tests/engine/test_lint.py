"""Tests for the linter: the fixtures are clean, and every rule fires naming the element at fault."""

from __future__ import annotations

import pytest

from engine.errors import LintIssue
from engine.lint import lint_document
from engine.loader import load_bpmn, read_bpmn_file
from engine.views import LintReport
from tests.conftest import DEMO, FIXTURES

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def definitions(body: str, *, process_id: str = "p", name: str = "测试流程") -> str:
    """Wrap a process body in bpmn:definitions with the bpmn and camunda namespaces."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}" id="defs"'
        ' targetNamespace="http://leanflow/test">\n'
        f'<bpmn:process id="{process_id}" name="{name}" isExecutable="true">\n{body}\n</bpmn:process>\n'
        "</bpmn:definitions>\n"
    )


def lint(body: str) -> LintReport:
    report, _parsed, _model = lint_document(load_bpmn(definitions(body), filename="test.bpmn"))
    return report


def props(**values: str) -> str:
    """camunda:properties in an extensionElements (names with dots via a dict)."""
    items = "".join(f'<camunda:property name="{k}" value="{v}"/>' for k, v in values.items())
    return f"<bpmn:extensionElements><camunda:properties>{items}</camunda:properties></bpmn:extensionElements>"


def lane(lane_id: str, name: str, nodes: list[str], **properties: str) -> str:
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    return f'<bpmn:lane id="{lane_id}" name="{name}">{props(**properties) if properties else ""}{refs}</bpmn:lane>'


def task(task_id: str = "task", extension: str | None = None, attrs: str = "") -> str:
    ext = props(lean_class="VA") if extension is None else extension
    return f'<bpmn:userTask id="{task_id}" name="办理" {attrs}>{ext}</bpmn:userTask>'


def simple(
    user_task: str | None = None,
    extra: str = "",
    *,
    lanes: str | None = None,
    extra_nodes: tuple[str, ...] = (),
) -> str:
    """A valid process: start -> task -> end in a secretary lane, plus extra elements."""
    nodes = ["start", "task", "end", *extra_nodes]
    lane_set = lanes if lanes is not None else lane("lane_sec", "支部书记", nodes, role="secretary")
    return (
        f'<bpmn:laneSet id="ls">{lane_set}</bpmn:laneSet>'
        '<bpmn:startEvent id="start"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task"/>'
        f"{user_task if user_task is not None else task()}"
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>'
        '<bpmn:endEvent id="end"/>'
        f"{extra}"
    )


def with_timer(definition: str, *, boundary: bool = True) -> str:
    """The simple process with a timer (boundary on the task, or an intermediate catch before the end)."""
    if boundary:
        extra = (
            f'<bpmn:boundaryEvent id="timer" attachedToRef="task" cancelActivity="false">'
            f"<bpmn:timerEventDefinition>{definition}</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
            '<bpmn:sequenceFlow id="f_t" sourceRef="timer" targetRef="timer_end"/>'
            '<bpmn:endEvent id="timer_end"/>'
        )
        return simple(extra=extra, extra_nodes=("timer", "timer_end"))
    body = simple(extra_nodes=("timer",)).replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="timer"/>'
        f'<bpmn:intermediateCatchEvent id="timer"><bpmn:timerEventDefinition>{definition}'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
        '<bpmn:sequenceFlow id="f_t" sourceRef="timer" targetRef="end"/>',
    )
    return body


def errors(report: LintReport) -> list[LintIssue]:
    return [i for i in report.issues if i.severity == "error"]


def codes(report: LintReport) -> set[tuple[str, str | None]]:
    """(code, element id) of every error."""
    return {(i.code, i.element_id) for i in errors(report)}


def assert_fires(report: LintReport, code: str, element_id: str | None) -> LintIssue:
    matches = [i for i in errors(report) if i.code == code and i.element_id == element_id]
    assert matches, f"expected [{code}] on {element_id}, got {report.issues}"
    assert not report.ok
    return matches[0]


def assert_clean(report: LintReport) -> None:
    assert report.ok, report.issues
    assert errors(report) == []


# -- the fixtures and the baseline -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "process_id"), [(str(DEMO / "branch_meeting.bpmn"), "branch_meeting"),
                                                  ("rework_loop.bpmn", "rework_loop")])
def test_fixtures_lint_clean(name: str, process_id: str) -> None:
    doc = read_bpmn_file(FIXTURES / name)
    report, parsed, model = lint_document(doc)
    assert_clean(report)
    assert report.process_id == process_id
    assert report.sha256 == doc.sha256 and report.filename == doc.filename
    assert parsed is not None and parsed.process_id == process_id
    assert model is not None and model.process_id == process_id


def test_the_baseline_test_process_is_clean() -> None:
    report, parsed, model = lint_document(load_bpmn(definitions(simple())))
    assert_clean(report)
    assert report.issues == []
    assert parsed is not None and model is not None and report.process_id == "p"


def test_a_document_without_any_process() -> None:
    doc = load_bpmn(
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="d" targetNamespace="x">'
        '<bpmn:collaboration id="c"/></bpmn:definitions>',
        filename="empty.bpmn",
    )
    report, parsed, model = lint_document(doc)
    assert not report.ok
    assert [(i.code, i.severity) for i in report.issues] == [("no-process", "error")]
    assert (report.process_id, parsed, model) == (None, None, None)
    assert report.filename == "empty.bpmn" and report.sha256 == doc.sha256


def test_errors_withhold_the_parsed_process_but_keep_the_model() -> None:
    report, parsed, model = lint_document(load_bpmn(definitions(simple(task(extension=props(lean_class="X"))))))
    assert not report.ok
    assert parsed is None
    assert model is not None and model.user_tasks["task"].lean_class == "X"


# -- structure ---------------------------------------------------------------------------------------------


def test_dangling_flow_names_the_flow() -> None:
    body = simple(extra='<bpmn:sequenceFlow id="f_bad" sourceRef="task" targetRef="ghost"/>')
    issue = assert_fires(lint(body), "dangling-flow", "f_bad")
    assert "targetRef 'ghost'" in issue.message
    assert issue.line is not None


def test_dangling_source_is_reported_too() -> None:
    body = simple(extra='<bpmn:sequenceFlow id="f_src" sourceRef="nowhere" targetRef="end"/>')
    assert "sourceRef 'nowhere'" in assert_fires(lint(body), "dangling-flow", "f_src").message


def test_missing_start_event() -> None:
    body = (
        '<bpmn:userTask id="task"/><bpmn:sequenceFlow id="f" sourceRef="task" targetRef="end"/>'
        '<bpmn:endEvent id="end"/>'
    )
    assert_fires(lint(body), "no-start", "p")


def test_missing_end_event_is_only_a_warning() -> None:
    body = simple().replace('<bpmn:endEvent id="end"/>', "").replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>', "")
    report = lint(body)
    assert ("warning", "no-end", "p") in {(i.severity, i.code, i.element_id) for i in report.issues}
    assert "no-end" not in {i.code for i in errors(report)}


def test_unsupported_element() -> None:
    body = simple(extra='<bpmn:complexGateway id="cg"/>', extra_nodes=("cg",))
    issue = assert_fires(lint(body), "unsupported-element", "cg")
    assert "complexGateway" in issue.message


def test_exclusive_branch_without_condition_must_be_the_default() -> None:
    body = (
        simple(extra_nodes=("gw", "end2"))
        .replace('<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>',
                 '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="gw"/>'
                 '<bpmn:exclusiveGateway id="gw" name="通过？" default="f_default"/>'
                 '<bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="end">'
                 "<bpmn:conditionExpression>ok</bpmn:conditionExpression></bpmn:sequenceFlow>"
                 '<bpmn:sequenceFlow id="f_bare" sourceRef="gw" targetRef="end2"/>'
                 '<bpmn:sequenceFlow id="f_default" sourceRef="gw" targetRef="end2"/>'
                 '<bpmn:endEvent id="end2"/>')
    )
    report = lint(body)
    assert_fires(report, "missing-condition", "f_bare")
    flagged = {i.element_id for i in errors(report) if i.code == "missing-condition"}
    assert flagged == {"f_bare"}  # neither the conditional branch nor the default


def test_xml_comments_and_processing_instructions_in_a_process_are_harmless() -> None:
    body = "<!-- 说明：测试 -->" + simple() + "<?leanflow note?>"
    assert_clean(lint(body))


# -- roles and lanes ---------------------------------------------------------------------------------------


def test_user_task_in_no_lane() -> None:
    body = simple(extra='<bpmn:userTask id="orphan">' + props(lean_class="VA") + "</bpmn:userTask>")
    assert_fires(lint(body), "no-lane", "orphan")


def test_lane_with_unknown_role() -> None:
    body = simple(lanes=lane("lane_x", "神秘角色", ["start", "task", "end"], role="wizard"))
    assert "'wizard'" in assert_fires(lint(body), "unknown-role", "task").message


def test_lane_mapped_to_no_role() -> None:
    body = simple(lanes=lane("lane_x", "某些人", ["start", "task", "end"]))
    assert "某些人" in assert_fires(lint(body), "unknown-role", "task").message


def test_per_case_role_needs_an_assignee() -> None:
    lanes = lane("lane_app", "入党申请人", ["start", "task", "end"], role="applicant")
    report = lint(simple(lanes=lanes))
    assert "applicant" in assert_fires(report, "no-assignee", "task").message
    fixed = simple(task(attrs='camunda:assignee="${applicant}"'), lanes=lanes)
    assert_clean(lint(fixed))


def test_bad_scope() -> None:
    body = simple(lanes=lane("lane_sec", "支部书记", ["start", "task", "end"], role="secretary", scope="galaxy"))
    assert_fires(lint(body), "bad-scope", "task")


# -- lean class and SLA ------------------------------------------------------------------------------------


def test_missing_lean_class() -> None:
    assert_fires(lint(simple(task(extension=""))), "no-lean-class", "task")


def test_bad_lean_class() -> None:
    assert "'VIP'" in assert_fires(lint(simple(task(extension=props(lean_class="VIP")))), "bad-lean-class",
                                   "task").message


@pytest.mark.parametrize("lean_class", ["VA", "NNVA", "W"])
def test_every_lean_class_is_accepted(lean_class: str) -> None:
    assert_clean(lint(simple(task(extension=props(lean_class=lean_class)))))


def test_bad_sla() -> None:
    report = lint(simple(task(extension=props(lean_class="VA", sla="P7X"))))
    assert "P7X" in assert_fires(report, "bad-sla", "task").message


@pytest.mark.parametrize("sla", ["P7D", "PT48H", "working_days(5)", "&quot;P3D&quot;"])
def test_good_sla(sla: str) -> None:
    assert_clean(lint(simple(task(extension=props(lean_class="VA", sla=sla)))))


# -- timers ------------------------------------------------------------------------------------------------


def test_bad_timer_duration() -> None:
    issue = assert_fires(lint(with_timer("<bpmn:timeDuration>P7X</bpmn:timeDuration>")), "bad-timer", "timer")
    assert "P7X" in issue.message


@pytest.mark.parametrize(
    "definition",
    [
        "<bpmn:timeDuration>working_days(5)</bpmn:timeDuration>",
        "<bpmn:timeDuration>P3D</bpmn:timeDuration>",
        '<bpmn:timeDuration>"P3D"</bpmn:timeDuration>',
        "<bpmn:timeDuration>'P3D'</bpmn:timeDuration>",
    ],
)
def test_good_timer_durations(definition: str) -> None:
    assert_clean(lint(with_timer(definition)))


def test_time_date_may_name_a_data_variable() -> None:
    assert_clean(lint(with_timer("<bpmn:timeDate>probation_end</bpmn:timeDate>", boundary=False)))


def test_time_duration_may_name_a_data_variable_starting_with_p_or_r() -> None:
    # Only text shaped like an ISO duration (P3D, PT2H, R3/...) is held to the literal syntax.
    assert_clean(lint(with_timer("<bpmn:timeDuration>review_period</bpmn:timeDuration>")))
    assert_clean(lint(with_timer("<bpmn:timeDuration>period</bpmn:timeDuration>")))


def test_unquoted_bad_date_literal_is_not_taken_for_arithmetic() -> None:
    # 2026-13-01 is valid Python (2012), but it is plainly a mistyped date.
    report = lint(with_timer("<bpmn:timeDate>2026-13-01</bpmn:timeDate>", boundary=False))
    assert_fires(report, "bad-timer", "timer")


def test_quoted_timer_text_is_always_a_literal() -> None:
    report = lint(with_timer("<bpmn:timeDate>'2026-13-01'</bpmn:timeDate>", boundary=False))
    assert_fires(report, "bad-timer", "timer")
    report = lint(with_timer('<bpmn:timeDuration>"three days"</bpmn:timeDuration>'))
    assert_fires(report, "bad-timer", "timer")


def test_timer_cycles() -> None:
    assert_clean(lint(with_timer("<bpmn:timeCycle>R3/P1W</bpmn:timeCycle>")))
    assert_fires(lint(with_timer("<bpmn:timeCycle>every_month</bpmn:timeCycle>")), "bad-timer", "timer")
    assert_fires(lint(with_timer("<bpmn:timeCycle>R0/P1D</bpmn:timeCycle>")), "bad-timer", "timer")


def test_time_date_literal_is_accepted() -> None:
    assert_clean(lint(with_timer("<bpmn:timeDate>2026-07-01T09:00:00+08:00</bpmn:timeDate>", boundary=False)))


def test_time_date_that_is_neither_a_date_nor_safe_code() -> None:
    report = lint(with_timer("<bpmn:timeDate>__import__('os')</bpmn:timeDate>", boundary=False))
    assert_fires(report, "bad-timer", "timer")


def test_timer_without_a_definition() -> None:
    report = lint(with_timer("", boundary=False))
    assert "timer" in {i.element_id for i in errors(report) if i.code == "bad-timer"}


# -- code --------------------------------------------------------------------------------------------------


def script_process(script: str) -> str:
    return simple(extra_nodes=("script",)).replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="script"/>'
        f'<bpmn:scriptTask id="script"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
        '<bpmn:sequenceFlow id="f3" sourceRef="script" targetRef="end"/>',
    )


def test_a_safe_script_is_clean() -> None:
    assert_clean(lint(script_process("total = sum([1, 2, 3])")))


def test_script_with_import_is_unsafe() -> None:
    issue = assert_fires(lint(script_process("import os\nos.system('id')")), "unsafe-code", "script")
    assert "import" in issue.message


def test_empty_script() -> None:
    assert_fires(lint(script_process("   ")), "empty-code", "script")


def gateway_process(condition: str) -> str:
    return simple(extra_nodes=("gw", "end2")).replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="gw"/>'
        '<bpmn:exclusiveGateway id="gw" name="判断" default="f_no"/>'
        f'<bpmn:sequenceFlow id="f_yes" sourceRef="gw" targetRef="end"><bpmn:conditionExpression>{condition}'
        "</bpmn:conditionExpression></bpmn:sequenceFlow>"
        '<bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="end2"/><bpmn:endEvent id="end2"/>',
    )


def test_a_safe_condition_is_clean() -> None:
    assert_clean(lint(gateway_process("yes * 2 &gt; expected")))


@pytest.mark.parametrize("condition", ["().__class__", "().__class__.__bases__[0].__subclasses__()",
                                       "__import__('os')", "ok ="])
def test_unsafe_condition(condition: str) -> None:
    assert_fires(lint(gateway_process(condition)), "unsafe-code", "f_yes")


def test_unsafe_check_rule_names_the_user_task() -> None:
    extension = props(**{"lean_class": "VA", "check.bad": "().__class__", "check.bad.message": "坏规则"})
    assert_fires(lint(simple(task(extension=extension))), "unsafe-code", "task")


def test_check_rule_pointing_at_a_field_not_on_the_form_is_a_warning() -> None:
    extension = props(**{"lean_class": "VA", "check.c": "True", "check.c.field": "ghost"})
    report = lint(simple(task(extension=extension)))
    assert report.ok
    assert ("warning", "check-field", "task") in {(i.severity, i.code, i.element_id) for i in report.issues}


# -- forms -------------------------------------------------------------------------------------------------


def form_task(fields: str) -> str:
    return task(extension="<bpmn:extensionElements><camunda:formData>" + fields + "</camunda:formData>"
                + '<camunda:properties><camunda:property name="lean_class" value="VA"/></camunda:properties>'
                + "</bpmn:extensionElements>")


def test_a_good_form_is_clean() -> None:
    fields = (
        '<camunda:formField id="result" label="结果" type="enum"><camunda:value id="pass" name="通过"/>'
        "</camunda:formField>"
        '<camunda:formField id="n" label="人数" type="long"><camunda:validation>'
        '<camunda:constraint name="required"/><camunda:constraint name="min" config="0"/>'
        '<camunda:constraint name="max" config="500"/></camunda:validation></camunda:formField>'
        '<camunda:formField id="d" label="日期" type="date"><camunda:validation>'
        '<camunda:constraint name="min" config="2026-01-01"/></camunda:validation></camunda:formField>'
        '<camunda:formField id="s" label="编号" type="string"><camunda:validation>'
        '<camunda:constraint name="pattern" config="[A-Z]\\d{3}"/><camunda:constraint name="maxlength" config="4"/>'
        "</camunda:validation></camunda:formField>"
    )
    assert_clean(lint(simple(form_task(fields))))


def test_enum_field_without_values() -> None:
    report = lint(simple(form_task('<camunda:formField id="result" label="结果" type="enum"/>')))
    assert "'result'" in assert_fires(report, "enum-without-values", "task").message


def test_unknown_field_type() -> None:
    report = lint(simple(form_task('<camunda:formField id="c" label="颜色" type="colour"/>')))
    assert "'colour'" in assert_fires(report, "bad-field-type", "task").message


def constrained(kind: str, name: str, config: str) -> str:
    return form_task(
        f'<camunda:formField id="x" label="某项" type="{kind}"><camunda:validation>'
        f'<camunda:constraint name="{name}" config="{config}"/></camunda:validation></camunda:formField>'
    )


def test_unknown_constraint_name() -> None:
    report = lint(simple(constrained("string", "colour", "red")))
    assert "unknown constraint 'colour'" in assert_fires(report, "bad-constraint", "task").message


def test_length_constraint_needs_a_whole_number() -> None:
    report = lint(simple(constrained("string", "maxlength", "ten")))
    assert "maxlength" in assert_fires(report, "bad-constraint", "task").message


@pytest.mark.parametrize(
    ("kind", "name", "config"),
    [
        ("long", "min", "abc"),  # validate_form would crash on float("abc") at submit time
        ("number", "max", ""),
        ("date", "max", "2026-1-1"),  # compared as text: must be YYYY-MM-DD
        ("string", "pattern", "(unclosed"),  # re.error at submit time
    ],
)
def test_constraint_config_that_would_break_validation(kind: str, name: str, config: str) -> None:
    assert_fires(lint(simple(constrained(kind, name, config))), "bad-constraint", "task")


# -- reporting ---------------------------------------------------------------------------------------------


def test_all_errors_are_reported_together() -> None:
    body = simple(
        task(extension=props(lean_class="BAD", sla="P7X")),
        extra='<bpmn:userTask id="orphan">' + props(lean_class="VA") + "</bpmn:userTask>",
    )
    found = codes(lint(body))
    assert {("bad-lean-class", "task"), ("bad-sla", "task"), ("no-lane", "orphan")} <= found


def test_form_field_reusing_an_element_id_is_reported_before_spiff_misparses_it() -> None:
    text = (DEMO / "branch_meeting.bpmn").read_text(encoding="utf-8").replace(
        'camunda:formField id="agenda"', 'camunda:formField id="hold_meeting"')
    report, parsed, _ = lint_document(load_bpmn(text.encode("utf-8")))
    clash = [i for i in report.issues if i.code == "field-id-clash"]
    assert [(i.element_id, i.severity) for i in clash] == [("prepare_agenda", "error")]
    assert parsed is None
