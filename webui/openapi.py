"""The OpenAPI 3.1 document of the JSON API, written as Python data (served at /api/v1/openapi.json).

Shapes mirror webui.api_json field by field; tests/webui/test_api.py validates the document with
openapi-spec-validator, checks that it lists exactly the blueprint's routes, and validates every response the
tests receive against the schema of its operation and status.
"""

from __future__ import annotations

from typing import Any

from engine.forms import FIELD_TYPES
from webui.api_json import DEFINITION_FIELDS, EVENT_FIELDS, INSTANCE_FIELDS, TASK_FIELDS, UNIT_FIELDS

Schema = dict[str, Any]
PREFIX = "/api/v1"

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
OBJECT: Schema = {"type": "object"}
WHEN: Schema = {"type": "string", "format": "date-time", "description": "ISO 8601 with offset"}


def _null(schema: Schema) -> Schema:
    """Allow null as well."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], *, optional: tuple[str, ...] = (), description: str = "") -> Schema:
    """A closed object whose members are all required except ``optional``."""
    schema: Schema = {"type": "object", "properties": properties,
                      "required": [k for k in properties if k not in optional], "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def _items(name: str) -> Schema:
    return _object({"items": {"type": "array", "items": _ref(name)}})


def _take(names: tuple[str, ...], types: dict[str, Schema]) -> dict[str, Schema]:
    return {name: types[name] for name in names}


_TASK = _take(TASK_FIELDS, {
    "id": INT, "instance_id": INT, "spiff_task_id": STR, "task_spec": STR, "name": STR, "lane": _null(STR),
    "role": _null(STR), "org_unit_id": STR, "assignee": _null(STR),
    "state": {"type": "string", "enum": ["ready", "claimed", "completed", "cancelled"]},
    "ready_at": WHEN, "claimed_at": _null(WHEN), "opened_at": _null(WHEN), "completed_at": _null(WHEN),
    "due_at": _null(WHEN), "completed_by": _null(STR), "lean_class": _null(STR), "sla": _null(STR)})
_INSTANCE = _take(INSTANCE_FIELDS, {
    "id": INT, "process_id": STR, "definition_id": INT, "org_unit_id": STR, "title": STR,
    "version": {**INT, "description": "revision of the instance, bumped by every change"},
    "business_key": _null(STR), "status": {**STR, "description": "running, completed, cancelled or error"},
    "started_by": _null(STR), "started_at": WHEN, "ended_at": _null(WHEN), "next_timer_due": _null(WHEN),
    "error": _null(STR)})
_STATE = {"open_tasks": {"type": "array", "items": _ref("Task")}, "data": OBJECT}
_DEFINITION = _take(DEFINITION_FIELDS, {"id": INT, "process_id": STR, "version": INT, "name": STR, "sha256": STR,
                                        "deployed_by": _null(STR), "deployed_at": WHEN})

SCHEMAS: dict[str, Schema] = {
    "Error": _object({"error": _object({
        "code": {**STR, "description": "unauthorized, forbidden, not_found, conflict, invalid_input, load_error, "
                                       "check_failed, lint_failed, too_large, unsupported_media_type, ..."},
        "message": STR,
        "failures": {"type": "array", "items": _ref("FieldFailure")},
        "issues": {"type": "array", "items": _ref("LintIssue")},
    }, optional=("issues",))}),
    "FieldFailure": _object({"field": _null(STR), "message": STR, "rule": _null(STR)},
                            description="A failed check, next to the field it belongs to (if any)."),
    "LintIssue": _object({"severity": {"type": "string", "enum": ["error", "warning"]}, "code": STR, "message": STR,
                          "element_id": _null(STR), "line": _null(INT)}),
    "RoleHeld": _object({"role": STR, "org_unit_id": STR, "org_path": STR}),
    "Me": _object({"id": STR, "name": STR, "org_unit_id": _null(STR),
                   "roles": {"type": "array", "items": _ref("RoleHeld")}, "read_only": BOOL, "reads_everything": BOOL,
                   "may_deploy": BOOL,
                   "may_start_at": {"type": "array", "items": STR,
                                    "description": "org units the person may start procedures at"}}),
    "OrgUnit": _object(_take(UNIT_FIELDS, {"id": STR, "name": STR, "kind": STR, "parent_id": _null(STR), "path": STR,
                                           "depth": INT})),
    "OrgUnitList": _items("OrgUnit"),
    "Task": _object(_TASK),
    "Instance": _object(_INSTANCE),
    "InstanceState": _object({**_INSTANCE, **_STATE}, description="An instance with its open tasks and data."),
    "InstanceDetail": _object({**_INSTANCE, **_STATE, "tasks": {"type": "array", "items": _ref("Task")}},
                              description="An instance with its open tasks, data and every task it has had."),
    "InstanceList": _items("Instance"),
    "InboxEntry": _object({"task": _ref("Task"), "instance": _ref("Instance"), "procedure": STR, "may_claim": BOOL,
                           "may_unclaim": BOOL}),
    "Inbox": _object({"items": {"type": "array", "items": _ref("InboxEntry")},
                      "total": {**INT, "description": "entries before the filters"}}),
    "FormField": _object({"id": STR, "label": STR, "type": {"type": "string", "enum": list(FIELD_TYPES)},
                          "required": BOOL, "readonly": BOOL, "default": _null(STR),
                          "constraints": {"type": "object", "additionalProperties": STR},
                          "options": {"type": "array", "items": _object({"value": STR, "label": STR})}}),
    "TaskDetail": _object({"task": _ref("Task"), "fields": {"type": "array", "items": _ref("FormField")},
                           "values": OBJECT, "may_work": {**BOOL, "description": "may claim or complete it now"}}),
    "CompleteRequest": _object({"data": {**OBJECT, "description": "form values by field id"}}, optional=("data",)),
    "CompleteResult": _object({"instance": _ref("InstanceState"), "next_task": _null(_ref("Task"))}),
    "StartRequest": _object({"process_id": STR, "org_unit_id": STR, "data": OBJECT, "title": _null(STR),
                             "business_key": _null(STR)}, optional=("data", "title", "business_key")),
    "Event": _object(_take(EVENT_FIELDS, {"id": INT, "chain": STR, "chain_seq": INT, "instance_id": _null(INT),
                                          "task_id": _null(STR), "type": STR, "actor": _null(STR), "at": WHEN,
                                          "payload": OBJECT, "prev_hash": STR, "hash": STR})),
    "EventList": _items("Event"),
    "VerifyReport": _object({"ok": BOOL, "chains": INT, "events": INT, "problems": {"type": "array", "items": _object(
        {"chain": STR, "event_id": _null(INT), "chain_seq": _null(INT), "problem": STR})}}),
    "Definition": _object(_DEFINITION),
    "DefinitionList": _items("Definition"),
    "DeployResult": _object({**_DEFINITION, "created": {**BOOL, "description": "false when the content was deployed "
                                                                                "already"}}),
    "LintReport": _object({"filename": STR, "process_id": _null(STR), "sha256": STR, "ok": BOOL,
                           "issues": {"type": "array", "items": _ref("LintIssue")}}),
}

ERRORS = {
    "400": "Invalid input (malformed body, unknown member, unreadable BPMN)",
    "401": "No token, or an unknown or revoked one",
    "403": "The person's roles do not allow it",
    "404": "No such object (or path)",
    "409": "Someone else changed it first, or it is not in a state that allows this",
    "413": "The body is too large",
    "415": "The body is not of a type this operation takes",
    "422": "Checks failed (field by field) or lint found errors; nothing was changed",
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(summary: str, ok: Schema, *errors: int, status: int = 200, tag: str, params: list[Schema] | None = None,
        body: Schema | None = None, extra: dict[str, Schema] | None = None) -> Schema:
    responses: dict[str, Schema] = {str(status): ok, **(extra or {})}
    for code in sorted({401, *errors}):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    operation: Schema = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    return operation


def _path(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": INT}


def _query(name: str, description: str, schema: Schema = STR) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TASK = [_path("task_id")]
INSTANCE = [_path("instance_id")]
BPMN_BODY: Schema = {"required": True, "description": "The BPMN document, as the body or as the multipart field bpmn",
                     "content": {"application/xml": {"schema": STR},
                                 "multipart/form-data": {"schema": {
                                     "type": "object", "required": ["bpmn"],
                                     "properties": {"bpmn": {"type": "string",
                                                             "contentMediaType": "application/octet-stream"}}}}}}
FILENAME = _query("filename", "File name to record for an application/xml body")
WRITE = (403, 404, 409)


def _paths() -> dict[str, Schema]:
    ok = _json
    return {
        "/openapi.json": {"get": {"summary": "This document (no token needed)", "tags": ["meta"], "security": [],
                                  "responses": {"200": ok(OBJECT, "The OpenAPI document")}}},
        "/me": {"get": _op("The person of the token, their roles and rights", ok(_ref("Me"), "The person"),
                           tag="people")},
        "/org-units": {"get": _op("The org units in tree order", ok(_ref("OrgUnitList"), "Org units"),
                                  tag="people")},
        "/tasks": {"get": _op("My inbox: my tasks and those offered to my roles, overdue first",
                              ok(_ref("Inbox"), "Inbox entries"), 400, tag="tasks", params=[
                                  _query("process", "Only this procedure (process id)"),
                                  _query("unit", "Only tasks at this org unit or below it"),
                                  _query("state", "Only tasks in this state",
                                         {"type": "string", "enum": ["ready", "claimed"]})])},
        "/tasks/{task_id}": {"get": _op("A task with its form fields and their values",
                                        ok(_ref("TaskDetail"), "The task"), 403, 404, tag="tasks", params=TASK)},
        "/tasks/{task_id}/claim": {"post": _op("Claim a task offered to one's role", ok(_ref("Task"), "The task"),
                                               *WRITE, tag="tasks", params=TASK)},
        "/tasks/{task_id}/unclaim": {"post": _op("Give a claimed task back", ok(_ref("Task"), "The task"), *WRITE,
                                                 tag="tasks", params=TASK)},
        "/tasks/{task_id}/open": {"post": _op("Record that work on one's task started", ok(_ref("Task"), "The task"),
                                              *WRITE, tag="tasks", params=TASK)},
        "/tasks/{task_id}/complete": {"post": _op(
            "Complete a task with its form data", ok(_ref("CompleteResult"), "The instance and my next task in it"),
            400, *WRITE, 413, 415, 422, tag="tasks", params=TASK,
            body={"required": True, "content": {"application/json": {"schema": _ref("CompleteRequest")}}})},
        "/instances": {
            "get": _op("Instances I may read, newest first", ok(_ref("InstanceList"), "Instances"), tag="instances",
                       params=[_query("status", "Only instances with this status"),
                               _query("process", "Only this procedure (process id)")]),
            "post": _op("Start the newest version of a procedure at an org unit",
                        ok(_ref("InstanceState"), "The new instance"), 400, *WRITE, 413, 415, 422, status=201,
                        tag="instances",
                        body={"required": True, "content": {"application/json": {"schema": _ref("StartRequest")}}})},
        "/instances/{instance_id}": {"get": _op("An instance with its data and tasks",
                                                ok(_ref("InstanceDetail"), "The instance"), 403, 404, tag="instances",
                                                params=INSTANCE)},
        "/instances/{instance_id}/history": {"get": _op("Every event of an instance, in order",
                                                        ok(_ref("EventList"), "Events"), 403, 404, tag="instances",
                                                        params=INSTANCE)},
        "/instances/{instance_id}/verify": {"get": _op("Check an instance's hash chain",
                                                       ok(_ref("VerifyReport"), "What was found"), 403, 404,
                                                       tag="instances", params=INSTANCE)},
        "/instances/{instance_id}/diagram.svg": {"get": _op(
            "The instance's diagram coloured by its history",
            {"description": "SVG", "content": {"image/svg+xml": {"schema": STR}}}, 403, 404, tag="instances",
            params=[*INSTANCE, _query("highlight", "Outline this element (a task spec id)")])},
        "/definitions": {
            "get": _op("Every deployed version, by procedure, newest first", ok(_ref("DefinitionList"), "Versions"),
                       tag="procedures"),
            "post": _op("Deploy a BPMN document (committee and admins)", ok(_ref("DeployResult"), "A new version"),
                        400, 403, 409, 413, 415, 422, status=201, tag="procedures", params=[FILENAME],
                        body=BPMN_BODY, extra={"200": ok(_ref("DeployResult"), "Identical content: that version")})},
        "/definitions/lint": {"post": _op("Lint a BPMN document without deploying it (committee and admins)",
                                          ok(_ref("LintReport"), "No errors (warnings may be listed)"),
                                          400, 403, 413, 415, 422, tag="procedures", params=[FILENAME],
                                          body=BPMN_BODY)},
    }


def document() -> dict[str, Any]:
    """Return the OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "LeanFlow API（精益党建流程引擎）", "version": "1.0.0",
                 "description": "The web UI's operations as JSON, with the same rights. Authenticate with an API "
                                "token: `Authorization: Bearer lf_...` (issued by an administrator; shown once). "
                                "Errors have one body: `{\"error\": {\"code\", \"message\", \"failures\"}}`; "
                                "messages are Chinese first."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearerAuth": []}],
        "paths": {PREFIX + path: item for path, item in _paths().items()},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "lf_ token",
                                               "description": "An API token issued for a person"}},
            "schemas": SCHEMAS,
            "responses": {f"E{code}": _json(_ref("Error"), text) for code, text in ERRORS.items()},
        },
    }
