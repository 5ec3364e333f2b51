"""Tests for step checks: every failing rule's message and field, and rules that raise never escape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.checks import run_checks
from engine.errors import FieldError
from engine.loader import read_bpmn_file
from engine.model import CheckRule, extract_model, find_process
from engine.rule_helpers import make_helpers
from engine.sandbox import Limits, SandboxEnvironment
from engine.workdays import WorkCalendar
from tests.conftest import DEMO

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 2026-03-02 10:00 in Shanghai
SANDBOX = SandboxEnvironment(make_helpers(NOW, WorkCalendar(), {"zhang": {"id": "zhang", "name": "张书记"}}.get))

PRESENT = CheckRule("present_le_expected", "present <= expected", "实到人数不能多于应到人数", "present")
QUORUM = CheckRule("quorum", "present * 2 > expected", "到会人数未超过应到会人数的一半，会议无效", "present")
DATED = CheckRule("date_ok", "meeting_date <= today()", "会议日期不能晚于今天")


def test_passing_rules_give_no_failures() -> None:
    data = {"present": 20, "expected": 30, "meeting_date": "2026-03-02"}
    assert run_checks([PRESENT, QUORUM, DATED], data, SANDBOX) == []


def test_no_rules_no_failures() -> None:
    assert run_checks([], {}, SANDBOX) == []


def test_every_failing_rule_is_returned_with_its_message_and_field() -> None:
    data = {"present": 40, "expected": 30, "meeting_date": "2026-03-03"}
    failures = run_checks([PRESENT, QUORUM, DATED], data, SANDBOX)
    assert failures == [
        FieldError("实到人数不能多于应到人数", "present", "present_le_expected"),
        FieldError("会议日期不能晚于今天", None, "date_ok"),
    ]
    data = {"present": 15, "expected": 30, "meeting_date": "2026-04-01"}
    assert [(f.rule, f.field, f.message) for f in run_checks([PRESENT, QUORUM, DATED], data, SANDBOX)] == [
        ("quorum", "present", "到会人数未超过应到会人数的一半，会议无效"),
        ("date_ok", None, "会议日期不能晚于今天"),
    ]


@pytest.mark.parametrize(("expression", "passes"), [
    ("1", True), ("[0]", True), ("'x'", True), ("0", False), ("None", False), ("[]", False), ("''", False),
])
def test_a_rule_passes_when_its_value_is_true(expression: str, passes: bool) -> None:
    rule = CheckRule("r", expression, "不通过")
    assert run_checks([rule], {}, SANDBOX) == ([] if passes else [FieldError("不通过", None, "r")])


def failure_of(rule: CheckRule, names: dict[str, Any], sandbox: SandboxEnvironment = SANDBOX) -> FieldError:
    failures = run_checks([rule], names, sandbox)
    assert len(failures) == 1
    failure = failures[0]
    assert (failure.field, failure.rule) == (rule.field, rule.name)
    assert failure.message.startswith(rule.message)
    assert "规则无法判断" in failure.message
    return failure


def test_a_rule_on_a_missing_variable_is_a_failure_not_an_exception() -> None:
    rule = CheckRule("quorum", "present * 2 > expected", "到会人数不足", "present")
    assert "NameError" in failure_of(rule, {"present": 3}).message


def test_a_refused_rule_is_a_failure_not_an_exception() -> None:
    rule = CheckRule("escape", "().__class__.__bases__[0].__subclasses__()", "非法规则", "x")
    assert "code refused" in failure_of(rule, {}).message
    rule = CheckRule("dunder", "x.__class__", "非法规则")
    assert "__class__" in failure_of(rule, {"x": 1}).message
    rule = CheckRule("getattr", "getattr(x, '__class__')", "非法规则")  # getattr is not even offered
    assert "NameError" in failure_of(rule, {"x": 1}).message


@pytest.mark.parametrize(("expression", "names"), [
    ("1 / n", {"n": 0}),  # ZeroDivisionError
    ("age(birthday) >= 18", {"birthday": "昨天"}),  # a helper raising ValueError
    ("x['missing']", {"x": {}}),  # KeyError
    ("", {}),  # empty rule
    ("present >", {"present": 1}),  # syntax error
    ("'a' * 10**9", {}),  # over the sandbox size limit
])
def test_rules_that_raise_become_failures(expression: str, names: dict[str, Any]) -> None:
    failure_of(CheckRule("r", expression, "规则失败", "f"), names)


def test_a_rule_over_the_loop_limit_becomes_a_failure() -> None:
    sandbox = SandboxEnvironment(limits=Limits(max_iterations=1_000))
    failure = failure_of(CheckRule("loop", "len([i for i in range(5000)]) > 0", "循环过多"), {}, sandbox)
    assert "loop limit" in failure.message


def test_a_raising_rule_does_not_stop_the_others() -> None:
    rules = [
        CheckRule("broken", "undefined_name > 0", "规则一", "a"),
        CheckRule("fine", "a > 0", "规则二", "a"),
        CheckRule("false", "a > 10", "规则三", "a"),
    ]
    failures = run_checks(rules, {"a": 5}, SANDBOX)
    assert [f.rule for f in failures] == ["broken", "false"]
    assert failures[1].message == "规则三"


def test_rules_do_not_change_the_data() -> None:
    names = {"items": [1, 2], "n": 1}
    run_checks([CheckRule("r", "items.append(3) is None and n > 0", "m")], names, SANDBOX)
    assert names["n"] == 1 and set(names) == {"items", "n"}


def test_helpers_are_available_to_rules() -> None:
    rules = [
        CheckRule("adult", "age(birthday) >= 18", "申请人须年满十八周岁", "birthday"),
        CheckRule("known", "person(introducer).get('name') == '张书记'", "介绍人不在本组织", "introducer"),
    ]
    assert run_checks(rules, {"birthday": "2008-03-02", "introducer": "zhang"}, SANDBOX) == []
    failures = run_checks(rules, {"birthday": "2008-03-03", "introducer": "ghost"}, SANDBOX)
    assert [(f.rule, f.field, f.message) for f in failures] == [
        ("adult", "birthday", "申请人须年满十八周岁"),
        ("known", "introducer", "介绍人不在本组织"),
    ]


def test_the_meeting_fixtures_checks_run_as_declared() -> None:
    doc = read_bpmn_file(DEMO / "branch_meeting.bpmn")
    process = find_process(doc.root, "branch_meeting")
    assert process is not None
    rules = extract_model(process).user_tasks["hold_meeting"].checks
    ok = {"expected": 30, "present": 16, "yes": 12, "written_yes": 0, "meeting_date": "2026-03-01"}
    assert run_checks(rules, ok, SANDBOX) == []
    bad = {**ok, "present": 15, "meeting_date": "2026-03-03"}
    assert [(f.rule, f.field) for f in run_checks(rules, bad, SANDBOX)] == [("quorum", "present"),
                                                                             ("date_ok", None)]
