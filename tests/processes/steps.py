"""Driving a procedure's steps in tests: find a step's task, complete it, or see it refused with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import CheckFailed
from engine.service import WorkflowService
from engine.views import InstanceView, TaskView


def open_task(service: WorkflowService, instance_id: int, spec: str, person: str | None = None) -> TaskView:
    """The one open task of that step (when several people each have one, the person's own)."""
    candidates = [t for t in service.instance(instance_id).open_tasks if t.task_spec == spec]
    if len(candidates) > 1 and person is not None:
        candidates = [t for t in candidates if t.assignee in (None, person)]
    [task] = candidates
    return task


def complete(service: WorkflowService, instance_id: int, spec: str, person: str, data: dict[str, Any]) -> InstanceView:
    """Complete the step as the person with this data."""
    return service.complete(open_task(service, instance_id, spec, person).id, person_id=person, data=data)


def refused(service: WorkflowService, instance_id: int, spec: str, person: str, data: dict[str, Any]) -> list[str]:
    """Submit bad data: the step is refused, the instance and the task are unchanged; return the messages."""
    task = open_task(service, instance_id, spec, person)
    before = service.instance(instance_id)
    with pytest.raises(CheckFailed) as failed:
        service.complete(task.id, person_id=person, data=data)
    after = service.instance(instance_id)
    assert (after.version, after.data, after.status) == (before.version, before.data, before.status)
    assert service.task(task.id).state in ("ready", "claimed")
    return [f.message for f in failed.value.failures]


def specs(instance: InstanceView) -> list[str]:
    """The steps open in an instance, sorted."""
    return sorted(t.task_spec for t in instance.open_tasks)


def fired(service: WorkflowService, instance_id: int) -> list[tuple[str, str]]:
    """(timer, due) of every timer that fired, in order."""
    return [(e.payload["spec"], e.payload["due"]) for e in service.history(instance_id) if e.type == "timer_fired"]
