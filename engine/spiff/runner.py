"""Drive one SpiffWorkflow instance and report what changed as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

from engine.errors import Conflict, ExecutionError, NotFound, SandboxError
from engine.spiff.parser import ParsedProcess
from engine.spiff.pruning import prune
from engine.spiff.timers import cycle_due, cycle_fired, due_of, is_cycle, is_timer

# SpiffWorkflow stops walking the tree at depth 1000 by default (SPIFFWORKFLOW.md §8.1).
DEEP = 10**6


@dataclass(frozen=True)
class TaskChange:
    """A visible BPMN element whose task changed state during one engine call."""

    task_id: str
    spec: str
    name: str
    kind: str  # "user", "timer", "end", "other"
    before: str | None
    after: str
    due: datetime | None = None
    provisional: bool = False


@dataclass(frozen=True)
class ReadyUserTask:
    """A user task waiting for a person."""

    task_id: str
    spec: str
    name: str
    lane: str | None


def _kind(task_spec: Any) -> str:
    if getattr(task_spec, "manual", False):
        return "user"
    if is_timer(task_spec):
        return "timer"
    if type(task_spec).__name__ == "EndEvent":
        return "end"
    return "other"


def _snapshot(workflow: Any) -> dict[UUID, tuple[int, Any, int]]:
    """Each task's state, the task itself and, for a cycle timer, how often it has fired."""
    states = {tid: (t.state, t, cycle_fired(t)) for tid, t in workflow.tasks.items()}
    for sub in workflow.subprocesses.values():
        states.update({tid: (t.state, t, cycle_fired(t)) for tid, t in sub.tasks.items()})
    return states


# Spiff drops unfinished children of a cancelled task from the tree (Task.cancel -> _drop_children): the READY
# instances of a multi-instance task inside an interrupted sub-process vanish without ever becoming CANCELLED.
DROPPABLE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


class Runner:
    """One live workflow with the sandboxed script engine attached."""

    def __init__(self, workflow: Any) -> None:
        self.workflow = workflow

    @classmethod
    def start(cls, parsed: ParsedProcess, script_engine: Any, data: dict[str, Any]) -> tuple[Runner, list[TaskChange]]:
        """Create the workflow, give its start task the initial data and run to the first wait state."""
        workflow = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=script_engine)
        runner = cls(workflow)
        start = workflow.task_tree
        start.data.update(data)
        for child in start.children:
            child.data.update(data)
        changes = runner._observe(runner._engine_steps)
        return runner, changes

    def ready_user_tasks(self) -> list[ReadyUserTask]:
        """List the user tasks waiting for a person."""
        tasks = self.workflow.get_tasks(state=TaskState.READY, manual=True, max_depth=DEEP)
        return [ReadyUserTask(str(t.id), t.task_spec.bpmn_id, t.task_spec.bpmn_name or t.task_spec.bpmn_id,
                              t.task_spec.lane) for t in tasks]

    def task_data(self, task_id: str) -> dict[str, Any]:
        """Return a copy of the data a task sees."""
        return dict(self._task(task_id).data)

    def complete(self, task_id: str, data: dict[str, Any]) -> list[TaskChange]:
        """Put the form data on a ready user task, complete it and run to the next wait state."""
        task = self._task(task_id)
        if not task.has_state(TaskState.READY) or not task.task_spec.manual:
            raise Conflict(f"task {task_id} is not ready (it is {TaskState.get_name(task.state)})")

        def step() -> None:
            task.data.update(data)
            task.run()
            self._engine_steps()

        changes = self._observe(step)
        return changes

    def fire_timers(self) -> list[TaskChange]:
        """Fire every timer due at the context's time and run to the next wait state."""

        def step() -> None:
            self.workflow.refresh_timers()
            self._engine_steps()

        return self._observe(step)

    def cancel(self) -> list[TaskChange]:
        """Cancel the whole workflow."""
        return self._observe(self.workflow.cancel)

    def next_due(self) -> datetime | None:
        """Return the earliest due time of the timers this workflow waits on."""
        dues = [d for d in (due_of(t) for t in self._waiting()) if d is not None]
        return min(dues) if dues else None

    @property
    def completed(self) -> bool:
        """Tell whether the workflow has ended."""
        return bool(self.workflow.is_completed())

    @property
    def data(self) -> dict[str, Any]:
        """Return the process data: the end data once completed, else what the waiting tasks inherited."""
        if self.workflow.is_completed():
            return dict(self.workflow.data)
        # Pruning may forget last_task; the tasks now waiting carry the data of everything done before them.
        waiting = self.workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, max_depth=DEEP)
        merged: dict[str, Any] = {}
        # Waiting timers may hold data from before a sub-process began; the ready frontier is newest, so last.
        for task in sorted(waiting, key=lambda t: t.state == TaskState.READY):
            merged.update(task.data)
        if merged or not waiting:
            return merged or dict(self.workflow.task_tree.data)
        return merged

    def prune(self) -> int:
        """Drop finished branches of the tree (after their events have been recorded)."""
        return prune(self.workflow)

    def task_count(self) -> int:
        """Count the tasks the tree holds (a growth check for benches and tests)."""
        return len(self.workflow.tasks) + sum(len(s.tasks) for s in self.workflow.subprocesses.values())

    def _waiting(self) -> list[Any]:
        return self.workflow.get_tasks(state=TaskState.WAITING, max_depth=DEEP)

    def _task(self, task_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, TypeError, TaskNotFoundException):
            task = None
        if task is None:
            raise NotFound(f"task {task_id} is not part of this instance")
        return task

    def _engine_steps(self) -> None:
        self.workflow.do_engine_steps()
        # A timer that fired during refresh is left READY; run until nothing but people and waits remain.
        for _ in range(100):
            if not self.workflow.get_tasks(state=TaskState.READY, manual=False, max_depth=DEEP):
                return
            self.workflow.do_engine_steps()

    def _observe(self, action: Any) -> list[TaskChange]:
        before = _snapshot(self.workflow)
        try:
            action()
        except SandboxError:
            raise
        except SpiffWorkflowException as exc:
            raise ExecutionError(_describe(exc)) from None
        return self._changes(before)

    def _changes(self, before: dict[UUID, tuple[int, Any, int]]) -> list[TaskChange]:
        changes: list[TaskChange] = []
        seen: set[UUID] = set()
        for task in self.workflow.get_tasks(max_depth=DEEP):
            seen.add(task.id)
            spec = task.task_spec
            if spec.bpmn_id is None:
                continue
            old = before[task.id][0] if task.id in before else None
            if is_cycle(spec):
                # A cycle timer stays WAITING and fires by spawning its path again: report every firing, and
                # not its completion once the repetitions are used up (that is no firing).
                fired_before = before[task.id][2] if task.id in before else 0
                for k in range(fired_before + 1, cycle_fired(task) + 1):
                    changes.append(TaskChange(str(task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, "timer",
                                              "WAITING", "COMPLETED", cycle_due(task, k)))
                if task.state == TaskState.COMPLETED:
                    continue
            if old == task.state:
                continue
            if task.state & (TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE):
                continue
            kind = _kind(spec)
            changes.append(
                TaskChange(
                    task_id=str(task.id),
                    spec=spec.bpmn_id,
                    name=spec.bpmn_name or spec.bpmn_id,
                    kind=kind,
                    before=TaskState.get_name(old) if old is not None else None,
                    after=TaskState.get_name(task.state),
                    due=due_of(task) if kind == "timer" else None,
                    provisional=bool(task.internal_data.get("provisional_calendar")),
                )
            )
        after = _snapshot(self.workflow)
        for task_id, (old, task, _) in before.items():
            # A waiting or ready task removed from the tree during the step was cancelled with its parent.
            if (task_id in seen or task_id in after or not old & DROPPABLE or task.state & TaskState.COMPLETED
                    or task.task_spec.bpmn_id is None):
                continue
            spec = task.task_spec
            changes.append(TaskChange(task_id=str(task_id), spec=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id,
                                      kind=_kind(spec), before=TaskState.get_name(old), after="CANCELLED",
                                      due=due_of(task) if _kind(spec) == "timer" else None))
        # Report causes before effects: a timer firing, then what it cancelled, then what became ready.
        return sorted(changes, key=_rank)


def _rank(change: TaskChange) -> int:
    if change.kind == "timer" and change.after == "COMPLETED":
        return 0
    return {"COMPLETED": 1, "CANCELLED": 2}.get(change.after, 3)


def _describe(exc: Exception) -> str:
    """Make a one-line message of a Spiff error, naming the element where it happened."""
    task = getattr(exc, "task", None)
    where = ""
    if task is not None:
        spec = task.task_spec
        where = f"{spec.bpmn_id or spec.name}: "
    message = str(exc.args[0] if exc.args else exc).splitlines()[0].strip()
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message} ({type(cause).__name__}: {str(cause).splitlines()[0]})"
    notes = [n for n in getattr(exc, "__notes__", []) if n]
    if notes:
        message = f"{message}; {notes[0]}"
    return f"{where}{message}"
