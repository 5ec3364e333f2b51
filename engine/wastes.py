"""The 8 wastes (DOWNTIME, ANALYTICS.md §3.3) found in a procedure's metrics, each with the steps and cases behind it.

``find_wastes(metrics, lean_classes=...)`` reads only a :class:`engine.metrics.ProcedureMetrics` plus the lean class
of each step (spec → "VA" / "NNVA" / "W", e.g. from the deployed model's ``user_tasks[spec].lean_class``; a step
missing from the mapping falls back to the lean class recorded in its ``task_ready`` events). It never reads the
database and never invents data: a waste the metrics cannot show is not reported.

Detectors and thresholds (the named constants below):

* **defects** — per step, rework (``rework_extra_visits`` > 0: the step was visited again in the same case) and
  failed checks (``check_failed`` > 0). Cases: ``rework_instance_ids`` ∪ ``check_failed_instance_ids``. Severity by
  the share of the step's cases affected: ≥ ``DEFECT_SHARE_HIGH`` (30 %) high, ≥ ``DEFECT_SHARE_MEDIUM`` (10 %)
  medium, else low.
* **waiting** — per step, either the median queue exceeds ``WAITING_QUEUE_TOUCH_RATIO`` (3) × the median touch
  (only when both are known and the queue is at least ``WAITING_MIN_QUEUE_HOURS`` (1 h), so seconds-long queues are
  not flagged), or the SLA breach share is ≥ ``WAITING_SLA_BREACH_SHARE`` (20 %). Cases: ``queue.instance_ids`` for
  the queue signal, the breaching visits' instances for the SLA signal. High when the breach share is ≥
  ``WAITING_SLA_BREACH_SHARE_HIGH`` (50 %) or the queue is ≥ ``WAITING_QUEUE_TOUCH_RATIO_HIGH`` (10) × touch.
* **extra_processing** — per step classed ``W`` or ``NNVA``: total touch (mean × count) is ≥
  ``EXTRA_MIN_TOUCH_HOURS`` (0.5 h) and ≥ ``EXTRA_TOUCH_SHARE`` (20 %) of the procedure's total known touch. Cases:
  ``touch.instance_ids``. High for ``W`` steps or a share ≥ ``EXTRA_TOUCH_SHARE_HIGH`` (50 %), else medium.
* **inventory** — per step, WIP piling up: ``open`` visits ≥ ``INVENTORY_MIN_OPEN`` (3) and ≥
  ``INVENTORY_OPEN_PER_COMPLETED`` (1) × completed visits. ``StepMetrics`` does not say which cases hold the open
  visits, so the cases listed are the step's overdue visits (certainly open there) and the evidence carries the
  procedure's running instances as candidates. High when open ≥ ``INVENTORY_OPEN_PER_COMPLETED_HIGH`` (3) ×
  completed.
* **transportation** — per step, hand-overs by escalation: escalation events (reminders / escalation timers
  attached to the step) on ≥ ``TRANSPORT_ESCALATION_SHARE`` (20 %) of its visits. Cases:
  ``escalation_instance_ids``. High at ≥ ``TRANSPORT_ESCALATION_SHARE_HIGH`` (50 %). Not detected: lane/role
  hand-over counts per case (the metrics carry no per-case step sequence or performer) and reassignment (claim /
  unclaim events are not counted in the metrics). A queue "spent unclaimed" is the queue itself (ready → claim), so
  it is reported once, under waiting, rather than twice.
* **overproduction** — instances started and then cancelled (ANALYTICS §3.3: "instances started then cancelled or
  terminated"): ``cancelled`` ≥ 1 and ≥ ``OVERPRODUCTION_CANCELLED_SHARE`` (10 %) of the instances. Cases:
  ``cancelled_ids``; steps: those with completed visits in a cancelled case (work done and thrown away). High at ≥
  ``OVERPRODUCTION_CANCELLED_SHARE_HIGH`` (30 %). "Generated documents never opened" is not in the metrics.
* **motion** — not detected: it needs the number of claim / unclaim / open cycles per visit, which
  ``StepMetrics`` does not expose (only the first open and the claim in force are kept).
* **non_utilized_talent** — not detected: it needs the performer's grade and the distribution of decision outcomes
  per step ("always approve"), neither of which is in the metrics.

Findings come in DOWNTIME order (defects, overproduction, waiting, non-utilized talent, transportation, inventory,
motion, extra-processing), then in the procedure's step order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.metrics import ProcedureMetrics, StepMetrics

KINDS = (
    "defects", "overproduction", "waiting", "non_utilized_talent", "transportation", "inventory", "motion",
    "extra_processing",
)
SEVERITIES = ("high", "medium", "low")

DEFECT_SHARE_HIGH = 0.30
DEFECT_SHARE_MEDIUM = 0.10
WAITING_QUEUE_TOUCH_RATIO = 3.0
WAITING_QUEUE_TOUCH_RATIO_HIGH = 10.0
WAITING_MIN_QUEUE_HOURS = 1.0
WAITING_SLA_BREACH_SHARE = 0.20
WAITING_SLA_BREACH_SHARE_HIGH = 0.50
EXTRA_CLASSES = frozenset({"W", "NNVA"})
EXTRA_MIN_TOUCH_HOURS = 0.5
EXTRA_TOUCH_SHARE = 0.20
EXTRA_TOUCH_SHARE_HIGH = 0.50
INVENTORY_MIN_OPEN = 3
INVENTORY_OPEN_PER_COMPLETED = 1.0
INVENTORY_OPEN_PER_COMPLETED_HIGH = 3.0
TRANSPORT_ESCALATION_SHARE = 0.20
TRANSPORT_ESCALATION_SHARE_HIGH = 0.50
OVERPRODUCTION_CANCELLED_SHARE = 0.10
OVERPRODUCTION_CANCELLED_SHARE_HIGH = 0.30

NOT_DETECTED = {
    "motion": "指标未记录每个待办的认领/退回/打开次数，无法计算切换次数",
    "non_utilized_talent": "指标未包含办理人职级与审批结果分布，无法判断“大材小用”",
}


@dataclass(frozen=True)
class WasteFinding:
    """One waste found in a procedure: what, how bad, where (steps) and in which cases."""

    kind: str
    title_zh: str
    detail_zh: str
    severity: str
    steps: tuple[str, ...]
    instance_ids: tuple[int, ...]
    evidence: dict[str, Any] = field(default_factory=dict)


def find_wastes(metrics: ProcedureMetrics, *, lean_classes: Mapping[str, str]) -> list[WasteFinding]:
    """The wastes the metrics show (see the module docstring for the detectors and thresholds)."""
    findings: list[WasteFinding] = []
    for step in metrics.steps:
        findings.extend(_defects(step))
    findings.extend(_overproduction(metrics))
    for step in metrics.steps:
        findings.extend(_waiting(step))
    for step in metrics.steps:
        findings.extend(_transportation(step))
    for step in metrics.steps:
        findings.extend(_inventory(step, metrics))
    total_touch = sum(_total_touch(s) for s in metrics.steps)
    for step in metrics.steps:
        lean = lean_classes.get(step.spec) or step.lean_class
        findings.extend(_extra_processing(step, lean, total_touch))
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(findings, key=lambda f: order[f.kind])  # stable: step order kept within a kind


# -- detectors ----------------------------------------------------------------------------------------------------


def _label(step: StepMetrics) -> str:
    return f"“{step.name}”（{step.spec}）" if step.name else step.spec


def _ids(*groups: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted({i for g in groups for i in g}))


def _defects(step: StepMetrics) -> list[WasteFinding]:
    if step.rework_extra_visits <= 0 and step.check_failed <= 0:
        return []
    cases = _ids(step.rework_instance_ids, step.check_failed_instance_ids)
    touched = _ids(step.instance_ids, cases)
    share = len(cases) / len(touched) if touched else 1.0
    severity = "high" if share >= DEFECT_SHARE_HIGH else "medium" if share >= DEFECT_SHARE_MEDIUM else "low"
    parts = []
    if step.rework_extra_visits:
        parts.append(f"{step.rework_instances} 个案件返工，共多办 {step.rework_extra_visits} 次")
    if step.check_failed:
        parts.append(f"校验未通过 {step.check_failed} 次（{len(step.check_failed_instance_ids)} 个案件）")
    return [WasteFinding(
        kind="defects", title_zh=f"缺陷返工：{_label(step)}",
        detail_zh="；".join(parts) + f"；占经办案件的 {share:.0%}。",
        severity=severity, steps=(step.spec,), instance_ids=cases,
        evidence={
            "rework_instances": step.rework_instances, "rework_extra_visits": step.rework_extra_visits,
            "rework_instance_ids": list(step.rework_instance_ids), "check_failed": step.check_failed,
            "check_failed_instance_ids": list(step.check_failed_instance_ids), "affected_share": share,
        },
    )]


def _overproduction(metrics: ProcedureMetrics) -> list[WasteFinding]:
    if metrics.cancelled < 1 or not metrics.instances:
        return []
    share = metrics.cancelled / metrics.instances
    if share < OVERPRODUCTION_CANCELLED_SHARE:
        return []
    cancelled = set(metrics.cancelled_ids)
    steps = tuple(s.spec for s in metrics.steps if cancelled & set(s.instance_ids))
    return [WasteFinding(
        kind="overproduction", title_zh="过度生产：案件启动后被撤销",
        detail_zh=f"{metrics.instances} 个案件中 {metrics.cancelled} 个被撤销（{share:.0%}）"
                  + (f"，撤销前已办理的环节：{', '.join(steps)}。" if steps else "。"),
        severity="high" if share >= OVERPRODUCTION_CANCELLED_SHARE_HIGH else "medium",
        steps=steps, instance_ids=_ids(cancelled),
        evidence={"instances": metrics.instances, "cancelled": metrics.cancelled, "cancelled_share": share},
    )]


def _waiting(step: StepMetrics) -> list[WasteFinding]:
    queue, touch = step.queue.median, step.touch.median
    ratio = None
    if queue is not None and touch is not None and queue >= WAITING_MIN_QUEUE_HOURS:
        ratio = queue / touch if touch > 0 else float("inf")
    queue_signal = ratio is not None and ratio > WAITING_QUEUE_TOUCH_RATIO
    share = step.sla_breach_share
    sla_signal = share is not None and share >= WAITING_SLA_BREACH_SHARE
    if not queue_signal and not sla_signal:
        return []
    breach_ids = _ids(b.instance_id for b in step.breaches)
    cases = _ids(step.queue.instance_ids if queue_signal else (), breach_ids if sla_signal else ())
    high = (sla_signal and share >= WAITING_SLA_BREACH_SHARE_HIGH) or (  # type: ignore[operator]
        queue_signal and ratio >= WAITING_QUEUE_TOUCH_RATIO_HIGH)  # type: ignore[operator]
    parts = []
    if queue_signal:
        parts.append(f"排队中位数 {queue:.1f} 小时，是办理中位数 {touch:.1f} 小时的 "
                     + ("无穷" if ratio == float("inf") else f"{ratio:.1f}") + " 倍")
    if sla_signal:
        overdue = sum(1 for b in step.breaches if b.kind == "overdue")
        parts.append(f"{step.sla_breaches}/{step.sla_with_due} 次超期（{share:.0%}），其中 {overdue} 次仍未办结")
    return [WasteFinding(
        kind="waiting", title_zh=f"等待：{_label(step)}", detail_zh="；".join(parts) + "。",
        severity="high" if high else "medium", steps=(step.spec,), instance_ids=cases,
        evidence={
            "queue_median_hours": queue, "touch_median_hours": touch,
            "queue_touch_ratio": None if ratio is None or ratio == float("inf") else ratio,
            "sla_with_due": step.sla_with_due, "sla_breaches": step.sla_breaches, "sla_breach_share": share,
            "breaches": [{"instance_id": b.instance_id, "kind": b.kind, "hours_over": b.hours_over}
                         for b in step.breaches],
        },
    )]


def _transportation(step: StepMetrics) -> list[WasteFinding]:
    if step.escalations < 1 or not step.visits:
        return []
    share = step.escalations / step.visits
    if share < TRANSPORT_ESCALATION_SHARE:
        return []
    return [WasteFinding(
        kind="transportation", title_zh=f"搬运/转交：{_label(step)} 频繁催办升级",
        detail_zh=f"{step.visits} 次办理触发 {step.escalations} 次催办/升级（{len(step.escalation_instance_ids)} "
                  "个案件），案件被转交他人推动。",
        severity="high" if share >= TRANSPORT_ESCALATION_SHARE_HIGH else "medium",
        steps=(step.spec,), instance_ids=_ids(step.escalation_instance_ids),
        evidence={"visits": step.visits, "escalations": step.escalations, "escalation_share": share},
    )]


def _inventory(step: StepMetrics, metrics: ProcedureMetrics) -> list[WasteFinding]:
    if step.open < INVENTORY_MIN_OPEN or step.open < INVENTORY_OPEN_PER_COMPLETED * step.frequency:
        return []
    overdue = _ids(b.instance_id for b in step.breaches if b.kind == "overdue")
    known = getattr(step, "open_instance_ids", None)  # used if the metrics ever expose it
    high = step.open >= INVENTORY_OPEN_PER_COMPLETED_HIGH * step.frequency
    return [WasteFinding(
        kind="inventory", title_zh=f"库存积压：{_label(step)}",
        detail_zh=f"{step.open} 件在办未结，已办结 {step.frequency} 件，待办在此堆积。",
        severity="high" if high else "medium", steps=(step.spec,),
        instance_ids=_ids(known) if known is not None else overdue,
        evidence={
            "open": step.open, "completed": step.frequency, "overdue_instance_ids": list(overdue),
            "candidate_instance_ids": list(metrics.running_ids),
            "note": "metrics do not say which cases hold the open visits; listed are the overdue ones",
        },
    )]


def _total_touch(step: StepMetrics) -> float:
    return (step.touch.mean or 0.0) * step.touch.count


def _extra_processing(step: StepMetrics, lean: str | None, total_touch: float) -> list[WasteFinding]:
    if lean not in EXTRA_CLASSES or total_touch <= 0:
        return []
    mine = _total_touch(step)
    share = mine / total_touch
    if mine < EXTRA_MIN_TOUCH_HOURS or share < EXTRA_TOUCH_SHARE:
        return []
    kind_zh = "浪费（W）" if lean == "W" else "必要非增值（NNVA）"
    return [WasteFinding(
        kind="extra_processing", title_zh=f"过度加工：{_label(step)} 为{kind_zh}环节",
        detail_zh=f"该环节办理共 {mine:.1f} 小时，占全部办理时间的 {share:.0%}；应考虑简化、合并或取消。",
        severity="high" if lean == "W" or share >= EXTRA_TOUCH_SHARE_HIGH else "medium",
        steps=(step.spec,), instance_ids=_ids(step.touch.instance_ids),
        evidence={"lean_class": lean, "touch_hours": mine, "touch_share": share,
                  "touch_median_hours": step.touch.median, "touch_unknown": step.touch_unknown},
    )]


__all__ = ["KINDS", "NOT_DETECTED", "WasteFinding", "find_wastes"]
