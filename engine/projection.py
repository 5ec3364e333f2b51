"""Projecting what changed in a workflow onto the inbox (human task rows) and the history (events)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from engine import durations
from engine.errors import InvalidInput, LeanFlowError
from engine.history import NewEvent, instance_chain
from engine.model import ProcedureModel, UserTaskModel
from engine.roles import ROLES
from engine.sandbox import SandboxEnvironment
from engine.spiff.runner import TaskChange
from engine.unit_of_work import UnitOfWork

TaskData = Callable[[str], dict[str, Any]]


class Projection:
    """One step's projection: which inbox rows open or close, and which events the history gets."""

    def __init__(self, uow: UnitOfWork, *, instance_id: int, org_unit_id: str, model: ProcedureModel,
                 task_data: TaskData, sandbox: Callable[[], SandboxEnvironment]) -> None:
        self.uow = uow
        self.instance_id = instance_id
        self.org_unit_id = org_unit_id
        self.model = model
        self.task_data = task_data
        self.sandbox = sandbox
        self.chain = instance_chain(instance_id)

    def record(self, event: NewEvent) -> None:
        """Queue an event on the instance's chain."""
        self.uow.record(self.chain, self.instance_id, event)

    def apply(self, changes: list[TaskChange], actor: str | None) -> list[dict[str, Any]]:
        """Open inbox rows for new user tasks, close cancelled ones, record timers; return the new rows with ids."""
        uow = self.uow
        cancelled_user = any(c.kind == "user" and c.after == "CANCELLED" for c in changes)
        open_rows = {spiff_id: row_id for row_id, spiff_id, _state in
                     (uow.tasks.open_for_instance(self.instance_id) if cancelled_user else [])}
        boundary_due = {c.spec: c.due for c in changes if c.kind == "timer" and c.after == "WAITING"}
        new_rows = []
        for change in changes:
            if change.kind == "user" and change.after == "READY" and change.task_id not in open_rows:
                row = self._task_row(change, self.model.user_tasks.get(change.spec), boundary_due)
                new_rows.append(row)
                self.record(NewEvent(
                    "task_ready", uow.now, None, change.task_id,
                    {"spec": change.spec, "name": change.name, "role": row["role"], "assignee": row["assignee"],
                     "org_unit": row["org_unit_id"], "due_at": iso(row["due_at"]), "lean_class": row["lean_class"],
                     "sla": row["sla"]}))
            elif change.kind == "user" and change.after == "CANCELLED" and change.task_id in open_rows:
                uow.tasks.set(open_rows[change.task_id], state="cancelled", completed_at=uow.now)
                self.record(NewEvent("task_cancelled", uow.now, actor, change.task_id,
                                     {"spec": change.spec, "name": change.name}))
            elif change.kind == "timer":
                self._timer_event(change)
        ids = uow.tasks.add_many(new_rows)
        return [{**row, "id": task_id} for row, task_id in zip(new_rows, ids, strict=True)]

    def _task_row(self, change: TaskChange, user_task: UserTaskModel | None,
                  boundary_due: dict[str, datetime | None]) -> dict[str, Any]:
        assignee = role = sla = lean = None
        scope = "unit"
        due: datetime | None = None
        if user_task is not None:
            role = user_task.role or (user_task.lane if user_task.lane in ROLES else None)
            scope = user_task.scope
            lean, sla = user_task.lean_class, user_task.sla
            if user_task.assignee:
                value = self.task_data(change.task_id).get(user_task.assignee)
                assignee = value if isinstance(value, str) else None
            if sla:
                due = self._sla_due(change.task_id, sla)
        deadlines = [d for spec, d in boundary_due.items() if d is not None and
                     (t := self.model.timers.get(spec)) is not None and t.attached_to == change.spec
                     and t.interrupting]
        # The inbox shows the earliest date that matters: the step's SLA or a hard deadline, whichever comes first.
        due = min([d for d in [due, *deadlines] if d is not None], default=None)
        now = self.uow.now
        return {
            "instance_id": self.instance_id, "spiff_task_id": change.task_id, "task_spec": change.spec,
            "name": change.name, "lane": user_task.lane if user_task else None, "role": role, "role_scope": scope,
            "org_unit_id": self.org_unit_id, "assignee": assignee, "state": "claimed" if assignee else "ready",
            "ready_at": now, "claimed_at": now if assignee else None, "due_at": due,
            "lean_class": lean, "sla": sla,
        }

    def _sla_due(self, task_id: str, sla: str) -> datetime | None:
        """An SLA is a duration (P3D, working_days(5)) or an expression naming a date in the data."""
        try:
            return durations.due_after(self.uow.now, durations.parse_deadline(sla), self.uow.calendar).at
        except InvalidInput:
            pass
        try:
            value = self.sandbox().eval_expression(sla, self.task_data(task_id))
            return durations.parse_date(str(value)) if value else None
        except LeanFlowError:
            return None  # a step without a computable due date still reaches its people

    def _timer_event(self, change: TaskChange) -> None:
        now = self.uow.now
        timer = self.model.timers.get(change.spec)
        payload: dict[str, Any] = {"spec": change.spec, "name": change.name, "due": iso(change.due)}
        if timer is not None and timer.attached_to:
            payload.update(attached_to=timer.attached_to, interrupting=timer.interrupting)
        if change.after == "WAITING" and change.before != "WAITING":
            payload["provisional_calendar"] = change.provisional
            self.record(NewEvent("timer_due", now, None, change.task_id, payload))
        elif change.after == "COMPLETED":
            payload["fired_at"] = iso(now)
            self.record(NewEvent("timer_fired", now, None, change.task_id, payload))
            # A repeating timer (R/P6M assessments) is the procedure's rhythm, not a missed deadline.
            if timer is not None and timer.attached_to and timer.kind != "cycle":
                kind = "deadline" if timer.interrupting else "reminder"
                self.record(NewEvent(
                    "escalation", now, None, change.task_id,
                    {"kind": kind, "attached_to": timer.attached_to, "timer": change.spec, "due": iso(change.due)}))
        elif change.after == "CANCELLED" and change.before == "WAITING":
            self.record(NewEvent("timer_cancelled", now, None, change.task_id, payload))


def iso(value: datetime | None) -> str | None:
    """ISO text of a time, or None."""
    return value.isoformat() if value is not None else None


def jsonable(value: Any) -> Any:
    """Make data safe for the history's JSON (dates become ISO text)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
