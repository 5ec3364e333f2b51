"""Operations on behalf of a logged-in person: each checks their rights in engine.accounts first."""

from __future__ import annotations

from typing import Any

from engine import accounts, deployment
from engine.errors import LintIssue, LoadError, NotFound
from engine.history import instance_chain, stored_event, verify_chain
from engine.loader import load_bpmn
from engine.model import FormField
from engine.views import (
    DefinitionView,
    EventView,
    InstanceView,
    LintReport,
    TaskView,
    VerifyReport,
    instance_view,
    task_view,
)


class Acting:
    """Mixin of WorkflowService: the pages and the API act through these, never around them (uses unit(), runtime)."""

    # == accounts and rights (for webui/ and the API) ====================================================
    # Each *_as method takes the acting person and checks their rights in engine.accounts before it acts;
    # the methods above stay as they were for the CLI and the tests.

    def authenticate(self, person_id: str, password: str) -> accounts.Principal | None:
        """Return the person if the password is theirs, else None."""
        with self.unit() as uow:
            return accounts.authenticate(uow, person_id, password)

    def principal(self, person_id: str) -> accounts.Principal | None:
        """Return the acting person with today's roles, or None when unknown or inactive."""
        with self.unit() as uow:
            return accounts.principal(uow, person_id)

    def set_password(self, person_id: str, password: str, *, actor: str | None = None) -> None:
        """Set a person's password (argon2id); the history records that it changed."""
        with self.unit() as uow:
            accounts.set_password(uow, person_id, password, actor)

    def users(self) -> list[accounts.AccountView]:
        """List every person as a login, with roles and whether a password is set."""
        with self.unit() as uow:
            return accounts.accounts(uow)

    def org_units(self) -> list[accounts.UnitView]:
        """List the org units in tree order."""
        with self.unit() as uow:
            return accounts.units(uow)

    def lint_bytes(self, content: bytes, filename: str) -> LintReport:
        """Lint an uploaded BPMN document; one that cannot be read safely is reported, not raised."""
        try:
            document = load_bpmn(content, filename=filename, max_bytes=self.settings.max_bpmn_bytes)
        except LoadError as bad:
            return LintReport(filename, None, "", [LintIssue("error", "load-error", bad.reason, None, bad.line)])
        return deployment.lint(document)

    def deploy_as(self, person_id: str, content: bytes, filename: str) -> DefinitionView:
        """Deploy an uploaded procedure for a committee member or an admin."""
        with self.unit() as uow:
            accounts.ensure_may_deploy(accounts.must_be(uow, person_id))
        return self.deploy_bytes(content, filename, actor=person_id)

    def start_as(self, person_id: str, process_id: str, *, org_unit_id: str, data: dict[str, Any] | None = None,
                 title: str | None = None, business_key: str | None = None) -> InstanceView:
        """Start a procedure at a unit where the person is on the committee (or an admin), or above it."""
        with self.unit() as uow:
            accounts.ensure_may_start(uow, accounts.must_be(uow, person_id), org_unit_id)
        return self.start(process_id, org_unit_id=org_unit_id, data=data, actor=person_id, title=title,
                          business_key=business_key)

    def _may_change(self, person_id: str) -> None:
        with self.unit() as uow:
            accounts.ensure_may_change(accounts.must_be(uow, person_id))

    def claim_as(self, person_id: str, task_id: int) -> TaskView:
        """Claim a task, unless the person is read-only."""
        self._may_change(person_id)
        return self.claim(task_id, person_id=person_id)

    def unclaim_as(self, person_id: str, task_id: int) -> TaskView:
        """Give a claimed task back, unless the person is read-only."""
        self._may_change(person_id)
        return self.unclaim(task_id, person_id=person_id)

    def open_task_as(self, person_id: str, task_id: int) -> TaskView:
        """Record that work on a task started, unless the person is read-only."""
        self._may_change(person_id)
        return self.open_task(task_id, person_id=person_id)

    def complete_as(self, person_id: str, task_id: int, data: dict[str, Any] | None = None) -> InstanceView:
        """Complete a task (theirs or their role's), unless the person is read-only."""
        self._may_change(person_id)
        return self.complete(task_id, person_id=person_id, data=data)

    def inbox_as(self, person_id: str) -> list[accounts.InboxEntry]:
        """List the person's open tasks with their instances, soonest due first (so overdue first)."""
        with self.unit() as uow:
            who = accounts.must_be(uow, person_id)
            rows = uow.tasks.inbox(person_id, [(r.role, r.org_unit_id, r.org_path) for r in who.roles])
            instances: dict[int, Any] = {}
            entries = []
            for t in rows:
                if t.instance_id not in instances:
                    instances[t.instance_id] = uow.instances.get(t.instance_id)
                row = instances[t.instance_id]
                definition = self.runtime.definition(uow, row.definition_id)
                model = definition.model.user_tasks.get(t.task_spec)
                entries.append(accounts.InboxEntry(
                    task_view(t), instance_view(row, [], {}), definition.name,
                    may_claim=not who.read_only and t.state == "ready",
                    may_unclaim=(not who.read_only and t.state == "claimed" and t.assignee == person_id
                                 and not (model and model.assignee))))
            return entries

    def next_task_as(self, person_id: str, instance_id: int) -> TaskView | None:
        """Return the person's next open task of an instance, if any."""
        return next((e.task for e in self.inbox_as(person_id) if e.instance.id == instance_id), None)

    def task_as(self, person_id: str, task_id: int) -> TaskView:
        """Return a task the person may work on or whose instance they may read."""
        with self.unit() as uow:
            who = accounts.must_be(uow, person_id)
            task = uow.tasks.get(task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist")
            if not self.runtime.may_do(uow, task, person_id):
                accounts.ensure_may_read(uow, who, task.instance_id)
            return task_view(task)

    def may_work_on(self, person_id: str, task_id: int) -> bool:
        """Tell whether the person may claim or complete the task now."""
        with self.unit() as uow:
            who = accounts.principal(uow, person_id)
            task = uow.tasks.get(task_id)
            return (who is not None and not who.read_only and task is not None and task.state in ("ready", "claimed")
                    and self.runtime.may_do(uow, task, person_id))

    def task_form_as(self, person_id: str, task_id: int) -> tuple[list[FormField], dict[str, Any]]:
        """Return a task's form fields and their values: current ones if open, as submitted if completed."""
        task = self.task_as(person_id, task_id)
        with self.unit() as uow:
            row = uow.instances.row(task.instance_id)
            model = self.runtime.definition(uow, row.definition_id).model.user_tasks.get(task.task_spec)
            fields = list(model.form) if model else []
            if task.state in ("ready", "claimed"):
                values = self.runtime.peek(uow, task.instance_id).task_data(task.spiff_task_id)
            else:
                done = [e.payload for e in uow.history.for_instance(task.instance_id)
                        if e.type == "task_completed" and e.task_id == task.spiff_task_id]
                values = (done[-1].get("data") or {}) if done else {}
            return fields, {f.id: values[f.id] for f in fields if f.id in values}

    def instance_as(self, person_id: str, instance_id: int) -> InstanceView:
        """Return an instance the person may read, with its open tasks and data."""
        with self.unit() as uow:
            accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            return self._instance_in(uow, instance_id)

    def instance_tasks_as(self, person_id: str, instance_id: int) -> list[TaskView]:
        """Return every task of an instance the person may read (open, done and cancelled), in order."""
        with self.unit() as uow:
            accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            return [task_view(t) for t in uow.tasks.for_instance(instance_id)]

    def history_as(self, person_id: str, instance_id: int) -> list[EventView]:
        """Return every event of an instance the person may read."""
        with self.unit() as uow:
            accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            return [stored_event(e) for e in uow.history.for_instance(instance_id)]

    def verify_instance_as(self, person_id: str, instance_id: int) -> VerifyReport:
        """Check the hash chain of one instance the person may read."""
        with self.unit() as uow:
            row = accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            chain = instance_chain(instance_id)
            stored = [stored_event(e) for e in uow.history.events(chain)]
            head = (row.history_length, row.history_head) if row.history_length else None
            return VerifyReport(1, len(stored), verify_chain(chain, stored, head))

    def instances_as(self, person_id: str, *, status: str | None = None,
                     process_id: str | None = None) -> list[InstanceView]:
        """List the instances the person may read, newest first."""
        with self.unit() as uow:
            who = accounts.must_be(uow, person_id)
            paths = {u.id: u.path for u in uow.orgs.units()}
            mine = {t.instance_id for t in uow.tasks.inbox(
                person_id, [(r.role, r.org_unit_id, r.org_path) for r in who.roles], include_done=True)}
            return [instance_view(r, [], {}) for r in uow.instances.list(status=status, process_id=process_id)
                    if who.may_read_unit(paths.get(r.org_unit_id, "")) or r.started_by == person_id
                    or r.id in mine]

    def data_fields_as(self, person_id: str, instance_id: int) -> dict[str, FormField]:
        """The form fields that name an instance's data (start form first, then the steps'), by field id."""
        with self.unit() as uow:
            row = accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            model = self.runtime.definition(uow, row.definition_id).model
        fields: dict[str, FormField] = {}
        for form_field in [*model.start_form, *(f for t in model.user_tasks.values() for f in t.form)]:
            fields.setdefault(form_field.id, form_field)
        return fields

    def lint_diagram(self, content: bytes, filename: str, report: LintReport) -> str | None:
        """Draw an uploaded file's diagram with its lint findings on the elements (red errors, amber warnings)."""
        from engine import render

        try:
            document = load_bpmn(content, filename=filename, max_bytes=self.settings.max_bpmn_bytes)
        except LoadError:
            return None
        found: dict[str, list[LintIssue]] = {}
        for issue in report.issues:
            if issue.element_id:
                found.setdefault(issue.element_id, []).append(issue)
        overlays = {
            element: render.Overlay(
                fill="#ffcdd2" if any(i.severity == "error" for i in issues) else "#ffe0b2",
                badge=str(len(issues)), title="; ".join(i.message for i in issues))
            for element, issues in found.items()
        }
        try:
            return render.render_svg(document.root, overlays=overlays)
        except (render.NoDiagram, ValueError):
            return None

    def diagram_as(self, person_id: str, instance_id: int, *, highlight: str | None = None) -> str | None:
        """Return the SVG of an instance's diagram coloured by its history, or None when the file has no DI."""
        from engine import render

        with self.unit() as uow:
            row = accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            definition = uow.definitions.get(row.definition_id)
            events = [stored_event(e) for e in uow.history.for_instance(instance_id)]
        if definition is None:
            return None
        document = load_bpmn(definition.bpmn_xml, filename=f"{definition.process_id}.bpmn",
                             max_bytes=self.settings.max_bpmn_bytes)
        try:
            return render.render_svg(document.root, states=render.element_states(events), highlight=highlight)
        except render.NoDiagram:
            return None



    # == analytics (heatmap on the designed diagram, bottleneck ranking, compliance calendar) ==============
    # Only people who read everything see them: auditors, admins, the party committee and the organisation
    # department. The colour scale is linear in the step's value: white (0) → orange (half the maximum) →
    # dark red (the maximum).

    ANALYTICS_ROLES = frozenset({"committee", "organization_dept"})
    ANALYTICS_METRICS = ("queue", "touch", "frequency", "sla", "rework")

    def _ensure_analyst(self, uow: Any, person_id: str) -> accounts.Principal:
        from engine.errors import NotAllowed

        who = accounts.must_be(uow, person_id)
        if not (who.reads_everything or who.holds(*self.ANALYTICS_ROLES)):
            raise NotAllowed(f"{who.id} 无权查看流程分析：需审计、党委、组织部或管理员角色 / "
                             "only auditors, the committee, the organisation department or an admin see analytics")
        return who

    def may_analyse(self, person_id: str) -> bool:
        """Tell whether the person may see the analytics pages."""
        from engine.errors import NotAllowed

        with self.unit() as uow:
            try:
                self._ensure_analyst(uow, person_id)
            except (NotAllowed, NotFound):
                return False
            return True

    def analytics_procedures_as(self, person_id: str) -> list[DefinitionView]:
        """The newest version of every deployed procedure, by process id, for someone who may see analytics."""
        with self.unit() as uow:
            self._ensure_analyst(uow, person_id)
        newest: dict[str, DefinitionView] = {}
        for d in self.definitions():
            if d.process_id not in newest or d.version > newest[d.process_id].version:
                newest[d.process_id] = d
        return [newest[k] for k in sorted(newest)]

    @staticmethod
    def heat_colour(share: float) -> str:
        """The colour of a share (0–1) of the maximum: white → orange (#ff9800) → dark red (#b71c1c), linearly."""
        share = min(1.0, max(0.0, share))
        stops = ((255, 255, 255), (255, 152, 0), (183, 28, 28))
        low, high, t = (stops[0], stops[1], share * 2) if share <= 0.5 else (stops[1], stops[2], share * 2 - 1)
        return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(low, high, strict=True))

    @staticmethod
    def step_value(step: Any, metric: str) -> float | None:
        """A step's value for a heatmap metric: median hours, completed visits, breach share, extra visits."""
        if metric == "queue":
            return step.queue.median
        if metric == "touch":
            return step.touch.median
        if metric == "frequency":
            return float(step.frequency) if step.frequency else None
        if metric == "sla":
            return step.sla_breach_share
        return float(step.rework_extra_visits) if step.visits else None

    @staticmethod
    def step_badge(value: float | None, metric: str) -> str:
        """The badge text of a value: hours rounded (one decimal under 10 h), counts, or a percentage."""
        if value is None:
            return ""
        if metric in ("queue", "touch"):
            return f"{value:.1f}h" if value < 10 else f"{value:.0f}h"
        if metric == "sla":
            return f"{value * 100:.0f}%"
        return f"{value:.0f}"

    @staticmethod
    def bottleneck_score(step: Any) -> float | None:
        """Bottleneck score = median queue hours × completed visits (the waiting the step adds); None without data."""
        if step.queue.median is None or not step.frequency:
            return None
        return step.queue.median * step.frequency

    @staticmethod
    def step_instance_ids(step: Any, metric: str) -> tuple[int, ...]:
        """The instances behind a step's value for a metric."""
        if metric == "queue":
            return step.queue.instance_ids
        if metric == "touch":
            return step.touch.instance_ids
        if metric == "sla":
            return tuple(sorted({b.instance_id for b in step.breaches}))
        if metric == "rework":
            return step.rework_instance_ids
        return step.instance_ids

    def _heat_title(self, step: Any, stats: Any, kind: str) -> str:
        def h(value: float | None) -> str:
            return self.step_badge(value, "queue") or "-"

        return (f"{step.name or step.spec}：{kind} 中位数 {h(stats.median)}，p90 {h(stats.p90)}，均值 {h(stats.mean)}，"
                f"n={stats.count}；完成 {step.frequency} 次")

    def analytics_as(self, person_id: str, process_id: str, org: str | None = None,
                     metric: str = "queue") -> dict[str, Any]:
        """The heatmap page of a procedure for someone who may see analytics.

        Returns the newest definition, the metrics (over every version, optionally one org subtree), the step rows
        ranked by bottleneck score (highest first; steps without data last, in process order), each with its value,
        colour, badge and instances, the scale's maximum, and the newest version's diagram with the heatmap.
        """
        from engine import render
        from engine.errors import InvalidInput
        from engine.metrics import compute_metrics

        if metric not in self.ANALYTICS_METRICS:
            raise InvalidInput(f"unknown metric {metric!r}; expected one of {', '.join(self.ANALYTICS_METRICS)}")
        with self.unit() as uow:
            self._ensure_analyst(uow, person_id)
            definition = uow.definitions.latest(process_id)
            if definition is None:
                raise NotFound(f"procedure {process_id} is not deployed")
            view = DefinitionView(definition.id, definition.process_id, definition.version, definition.name,
                                  definition.sha256, definition.deployed_by, definition.deployed_at)
            bpmn_xml = definition.bpmn_xml
            metrics = compute_metrics(uow, process_id=process_id, org_unit_id=org or None, now=uow.now)
        values = {s.spec: self.step_value(s, metric) for s in metrics.steps}
        top = max((v for v in values.values() if v is not None), default=0.0)
        rows = []
        for order, step in enumerate(metrics.steps):
            value = values[step.spec]
            share = (value / top) if value is not None and top > 0 else 0.0
            stats = step.touch if metric == "touch" else step.queue
            rows.append({
                "step": step, "order": order, "value": value, "share": share,
                "fill": self.heat_colour(share) if value is not None else None,
                "badge": self.step_badge(value, metric), "score": self.bottleneck_score(step),
                "instance_ids": self.step_instance_ids(step, metric),
                "title": self._heat_title(step, stats, "接办等待" if metric != "touch" else "办理用时"),
            })
        ranked = sorted(rows, key=lambda r: (r["score"] is None, -(r["score"] or 0.0), r["order"]))
        overlays = {r["step"].spec: render.Overlay(fill=r["fill"], badge=r["badge"], title=r["title"])
                    for r in rows if r["value"] is not None}
        diagram = None
        try:
            document = load_bpmn(bpmn_xml, filename=f"{process_id}.bpmn", max_bytes=self.settings.max_bpmn_bytes)
            diagram = render.render_svg(document.root, overlays=overlays)
        except (LoadError, render.NoDiagram, ValueError):
            diagram = None
        return {"definition": view, "metrics": metrics, "metric": metric, "org": org or None, "rows": rows,
                "ranked": ranked, "max": top, "diagram": diagram}

    def compliance_as(self, person_id: str, process_id: str | None = None,
                      org: str | None = None) -> list[Any]:
        """The compliance rows (see engine.schedules.compliance) for someone who may see analytics."""
        from engine import schedules

        with self.unit() as uow:
            self._ensure_analyst(uow, person_id)
            return schedules.compliance(uow, process_id=process_id or None, org_unit_id=org or None, first=None,
                                        last=None)
