"""Validate submitted form data against a user task's declared fields; messages are in Chinese."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from engine.errors import FieldError
from engine.model import FormField

FIELD_TYPES = ("string", "text", "long", "number", "boolean", "date", "datetime", "enum", "person", "persons", "file")
MAX_TEXT = 20_000
EMPTY: dict[str, Any] = {"persons": [], "string": "", "text": ""}
TRUE = {"true", "1", "yes", "on", "是"}
FALSE = {"false", "0", "no", "off", "否", ""}

PersonExists = Callable[[str], bool]


class _Invalid(Exception):
    pass


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid("应为整数")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,18}", value.strip()):
        return int(value.strip())
    raise _Invalid("应为整数")


def _to_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("应为数字")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):  # not a number, or an int too large for a float
        raise _Invalid("应为数字") from None
    # NaN and infinity are not numbers a person enters, and would not survive storage as JSON.
    if not math.isfinite(number):
        raise _Invalid("应为数字")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise _Invalid("应为是或否")


def _to_date(value: Any) -> str:
    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise _Invalid("应为日期，格式 YYYY-MM-DD") from None


def _to_datetime(value: Any) -> str:
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise _Invalid("应为时间，格式 YYYY-MM-DDTHH:MM+08:00") from None
    if parsed.tzinfo is None:
        raise _Invalid("时间须带时区，例如 +08:00")
    return parsed.isoformat()


def _to_text(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _Invalid("应为文本")
    text = str(value)
    if len(text) > MAX_TEXT:
        raise _Invalid(f"过长（最多 {MAX_TEXT} 字）")
    return text


def _to_file(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not {"sha256", "name"} <= set(value):
        raise _Invalid("应为已上传的附件")
    if not re.fullmatch(r"[0-9a-f]{64}", str(value["sha256"])):
        raise _Invalid("附件校验值无效")
    return {k: value[k] for k in ("sha256", "name", "size", "type") if k in value}


def _convert(spec: FormField, value: Any, person_exists: PersonExists) -> Any:
    kind = spec.type
    if kind in ("string", "text"):
        return _to_text(value)
    if kind == "long":
        return _to_int(value)
    if kind == "number":
        return _to_number(value)
    if kind == "boolean":
        return _to_bool(value)
    if kind == "date":
        return _to_date(value)
    if kind == "datetime":
        return _to_datetime(value)
    if kind == "enum":
        allowed = [o[0] for o in spec.options]
        if str(value) not in allowed:
            raise _Invalid("不是可选的值（可选：" + "、".join(o[1] for o in spec.options) + "）")
        return str(value)
    if kind == "person":
        if not isinstance(value, str) or not person_exists(value):
            raise _Invalid("不是本组织中的人员")
        return value
    if kind == "persons":
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise _Invalid("应为人员列表")
        items = [v for v in items if v]
        unknown = [v for v in items if not person_exists(v)]
        if unknown:
            raise _Invalid("不是本组织中的人员：" + "、".join(unknown))
        if len(set(items)) != len(items):
            raise _Invalid("人员重复")
        return items
    if kind == "file":
        return _to_file(value)
    raise _Invalid(f"未知字段类型 {kind}")


def _constraints(spec: FormField, value: Any) -> None:
    c = spec.constraints
    size = len(value) if isinstance(value, str | list) else None
    if size is not None and "minlength" in c and size < int(c["minlength"]):
        raise _Invalid(f"至少 {c['minlength']} " + ("项" if isinstance(value, list) else "字"))
    if size is not None and "maxlength" in c and size > int(c["maxlength"]):
        raise _Invalid(f"最多 {c['maxlength']} " + ("项" if isinstance(value, list) else "字"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "min" in c and value < float(c["min"]):
            raise _Invalid(f"不能小于 {c['min']}")
        if "max" in c and value > float(c["max"]):
            raise _Invalid(f"不能大于 {c['max']}")
    if spec.type == "date" and isinstance(value, str):
        if "min" in c and value < c["min"]:
            raise _Invalid(f"不能早于 {c['min']}")
        if "max" in c and value > c["max"]:
            raise _Invalid(f"不能晚于 {c['max']}")
    if "pattern" in c and isinstance(value, str) and not re.fullmatch(c["pattern"], value):
        raise _Invalid("格式不正确")


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def validate_form(
    fields: list[FormField],
    submitted: Mapping[str, Any],
    current: Mapping[str, Any],
    person_exists: PersonExists,
    *,
    allow_unknown: bool = False,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Convert and check every field; return the clean values and every failure (not just the first)."""
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    known = {f.id for f in fields}
    for key in submitted:
        if fields and key not in known and not allow_unknown:
            errors.append(FieldError(f"未知字段「{key}」", field=key, rule="unknown"))
    for spec in fields:
        label = spec.label
        if spec.id not in submitted:
            if not _empty(current.get(spec.id)):
                continue
            if spec.default is not None:
                # Camunda's defaultValue: the form shows it, so an untouched field submits it.
                try:
                    clean[spec.id] = _convert(spec, spec.default, person_exists)
                except _Invalid as bad:
                    errors.append(FieldError(f"「{label}」默认值{bad}", field=spec.id, rule="default"))
            elif spec.required:
                errors.append(FieldError(f"「{label}」为必填项", field=spec.id, rule="required"))
            continue
        value = submitted[spec.id]
        if spec.readonly and value != current.get(spec.id):
            errors.append(FieldError(f"「{label}」为只读字段，不能修改", field=spec.id, rule="readonly"))
            continue
        if _empty(value):
            if spec.required:
                errors.append(FieldError(f"「{label}」为必填项", field=spec.id, rule="required"))
            else:
                # Keep the field's type so rules can use len(x) or x.strip() without guarding against None.
                clean[spec.id] = EMPTY.get(spec.type)
            continue
        try:
            converted = _convert(spec, value, person_exists)
            _constraints(spec, converted)
        except _Invalid as bad:
            errors.append(FieldError(f"「{label}」{bad}", field=spec.id, rule=spec.type))
            continue
        clean[spec.id] = converted
    if not fields:
        clean = dict(submitted)
    return clean, errors
