"""Instances: the list a person may read, and one instance's timeline, steps, data and verify status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, send_file
from flask_login import login_required
from werkzeug.wrappers import Response

from webui.attachments import store
from webui.login import me
from webui.workflow import workflow

bp = Blueprint("instances", __name__, url_prefix="/instances")


@bp.get("/")
@login_required
def index() -> str:
    """List the instances the person may read, newest first."""
    status, process_id = request.args.get("status") or None, request.args.get("process") or None
    views = workflow().instances_as(me().id, status=status, process_id=process_id)
    return render_template("instances/index.html", instances=views,
                           filters={"status": status or "", "process": process_id or ""})


@bp.get("/<int:instance_id>")
@login_required
def show(instance_id: int) -> str:
    """Show every event (who, what, when, due against done), the steps, the data and the chain's status."""
    who = me().id
    instance = workflow().instance_as(who, instance_id)
    tasks = workflow().instance_tasks_as(who, instance_id)
    return render_template(
        "instances/show.html", instance=instance, tasks=tasks,
        definition=next((d for d in workflow().definitions() if d.id == instance.definition_id), None),
        tasks_by_spiff={t.spiff_task_id: t for t in tasks}, events=workflow().history_as(who, instance_id),
        verify=workflow().verify_instance_as(who, instance_id), diagram=workflow().diagram_as(who, instance_id),
        fields=workflow().data_fields_as(who, instance_id))


@bp.get("/<int:instance_id>/files/<sha256>")
@login_required
def attachment(instance_id: int, sha256: str) -> Response:
    """Send an attachment that this instance's data or history refers to."""
    who = me().id
    found = _file_in(workflow().instance_as(who, instance_id).data, sha256)
    for event in workflow().history_as(who, instance_id):
        found = found or _file_in(event.payload, sha256)
    path = store().attachment_path(sha256)
    if found is None or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=str(found.get("type") or "application/octet-stream"), as_attachment=True,
                         download_name=str(found.get("name") or sha256))
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _file_in(value: Any, sha256: str) -> dict[str, Any] | None:
    """Find the attachment reference with this hash anywhere in a JSON-like value."""
    if isinstance(value, dict):
        if value.get("sha256") == sha256 and "name" in value:
            return value
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = _file_in(item, sha256)
            if found is not None:
                return found
    return None
