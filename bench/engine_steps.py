"""Engine step bench: raw SpiffWorkflow vs LeanFlow persisted steps (SQLite, PostgreSQL), and the rework loop.

Run from the repository root:

    .venv/bin/python bench/engine_steps.py [--steps N] [--loop N] [--postgres URL] [--quick] [--profile]

Progress and human-readable figures go to stdout as the bench runs; the LAST line is one JSON object with
raw_steps_per_s, sqlite_steps_per_s, postgres_steps_per_s, ratio_sqlite_to_raw, step1_ms, step1000_ms, growth.

What is measured (one "step" = one user-task completion):

1. raw: in-memory SpiffWorkflow on a generated 25-user-task linear process (no database, no LeanFlow).
2. persisted, public call: ``WorkflowService.complete(task_id, person_id=..., data=...)`` as a caller sees it
   (load, authorise, validate, complete, run to the next wait state, project, prune, serialise, commit, and
   build the returned InstanceView; in the engine's first version the view was reloaded in a second
   transaction, since then it is built inside the same one).
3. persisted, transaction only: ``Runtime.complete`` inside ``with service.unit()``, i.e. without building
   the InstanceView (the one-row SELECT that finds the next task id is timed and subtracted).
4. the rework loop (tests/fixtures/rework_loop.bpmn) driven through the public call N times: per-step cost
   at the start and at the end, state size and task-tree size, final data n == N.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # type: ignore[import-untyped]  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]  # noqa: E402

from engine.loader import load_bpmn  # noqa: E402
from engine.sandbox import make_script_engine  # noqa: E402
from engine.service import WorkflowService, open_service  # noqa: E402
from engine.spiff.parser import parse_process  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOOP_FILE = ROOT / "tests" / "fixtures" / "rework_loop.bpmn"
PERSON = "li"  # holds role member at b1
# The org of the old tests/fixtures/org.yaml, cut to what the bench needs (kept here so the bench does not
# depend on where the demo data lives).
ORG_YAML = """\
units:
  - {id: c1, name: 某公司党委, kind: committee}
  - {id: b1, name: 第一党支部, kind: branch, parent: c1}
people:
  - id: li
    name: 李委员
    unit: b1
    membership: full
    roles: [{role: member, unit: b1}]
"""
UNIT = "b1"
LINEAR_TASKS = 25
LINEAR_ID = "linear25"
LOOP_ID = "rework_loop"

# Figures the issue and SPIFFWORKFLOW.md name.
BASE_SQLITE = 940  # reserialising the whole instance each step
BASE_PG = 300
TARGET_SQLITE = 1500
TARGET_PG = 800
RAW_LOW, RAW_HIGH = 3900, 6800
TARGET_GROWTH = 1.3


def code_fingerprint() -> str:
    """A short hash of engine/ and storage/ sources, so figures can be matched to the code they measured."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("engine", "storage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def say(text: str = "") -> None:
    print(text, flush=True)


# -- the generated process --------------------------------------------------------------------------------


def linear_bpmn(n: int = LINEAR_TASKS) -> str:
    """A linear process of n user tasks in one lane mapped to role member; each has a one-field form."""
    tasks = [f"t{i:02d}" for i in range(1, n + 1)]
    nodes = ["start", *tasks, "end"]
    refs = "\n".join(f"        <bpmn:flowNodeRef>{node}</bpmn:flowNodeRef>" for node in nodes)
    body = []
    for i, tid in enumerate(tasks, start=1):
        body.append(f"""    <bpmn:userTask id="{tid}" name="步骤 {i}">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="note" label="备注" type="string" />
        </camunda:formData>
        <camunda:properties><camunda:property name="lean_class" value="VA" /></camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>""")
    flows = [f'    <bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
             for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False), start=1)]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs_{LINEAR_ID}" targetNamespace="http://leanflow.example/bench">
  <bpmn:process id="{LINEAR_ID}" name="线性 {n} 步（基准）" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_member" name="党员">
        <bpmn:extensionElements>
          <camunda:properties><camunda:property name="role" value="member" /></camunda:properties>
        </bpmn:extensionElements>
{refs}
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
{chr(10).join(body)}
    <bpmn:endEvent id="end" />
{chr(10).join(flows)}
  </bpmn:process>
</bpmn:definitions>
"""


# -- 1. raw SpiffWorkflow ---------------------------------------------------------------------------------


def bench_raw(xml: str, instances: int) -> dict[str, Any]:
    """Complete every user task of `instances` fresh workflows in memory; steps/s = completions/s."""
    parsed = parse_process(load_bpmn(xml, filename=f"{LINEAR_ID}.bpmn"))
    if not hasattr(parsed, "spec"):
        raise SystemExit(f"the generated BPMN does not parse: {parsed}")

    def one() -> int:
        wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=make_script_engine())
        wf.do_engine_steps()
        done = 0
        while True:
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = ready[0]
            task.data.update({"note": "x"})
            task.run()
            wf.do_engine_steps()
            done += 1
        if not wf.is_completed() or done != LINEAR_TASKS:
            raise SystemExit(f"raw run ended after {done} steps, completed={wf.is_completed()}")
        return done

    for _ in range(3):  # warm-up
        one()
    per_instance = []
    steps = 0
    t_all = time.perf_counter()
    for i in range(instances):
        t0 = time.perf_counter()
        steps += one()
        per_instance.append(time.perf_counter() - t0)
        if (i + 1) % max(1, instances // 4) == 0:
            say(f"  raw: {i + 1}/{instances} instances")
    total = time.perf_counter() - t_all
    return {"steps": steps, "seconds": total, "steps_per_s": steps / total,
            "ms_per_instance": statistics.median(per_instance) * 1000}


# -- database set-up --------------------------------------------------------------------------------------


def prepare(service: WorkflowService, xml: str) -> None:
    service.import_org(ORG_YAML, "bench-org.yaml")
    service.deploy_bytes(xml.encode("utf-8"), f"{LINEAR_ID}.bpmn")
    service.deploy_file(LOOP_FILE)


@contextmanager
def sqlite_service(xml: str) -> Iterator[WorkflowService]:
    folder = tempfile.mkdtemp(prefix="leanflow-bench-")
    try:
        service = open_service(f"sqlite:///{folder}/bench.db")
        prepare(service, xml)
        yield service
        if service.db_engine is not None:
            service.db_engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_service(url: str, xml: str) -> Iterator[WorkflowService | None]:
    """A service on a fresh schema of the given database, dropped afterwards; None if unreachable."""
    from sqlalchemy import create_engine, text

    admin = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    schema = f"bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as bad:  # noqa: BLE001 - any failure to reach the server means "no PostgreSQL"
        say(f"  note: PostgreSQL at {url} is not reachable ({type(bad).__name__}: "
            f"{str(bad).splitlines()[0] if str(bad) else ''}); reporting null for it")
        admin.dispose()
        yield None
        return
    service = None
    try:
        service = open_service(_with_search_path(url, schema))
        prepare(service, xml)
        yield service
    finally:
        if service is not None and service.db_engine is not None:
            service.db_engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# -- 2./3. persisted steps --------------------------------------------------------------------------------


def _public_instance(service: WorkflowService) -> list[float]:
    """Start one linear instance and complete its tasks through the public call; return per-step seconds."""
    view = service.start(LINEAR_ID, org_unit_id=UNIT, actor=PERSON)
    times = []
    while view.open_tasks:
        task_id = view.open_tasks[0].id
        t0 = time.perf_counter()
        view = service.complete(task_id, person_id=PERSON, data={"note": "x"})
        times.append(time.perf_counter() - t0)
    if view.status != "completed" or len(times) != LINEAR_TASKS:
        raise SystemExit(f"instance {view.id} ended {view.status} after {len(times)} steps")
    return times


def _transaction_instance(service: WorkflowService) -> tuple[list[float], float]:
    """Same, but each step is only Runtime.complete inside one unit of work (no InstanceView reload).

    The next task id is read inside the same transaction with one indexed SELECT; its time is subtracted.
    """
    view = service.start(LINEAR_ID, org_unit_id=UNIT, actor=PERSON)
    instance_id = view.id
    task_id: int | None = view.open_tasks[0].id
    times = []
    lookup = 0.0
    while task_id is not None:
        t0 = time.perf_counter()
        with service.unit() as uow:
            service.runtime.complete(uow, task_id, PERSON, {"note": "x"})
            q0 = time.perf_counter()
            rows = uow.tasks.open_for_instance(instance_id)
            q = time.perf_counter() - q0
        times.append(time.perf_counter() - t0 - q)
        lookup += q
        task_id = rows[0][0] if rows else None
    with service.unit() as uow:
        status = uow.instances.row(instance_id).status
    if status != "completed" or len(times) != LINEAR_TASKS:
        raise SystemExit(f"instance {instance_id} ended {status} after {len(times)} steps")
    return times, lookup


def bench_persisted(service: WorkflowService, label: str, instances: int) -> dict[str, Any]:
    _public_instance(service)  # warm-up: definition cache, statement caches, connection pool
    _transaction_instance(service)
    public: list[float] = []
    for i in range(instances):
        public += _public_instance(service)
        if (i + 1) % max(1, instances // 4) == 0:
            say(f"  {label} public call: {i + 1}/{instances} instances")
    txn: list[float] = []
    lookups = 0.0
    for i in range(instances):
        times, q = _transaction_instance(service)
        txn += times
        lookups += q
        if (i + 1) % max(1, instances // 4) == 0:
            say(f"  {label} transaction only: {i + 1}/{instances} instances")
    return {
        "steps": len(public),
        "public_steps_per_s": len(public) / sum(public),
        "public_ms": statistics.mean(public) * 1000,
        "public_p50_ms": statistics.median(public) * 1000,
        "public_p95_ms": _pct(public, 95) * 1000,
        "txn_steps_per_s": len(txn) / sum(txn),
        "txn_ms": statistics.mean(txn) * 1000,
        "txn_p95_ms": _pct(txn, 95) * 1000,
        "lookup_ms": lookups / len(txn) * 1000,
    }


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# -- 4. the rework loop -----------------------------------------------------------------------------------


def _state_size(service: WorkflowService, instance_id: int) -> int:
    with service.unit() as uow:
        return len(uow.instances.state_json(instance_id) or "")


def _tree_size(service: WorkflowService, instance_id: int) -> int | None:
    hot = getattr(service.runtime, "_hot", {}).get(instance_id)
    if hot is None or not hasattr(hot[1], "task_count"):
        return None
    return int(hot[1].task_count())


def bench_loop(service: WorkflowService, label: str, passes: int,
               after_step: Callable[[int], None] | None = None, quiet: bool = False) -> dict[str, Any]:
    """Send the review back passes-1 times, then approve; time every public complete call."""
    # Start with n = 0: the first version of the fixture read n before setting it (harmless now).
    view = service.start(LOOP_ID, org_unit_id=UNIT, actor=PERSON, data={"n": 0})
    instance_id = view.id
    window = max(1, min(20, passes // 2))
    marks = sorted({1, window, 10, 100, 500, passes - 1, passes} & set(range(1, passes + 1)))
    sizes: dict[int, tuple[int, int | None]] = {}
    times: list[float] = []
    for step in range(1, passes + 1):
        if not view.open_tasks:
            raise SystemExit(f"{label} loop: no open task before step {step} (status {view.status})")
        task_id = view.open_tasks[0].id
        t0 = time.perf_counter()
        view = service.complete(task_id, person_id=PERSON, data={"approve": step == passes})
        times.append(time.perf_counter() - t0)
        if after_step is not None:
            after_step(step)
        if step in marks:
            sizes[step] = (_state_size(service, instance_id), _tree_size(service, instance_id))
        if not quiet and step % max(1, passes // 5) == 0:
            recent = statistics.mean(times[-window:]) * 1000
            size = f", state_json {sizes[step][0]:,} chars" if step in sizes else ""
            say(f"  {label} loop: step {step}/{passes}, last {window} steps {recent:.2f} ms/step{size}")
    first = statistics.mean(times[:window]) * 1000
    last = statistics.mean(times[-window:]) * 1000
    return {
        "passes": passes, "window": window, "first_ms": first, "last_ms": last, "growth": last / first,
        "status": view.status, "n": view.data.get("n"), "sizes": sizes,
        "max_ms": max(times) * 1000, "median_ms": statistics.median(times) * 1000,
        "first_median_ms": statistics.median(times[:window]) * 1000,
        "last_median_ms": statistics.median(times[-window:]) * 1000,
    }


# -- profiling (optional) ---------------------------------------------------------------------------------


def _instrument(labels: dict[str, float], counts: dict[str, int]) -> Callable[[], None]:
    """Wrap engine functions in this process only (no file changes) to time the phases of a step."""
    import sqlalchemy.orm.session as orm_session

    import engine.runtime as rt
    import engine.service as svc
    import engine.spiff.runner as rn
    import engine.spiff.serializer as ser
    import engine.unit_of_work as uw
    import storage.repositories as rep

    targets: list[tuple[Any, str, str]] = [
        (svc.WorkflowService, "complete", "service.complete (whole public call)"),
        (svc.WorkflowService, "instance", "  service.instance (view in own txn)"),
        (svc.WorkflowService, "_instance_in", "  service._instance_in (build view)"),
        (rep.TaskRepository, "for_instance", "  tasks.for_instance (ORM rows for view)"),
        (svc.WorkflowService, "_now", "  service._now (clock lookup)"),
        (rt.Runtime, "complete", "  runtime.complete (inside txn)"),
        (rt.Runtime, "_open_task", "    _open_task (ORM get)"),

        (rt.Runtime, "authorize", "    authorize (person + roles)"),
        (rt.Runtime, "load", "    runtime.load (row + hot cache)"),
        (rt, "validate_form", "    validate_form"),
        (rt.Runtime, "_attach", "    _attach (new script engine)"),
        (rn.Runner, "complete", "    Runner.complete (spiff run + diff)"),
        (rn.Runner, "_engine_steps", "      do_engine_steps loop"),
        (rn.Runner, "_changes", "      _changes (tree diff)"),
        (rn, "_snapshot", "      _snapshot"),
        (rt.Runtime, "_apply", "    runtime._apply"),
        (rep.TaskRepository, "open_for_instance", "      tasks.open_for_instance"),
        (rn.Runner, "prune", "      prune"),
        (ser.Serializer, "state_to_json", "      state_to_json"),
        (rn.Runner, "next_due", "      next_due"),
        (uw.UnitOfWork, "take_instance_history", "      take_instance_history (hash chain)"),
        (uw.UnitOfWork, "flush_history", "      flush_history (hash chain)"),
        (orm_session.SessionTransaction, "commit", "  COMMIT (every txn)"),
    ]
    originals = []
    for owner, name, label in targets:
        original = getattr(owner, name, None)
        if original is None:  # the engine changed; skip what no longer exists
            continue
        originals.append((owner, name, original))

        def wrapper(*args: Any, __original: Any = original, __label: str = label, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return __original(*args, **kwargs)
            finally:
                labels[__label] += time.perf_counter() - t0
                counts[__label] += 1

        setattr(owner, name, wrapper)
        labels[label] = 0.0

    def restore() -> None:
        for owner, name, original in originals:
            setattr(owner, name, original)

    return restore


@contextmanager
def _sql_counter(db_engine: Any) -> Iterator[dict[str, list[float]]]:
    """Count and time the statements the DB-API cursor executes, keyed by their first words."""
    from sqlalchemy import event

    stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    started: list[float] = []

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        elapsed = time.perf_counter() - started.pop()
        key = " ".join(statement.split())
        key = key[:90] + ("..." if len(key) > 90 else "")
        stats[key][0] += 1
        stats[key][1] += elapsed

    event.listen(db_engine, "before_cursor_execute", before)
    event.listen(db_engine, "after_cursor_execute", after)
    try:
        yield stats
    finally:
        event.remove(db_engine, "before_cursor_execute", before)
        event.remove(db_engine, "after_cursor_execute", after)


def profile(xml: str, instances: int, loop: int) -> None:
    say("")
    say(f"== profile: {instances} instances x {LINEAR_TASKS} public complete calls on SQLite ==")
    with sqlite_service(xml) as service:
        _public_instance(service)
        labels: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        restore = _instrument(labels, counts)
        try:
            for _ in range(instances):
                _public_instance(service)
        finally:
            restore()
        steps = instances * LINEAR_TASKS
        with _sql_counter(service.db_engine) as sql:
            t0 = time.perf_counter()
            for _ in range(instances):
                _public_instance(service)
            wall = time.perf_counter() - t0
        n_sql = sum(v[0] for v in sql.values())
        t_sql = sum(v[1] for v in sql.values())
        say(f"SQL per public step: {n_sql / steps:.1f} statements, {t_sql / steps * 1000:.3f} ms inside the "
            f"DB-API cursor, of {wall / steps * 1000:.3f} ms per step (the rest is Python: SQLAlchemy, engine, "
            f"Spiff); the {steps // LINEAR_TASKS} service.start calls are included")
        for key, (count, spent) in sorted(sql.items(), key=lambda kv: -kv[1][1])[:12]:
            say(f"  {count / steps:5.2f}/step {spent / steps * 1000:6.3f} ms  {key}")
        say(f"phase breakdown (inclusive ms per step; indentation = usual nesting; a phase with 0.0 calls/step "
            f"is not on this path in the current code; wrappers add ~1 us per call; {steps} steps):")
        for label, total in labels.items():
            say(f"  {label:<44} {total / steps * 1000:7.3f} ms   ({counts[label] / steps:.1f} calls/step)")

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(instances):
            _public_instance(service)
        profiler.disable()
    _profile_loop(xml, loop, labels, counts)
    for key, title in (("cumulative", "cumulative"), ("tottime", "own time")):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(key).print_stats(25)
        say(f"cProfile, top 25 by {title} ({steps} steps; times inflated by the profiler):")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
        for line in lines[start:]:
            if line.strip():
                say("  " + line.replace(str(ROOT) + os.sep, "").replace(sys.prefix, "<venv>"))


def _profile_loop(xml: str, passes: int, labels: dict[str, float], counts: dict[str, int]) -> None:
    """Phase breakdown of the rework loop's first and last steps: which phase grows."""
    window = max(1, min(20, passes // 2))
    snaps: dict[int, dict[str, float]] = {}
    say("")
    say(f"== profile: rework loop on SQLite, {passes} passes, phases of steps 1-{window} vs "
        f"{passes - window + 1}-{passes} ==")
    with sqlite_service(xml) as service:
        labels.clear()
        counts.clear()
        restore = _instrument(labels, counts)
        snaps[0] = dict(labels)

        def after(step: int) -> None:
            if step in (window, passes - window, passes):
                snaps[step] = dict(labels)

        try:
            bench_loop(service, "profile", passes, after_step=after, quiet=True)
        finally:
            restore()
    first = {k: (snaps[window][k] - snaps[0][k]) / window * 1000 for k in labels}
    last = {k: (snaps[passes][k] - snaps[passes - window][k]) / window * 1000 for k in labels}
    say(f"  {'phase (inclusive ms per step)':<44} {'first':>8} {'last':>8} {'growth':>7}")
    for k in labels:
        grow = f"x{last[k] / first[k]:.1f}" if first[k] > 0.0005 else "-"
        say(f"  {k:<44} {first[k]:8.3f} {last[k]:8.3f} {grow:>7}")


# -- report -----------------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "/s") -> str:
    return "n/a" if value is None else f"{value:,.0f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500,
                        help="persisted steps per backend (rounded up to whole 25-step instances; default 500)")
    parser.add_argument("--loop", type=int, default=1000, help="passes through the rework loop (default 1000)")
    parser.add_argument("--raw", type=int, default=200, help="raw in-memory instances (default 200)")
    parser.add_argument("--postgres", default=DEFAULT_PG, help=f"PostgreSQL URL (default {DEFAULT_PG}); "
                        "'none' to skip")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 steps, loop of 100, 40 raw")
    parser.add_argument("--profile", action="store_true",
                        help="also profile ~500 SQLite public steps (phase breakdown + cProfile)")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.loop, args.raw = min(args.steps, 100), min(args.loop, 100), min(args.raw, 40)
    instances = max(1, -(-args.steps // LINEAR_TASKS))
    if args.loop < 2:
        parser.error("--loop must be at least 2")
    if not LOOP_FILE.exists():
        raise SystemExit(f"{LOOP_FILE} is missing; the rework-loop bench needs it")
    xml = linear_bpmn()
    t_start = time.perf_counter()
    say(f"engine step bench: python {sys.version.split()[0]}, {instances} x {LINEAR_TASKS} persisted steps "
        f"per backend, loop of {args.loop}, {args.raw} raw instances; engine+storage code {code_fingerprint()}")

    say("")
    say(f"== 1. raw SpiffWorkflow, in memory ({args.raw} x {LINEAR_TASKS} steps) ==")
    raw = bench_raw(xml, args.raw)
    say(f"raw: {raw['steps_per_s']:,.0f} steps/s ({raw['ms_per_instance']:.2f} ms per {LINEAR_TASKS}-step "
        f"instance, median)")

    results: dict[str, dict[str, Any] | None] = {"sqlite": None, "postgres": None}
    loops: dict[str, dict[str, Any] | None] = {"sqlite": None, "postgres": None}

    say("")
    say(f"== 2a. LeanFlow on SQLite (temp file, WAL): {instances} x {LINEAR_TASKS} steps ==")
    with sqlite_service(xml) as service:
        results["sqlite"] = bench_persisted(service, "sqlite", instances)
        _print_persisted("sqlite", results["sqlite"])
        say("")
        say(f"== 2b. rework loop on SQLite: {args.loop} passes ==")
        loops["sqlite"] = bench_loop(service, "sqlite", args.loop)
        _print_loop("sqlite", loops["sqlite"])

    say("")
    if args.postgres.lower() == "none":
        say("== 3. PostgreSQL skipped (--postgres none) ==")
    else:
        say(f"== 3a. LeanFlow on PostgreSQL (fresh schema): {instances} x {LINEAR_TASKS} steps ==")
        with postgres_service(args.postgres, xml) as pg:
            if pg is not None:
                results["postgres"] = bench_persisted(pg, "postgres", instances)
                _print_persisted("postgres", results["postgres"])
                say("")
                say(f"== 3b. rework loop on PostgreSQL: {args.loop} passes ==")
                loops["postgres"] = bench_loop(pg, "postgres", args.loop)
                _print_loop("postgres", loops["postgres"])

    sq, pg_res, lp = results["sqlite"], results["postgres"], loops["sqlite"]
    assert sq is not None and lp is not None
    say("")
    say("== 4. side by side (steps/s = user-task completions per second) ==")
    rows = [
        ("raw SpiffWorkflow, in memory", _fmt(raw["steps_per_s"]), f"{RAW_LOW:,}-{RAW_HIGH:,}/s (SPIFFWORKFLOW.md §4)",
         "-"),
        ("SQLite, public complete()", _fmt(sq["public_steps_per_s"]), f"{BASE_SQLITE}/s (reserialise all)",
         _verdict(sq["public_steps_per_s"], TARGET_SQLITE)),
        ("SQLite, transaction only", _fmt(sq["txn_steps_per_s"]), f"{BASE_SQLITE}/s",
         _verdict(sq["txn_steps_per_s"], TARGET_SQLITE)),
        ("PostgreSQL, public complete()", _fmt(pg_res and pg_res["public_steps_per_s"]),
         f"{BASE_PG}/s (reserialise all)", _verdict(pg_res and pg_res["public_steps_per_s"], TARGET_PG)),
        ("PostgreSQL, transaction only", _fmt(pg_res and pg_res["txn_steps_per_s"]), f"{BASE_PG}/s",
         _verdict(pg_res and pg_res["txn_steps_per_s"], TARGET_PG)),
        (f"rework loop growth (step {lp['passes']} / step 1)", f"x{lp['growth']:.2f}",
         "x44 by pass 60, crash ~162 (stock)", _verdict_growth(lp["growth"])),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measurement", "measured", "baseline", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    say("  " + "  ".join("-" * w for w in widths))
    for row in rows:
        say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    say(f"  targets: >= {TARGET_SQLITE:,} persisted steps/s on SQLite, >= {TARGET_PG:,} on PostgreSQL, "
        f"loop growth <= {TARGET_GROWTH}")
    say(f"  SQLite public call / raw: {sq['public_steps_per_s'] / raw['steps_per_s']:.3f}")

    if args.profile:
        profile(xml, max(1, 500 // LINEAR_TASKS) if not args.quick else 2, args.loop)

    say("")
    say(f"total bench time {time.perf_counter() - t_start:.1f} s")
    print(json.dumps({
        "raw_steps_per_s": round(raw["steps_per_s"], 1),
        "sqlite_steps_per_s": round(sq["public_steps_per_s"], 1),
        "postgres_steps_per_s": round(pg_res["public_steps_per_s"], 1) if pg_res else None,
        "ratio_sqlite_to_raw": round(sq["public_steps_per_s"] / raw["steps_per_s"], 4),
        "step1_ms": round(lp["first_ms"], 3),
        "step1000_ms": round(lp["last_ms"], 3),
        "growth": round(lp["growth"], 3),
    }), flush=True)


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return f">= {target:,} (not run)"
    return f">= {target:,}: {'met' if value >= target else 'MISSED'}"


def _verdict_growth(growth: float) -> str:
    return f"<= {TARGET_GROWTH}: {'met' if growth <= TARGET_GROWTH else 'MISSED'}"


def _print_persisted(label: str, r: dict[str, Any]) -> None:
    say(f"{label} public complete() (the whole call, InstanceView included): "
        f"{r['public_steps_per_s']:,.0f} steps/s, mean {r['public_ms']:.2f} ms, p50 {r['public_p50_ms']:.2f} ms, "
        f"p95 {r['public_p95_ms']:.2f} ms over {r['steps']} steps")
    say(f"{label} transaction only (Runtime.complete in one unit of work, commit included): "
        f"{r['txn_steps_per_s']:,.0f} steps/s, mean {r['txn_ms']:.2f} ms, p95 {r['txn_p95_ms']:.2f} ms "
        f"(next-task SELECT {r['lookup_ms']:.3f} ms/step excluded)")


def _print_loop(label: str, r: dict[str, Any]) -> None:
    w = r["window"]
    say(f"{label} loop: steps 1-{w}: {r['first_ms']:.2f} ms/step; steps {r['passes'] - w + 1}-{r['passes']}: "
        f"{r['last_ms']:.2f} ms/step; growth x{r['growth']:.2f} (target <= {TARGET_GROWTH}); "
        f"median {r['median_ms']:.2f} ms, max {r['max_ms']:.2f} ms")
    say(f"{label} loop: window medians (robust to single outliers such as a WAL checkpoint): "
        f"{r['first_median_ms']:.2f} -> {r['last_median_ms']:.2f} ms, "
        f"x{r['last_median_ms'] / r['first_median_ms']:.2f}")
    say(f"{label} loop: instance {r['status']}, data n = {r['n']} (expected {r['passes']}: "
        f"{'ok' if r['status'] == 'completed' and r['n'] == r['passes'] else 'WRONG'})")
    for step, (size, tree) in r["sizes"].items():
        say(f"{label} loop: after step {step:>5}: state_json {size:,} chars, task tree {tree} tasks")


if __name__ == "__main__":
    main()
