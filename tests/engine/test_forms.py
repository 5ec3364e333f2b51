"""Tests for form validation: conversion per field type, constraints, defaults and Chinese messages."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import FieldError
from engine.forms import FIELD_TYPES, MAX_TEXT, validate_form
from engine.model import FormField

PEOPLE = {"zhang", "li", "wang"}
SHA = "a" * 64


def exists(person_id: str) -> bool:
    return person_id in PEOPLE


def check(
    spec: FormField, value: Any, current: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate one submitted value for one field."""
    return validate_form([spec], {spec.id: value}, current or {}, exists)


def accepted(spec: FormField, value: Any) -> Any:
    clean, errors = check(spec, value)
    assert errors == [], errors
    return clean[spec.id]


def refused(spec: FormField, value: Any) -> FieldError:
    clean, errors = check(spec, value)
    assert len(errors) == 1, errors
    assert spec.id not in clean
    error = errors[0]
    assert error.field == spec.id
    assert f"「{spec.label}」" in error.message  # the message names the label, not the id
    return error


def field(kind: str, **kwargs: Any) -> FormField:
    return FormField(id="f", label=kwargs.pop("label", "字段"), type=kind, **kwargs)


# -- types: good values are converted ----------------------------------------------------------------------


def test_field_types_are_the_documented_eleven() -> None:
    assert set(FIELD_TYPES) == {
        "string", "text", "long", "number", "boolean", "date", "datetime", "enum", "person", "persons", "file",
    }


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("string", "议程一", "议程一"),
        ("string", 42, "42"),
        ("text", "多行\n文本", "多行\n文本"),
        ("long", "12", 12),
        ("long", " -7 ", -7),
        ("long", 5, 5),
        ("long", 3.0, 3),
        ("number", "3.5", 3.5),
        ("number", 2, 2.0),
        ("boolean", "是", True),
        ("boolean", "否", False),
        ("boolean", "true", True),
        ("boolean", "TRUE", True),
        ("boolean", "0", False),
        ("boolean", "off", False),
        ("boolean", True, True),
        ("boolean", False, False),
        ("date", "2026-03-01", "2026-03-01"),
        ("date", " 2026-03-01 ", "2026-03-01"),
        ("datetime", "2026-03-01T09:30+08:00", "2026-03-01T09:30:00+08:00"),
        ("datetime", "2026-03-01T01:30:00Z", "2026-03-01T01:30:00+00:00"),
        ("person", "zhang", "zhang"),
        ("persons", ["zhang", "li"], ["zhang", "li"]),
        ("persons", "zhang, li ,", ["zhang", "li"]),
    ],
)
def test_good_values_are_converted(kind: str, value: Any, expected: Any) -> None:
    result = accepted(field(kind), value)
    assert result == expected
    assert type(result) is type(expected)


def test_enum_accepts_a_declared_option_id() -> None:
    spec = field("enum", options=[("pass", "通过"), ("fail", "不通过")])
    assert accepted(spec, "pass") == "pass"


def test_file_keeps_only_the_known_keys() -> None:
    value = {"sha256": SHA, "name": "决议.pdf", "size": 1024, "type": "application/pdf", "path": "/etc/passwd"}
    assert accepted(field("file"), value) == {"sha256": SHA, "name": "决议.pdf", "size": 1024,
                                               "type": "application/pdf"}


# -- types: bad values are refused with a Chinese message naming the label ----------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        ("string", ["list"], "应为文本"),
        ("string", True, "应为文本"),
        ("text", {"a": 1}, "应为文本"),
        ("long", "12.5", "应为整数"),
        ("long", "十二", "应为整数"),
        ("long", True, "应为整数"),
        ("long", 2.5, "应为整数"),
        ("long", "1" * 19, "应为整数"),
        ("number", "abc", "应为数字"),
        ("number", False, "应为数字"),
        ("number", "nan", "应为数字"),
        ("number", "inf", "应为数字"),
        ("number", float("nan"), "应为数字"),
        ("number", "1e400", "应为数字"),
        ("number", 10**400, "应为数字"),
        ("boolean", "也许", "应为是或否"),
        ("boolean", 1, "应为是或否"),
        ("date", "2026-02-30", "应为日期"),
        ("date", "3月1日", "应为日期"),
        ("datetime", "2026-03-01T09:30", "时间须带时区"),
        ("datetime", "下午三点", "应为时间"),
        ("person", "nobody", "不是本组织中的人员"),
        ("person", ["zhang"], "不是本组织中的人员"),
        ("persons", ["zhang", "ghost"], "不是本组织中的人员：ghost"),
        ("persons", ["zhang", "zhang"], "人员重复"),
        ("persons", ["zhang", 3], "应为人员列表"),
        ("persons", 7, "应为人员列表"),
        ("file", "决议.pdf", "应为已上传的附件"),
        ("file", {"name": "决议.pdf"}, "应为已上传的附件"),
        ("file", {"sha256": "xyz", "name": "决议.pdf"}, "附件校验值无效"),
        ("file", {"sha256": SHA.upper(), "name": "决议.pdf"}, "附件校验值无效"),
    ],
)
def test_bad_values_are_refused_in_chinese(kind: str, value: Any, reason: str) -> None:
    error = refused(field(kind, label="某字段"), value)
    assert reason in error.message
    assert error.rule == kind


def test_enum_refusal_lists_the_option_names() -> None:
    spec = field("enum", label="表决结果", options=[("pass", "通过"), ("fail", "不通过")])
    error = refused(spec, "maybe")
    assert error.message == "「表决结果」不是可选的值（可选：通过、不通过）"


def test_unknown_field_type_is_refused_not_crashing() -> None:
    error = refused(field("colour", label="颜色"), "red")
    assert "未知字段类型 colour" in error.message


# -- required, default, readonly ---------------------------------------------------------------------------


def test_required_field_missing_or_empty_is_refused() -> None:
    spec = field("string", label="议程", required=True)
    for submitted in ({}, {"f": ""}, {"f": None}):
        clean, errors = validate_form([spec], submitted, {}, exists)
        assert errors == [FieldError("「议程」为必填项", field="f", rule="required")]
        assert clean == {}
    clean, errors = validate_form([field("persons", label="参会人员", required=True)], {"f": []}, {}, exists)
    assert [e.message for e in errors] == ["「参会人员」为必填项"]


def test_required_field_not_resubmitted_keeps_its_current_value() -> None:
    spec = field("string", label="议程", required=True)
    clean, errors = validate_form([spec], {}, {"f": "已填写"}, exists)
    assert errors == [] and clean == {}  # nothing to change, nothing missing


def test_optional_empty_field_is_cleared_to_none() -> None:
    clean, errors = validate_form([field("long")], {"f": ""}, {"f": 3}, exists)
    assert errors == [] and clean == {"f": None}


def test_default_is_applied_and_converted_when_not_submitted_and_no_current_value() -> None:
    spec = FormField("written_yes", "书面赞成", "long", default="0")
    clean, errors = validate_form([spec], {}, {}, exists)
    assert errors == [] and clean == {"written_yes": 0}
    flag = FormField("ok", "同意", "boolean", default="是")
    assert validate_form([flag], {}, {"ok": None}, exists) == ({"ok": True}, [])


def test_default_is_not_applied_over_a_current_value_or_a_submitted_one() -> None:
    spec = FormField("written_yes", "书面赞成", "long", default="0")
    assert validate_form([spec], {}, {"written_yes": 4}, exists) == ({}, [])
    assert validate_form([spec], {"written_yes": "6"}, {}, exists) == ({"written_yes": 6}, [])


def test_default_satisfies_required() -> None:
    spec = FormField("n", "人数", "long", required=True, default="1")
    assert validate_form([spec], {}, {}, exists) == ({"n": 1}, [])


def test_bad_default_is_reported_against_the_field() -> None:
    spec = FormField("n", "人数", "long", default="many")
    clean, errors = validate_form([spec], {}, {}, exists)
    assert clean == {}
    assert errors == [FieldError("「人数」默认值应为整数", field="n", rule="default")]


def test_readonly_field_cannot_be_changed() -> None:
    spec = FormField("applicant", "申请人", "person", readonly=True)
    clean, errors = validate_form([spec], {"applicant": "li"}, {"applicant": "zhang"}, exists)
    assert clean == {}
    assert errors == [FieldError("「申请人」为只读字段，不能修改", field="applicant", rule="readonly")]


def test_readonly_field_resubmitted_unchanged_or_omitted_is_fine() -> None:
    spec = FormField("applicant", "申请人", "person", readonly=True)
    assert validate_form([spec], {"applicant": "zhang"}, {"applicant": "zhang"}, exists) == (
        {"applicant": "zhang"}, [])
    assert validate_form([spec], {}, {"applicant": "zhang"}, exists) == ({}, [])


# -- constraints -------------------------------------------------------------------------------------------


def test_minlength_and_maxlength_count_characters() -> None:
    spec = field("string", label="意见", constraints={"minlength": "2", "maxlength": "5"})
    assert accepted(spec, "同意") == "同意"
    assert accepted(spec, "完全同意。") == "完全同意。"
    assert refused(spec, "好").message == "「意见」至少 2 字"
    assert refused(spec, "我完全同意。").message == "「意见」最多 5 字"


def test_minlength_and_maxlength_count_people_in_a_list() -> None:
    spec = field("persons", label="介绍人", constraints={"minlength": "2", "maxlength": "2"})
    assert accepted(spec, ["zhang", "li"]) == ["zhang", "li"]
    assert refused(spec, ["zhang"]).message == "「介绍人」至少 2 项"
    assert refused(spec, ["zhang", "li", "wang"]).message == "「介绍人」最多 2 项"


def test_min_and_max_bound_numbers_inclusively() -> None:
    spec = field("long", label="实到人数", constraints={"min": "0", "max": "100"})
    assert accepted(spec, "0") == 0
    assert accepted(spec, "100") == 100
    assert refused(spec, "-1").message == "「实到人数」不能小于 0"
    assert refused(spec, "101").message == "「实到人数」不能大于 100"
    score = field("number", label="得分", constraints={"min": "0.5", "max": "9.5"})
    assert accepted(score, "0.5") == 0.5
    assert "不能小于 0.5" in refused(score, 0.4).message
    assert "不能大于 9.5" in refused(score, "9.51").message


def test_date_min_and_max() -> None:
    spec = field("date", label="会议日期", constraints={"min": "2026-01-01", "max": "2026-12-31"})
    assert accepted(spec, "2026-01-01") == "2026-01-01"
    assert accepted(spec, "2026-12-31") == "2026-12-31"
    assert refused(spec, "2025-12-31").message == "「会议日期」不能早于 2026-01-01"
    assert refused(spec, "2027-01-01").message == "「会议日期」不能晚于 2026-12-31"


def test_pattern_must_match_the_whole_value() -> None:
    spec = field("string", label="手机号", constraints={"pattern": r"1\d{10}"})
    assert accepted(spec, "13800138000") == "13800138000"
    assert refused(spec, "1380013800").message == "「手机号」格式不正确"
    assert refused(spec, "13800138000x").message == "「手机号」格式不正确"  # fullmatch, not search


# -- the form as a whole -----------------------------------------------------------------------------------

MEETING = [
    FormField("expected", "应到人数", "long", required=True, constraints={"min": "1"}),
    FormField("present", "实到人数", "long", required=True, constraints={"min": "0"}),
    FormField("agenda", "议程", "string", required=True, constraints={"maxlength": "10"}),
    FormField("meeting_date", "会议日期", "date", required=True),
    FormField("written_yes", "书面赞成", "long", default="0"),
]


def test_a_valid_submission_is_converted_as_a_whole() -> None:
    submitted = {"expected": "30", "present": 25, "agenda": "选举", "meeting_date": "2026-03-01"}
    clean, errors = validate_form(MEETING, submitted, {}, exists)
    assert errors == []
    assert clean == {"expected": 30, "present": 25, "agenda": "选举", "meeting_date": "2026-03-01", "written_yes": 0}


def test_every_failure_is_returned_not_only_the_first() -> None:
    submitted = {"expected": "0", "present": "很多", "agenda": "一" * 11, "hacker": 1}
    clean, errors = validate_form(MEETING, submitted, {}, exists)
    by_field = {e.field: e for e in errors}
    assert set(by_field) == {"hacker", "expected", "present", "agenda", "meeting_date"}
    assert by_field["hacker"] == FieldError("未知字段「hacker」", field="hacker", rule="unknown")
    assert by_field["expected"].message == "「应到人数」不能小于 1"
    assert by_field["present"].message == "「实到人数」应为整数"
    assert by_field["agenda"].message == "「议程」最多 10 字"
    assert by_field["meeting_date"].message == "「会议日期」为必填项"
    assert clean == {"written_yes": 0}  # nothing that failed is in the clean values


def test_unknown_keys_are_refused_when_a_form_exists() -> None:
    clean, errors = validate_form([field("string")], {"f": "x", "is_admin": True}, {}, exists)
    assert clean == {"f": "x"}
    assert errors == [FieldError("未知字段「is_admin」", field="is_admin", rule="unknown")]


def test_a_task_without_a_form_accepts_any_dict_unchanged() -> None:
    submitted = {"anything": [1, 2], "nested": {"a": None}, "n": "12"}
    clean, errors = validate_form([], submitted, {"old": 1}, exists)
    assert errors == []
    assert clean == submitted
    assert clean is not submitted  # a copy: the caller's dict is not aliased


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script><img src=x onerror=alert(1)>",
        "'; DROP TABLE tasks; --",
        "Robert'); DELETE FROM instances WHERE ('1'='1",
        "{{ 7*7 }} ${applicant} %s \\x00",
    ],
)
def test_markup_and_sql_text_is_kept_verbatim(text: str) -> None:
    # Stored as typed; escaping is the display layer's job, and SQL goes through bound parameters.
    assert accepted(field("text"), text) == text
    assert accepted(field("string"), text) == text


def test_huge_text_is_refused() -> None:
    assert accepted(field("text"), "字" * MAX_TEXT) == "字" * MAX_TEXT
    error = refused(field("text", label="心得体会"), "字" * (MAX_TEXT + 1))
    assert error.message == f"「心得体会」过长（最多 {MAX_TEXT} 字）"
    assert "「标题」过长" in refused(field("string", label="标题"), "x" * 25_000).message


def test_inputs_are_not_mutated() -> None:
    submitted = {"expected": "30"}
    current = {"present": 3}
    validate_form(MEETING, submitted, current, exists)
    assert submitted == {"expected": "30"} and current == {"present": 3}
