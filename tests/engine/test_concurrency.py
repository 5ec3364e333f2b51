"""Two processes completing the same task at once: exactly one succeeds, the other gets a conflict."""

from __future__ import annotations

import multiprocessing as mp
from datetime import UTC, datetime
from typing import Any

from engine.clock import VirtualClock
from engine.errors import Conflict
from engine.service import WorkflowService, open_service

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


RACES = 8


def _complete(url: str, task_ids: list[int], barrier: Any, results: Any) -> None:
    service = open_service(url, clock=VirtualClock(START), migrate=False)
    for task_id in task_ids:
        service.task(task_id)  # warm up: connections, imports and caches are ready before the races
    for task_id in task_ids:
        barrier.wait(timeout=30)
        try:
            service.complete(task_id, person_id="zhang", data={"agenda": "并发", "meeting_date": "2026-03-02"})
            results.put((task_id, "ok"))
        except Conflict as conflict:
            results.put((task_id, f"conflict: {conflict.message}"))
        except Exception as other:  # reported to the parent, which fails the test
            results.put((task_id, f"error: {type(other).__name__}: {other}"))
    assert service.db_engine is not None
    service.db_engine.dispose()


def test_two_processes_complete_the_same_task(service: WorkflowService, database_url: str) -> None:
    instances = [service.start("branch_meeting", org_unit_id="b1") for _ in range(RACES)]
    task_ids = [i.open_tasks[0].id for i in instances]
    context = mp.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [context.Process(target=_complete, args=(database_url, task_ids, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes: dict[int, list[str]] = {}
    for _ in range(2 * RACES):
        task_id, outcome = results.get(timeout=120)
        outcomes.setdefault(task_id, []).append(outcome)
    for worker in workers:
        worker.join(timeout=60)
    for task_id, pair in outcomes.items():
        pair.sort()
        assert pair[0].startswith("conflict") and pair[1] == "ok", (task_id, pair)
    for instance in instances:
        after = service.instance(instance.id)
        assert [t.task_spec for t in after.open_tasks] == ["hold_meeting"]
        assert [e.type for e in service.history(instance.id)].count("task_completed") == 1
    assert service.verify().ok
