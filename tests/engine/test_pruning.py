"""Pruning under stress: a pruned and an unpruned run of the same script end identically (SPIFFWORKFLOW.md §9).

Each model is driven through the real service on SQLite twice, with the same inputs and the same clock moves:
once with Settings(prune=True) (and no hot cache, so the pruned state goes through the database at every
step) and once with stock SpiffWorkflow's ever-growing tree. The completed user tasks, the timers fired with
their due times, every history event's (type, spec, due), what the script saw on the way, the final status and
the final data must be the same, while only the pruned tree stays small.

Pass counts compared against the stock engine (kept small so the file runs in well under a minute; stock
SpiffWorkflow's cost per step grows with every pass and it dies with RecursionError around pass 130 of the
parallel loop): parallel loop 60 (and 150 pruned only), sub-process vote 100, cycle timer 20, event-based
gateway 50, call activities 50 (one whose called process waits on a timer, one with a user task).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.clock import VirtualClock
from engine.errors import Conflict
from engine.service import Settings, WorkflowService, open_service
from tests.conftest import DEMO, FIXTURES, START

TREE_BOUND = 40  # tasks a pruned instance may hold, whatever the number of passes


@dataclass
class Outcome:
    """What one run did, in the terms the two runs are compared by."""

    completed: list[str]
    fired: list[tuple[str, str | None]]
    events: list[tuple[str, str | None, str | None]]
    seen: list[Any]
    data_seen: list[dict[str, Any]]
    status: str
    data: dict[str, Any]
    max_tasks: int
    final_tasks: int
    verified: bool

    def same_run(self) -> tuple[Any, ...]:
        return self.completed, self.fired, self.events, self.seen, self.data_seen, self.status, self.data


@dataclass
class Driver:
    """A service with one instance of a stress procedure, and the tree sizes seen between steps."""

    service: WorkflowService
    clock: VirtualClock
    pruned: bool
    instance_id: int = 0
    sizes: list[int] = field(default_factory=list)
    data_seen: list[dict[str, Any]] = field(default_factory=list)

    def open(self) -> list[Any]:
        """The open tasks in a fixed order; notes the instance data the service shows while it runs."""
        view = self.service.instance(self.instance_id)
        self.data_seen.append(view.data)
        return sorted(view.open_tasks, key=lambda t: (t.task_spec, t.assignee or ""))

    def complete(self, task: Any, data: dict[str, Any] | None = None, person: str = "li") -> Any:
        view = self.service.complete(task.id, person_id=task.assignee or person, data=data or {})
        self.measure()
        return view

    def advance(self, duration: str | timedelta) -> Any:
        result = self.service.advance(duration)
        self.measure()
        return result

    def measure(self) -> None:
        if self.pruned:  # the stock tree is only counted at the end
            self.sizes.append(self.task_count())

    def task_count(self) -> int:
        with self.service.unit() as uow:
            return self.service.runtime.peek(uow, self.instance_id).task_count()


Script = Callable[[Driver], list[Any]]


def _driver(url: str, prune: bool, fixture: str) -> Driver:
    clock = VirtualClock(START)
    # No hot cache for the pruned run: every step reloads the pruned state from the database.
    settings = Settings(prune=True, hot_cache_size=0) if prune else Settings(prune=False)
    service = open_service(url, clock=clock, settings=settings)
    service.import_org((DEMO / "org.yaml").read_text(encoding="utf-8"), "org.yaml")
    path = FIXTURES / f"{fixture}.bpmn"
    report = service.lint_file(path)
    assert report.ok, report.issues
    service.deploy_file(path)
    return Driver(service, clock, prune)


def _run(url: str, prune: bool, fixture: str, data: dict[str, Any], script: Script) -> Outcome:
    driver = _driver(url, prune, fixture)
    service = driver.service
    try:
        driver.instance_id = service.start(fixture, org_unit_id="b1", data=data).id
        seen = script(driver)
        history = service.history(driver.instance_id)
        view = service.instance(driver.instance_id)
        return Outcome(
            completed=[e.payload["spec"] for e in history if e.type == "task_completed"],
            fired=[(e.payload["spec"], e.payload["due"]) for e in history if e.type == "timer_fired"],
            events=[(e.type, e.payload.get("spec"), e.payload.get("due")) for e in history],
            seen=seen, data_seen=driver.data_seen, status=view.status, data=view.data,
            max_tasks=max(driver.sizes, default=0),
            final_tasks=driver.task_count(), verified=service.verify().ok)
    finally:
        if service.db_engine is not None:
            service.db_engine.dispose()


def _compare(sqlite_url: str, fixture: str, data: dict[str, Any], script: Script) -> tuple[Outcome, Outcome]:
    pruned = _run(sqlite_url, True, fixture, data, script)
    stock = _run(sqlite_url.replace(".db", "-stock.db"), False, fixture, data, script)
    assert pruned.same_run() == stock.same_run()
    assert pruned.verified and stock.verified
    assert pruned.max_tasks < TREE_BOUND and pruned.final_tasks < TREE_BOUND
    return pruned, stock


def _at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


# -- 1. parallel loop with a non-interrupting reminder -----------------------------------------------------


def _parallel_script(passes: int, remind_every: int = 3) -> Script:
    def script(d: Driver) -> list[Any]:
        seen = []
        for p in range(1, passes + 1):
            tasks = d.open()
            seen.append([t.task_spec for t in tasks])
            assert [t.task_spec for t in tasks] == ["check", "draft"]
            for task in tasks:
                d.complete(task)
            if p % remind_every == 0 and p < passes:
                ready = d.service.instance(d.instance_id).open_tasks[0].ready_at
                d.advance(timedelta(days=4))
                seen.append(("reminded", ready.isoformat()))
        return seen

    return script


def _check_parallel(outcome: Outcome, passes: int) -> None:
    assert outcome.status == "completed"
    assert outcome.completed == ["check", "draft"] * passes
    reminders = (passes - 1) // 3
    assert [spec for spec, _ in outcome.fired] == ["remind"] * reminders
    # Each reminder is due three days after the draft it belongs to became ready.
    readies = [_at(r) for kind, r in (s for s in outcome.seen if isinstance(s, tuple)) if kind == "reminded"]
    assert [_at(due) for _, due in outcome.fired] == [r + timedelta(days=3) for r in readies]
    # What a reminder path did reaches the final data (Spiff's end join merges it): scalars from the last one,
    # a list from the first one (DeepMerge keeps the first list's length).
    assert outcome.data == {"N": passes, "n": passes, "last_reminder": 3 * reminders, "reminder_log": [3]}


def test_parallel_loop_pruned_and_stock_runs_match(sqlite_url: str) -> None:
    pruned, stock = _compare(sqlite_url, "stress_parallel_loop", {"N": 60}, _parallel_script(60))
    _check_parallel(pruned, 60)
    assert stock.final_tasks > 10 * pruned.final_tasks


def test_parallel_loop_150_passes_stay_flat(sqlite_url: str) -> None:
    outcome = _run(sqlite_url, True, "stress_parallel_loop", {"N": 150}, _parallel_script(150))
    _check_parallel(outcome, 150)
    assert len(outcome.fired) == 49
    assert outcome.max_tasks < TREE_BOUND and outcome.verified


def test_one_early_reminder_does_not_stop_pruning(sqlite_url: str) -> None:
    """A reminder path that reached its end event once left a WAITING end join that held the cut above it."""

    def once(d: Driver) -> list[Any]:
        sizes = []
        for p in range(1, 81):
            for task in d.open():
                d.complete(task)
            if p == 1:
                d.advance(timedelta(days=4))
            sizes.append(d.task_count())
        return sizes

    outcome = _run(sqlite_url, True, "stress_parallel_loop", {"N": 80}, once)
    assert len(outcome.fired) == 1
    assert max(outcome.seen) < TREE_BOUND, outcome.seen  # before the fix: 11 more every pass, 883 at pass 80
    # ... and what that one reminder path wrote is still merged into the final data.
    assert outcome.data == {"N": 80, "n": 80, "last_reminder": 1, "reminder_log": [1]}


def test_parallel_join_waits_for_both_branches_whatever_the_order(sqlite_url: str) -> None:
    """Stock Spiff lets a later pass's join fire on an earlier pass's cancelled join; the pruned tree has none."""

    def alternate(d: Driver) -> list[Any]:
        seen = []
        for p in range(20):
            first, second = d.open()[:: 1 if p % 2 else -1]
            view = d.complete(first)
            seen.append(([t.task_spec for t in view.open_tasks], view.data["n"]))
            d.complete(second)
        return seen

    outcome = _run(sqlite_url, True, "stress_parallel_loop", {"N": 20}, alternate)
    assert outcome.seen == [(["check"] if p % 2 == 0 else ["draft"], p) for p in range(20)]
    assert outcome.status == "completed" and outcome.data["n"] == 20


# -- 2. embedded sub-process: a parallel multi-instance vote with an interrupting deadline ------------------


def _vote_script(passes: int) -> Script:
    def script(d: Driver) -> list[Any]:
        seen = []
        for p in range(1, passes + 1):
            votes = d.open()
            seen.append([(t.task_spec, t.assignee) for t in votes])
            assert [(t.task_spec, t.assignee) for t in votes] == [("vote", "li"), ("vote", "zhang")]
            if p % 7 == 0:
                zhang = votes[1]
                d.complete(zhang, {"ballot": True})
                assert d.advance(timedelta(days=11)).timers_fired == 1
                # The deadline interrupted the sub-process: li's vote is withdrawn from the inbox.
                assert d.service.task(votes[0].id).state == "cancelled"
                with pytest.raises(Conflict):
                    d.service.complete(votes[0].id, person_id="li", data={"ballot": True})
                [late] = d.open()
                seen.append((late.task_spec, late.role))
                d.complete(late, person="zhang")
            else:
                for vote in votes:
                    d.complete(vote, {"ballot": p % 2 == 0})
        return seen

    return script


def test_subprocess_vote_with_deadline_pruned_and_stock_runs_match(sqlite_url: str) -> None:
    passes, lates = 100, 100 // 7
    pruned, stock = _compare(sqlite_url, "stress_subprocess_vote", {"N": passes - lates, "voters": ["zhang", "li"]},
                             _vote_script(passes))
    assert pruned.status == "completed"
    assert pruned.data["n"] == passes - lates and pruned.data["lates"] == lates
    assert [spec for spec, _ in pruned.fired] == ["too_late"] * lates
    assert pruned.completed.count("late") == lates
    assert pruned.completed.count("vote") == 2 * (passes - lates) + lates
    assert stock.final_tasks > 10 * pruned.final_tasks


# -- 3. a cycle timer R3/P1W nagging a user task ---------------------------------------------------------


def _cycle_script(passes: int) -> Script:
    def script(d: Driver) -> list[Any]:
        seen = []
        for _ in range(passes):
            [report] = d.open()
            before = len([e for e in d.service.history(d.instance_id) if e.type == "timer_fired"])
            assert d.advance("P5W").timers_fired == 3
            fired = [e for e in d.service.history(d.instance_id) if e.type == "timer_fired"][before:]
            dues = [_at(e.payload["due"]) for e in fired]
            # Exactly three firings, a week apart, the first a week after the task became ready.
            assert dues == [report.ready_at + timedelta(weeks=k) for k in (1, 2, 3)]
            assert [e.at for e in fired] == dues  # advance steps the clock to each due time
            seen.append([d.isoformat() for d in dues])
            [same] = d.open()
            assert same.id == report.id  # non-interrupting: the task is still there
            d.complete(report)
        return seen

    return script


def test_cycle_timer_pruned_and_stock_runs_match(sqlite_url: str) -> None:
    pruned, _ = _compare(sqlite_url, "stress_cycle_timer", {"N": 20}, _cycle_script(20))
    assert pruned.status == "completed"
    assert len(pruned.fired) == 60 and {spec for spec, _ in pruned.fired} == {"nag"}
    assert pruned.data == {"N": 20, "n": 20, "last_nag": 19, "nag_rounds": [0]}


# -- 4. an event-based gateway choosing between two timers ------------------------------------------------


def _gateway_script(passes: int) -> Script:
    def script(d: Driver) -> list[Any]:
        seen = []
        for p in range(passes):
            [plan] = d.open()
            delay = "P2D" if p % 2 else "P6D"
            view = d.complete(plan, {"delay": delay})
            # Waiting at the gateway: the instance wakes at the earlier of its two timers.
            now = d.service.clock().now
            assert view.next_timer_due == now + timedelta(days=2 if delay == "P2D" else 5)
            assert d.service.instance(d.instance_id).next_timer_due == view.next_timer_due
            assert d.advance("P7D").timers_fired == 1
            data = d.service.instance(d.instance_id).data
            seen.append((delay, view.next_timer_due.isoformat(), data["shorts"], data["longs"]))
        return seen

    return script


def test_event_gateway_pruned_and_stock_runs_match(sqlite_url: str) -> None:
    pruned, _ = _compare(sqlite_url, "stress_event_gateway", {"N": 50}, _gateway_script(50))
    assert pruned.status == "completed"
    assert pruned.data["shorts"] == 25 and pruned.data["longs"] == 25
    # The P2D wait wins on odd passes, the P5D one (over P6D) on even passes.
    assert [s[2:] for s in pruned.seen[:4]] == [(0, 1), (1, 1), (1, 2), (2, 2)]
    assert [spec for spec, _ in pruned.fired] == ["wait"] * 50


@pytest.mark.parametrize("prune", [True, False])
def test_event_gateway_woken_late_takes_the_earlier_timer(sqlite_url: str, prune: bool) -> None:
    """Both timers past due at one tick (a worker that was down): the one due first wins, not the first listed."""
    d = _driver(sqlite_url, prune, "stress_event_gateway")
    d.instance_id = d.service.start("stress_event_gateway", org_unit_id="b1", data={"N": 1}).id
    [plan] = d.open()
    d.complete(plan, {"delay": "P6D"})
    d.clock.advance(timedelta(days=10))
    assert d.service.tick().timers_fired == 1
    done = d.service.instance(d.instance_id)
    assert done.status == "completed" and (done.data["shorts"], done.data["longs"]) == (0, 1)
    [fired] = [e for e in d.service.history(d.instance_id) if e.type == "timer_fired"]
    assert _at(fired.payload["due"]) == START + timedelta(days=5)


# -- 5. a call activity ------------------------------------------------------------------------------------


def _call_script(passes: int) -> Script:
    def script(d: Driver) -> list[Any]:
        seen = []
        for p in range(passes):
            view = d.service.instance(d.instance_id)
            assert view.open_tasks == []  # the called process waits on its timer
            assert view.next_timer_due == d.service.clock().now + timedelta(days=1)
            assert d.advance("P1D").timers_fired == 1
            [confirm] = d.open()
            seen.append((confirm.task_spec, view.next_timer_due.isoformat()))
            d.complete(confirm, {"amount": p})
        return seen

    return script


def test_call_activity_pruned_and_stock_runs_match(sqlite_url: str) -> None:
    pruned, stock = _compare(sqlite_url, "stress_call_activity", {"N": 50}, _call_script(50))
    assert pruned.status == "completed"
    assert pruned.data["n"] == 50 and pruned.data["waits"] == 50 and pruned.data["total"] == sum(range(50))
    assert [spec for spec, _ in pruned.fired] == ["cool_down"] * 50
    assert stock.final_tasks > 10 * pruned.final_tasks


def test_user_task_in_called_process_pruned_and_stock_runs_match(sqlite_url: str) -> None:
    def script(d: Driver) -> list[Any]:
        seen = []
        for p in range(50):
            [fill] = d.open()
            seen.append((fill.task_spec, fill.role))
            d.complete(fill, {"amount": p})
        return seen

    pruned, stock = _compare(sqlite_url, "stress_call_activity_user", {"N": 50}, script)
    assert pruned.status == "completed" and pruned.data["n"] == 50 and pruned.data["total"] == sum(range(50))
    assert pruned.seen == [("fill", "member")] * 50  # the called process's lane gives the role
    assert pruned.completed == ["fill"] * 50
    assert stock.final_tasks > 10 * pruned.final_tasks


# -- every fixture is a valid LeanFlow procedure ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("stress_*.bpmn")))
def test_stress_fixtures_lint_clean(sqlite_url: str, name: str) -> None:
    service = open_service(sqlite_url, clock=VirtualClock(datetime(2026, 3, 2, tzinfo=UTC)))
    report = service.lint_file(FIXTURES / f"{name}.bpmn")
    assert service.db_engine is not None
    service.db_engine.dispose()
    assert report.ok, report.issues
