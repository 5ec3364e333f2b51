"""Analytics: a procedure's heatmap on its designed diagram, steps ranked by bottleneck score, the compliance grid.

Only people who read everything (auditors, admins, the party committee, the organisation department) see these
pages; WorkflowService.analytics_as / compliance_as check it and compute what the pages show.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from werkzeug.wrappers import Response

from engine import charts
from engine.schedules import MEETING_LABELS
from webui.login import me
from webui.workflow import workflow

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

METRICS = {
    "queue": (_l("接办等待时间"), _l("小时（中位数）")),
    "touch": (_l("办理用时"), _l("小时（中位数）")),
    "frequency": (_l("完成次数"), _l("次")),
    "sla": (_l("超期比例"), "%"),
    "rework": (_l("返工（额外办理次数）"), _l("次")),
}
STATUSES = {  # status -> (symbol, label)
    "on_time": ("✓", _l("按期完成")),
    "late": ("!", _l("逾期完成")),
    "missed": ("✗", _l("未开展")),
    "open": ("…", _l("进行中")),
    "not_started": ("·", _l("未开始")),
}


@bp.get("/")
@login_required
def index() -> Response | str:
    """Choose a procedure (and optionally an org unit); a chosen one goes to its heatmap page."""
    procedures = workflow().analytics_procedures_as(me().id)
    process_id, org = request.args.get("process") or None, request.args.get("org") or None
    if process_id:
        return redirect(url_for("analytics.procedure", process_id=process_id, org=org))
    return render_template("analytics/index.html", procedures=procedures, units=workflow().org_units())


@bp.get("/compliance")
@login_required
def compliance() -> str:
    """The compliance calendar: org units (tree order) × periods, each cell on time, late, missed or open."""
    process_id, org = request.args.get("process") or "meeting", request.args.get("org") or None
    rows = workflow().compliance_as(me().id, process_id, org)
    units = workflow().org_units()
    periods = sorted({(r.period_end, r.period) for r in rows})
    columns = [label for _, label in periods]
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        kind = str(r.params.get("meeting_type") or r.schedule)
        cells.setdefault((r.org_unit_id, kind), {})[r.period] = r
    paths = {u.id: u.path for u in units}
    grid = []
    for unit in units:
        inside = [r for r in rows if paths.get(r.org_unit_id, "").startswith(unit.path)]
        if not inside:
            continue
        kinds = sorted(k for (u, k) in cells if u == unit.id)
        grid.append({"unit": unit, "totals": Counter(r.status for r in inside), "total": len(inside),
                     "lines": [{"kind": k, "label": MEETING_LABELS.get(k, k), "cells": cells[(unit.id, k)]}
                               for k in kinds]})
    return render_template("analytics/compliance.html", process_id=process_id, org=org or "", grid=grid,
                           columns=columns, statuses=STATUSES, units=units,
                           procedures=workflow().analytics_procedures_as(me().id))


@bp.get("/<process_id>")
@login_required
def procedure(process_id: str) -> str:
    """The heatmap of one metric on the newest diagram, the steps ranked by bottleneck score, procedure figures."""
    metric = request.args.get("metric") or "queue"
    org = request.args.get("org") or None
    report = workflow().analytics_as(me().id, process_id, org, metric)
    top = report["max"]
    legend = [{"colour": workflow().heat_colour(i / 4), "badge": workflow().step_badge(top * i / 4, metric)}
              for i in range(5)]
    return render_template("analytics/procedure.html", report=report, m=report["metrics"], metric=metric,
                           metrics=METRICS, legend=legend, org=org or "", units=workflow().org_units(),
                           charts=_charts(report["metrics"]),
                           # analytics_as above has checked this person may analyse the procedure
                           wastes=workflow().wastes(process_id, metrics=report["metrics"]))


def _charts(m: Any) -> dict[str, str]:
    """The lead-time histogram of the completed instances in scope and the daily WIP line, as SVG."""
    lead = list(m.lead_time.values)  # measured by the metrics from the history, like every other figure
    labels = {"empty": _("暂无数据"), "count": _("实例数"), "median": _("中位数"), "min": _("最小"), "max": _("最大")}
    return {
        "lead": charts.histogram_svg(lead, title=_("办结周期分布"), unit=_("小时"), labels=labels),
        "wip": charts.line_svg([(p.day, float(p.wip_end)) for p in m.wip_series], title=_("在办数量（每日日终）"),
                               unit=_("件"), labels=labels),
    }
