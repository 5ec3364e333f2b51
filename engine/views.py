"""Plain frozen dataclasses the engine returns; callers never see SpiffWorkflow or ORM objects."""

# EventView (one entry of the history) is engine.history.StoredEvent, re-exported here.

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.errors import LintIssue
from engine.history import StoredEvent as EventView

__all__ = ["ClockView", "DefinitionView", "EventView", "InstanceView", "LintReport", "TaskView", "TickResult",
           "VerifyReport"]


@dataclass(frozen=True)
class LintReport:
    """What lint found in one file."""

    filename: str
    process_id: str | None
    sha256: str
    issues: list[LintIssue]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(i.severity == "error" for i in self.issues)


@dataclass(frozen=True)
class DefinitionView:
    """A deployed version of a procedure."""

    id: int
    process_id: str
    version: int
    name: str
    sha256: str
    deployed_by: str | None
    deployed_at: datetime
    created: bool = True  # False when deploy found identical content already deployed


@dataclass(frozen=True)
class TaskView:
    """A user task as the inbox shows it."""

    id: int
    instance_id: int
    spiff_task_id: str
    task_spec: str
    name: str
    lane: str | None
    role: str | None
    org_unit_id: str
    assignee: str | None
    state: str
    ready_at: datetime
    claimed_at: datetime | None
    opened_at: datetime | None
    completed_at: datetime | None
    due_at: datetime | None
    completed_by: str | None
    lean_class: str | None
    sla: str | None


@dataclass(frozen=True)
class InstanceView:
    """A process instance and where it stands."""

    id: int
    process_id: str
    definition_id: int
    version: int
    org_unit_id: str
    title: str
    business_key: str | None
    status: str
    started_by: str | None
    started_at: datetime
    ended_at: datetime | None
    next_timer_due: datetime | None
    error: str | None = None
    open_tasks: list[TaskView] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyReport:
    """The result of checking every hash chain."""

    chains: int
    events: int
    problems: list[Any]

    @property
    def ok(self) -> bool:
        """True when the history is intact."""
        return not self.problems


@dataclass(frozen=True)
class ClockView:
    """The clock the database runs on."""

    mode: str
    now: datetime


@dataclass(frozen=True)
class TickResult:
    """What firing due timers did."""

    instances: int
    timers_fired: int
    failed: list[tuple[int, str]]
    now: datetime


def task_view(t: Any) -> TaskView:
    """Build a TaskView from a human task row."""
    return TaskView(t.id, t.instance_id, t.spiff_task_id, t.task_spec, t.name, t.lane, t.role, t.org_unit_id,
                    t.assignee, t.state, t.ready_at, t.claimed_at, t.opened_at, t.completed_at, t.due_at,
                    t.completed_by, t.lean_class, t.sla)


def instance_view(r: Any, tasks: list[TaskView], data: dict[str, Any]) -> InstanceView:
    """Build an InstanceView from an instance row, its open tasks and its data."""
    return InstanceView(r.id, r.process_id, r.definition_id, r.version, r.org_unit_id, r.title, r.business_key,
                        r.status, r.started_by, r.started_at, r.ended_at, r.next_timer_due, r.error, tasks, data)
