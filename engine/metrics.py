"""Step and procedure metrics (ANALYTICS.md §2.5, §3) computed from the history's events, never from Spiff state.

Scope: the instances of one procedure (optionally one definition version) whose org unit lies in a subtree and
which started in [start, end). Instance metadata (procedure, version, org unit, start) selects the scope; every
time comes from the event table.

Definitions (all durations in calendar hours unless named otherwise):

* visit: one ``task_ready`` of a user task; the visit ends at its ``task_completed`` or ``task_cancelled``.
* queue time: ready → pickup, where pickup is the claim in force when work started (a ``task_claimed`` not undone
  by ``task_unclaimed``; a task offered with an assignee counts as claimed at ready) if it came before the open;
  otherwise the first ``task_opened``; otherwise the ``task_completed``.
* hold time: claim in force → first ``task_opened``; only for visits claimed before being opened.
* touch time: first ``task_opened`` → ``task_completed``. A visit completed without an open has unknown touch
  (and, when claimed, unknown hold): it is left out of those statistics and counted in ``touch_unknown``.
* frequency: completed visits. Only completed visits feed queue, hold and touch.
* SLA breach: a visit with a ``due_at`` (from ``task_ready``) completed after it ("late"), or neither completed nor
  cancelled and past it at ``now`` ("overdue"). Share = breaches / visits with a due date (cancelled ones excluded).
* rework: a step with more than one visit in one instance; extra visits = visits − 1 per such instance and step.
* lead time: ``instance_started`` → ``instance_completed`` (cancelled instances are counted, not timed).
* window: [start or the first start in scope, min(end, now)); throughput = completions in the window / its weeks.
* WIP: instances started and not yet completed or cancelled. The daily series uses the calendar's time zone (Beijing)
  and gives, per day, the WIP at the day's end (or at the window end) and the time-weighted average over the day.
* first-pass yield: completed instances with no step visited twice and no ``check_failed`` / completed instances.
* PCE: per completed instance, Σ touch of VA visits / lead time, averaged; %activity the same over all visits.
  Unknown touch counts as zero there (so both are lower bounds when ``touch_unknown`` > 0).
* Little's law over the window: L = ∫WIP dt / window length; λ = completions in window / window length;
  W = mean lead of those completions; reported are L, λ·W and L / (λ·W).
* percentiles: linear interpolation between closest ranks (numpy's default); p90 of one value is that value.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from engine.errors import NotFound
from engine.unit_of_work import UnitOfWork
from storage.repositories import MetricsRepository

HOUR = timedelta(hours=1)


# -- result types -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Median, p90 and mean of some values, with the instances they came from."""

    count: int
    median: float | None
    p90: float | None
    mean: float | None
    unit: str = "hours"
    instance_ids: tuple[int, ...] = ()
    values: tuple[float, ...] = ()  # the samples themselves, for distributions (e.g. the lead-time histogram)


@dataclass(frozen=True)
class SlaBreach:
    """One visit that missed its due date."""

    instance_id: int
    task_id: str | None
    spec: str
    due_at: datetime
    completed_at: datetime | None
    kind: str  # "late" (completed after due) or "overdue" (still open past due)
    hours_over: float


@dataclass(frozen=True)
class StepMetrics:
    """Metrics of one step (task spec) of the procedure."""

    spec: str
    name: str | None
    lean_class: str | None
    visits: int
    frequency: int  # completed visits
    cancelled: int
    open: int
    instance_ids: tuple[int, ...]  # instances with a completed visit of the step
    queue: Stats
    hold: Stats
    touch: Stats
    touch_unknown: int
    touch_unknown_instance_ids: tuple[int, ...]
    sla_with_due: int
    sla_breaches: int
    sla_breach_share: float | None
    breaches: tuple[SlaBreach, ...]
    rework_instances: int
    rework_extra_visits: int
    rework_instance_ids: tuple[int, ...]
    check_failed: int
    check_failed_instance_ids: tuple[int, ...]
    escalations: int
    escalation_instance_ids: tuple[int, ...]


@dataclass(frozen=True)
class WipPoint:
    """WIP on one calendar day: at the day's end (or the window's end) and time-weighted over the day."""

    day: date
    wip_end: int
    wip_average: float


@dataclass(frozen=True)
class LittlesLaw:
    """Both sides of L = λ·W over the window."""

    window_hours: float
    average_wip: float | None  # L
    throughput_per_hour: float | None  # λ
    average_lead_hours: float | None  # W
    predicted_wip: float | None  # λ·W
    ratio: float | None  # L / (λ·W)
    completed_in_window: int


@dataclass(frozen=True)
class ProcedureMetrics:
    """Metrics of one procedure over a scope, with every step's metrics."""

    process_id: str
    definition_id: int | None
    org_unit_id: str | None
    start: datetime | None
    end: datetime | None
    now: datetime
    window_start: datetime
    window_end: datetime
    instances: int
    instance_ids: tuple[int, ...]
    completed: int
    completed_ids: tuple[int, ...]
    cancelled: int
    cancelled_ids: tuple[int, ...]
    wip_now: int
    running_ids: tuple[int, ...]
    lead_time: Stats
    lead_working_days: Stats
    weeks: float
    throughput_per_week: float | None
    wip_series: tuple[WipPoint, ...]
    first_pass_yield: float | None
    first_pass_ids: tuple[int, ...]
    pce: float | None
    activity: float | None
    littles_law: LittlesLaw
    steps: tuple[StepMetrics, ...]
    notes: tuple[str, ...] = ()

    def step(self, spec: str) -> StepMetrics:
        """The metrics of one step by its spec name."""
        for s in self.steps:
            if s.spec == spec:
                return s
        raise KeyError(spec)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times and dates as ISO text, tuples as lists)."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# -- statistics ---------------------------------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation between closest ranks; None of nothing."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats(samples: list[tuple[int, float]], unit: str = "hours") -> Stats:
    """Stats of (instance id, value) samples."""
    values = [v for _, v in samples]
    return Stats(
        count=len(values),
        median=percentile(values, 50),
        p90=percentile(values, 90),
        mean=sum(values) / len(values) if values else None,
        unit=unit,
        instance_ids=tuple(sorted({i for i, _ in samples})),
        values=tuple(values),
    )


def hours(a: datetime, b: datetime) -> float:
    """Calendar hours from a to b."""
    return (b - a) / HOUR


# -- reconstruction from events -----------------------------------------------------------------------------------


@dataclass
class _Visit:
    instance_id: int
    task_id: str | None
    spec: str
    name: str | None
    lean_class: str | None
    ready_at: datetime
    due_at: datetime | None
    claimed_at: datetime | None = None
    pickup_claim: datetime | None = None  # the claim in force when work started
    opened_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None


@dataclass
class _Case:
    id: int
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    visits: list[_Visit] = field(default_factory=list)
    check_failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    escalations: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def ended_at(self) -> datetime | None:
        return self.completed_at or self.cancelled_at


def _parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _replay(instance_id: int, events: list[Any]) -> _Case:
    """Rebuild one instance's visits from its events (in id order)."""
    case = _Case(instance_id)
    current: dict[str | None, _Visit] = {}  # the open visit per spiff task id
    for ev in events:
        payload = ev.payload or {}
        kind = ev.type
        if kind == "instance_started":
            case.started_at = ev.at
        elif kind == "instance_completed":
            case.completed_at = ev.at
        elif kind == "instance_cancelled":
            case.cancelled_at = ev.at
        elif kind == "task_ready":
            visit = _Visit(instance_id, ev.task_id, str(payload.get("spec")), payload.get("name"),
                           payload.get("lean_class"), ev.at, _parse_time(payload.get("due_at")))
            if payload.get("assignee"):
                visit.claimed_at = ev.at  # offered straight to its assignee
            case.visits.append(visit)
            current[ev.task_id] = visit
        elif kind == "check_failed":
            case.check_failed[str(payload.get("spec"))] += 1
        elif kind == "escalation":
            case.escalations[str(payload.get("attached_to"))] += 1
        elif (visit := current.get(ev.task_id)) is not None:
            if kind == "task_claimed":
                visit.claimed_at = ev.at
            elif kind == "task_unclaimed":
                visit.claimed_at = None
            elif kind == "task_opened" and visit.opened_at is None:
                visit.opened_at = ev.at
                visit.pickup_claim = visit.claimed_at
            elif kind == "task_completed":
                visit.completed_at = ev.at
                if visit.opened_at is None:
                    visit.pickup_claim = visit.claimed_at
                del current[ev.task_id]
            elif kind == "task_cancelled":
                visit.cancelled_at = ev.at
                del current[ev.task_id]
    return case


# -- the computation ----------------------------------------------------------------------------------------------


def compute_metrics(uow: UnitOfWork, *, process_id: str, org_unit_id: str | None = None,
                    start: datetime | None = None, end: datetime | None = None, now: datetime,
                    definition_id: int | None = None) -> ProcedureMetrics:
    """Compute step and procedure metrics of a procedure from the event table (see the module docstring)."""
    repo = MetricsRepository(uow.session)
    if uow.definitions.latest(process_id) is None:
        raise NotFound(f"procedure {process_id} is not deployed")
    path = None
    if org_unit_id is not None:
        path = repo.unit_path(org_unit_id)
        if path is None:
            raise NotFound(f"org unit {org_unit_id} does not exist")
    scope = repo.instances_in_scope(process_id, definition_id=definition_id, path_prefix=path, start=start, end=end)
    by_instance: dict[int, list[Any]] = defaultdict(list)
    for ev in repo.instance_events([r.id for r in scope]):
        by_instance[ev.instance_id].append(ev)
    cases = [_replay(r.id, by_instance.get(r.id, [])) for r in scope]
    # Events recorded after `now` (a report "as of" an earlier instant) are not yet known.
    cases = [_as_of(c, now) for c in cases]
    cases = [c for c in cases if c.started_at is not None]

    notes: list[str] = []
    steps = tuple(_step_metrics(spec, cases, now) for spec in _specs_in_order(cases))
    unknown = sum(s.touch_unknown for s in steps)
    if unknown:
        notes.append(f"{unknown} completed visit(s) were never opened: their touch (and hold) time is unknown, "
                     "left out of touch statistics and counted as zero in PCE and %activity")

    completed = [c for c in cases if c.completed_at is not None]
    cancelled = [c for c in cases if c.cancelled_at is not None]
    running = [c for c in cases if c.ended_at is None]
    lead = [(c.id, hours(c.started_at, c.completed_at)) for c in completed]  # type: ignore[arg-type]
    tz = uow.calendar.tz
    lead_days = [(c.id, float(uow.calendar.working_days_between(c.started_at.astimezone(tz).date(),  # type: ignore
                                                                c.completed_at.astimezone(tz).date())[0]))  # type: ignore
                 for c in completed]

    window_start = start if start is not None else min((c.started_at for c in cases), default=now)  # type: ignore
    window_end = min(end, now) if end is not None else now
    window_end = max(window_end, window_start)
    window_hours = hours(window_start, window_end)
    weeks = window_hours / (24 * 7)
    in_window = [c for c in completed if window_start <= c.completed_at < window_end]  # type: ignore[operator]
    throughput = len(in_window) / weeks if weeks > 0 else None

    first_pass = [c for c in completed if not _reworked(c) and not any(c.check_failed.values())]
    fpy = len(first_pass) / len(completed) if completed else None
    pce_values, act_values = [], []
    for c in completed:
        lt = hours(c.started_at, c.completed_at)  # type: ignore[arg-type]
        if lt <= 0:
            continue
        done = [v for v in c.visits if v.completed_at is not None and v.opened_at is not None]
        pce_values.append(sum(hours(v.opened_at, v.completed_at) for v in done if v.lean_class == "VA") / lt)
        act_values.append(sum(hours(v.opened_at, v.completed_at) for v in done) / lt)  # type: ignore[arg-type]
    if not any(v.lean_class for c in cases for v in c.visits):
        notes.append("no step carries a lean class, so PCE is zero; see %activity")

    area = sum(_overlap_hours(c, window_start, window_end, now) for c in cases)
    average_wip = area / window_hours if window_hours > 0 else None
    lam = len(in_window) / window_hours if window_hours > 0 else None
    w = sum(hours(c.started_at, c.completed_at) for c in in_window) / len(in_window) if in_window else None  # type: ignore
    predicted = lam * w if lam is not None and w is not None else None
    little = LittlesLaw(window_hours, average_wip, lam, w, predicted,
                        average_wip / predicted if average_wip is not None and predicted else None, len(in_window))
    if cancelled:
        notes.append(f"{len(cancelled)} cancelled instance(s) count in WIP while running but not in lead time or "
                     "throughput (Little's law needs a yield-loss adjustment for them)")

    return ProcedureMetrics(
        process_id=process_id, definition_id=definition_id, org_unit_id=org_unit_id, start=start, end=end, now=now,
        window_start=window_start, window_end=window_end,
        instances=len(cases), instance_ids=tuple(c.id for c in cases),
        completed=len(completed), completed_ids=tuple(c.id for c in completed),
        cancelled=len(cancelled), cancelled_ids=tuple(c.id for c in cancelled),
        wip_now=len(running), running_ids=tuple(c.id for c in running),
        lead_time=stats(lead), lead_working_days=stats(lead_days, "working days"),
        weeks=weeks, throughput_per_week=throughput,
        wip_series=_wip_series(cases, window_start, window_end, now, tz),
        first_pass_yield=fpy, first_pass_ids=tuple(c.id for c in first_pass),
        pce=sum(pce_values) / len(pce_values) if pce_values else None,
        activity=sum(act_values) / len(act_values) if act_values else None,
        littles_law=little, steps=steps, notes=tuple(notes),
    )


def _as_of(case: _Case, now: datetime) -> _Case:
    """Forget what happened after now (for a report as of an earlier instant)."""
    if case.started_at is not None and case.started_at > now:
        case.started_at = None
        return case
    if case.completed_at is not None and case.completed_at > now:
        case.completed_at = None
    if case.cancelled_at is not None and case.cancelled_at > now:
        case.cancelled_at = None
    case.visits = [v for v in case.visits if v.ready_at <= now]
    for v in case.visits:
        for name in ("claimed_at", "pickup_claim", "opened_at", "completed_at", "cancelled_at"):
            value = getattr(v, name)
            if value is not None and value > now:
                setattr(v, name, None)
    return case


def _specs_in_order(cases: list[_Case]) -> list[str]:
    first_seen: dict[str, datetime] = {}
    for c in cases:
        for v in c.visits:
            if v.spec not in first_seen or v.ready_at < first_seen[v.spec]:
                first_seen[v.spec] = v.ready_at
    return sorted(first_seen, key=lambda s: (first_seen[s], s))


def _reworked(case: _Case) -> bool:
    counts: dict[str, int] = defaultdict(int)
    for v in case.visits:
        counts[v.spec] += 1
    return any(n > 1 for n in counts.values())


def _step_metrics(spec: str, cases: list[_Case], now: datetime) -> StepMetrics:
    visits = [v for c in cases for v in c.visits if v.spec == spec]
    done = [v for v in visits if v.completed_at is not None]
    queue, hold, touch, unknown = [], [], [], []
    for v in done:
        assert v.completed_at is not None
        claim = v.pickup_claim
        if claim is not None and (v.opened_at is None or claim <= v.opened_at):
            pickup = claim
        else:
            claim = None
            pickup = v.opened_at or v.completed_at
        queue.append((v.instance_id, hours(v.ready_at, pickup)))
        if v.opened_at is None:
            unknown.append(v.instance_id)
            continue
        if claim is not None:
            hold.append((v.instance_id, hours(claim, v.opened_at)))
        touch.append((v.instance_id, hours(v.opened_at, v.completed_at)))
    breaches = []
    with_due = [v for v in visits if v.due_at is not None and v.cancelled_at is None]
    for v in with_due:
        assert v.due_at is not None
        if v.completed_at is not None and v.completed_at > v.due_at:
            breaches.append(SlaBreach(v.instance_id, v.task_id, spec, v.due_at, v.completed_at, "late",
                                      hours(v.due_at, v.completed_at)))
        elif v.completed_at is None and now > v.due_at:
            breaches.append(SlaBreach(v.instance_id, v.task_id, spec, v.due_at, None, "overdue",
                                      hours(v.due_at, now)))
    per_instance: dict[int, int] = defaultdict(int)
    for v in visits:
        per_instance[v.instance_id] += 1
    rework = {i: n - 1 for i, n in per_instance.items() if n > 1}
    failed = {c.id: c.check_failed[spec] for c in cases if c.check_failed.get(spec)}
    escalated = {c.id: c.escalations[spec] for c in cases if c.escalations.get(spec)}
    latest = max(visits, key=lambda v: v.ready_at)
    return StepMetrics(
        spec=spec, name=latest.name, lean_class=latest.lean_class,
        visits=len(visits), frequency=len(done),
        cancelled=sum(1 for v in visits if v.cancelled_at is not None),
        open=sum(1 for v in visits if v.completed_at is None and v.cancelled_at is None),
        instance_ids=tuple(sorted({v.instance_id for v in done})),
        queue=stats(queue), hold=stats(hold), touch=stats(touch),
        touch_unknown=len(unknown), touch_unknown_instance_ids=tuple(sorted(set(unknown))),
        sla_with_due=len(with_due), sla_breaches=len(breaches),
        sla_breach_share=len(breaches) / len(with_due) if with_due else None,
        breaches=tuple(breaches),
        rework_instances=len(rework), rework_extra_visits=sum(rework.values()),
        rework_instance_ids=tuple(sorted(rework)),
        check_failed=sum(failed.values()), check_failed_instance_ids=tuple(sorted(failed)),
        escalations=sum(escalated.values()), escalation_instance_ids=tuple(sorted(escalated)),
    )


def _overlap_hours(case: _Case, a: datetime, b: datetime, now: datetime) -> float:
    """Hours the case was in progress within [a, b)."""
    assert case.started_at is not None
    lo = max(case.started_at, a)
    hi = min(case.ended_at or now, b)
    return max(hours(lo, hi), 0.0)


def _wip_series(cases: list[_Case], a: datetime, b: datetime, now: datetime, tz: Any) -> tuple[WipPoint, ...]:
    if b <= a:
        return ()
    points = []
    day = a.astimezone(tz).date()
    last = (b - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        lo = max(datetime.combine(day, time(), tz), a)
        hi = min(datetime.combine(day + timedelta(days=1), time(), tz), b)
        wip_end = sum(1 for c in cases if c.started_at <= hi  # type: ignore[operator]
                      and (c.ended_at is None or c.ended_at > hi))
        span = hours(lo, hi)
        area = sum(_overlap_hours(c, lo, hi, now) for c in cases)
        points.append(WipPoint(day, wip_end, area / span if span > 0 else 0.0))
        day += timedelta(days=1)
    return tuple(points)


__all__ = [
    "LittlesLaw", "ProcedureMetrics", "SlaBreach", "Stats", "StepMetrics", "WipPoint", "compute_metrics",
    "percentile",
]
