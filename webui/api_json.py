"""The API's JSON: engine views as plain JSON objects, error bodies, and the response that carries them.

Every shape here is written out field by field, so the API changes only when this module (and the OpenAPI
document beside it, which a test holds it to) does. Date-times are ISO 8601 with the offset of the configured
zone. Text goes out exactly as stored: JSON, UTF-8, not HTML-escaped (it is never rendered as HTML here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Response

from engine.accounts import InboxEntry, Principal, UnitView
from engine.errors import (
    CheckFailed,
    Conflict,
    FieldError,
    InvalidInput,
    LeanFlowError,
    LintError,
    LintIssue,
    LoadError,
    NotAllowed,
    NotFound,
)
from engine.model import FormField
from engine.views import DefinitionView, EventView, InstanceView, LintReport, TaskView, VerifyReport
from webui.formatting import zone

Json = dict[str, Any]

TASK_FIELDS = ("id", "instance_id", "spiff_task_id", "task_spec", "name", "lane", "role", "org_unit_id", "assignee",
               "state", "ready_at", "claimed_at", "opened_at", "completed_at", "due_at", "completed_by", "lean_class",
               "sla")
INSTANCE_FIELDS = ("id", "process_id", "definition_id", "version", "org_unit_id", "title", "business_key", "status",
                   "started_by", "started_at", "ended_at", "next_timer_due", "error")
EVENT_FIELDS = ("id", "chain", "chain_seq", "instance_id", "task_id", "type", "actor", "at", "payload", "prev_hash",
                "hash")
DEFINITION_FIELDS = ("id", "process_id", "version", "name", "sha256", "deployed_by", "deployed_at")
UNIT_FIELDS = ("id", "name", "kind", "parent_id", "path", "depth")
ISSUE_FIELDS = ("severity", "code", "message", "element_id", "line")

# Engine refusals: (HTTP status, error code).
STATUSES: tuple[tuple[type[LeanFlowError], int, str], ...] = (
    (NotAllowed, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (CheckFailed, 422, "check_failed"),
    (LintError, 422, "lint_failed"),
    (InvalidInput, 400, "invalid_input"),
    (LoadError, 400, "load_error"),
)
HTTP_CODES = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "check_failed", 500: "internal_error"}


@dataclass
class ApiError(Exception):
    """A refusal of the API itself (bad token, malformed body) with its status, code and field failures."""

    status: int
    code: str
    message: str
    failures: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def respond(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """Send a JSON body as UTF-8, without HTML escaping."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(text, status=status, headers=dict(headers or {}), mimetype="application/json")


def error_body(code: str, message: str, failures: Iterable[FieldError] = (),
               issues: Iterable[LintIssue] | None = None) -> Json:
    """Build the one error body every refusal has."""
    error: Json = {"code": code, "message": message,
                   "failures": [{"field": f.field, "message": f.message, "rule": f.rule} for f in failures]}
    if issues is not None:
        error["issues"] = [lint_issue(i) for i in issues]
    return {"error": error}


def engine_error(error: LeanFlowError) -> tuple[int, Json]:
    """Map an engine error to its status and body (field failures and lint issues included)."""
    status, code = next(((s, c) for kind, s, c in STATUSES if isinstance(error, kind)), (400, "failed"))
    if isinstance(error, CheckFailed):
        return status, error_body(code, error.message, error.failures)
    if isinstance(error, LintError):
        failures = [FieldError(i.message, i.element_id, i.code) for i in error.issues if i.severity == "error"]
        return status, error_body(code, error.message, failures, error.issues)
    return status, error_body(code, error.message)


def plain(value: Any) -> Any:
    """Turn a value into JSON: date-times in the configured zone with their offset, tuples into lists."""
    if isinstance(value, datetime):
        return value.astimezone(zone()).isoformat() if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _pick(obj: Any, names: Iterable[str]) -> Json:
    return {name: plain(getattr(obj, name)) for name in names}


def task(view: TaskView) -> Json:
    """A task."""
    return _pick(view, TASK_FIELDS)


def instance(view: InstanceView, *, state: bool = False, tasks: list[TaskView] | None = None) -> Json:
    """An instance; with ``state`` its open tasks and data, with ``tasks`` every task it has had."""
    body = _pick(view, INSTANCE_FIELDS)
    if state:
        body["open_tasks"] = [task(t) for t in view.open_tasks]
        body["data"] = plain(view.data)
    if tasks is not None:
        body["tasks"] = [task(t) for t in tasks]
    return body


def inbox_entry(entry: InboxEntry) -> Json:
    """A task in the inbox, with its instance, procedure and what the person may do with it."""
    return {"task": task(entry.task), "instance": instance(entry.instance), "procedure": entry.procedure,
            "may_claim": entry.may_claim, "may_unclaim": entry.may_unclaim}


def form_field(spec: FormField) -> Json:
    """A field of a task's form."""
    return {"id": spec.id, "label": spec.label, "type": spec.type, "required": spec.required,
            "readonly": spec.readonly, "default": spec.default, "constraints": dict(spec.constraints),
            "options": [{"value": value, "label": label} for value, label in spec.options]}


def event(view: EventView) -> Json:
    """An event of the history."""
    return _pick(view, EVENT_FIELDS)


def verify_report(report: VerifyReport) -> Json:
    """The result of checking an instance's hash chain."""
    return {"ok": report.ok, "chains": report.chains, "events": report.events,
            "problems": [{"chain": p.chain, "event_id": p.event_id, "chain_seq": p.chain_seq, "problem": p.problem}
                         for p in report.problems]}


def definition(view: DefinitionView, *, created: bool | None = None) -> Json:
    """A deployed version of a procedure (with ``created`` after a deployment)."""
    body = _pick(view, DEFINITION_FIELDS)
    if created is not None:
        body["created"] = created
    return body


def lint_issue(issue: LintIssue) -> Json:
    """One finding of the linter."""
    return _pick(issue, ISSUE_FIELDS)


def lint_report(report: LintReport) -> Json:
    """What lint found in one file."""
    return {"filename": report.filename, "process_id": report.process_id, "sha256": report.sha256, "ok": report.ok,
            "issues": [lint_issue(i) for i in report.issues]}


def org_unit(view: UnitView) -> Json:
    """An org unit of the tree."""
    return _pick(view, UNIT_FIELDS)


def me(who: Principal, units: list[UnitView]) -> Json:
    """The person a token acts for, their roles today and what those let them do."""
    return {"id": who.id, "name": who.name, "org_unit_id": who.org_unit_id,
            "roles": [{"role": r.role, "org_unit_id": r.org_unit_id, "org_path": r.org_path} for r in who.roles],
            "read_only": who.read_only, "reads_everything": who.reads_everything, "may_deploy": who.may_deploy,
            "may_start_at": [u.id for u in units if who.may_start_at(u.path)]}
