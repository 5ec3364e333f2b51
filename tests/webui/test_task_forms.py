"""How a POST becomes the engine's data: lists, yes/no, local date-times, readonly fields left out."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Flask
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from engine.model import FormField
from webui import task_forms
from webui.attachments import FileStore, display_name

ZONE = ZoneInfo("Asia/Shanghai")
FIELDS = [FormField("held_at", "时间", "datetime"), FormField("present", "实到", "persons"),
          FormField("signed", "签字", "boolean"), FormField("fixed", "只读", "string", readonly=True),
          FormField("note", "备注", "text"), FormField("letter", "附件", "file")]


def test_parse_shapes_the_request_and_leaves_checking_to_the_engine(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    form = MultiDict([("held_at", "2026-03-06T14:30"), ("present", "wangqiang"), ("present", "liming"),
                      ("present", ""), ("signed", "true"), ("fixed", "changed"), ("note", "<b>x</b>")])
    store = FileStore(tmp_path, max_bytes=10)
    with app.app_context():  # an attachment token is checked with the app's secret key
        data, errors, shown = task_forms.parse(FIELDS, form, ImmutableMultiDict(), store, ZONE)
        untouched, _, _ = task_forms.parse(FIELDS, MultiDict(), ImmutableMultiDict(), store, ZONE)
    assert data == {"held_at": "2026-03-06T14:30:00+08:00", "present": ["wangqiang", "liming"], "signed": "true",
                    "note": "<b>x</b>"}
    assert errors == [] and shown["held_at"] == "2026-03-06T14:30"
    assert untouched == {"present": []}  # an untouched yes/no or file is left out: the engine applies its default


def test_values_are_shown_back_in_the_inputs_forms() -> None:
    assert task_forms.input_value(FIELDS[0], "2026-03-06T06:30:00+00:00", ZONE) == "2026-03-06T14:30"
    assert task_forms.input_value(FIELDS[0], "not a time", ZONE) == "not a time"
    assert task_forms.input_value(FIELDS[2], True, ZONE) == "true"
    assert task_forms.selected("a, b,") == {"a", "b"} and task_forms.selected(["c"]) == {"c"}
    assert task_forms.local_datetime("2026-03-06T14:30+09:00", ZONE) == "2026-03-06T14:30:00+09:00"
    assert task_forms.initial([FormField("n", "n", "long", default="0")], {}) == {"n": "0"}


def test_uploaded_names_keep_only_their_last_part() -> None:
    assert display_name("C:\\扫描\\申请书.pdf") == "申请书.pdf"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("\x00\n") == "upload"
