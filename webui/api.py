"""The JSON API under /api/v1: the pages' operations for API clients, with the same rights (engine ``*_as``).

Clients authenticate with ``Authorization: Bearer <token>`` (engine.tokens) and nothing else: the session cookie
is never consulted here, so a page open in a browser cannot be made to act through the API, and the blueprint is
exempt from CSRF for the same reason. The OpenAPI document at /api/v1/openapi.json (webui.openapi) describes every
operation; tests hold each response to it.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, current_app, g, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from engine import tokens
from engine.accounts import Principal, ensure_may_deploy
from engine.errors import FieldError, LeanFlowError, LintError
from webui import api_json as out
from webui.api_json import ApiError
from webui.attachments import display_name
from webui.inbox import STATES
from webui.openapi import document
from webui.workflow import workflow

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = frozenset({"api.openapi"})
XML_TYPES = frozenset({"application/xml", "text/xml", "application/bpmn+xml"})
REALM = 'Bearer realm="leanflow"'


@bp.record_once
def _exempt_from_csrf(state: BlueprintSetupState) -> None:
    # Bearer tokens are not sent by browsers on their own, so there is no cross-site request to forge.
    state.app.extensions["csrf"].exempt(bp)


@bp.before_request
def authenticate() -> None:
    """Find the person of the bearer token; refuse a request without one, or with an unknown or revoked one."""
    if request.endpoint in PUBLIC:
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "unauthorized", "需要 API 令牌：Authorization: Bearer <令牌> / an API token is required "
                       "(Authorization: Bearer <token>)", headers={"WWW-Authenticate": REALM})
    who = tokens.verify_token(workflow(), presented.strip())
    if who is None:
        raise ApiError(401, "unauthorized", "API 令牌无效或已撤销 / the API token is invalid or revoked",
                       headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    g.api_principal = who


def me() -> Principal:
    """Return the person the request's token acts for."""
    return cast(Principal, g.api_principal)


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return out.respond(out.error_body(error.code, error.message, error.failures), error.status, error.headers)


@bp.errorhandler(LeanFlowError)
def _engine_error(error: LeanFlowError) -> Response:
    status, body = out.engine_error(error)
    return out.respond(body, status)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, InternalServerError):
        message = "服务器内部错误 / internal server error"
    else:
        message = error.description or error.name
    return out.respond(out.error_body(out.HTTP_CODES.get(status, "error"), message), status)


# -- me and the organisation ----------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    """Send the OpenAPI document of this API (no token needed)."""
    return out.respond(document())


@bp.get("/me")
def show_me() -> Response:
    """Return the person of the token with their roles and rights."""
    return out.respond(out.me(me(), workflow().org_units()))


@bp.get("/org-units")
def org_units() -> Response:
    """List the org units in tree order."""
    return out.respond({"items": [out.org_unit(u) for u in workflow().org_units()]})


# -- tasks ----------------------------------------------------------------------------------------------------


@bp.get("/tasks")
def inbox() -> Response:
    """List the inbox, filtered as the page filters it: procedure, org unit (with its subtree), state."""
    process_id, unit_id, state = (request.args.get(k, "") for k in ("process", "unit", "state"))
    if state and state not in STATES:
        raise ApiError(400, "invalid_input", f"state 应为 {'、'.join(STATES)} 之一 / state is one of "
                       f"{', '.join(STATES)}", [FieldError("unknown state", "state", "enum")])
    entries = workflow().inbox_as(me().id)
    paths = {u.id: u.path for u in workflow().org_units()}
    shown = [e for e in entries
             if (not process_id or e.instance.process_id == process_id)
             and (not unit_id or paths.get(e.task.org_unit_id, "").startswith(paths.get(unit_id, "\0")))
             and (not state or e.task.state == state)]
    return out.respond({"items": [out.inbox_entry(e) for e in shown], "total": len(entries)})


@bp.get("/tasks/<int:task_id>")
def show_task(task_id: int) -> Response:
    """Return a task with its form fields, their current values and whether the person may work on it now."""
    who = me().id
    task = workflow().task_as(who, task_id)
    fields, values = workflow().task_form_as(who, task_id)
    return out.respond({"task": out.task(task), "fields": [out.form_field(f) for f in fields],
                        "values": out.plain(values), "may_work": workflow().may_work_on(who, task_id)})


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int) -> Response:
    """Claim a task offered to one's role."""
    return out.respond(out.task(workflow().claim_as(me().id, task_id)))


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim(task_id: int) -> Response:
    """Give a claimed task back to its role."""
    return out.respond(out.task(workflow().unclaim_as(me().id, task_id)))


@bp.post("/tasks/<int:task_id>/open")
def open_task(task_id: int) -> Response:
    """Record that work on one's task started (the start of touch time)."""
    return out.respond(out.task(workflow().open_task_as(me().id, task_id)))


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int) -> Response:
    """Complete a task with its form data; failed checks come back field by field and change nothing."""
    body = _body({"data": (dict, False)})
    who = me().id
    view = workflow().complete_as(who, task_id, body.get("data") or {})
    following = workflow().next_task_as(who, view.id)
    return out.respond({"instance": out.instance(view, state=True),
                        "next_task": out.task(following) if following is not None else None})


# -- instances ------------------------------------------------------------------------------------------------


@bp.get("/instances")
def instances() -> Response:
    """List the instances the person may read, newest first, by status and procedure."""
    views = workflow().instances_as(me().id, status=request.args.get("status") or None,
                                    process_id=request.args.get("process") or None)
    return out.respond({"items": [out.instance(v) for v in views]})


@bp.post("/instances")
def start() -> Response:
    """Start the newest version of a procedure at an org unit, with initial data."""
    body = _body({"process_id": (str, True), "org_unit_id": (str, True), "data": (dict, False),
                  "title": (str, False), "business_key": (str, False)})
    view = workflow().start_as(me().id, body["process_id"], org_unit_id=body["org_unit_id"],
                               data=body.get("data") or {}, title=body.get("title") or None,
                               business_key=body.get("business_key") or None)
    return out.respond(out.instance(view, state=True), 201, {"Location": f"{bp.url_prefix}/instances/{view.id}"})


@bp.get("/instances/<int:instance_id>")
def show_instance(instance_id: int) -> Response:
    """Return an instance with its data, open tasks and every task it has had."""
    who = me().id
    view = workflow().instance_as(who, instance_id)
    return out.respond(out.instance(view, state=True, tasks=workflow().instance_tasks_as(who, instance_id)))


@bp.get("/instances/<int:instance_id>/history")
def history(instance_id: int) -> Response:
    """List every event of the instance, in order."""
    return out.respond({"items": [out.event(e) for e in workflow().history_as(me().id, instance_id)]})


@bp.get("/instances/<int:instance_id>/verify")
def verify(instance_id: int) -> Response:
    """Check the instance's hash chain."""
    return out.respond(out.verify_report(workflow().verify_instance_as(me().id, instance_id)))


@bp.get("/instances/<int:instance_id>/diagram.svg")
def diagram(instance_id: int) -> Response:
    """Send the instance's diagram as SVG, coloured by its history (a step outlined with ?highlight=)."""
    svg = workflow().diagram_as(me().id, instance_id, highlight=request.args.get("highlight") or None)
    if svg is None:
        raise ApiError(404, "not_found", "该流程文件没有图形信息 / the procedure's file has no diagram")
    response = Response(svg, mimetype="image/svg+xml")
    # Opened on its own, the SVG may draw with its inline styles and nothing else.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


# -- procedures -----------------------------------------------------------------------------------------------


@bp.get("/definitions")
def definitions() -> Response:
    """List every deployed version, by procedure and newest first."""
    views = sorted(workflow().definitions(), key=lambda d: (d.process_id, -d.version))
    return out.respond({"items": [out.definition(v) for v in views]})


@bp.post("/definitions/lint")
def lint() -> Response:
    """Lint a BPMN document element by element without deploying it (committee and admins)."""
    ensure_may_deploy(me())
    content, filename = _bpmn_upload()
    report = workflow().lint_bytes(content, filename)
    if not report.ok:
        raise LintError(report.issues)
    return out.respond(out.lint_report(report))


@bp.post("/definitions")
def deploy() -> Response:
    """Deploy a BPMN document as a new version; identical content gives back the version it matches."""
    content, filename = _bpmn_upload()
    view = workflow().deploy_as(me().id, content, filename)
    return out.respond(out.definition(view, created=view.created), 201 if view.created else 200)


# -- anything else --------------------------------------------------------------------------------------------


@bp.route("/", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(path: str = "") -> Response:
    """Answer a path or a method the API does not have in JSON (not with the pages' HTML)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST"):
        try:
            endpoint, _args = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    if allowed:
        raise ApiError(405, "method_not_allowed", f"{request.method} 不适用于此地址 / {request.method} is not "
                       f"allowed here", headers={"Allow": ", ".join(allowed)})
    raise ApiError(404, "not_found", "没有这个 API 地址 / no such API path")


# -- request bodies -------------------------------------------------------------------------------------------

_KINDS: dict[type, tuple[str, str]] = {str: ("非空文本", "a non-empty string"), dict: ("JSON 对象", "a JSON object")}


def _body(allowed: dict[str, tuple[type, bool]]) -> dict[str, Any]:
    """Return the request's JSON object, refusing unknown members, missing required ones and wrong types."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "请求体须为 JSON（Content-Type: application/json） / the body must be application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_input", "请求体须为 JSON 对象 / the body must be a JSON object")
    failures = [FieldError(f"未知字段「{k}」 / unknown member {k}", str(k), "unknown")
                for k in body if k not in allowed]
    for name, (kind, required) in allowed.items():
        value = body.get(name)
        if value is None:
            if required:
                failures.append(FieldError(f"「{name}」为必填项 / {name} is required", name, "required"))
        elif not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
            zh, en = _KINDS[kind]
            failures.append(FieldError(f"「{name}」应为{zh} / {name} must be {en}", name, "type"))
    if failures:
        raise ApiError(400, "invalid_input", "请求体有误 / the request body is invalid", failures)
    return {k: v.strip() if isinstance(v, str) else v for k, v in body.items()}


def _bpmn_upload() -> tuple[bytes, str]:
    """Return the BPMN document sent as the body (XML) or as the multipart field ``bpmn``, with its file name."""
    if request.mimetype in XML_TYPES:
        content, filename = request.get_data(), request.args.get("filename")
    elif request.mimetype == "multipart/form-data":
        upload = request.files.get("bpmn")
        if upload is None:
            raise ApiError(400, "invalid_input", "缺少文件字段 bpmn / the multipart field bpmn is missing",
                           [FieldError("缺少文件 / missing file", "bpmn", "required")])
        content, filename = upload.read(), upload.filename
    else:
        raise ApiError(415, "unsupported_media_type", "请以 application/xml 或 multipart/form-data 上传 BPMN / send "
                       "the BPMN as application/xml or multipart/form-data")
    if not content:
        raise ApiError(400, "invalid_input", "BPMN 文件是空的 / the BPMN document is empty")
    limit = workflow().settings.max_bpmn_bytes
    if len(content) > limit:
        raise ApiError(413, "too_large", f"BPMN 文件超过 {limit} 字节 / the BPMN document exceeds {limit} bytes")
    return content, display_name(filename or "upload.bpmn")
