"""Forget finished branches of the task tree so a loop's step cost stays flat (SPIFFWORKFLOW.md §9)."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.control import _EndJoin  # type: ignore[import-untyped]
from SpiffWorkflow.task import Task  # type: ignore[import-untyped]
from SpiffWorkflow.util.deep_merge import DeepMerge  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

FINISHED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR
# Marks the detached task that carries the data of the end joins pruned so far (see _fold_end_joins).
FOLDED = "leanflow_folded_end_joins"


def prune(workflow: Any) -> int:
    """Cut the tree above the lowest common ancestor of all unfinished tasks; return how many were removed."""
    removed = _prune_tree(workflow)
    for sub_id in list(workflow.subprocesses):
        owner = workflow.tasks.get(sub_id)
        if owner is None or owner.state & FINISHED:
            del workflow.subprocesses[sub_id]
        else:
            removed += _prune_tree(workflow.subprocesses[sub_id])
    return removed


def _prune_tree(workflow: Any) -> int:
    tasks = workflow.tasks
    root = workflow.task_tree
    removed = _fold_end_joins(workflow)
    # A WAITING end join only waits for the other branches; neither it nor the End predicted below it may hold
    # the cut above them (a reminder path that reached its end event once would stop all pruning below it).
    live = [t for t in tasks.values() if not t.state & FINISHED and not _after_end(t) and not _detached(t)]
    if not live:
        return removed
    lca = _lowest_common_ancestor(tasks, [t.id for t in live])
    if lca is None or lca == root.id or tasks[lca]._parent == root.id:
        return removed
    keep = _subtree(tasks, lca)
    keep.add(root.id)
    children = [lca]
    for waiting in [t for t in tasks.values() if _end_join(t) and t.state == TaskState.WAITING]:
        if waiting.id in keep or waiting.parent is None:
            continue
        # Keep a waiting end join in the tree with the end event it inherits its data from.
        end_event = waiting.parent
        end_event._parent = root.id
        children.append(end_event.id)
        keep |= _subtree(tasks, end_event.id)
    keep |= {t.id for t in tasks.values() if _detached(t)}
    doomed = [tid for tid in tasks if tid not in keep]
    for tid in doomed:
        del tasks[tid]
    root._children = children
    tasks[lca]._parent = root.id
    if workflow.last_task is not None and workflow.last_task.id not in tasks:
        workflow.last_task = None
    return removed + len(doomed)


def _end_join(task: Any) -> bool:
    return isinstance(task.task_spec, _EndJoin)


def _after_end(task: Any) -> bool:
    """An end join, or the End task predicted below it."""
    return _end_join(task) or (task.parent is not None and _end_join(task.parent))


def _detached(task: Any) -> bool:
    return FOLDED in task.internal_data or (task.parent is not None and FOLDED in task.parent.internal_data)


def _fold_end_joins(workflow: Any) -> int:
    """Replace the cancelled end joins by one detached pair that carries their merged data.

    When a process ends, Spiff's end join merges into the process data the data of every other finished
    end join, oldest first (UnstructuredJoin._run_hook): that is how what a reminder path did before it
    reached its end event shows up in the final data. Pruning would forget those end joins, so their end
    events' data is merged here, in the same order, into a carrier task outside the tree whose only child is
    a cancelled end join; Spiff's merge then finds it like any other. Returns how many tasks were removed.
    """
    tasks = workflow.tasks
    ended = sorted((t for t in tasks.values() if _end_join(t) and t.state == TaskState.CANCELLED
                    and not _detached(t) and t.parent is not None), key=lambda t: t.last_state_change)
    if not ended:
        return 0
    carrier = next((t for t in tasks.values() if FOLDED in t.internal_data), None)
    if carrier is None:
        carrier = Task(workflow, ended[0].parent.task_spec, state=TaskState.COMPLETED)
        carrier.internal_data[FOLDED] = 0
        carrier.data = {}
        folded = Task(workflow, ended[0].task_spec, parent=carrier, state=TaskState.CANCELLED)
        folded.last_state_change = ended[0].last_state_change
    else:
        folded = tasks[carrier._children[0]]
    for task in ended:
        DeepMerge.merge(carrier.data, deepcopy(task.parent.data))
        carrier.internal_data[FOLDED] += 1
        folded.last_state_change = max(folded.last_state_change, task.last_state_change)
        if task.id in task.parent._children:
            task.parent._children.remove(task.id)
        for tid in _subtree(tasks, task.id):
            del tasks[tid]
    folded.data = {}
    return len(ended)


def _lineage(tasks: dict[Any, Any], task_id: Any) -> list[Any]:
    """Return the ids from the root down to the task."""
    chain = []
    current = task_id
    while current is not None:
        chain.append(current)
        current = tasks[current]._parent
    chain.reverse()
    return chain


def _lowest_common_ancestor(tasks: dict[Any, Any], ids: list[Any]) -> Any:
    common = _lineage(tasks, ids[0])
    for task_id in ids[1:]:
        other = _lineage(tasks, task_id)
        n = 0
        while n < len(common) and n < len(other) and common[n] == other[n]:
            n += 1
        common = common[:n]
    return common[-1] if common else None


def _subtree(tasks: dict[Any, Any], top: Any) -> set[Any]:
    seen = {top}
    stack = [top]
    while stack:
        for child in tasks[stack.pop()]._children:
            if child in tasks and child not in seen:
                seen.add(child)
                stack.append(child)
    return seen
