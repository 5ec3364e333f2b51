"""Forget finished branches of the task tree so a loop's step cost stays flat (SPIFFWORKFLOW.md §9)."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

FINISHED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR


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
    live = [t for t in tasks.values() if not t.state & FINISHED]
    if not live:
        return 0
    lca = _lowest_common_ancestor(tasks, [t.id for t in live])
    if lca is None or lca == root.id or tasks[lca]._parent == root.id:
        return 0
    keep = _subtree(tasks, lca)
    keep.add(root.id)
    doomed = [tid for tid in tasks if tid not in keep]
    for tid in doomed:
        del tasks[tid]
    root._children = [lca]
    tasks[lca]._parent = root.id
    if workflow.last_task is not None and workflow.last_task.id not in tasks:
        workflow.last_task = None
    return len(doomed)


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
