"""My tasks and the tasks offered to my roles: overdue first, then by due date; filters and counts per role."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, render_template, request
from flask_login import login_required

from webui.login import me
from webui.workflow import workflow

bp = Blueprint("inbox", __name__, url_prefix="/inbox")
STATES = ("ready", "claimed")


@bp.get("/")
@login_required
def index() -> str:
    """List the inbox, filtered by procedure, org unit (with its subtree) and state."""
    entries = workflow().inbox_as(me().id)
    paths = {u.id: u.path for u in workflow().org_units()}
    process_id, unit_id, state = (request.args.get(k, "") for k in ("process", "unit", "state"))
    shown = [e for e in entries
             if (not process_id or e.instance.process_id == process_id)
             and (not unit_id or paths.get(e.task.org_unit_id, "").startswith(paths.get(unit_id, "\0")))
             and (not state or e.task.state == state)]
    return render_template(
        "inbox/index.html", entries=shown, total=len(entries), states=STATES,
        per_role=Counter(e.task.role for e in entries).most_common(),
        procedures=sorted({(e.instance.process_id, e.procedure) for e in entries}),
        units=sorted({e.task.org_unit_id for e in entries}, key=lambda u: paths.get(u, u)),
        filters={"process": process_id, "unit": unit_id, "state": state})
