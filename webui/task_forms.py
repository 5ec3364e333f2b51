"""A step's form in HTML terms: which widget each field type gets, and how a POST becomes the engine's data.

The browser sends text; the engine converts and checks every value (engine.forms), so this module only
shapes the request: checkboxes into lists, radios into "true"/"false", local date-times into ISO 8601 with
the zone's offset, files into {sha256, name, size, type}. Readonly fields are never sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import FileStorage, ImmutableMultiDict, MultiDict

from engine.errors import FieldError
from engine.model import FormField
from webui.attachments import TYPES, FileStore, UploadRejected, sign, unsign

ACCEPT = ",".join(sorted(TYPES))
UPLOADED = "__uploaded"  # suffix of the hidden field that carries a signed, already stored attachment


def widget(field: FormField) -> str:
    """Name the template macro that draws a field."""
    return {
        "text": "textarea", "long": "number", "number": "number", "boolean": "yes_no", "date": "date",
        "datetime": "datetime", "enum": "select", "person": "person", "persons": "persons", "file": "file",
    }.get(field.type, "text")


def parse(fields: list[FormField], form: MultiDict[str, str], files: ImmutableMultiDict[str, FileStorage],
          store: FileStore, zone: ZoneInfo) -> tuple[dict[str, Any], list[FieldError], dict[str, Any]]:
    """Turn a POST into (data for the engine, upload errors, values to show again if the step is refused)."""
    data: dict[str, Any] = {}
    errors: list[FieldError] = []
    shown: dict[str, Any] = {}
    for field in fields:
        if field.readonly:
            continue
        if field.type == "persons":
            data[field.id] = shown[field.id] = [v for v in form.getlist(field.id) if v]
        elif field.type == "file":
            upload = files.get(field.id)
            previous = unsign(form.get(field.id + UPLOADED, ""))
            if upload is not None and upload.filename:
                try:
                    previous = store.save_attachment(upload.stream, upload.filename)
                except UploadRejected as bad:
                    errors.append(FieldError(f"「{field.label}」{bad}", field=field.id, rule="upload"))
            if previous is not None:
                data[field.id] = shown[field.id] = previous
        elif field.id in form:
            value = form.get(field.id, "")
            data[field.id] = local_datetime(value, zone) if field.type == "datetime" else value
            shown[field.id] = value
    return data, errors, shown


def local_datetime(value: str, zone: ZoneInfo) -> str:
    """Give a browser's local date-time ("2026-03-06T14:30") the zone's offset; leave anything else as typed."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.isoformat()


def input_value(field: FormField, value: Any, zone: ZoneInfo) -> str:
    """Show a value in a text-like input (a stored date-time in the zone, as the browser's input wants it)."""
    if value is None:
        return ""
    if field.type == "datetime" and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is not None:
            return parsed.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def selected(value: Any) -> set[str]:
    """Return the chosen ids of a person list field (a list, or comma-separated text)."""
    if isinstance(value, list):
        return {str(v) for v in value}
    if isinstance(value, str):
        return {v.strip() for v in value.split(",") if v.strip()}
    return set()


def initial(fields: list[FormField], values: dict[str, Any]) -> dict[str, Any]:
    """The values a fresh form shows: the current data, else each field's declared default."""
    shown = dict(values)
    for field in fields:
        if field.id not in shown and field.default is not None:
            shown[field.id] = field.default
    return shown


def signed(value: Any) -> str:
    """Sign an attachment value for the hidden field, or return "" for anything else."""
    return sign(value) if isinstance(value, dict) and "sha256" in value else ""
