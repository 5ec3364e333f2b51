"""A task: its form drawn from the step's fields, checked by the engine on submit; claim and give back."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import CheckFailed, FieldError
from webui import task_forms
from webui.attachments import store
from webui.auth import safe_next
from webui.formatting import zone
from webui.login import me
from webui.workflow import workflow

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _page(task_id: int, values: dict[str, Any] | None = None, failures: list[FieldError] | None = None,
          status: int = 200) -> tuple[str, int]:
    who = me()
    task = workflow().task_as(who.id, task_id)
    fields, current = workflow().task_form_as(who.id, task_id)
    may_work = workflow().may_work_on(who.id, task_id)
    if may_work and task.assignee == who.id and task.opened_at is None:
        task = workflow().open_task_as(who.id, task_id)  # the start of touch time: the assignee opened it
    instance = workflow().instance_as(who.id, task.instance_id)
    units = {u.id: u for u in workflow().org_units()}
    here = units[instance.org_unit_id].path if instance.org_unit_id in units else "/"
    # Party members first (full, then probationary), then the people on their way in, each by name.
    rank = {"full": 0, "probationary": 1, "development_target": 2, "activist": 3, "applicant": 4}
    people = sorted(workflow().users(), key=lambda p: (rank.get(p.membership or "", 5), p.name))
    local = [p for p in people if p.org_unit_id in units and units[p.org_unit_id].path.startswith(here)]
    failures = failures or []
    known = {f.id for f in fields}
    return render_template(
        "tasks/show.html", task=task, instance=instance, fields=fields, may_work=may_work,
        values=values if values is not None else task_forms.initial(fields, current),
        errors={f.field: [e.message for e in failures if e.field == f.field] for f in failures if f.field in known},
        general=[f.message for f in failures if f.field not in known],
        local_people=local, other_people=[p for p in people if p not in local],
        events=workflow().history_as(who.id, task.instance_id), forms=task_forms, zone=zone(),
        diagram=workflow().diagram_as(who.id, task.instance_id, highlight=task.task_spec)), status


@bp.get("/<int:task_id>")
@login_required
def show(task_id: int) -> tuple[str, int]:
    """Show the task with its form (if the person may do it) and the instance's history beside it."""
    return _page(task_id)


@bp.post("/<int:task_id>")
@login_required
def complete(task_id: int) -> Response | tuple[str, int]:
    """Complete the task; on failed checks show the form again with each message next to its field."""
    who = me()
    task = workflow().task_as(who.id, task_id)
    fields, _current = workflow().task_form_as(who.id, task_id)
    data, upload_errors, shown = task_forms.parse(fields, request.form, request.files, store(), zone())
    if upload_errors:
        return _page(task_id, shown, upload_errors, 422)
    try:
        view = workflow().complete_as(who.id, task_id, data)
    except CheckFailed as failed:
        return _page(task_id, shown, failed.failures, 422)
    flash(_("已完成「%(name)s」。", name=task.name), "success")
    following = workflow().next_task_as(who.id, view.id)
    if following is not None:
        return redirect(url_for("tasks.show", task_id=following.id))
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Response:
    """Claim a task offered to one's role."""
    task = workflow().claim_as(me().id, task_id)
    flash(_("已认领「%(name)s」。", name=task.name), "success")
    return redirect(safe_next(request.form.get("next"), url_for("tasks.show", task_id=task_id)))


@bp.post("/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Response:
    """Give a claimed task back to its role."""
    task = workflow().unclaim_as(me().id, task_id)
    flash(_("已退回「%(name)s」，任务重新向角色开放。", name=task.name), "info")
    return redirect(safe_next(request.form.get("next"), url_for("inbox.index")))
