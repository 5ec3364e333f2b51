"""The procedure library: versions with who/when/hash; upload → lint report → deploy; start an instance."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidInput, LintError, NotFound
from engine.runtime import parse_json_object
from engine.views import DefinitionView
from webui.attachments import display_name, store
from webui.login import me
from webui.workflow import workflow

bp = Blueprint("library", __name__, url_prefix="/library")


@bp.get("/")
@login_required
def index() -> str:
    """List every procedure with its versions, newest first."""
    procedures: dict[str, list[DefinitionView]] = {}
    for view in sorted(workflow().definitions(), key=lambda d: (d.process_id, -d.version)):
        procedures.setdefault(view.process_id, []).append(view)
    return render_template("library/index.html", procedures=procedures)


@bp.post("/lint")
@login_required
def lint() -> str | tuple[str, int]:
    """Lint an uploaded .bpmn element by element; keep it for deployment when it has no error."""
    if not me().may_deploy:
        abort(403)
    upload = request.files.get("bpmn")
    if upload is None or not upload.filename:
        flash(_("请选择一个 .bpmn 文件。"), "error")
        return render_template("library/lint.html", report=None), 400
    content, filename = upload.read(), display_name(upload.filename)
    report = workflow().lint_bytes(content, filename)
    staged = store().stage(content) if report.ok else None
    return render_template("library/lint.html", report=report, staged=staged, filename=filename,
                           latest=_latest(report.process_id),
                           diagram=workflow().lint_diagram(content, filename, report)), 200 if report.ok else 422


@bp.post("/deploy")
@login_required
def deploy() -> Response | tuple[str, int]:
    """Deploy a linted upload as a new version (nothing new when the content is unchanged)."""
    content = store().staged(request.form.get("sha256", ""))
    if content is None:
        flash(_("上传的文件已失效，请重新上传。"), "error")
        return redirect(url_for("library.index"))
    filename = display_name(request.form.get("filename"))
    try:
        view = workflow().deploy_as(me().id, content, filename)
    except LintError:
        report = workflow().lint_bytes(content, filename)
        return render_template("library/lint.html", report=report, staged=None, filename=filename), 422
    if view.created:
        flash(_("已部署「%(name)s」第 %(version)s 版。", name=view.name, version=view.version), "success")
    else:
        flash(_("内容与第 %(version)s 版相同，未产生新版本。", version=view.version), "info")
    return redirect(url_for("library.index"))


@bp.route("/<process_id>/start", methods=["GET", "POST"])
@login_required
def start(process_id: str) -> Response | str | tuple[str, int]:
    """Start the newest version at an org unit the person may start it at, with initial JSON data."""
    latest = _latest(process_id)
    if latest is None:
        raise NotFound(f"procedure {process_id} is not deployed")
    who = me()
    units = [u for u in workflow().org_units() if who.may_start_at(u.path)]
    form = {"org_unit": "", "title": "", "business_key": "", "data": "{}"}
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in form}
        try:
            view = workflow().start_as(who.id, process_id, org_unit_id=form["org_unit"],
                                       data=parse_json_object(form["data"]), title=form["title"] or None,
                                       business_key=form["business_key"] or None)
        except InvalidInput as bad:
            return render_template("library/start.html", definition=latest, units=units, form=form,
                                   error=bad.message), 422
        flash(_("已发起「%(title)s」。", title=view.title), "success")
        return redirect(url_for("instances.show", instance_id=view.id))
    return render_template("library/start.html", definition=latest, units=units, form=form, error=None)


def _latest(process_id: str | None) -> DefinitionView | None:
    versions = [d for d in workflow().definitions() if d.process_id == process_id]
    return max(versions, key=lambda d: d.version) if versions else None
