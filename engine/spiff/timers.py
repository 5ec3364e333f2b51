"""Timer event definitions that read LeanFlow's clock and calendar instead of datetime.now().

Stock SpiffWorkflow evaluates a timer's text as Python (so Camunda's unquoted P3D fails), adds months
as real month lengths (Jan 31 + P1M = Mar 3) and reads the wall clock directly. These subclasses accept
ISO 8601 text quoted or not, working_days(N), clamp months to month end and use the run context.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import (  # type: ignore[import-untyped]
    MultipleEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (  # type: ignore[import-untyped]
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from engine import durations
from engine.errors import InvalidInput
from engine.spiff.context import current

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _unquote(text: str) -> str:
    """Strip one pair of matching quotes, so "P3D" and P3D read the same."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].strip()
    return text


def _evaluate(task: Any, expression: str) -> Any:
    """Evaluate a non-literal timer expression (e.g. a data variable) in the task's sandbox."""
    return task.workflow.script_engine.evaluate(task, expression)


def _as_datetime(value: Any) -> datetime:
    """Turn what a timeDate expression produced into an aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInput(f"timer date {value.isoformat()} has no UTC offset")
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0), SHANGHAI)
    if isinstance(value, str):
        return durations.parse_date(value)
    raise InvalidInput(f"timer date expression gave {type(value).__name__}, not a date")


def resolve_deadline(task: Any, expression: str) -> durations.CalendarDuration | durations.WorkingDays:
    """Read a duration literal, or evaluate the expression and read its result."""
    text = _unquote(expression)
    try:
        return durations.parse_deadline(text)
    except InvalidInput:
        value = _evaluate(task, expression)
        return durations.parse_deadline(str(value))


def resolve_date(task: Any, expression: str) -> datetime:
    """Read a date literal, or evaluate the expression and read its result."""
    text = _unquote(expression)
    try:
        return durations.parse_date(text)
    except InvalidInput:
        return _as_datetime(_evaluate(task, expression))


def _mark_due(task: Any, due: datetime, provisional: bool = False) -> None:
    # Stored in UTC so every due time in the history compares and sorts the same way.
    task._set_internal_data(event_value=due.astimezone(UTC).isoformat())
    if provisional:
        task._set_internal_data(provisional_calendar=True)


def _fired(task: Any) -> bool:
    due = datetime.fromisoformat(task._get_internal_data("event_value"))
    # Due at or before now: a clock moved exactly to the due time fires it (stock Spiff needs now > due).
    if due <= current().now:
        task._set_internal_data(event_fired=True)
    return bool(task._get_internal_data("event_fired", False))


class LeanTimeDate(TimeDateEventDefinition):  # type: ignore[misc]
    """A timer at a fixed date or a date taken from the process data."""

    def has_fired(self, my_task: Any) -> bool:
        if my_task._get_internal_data("event_value") is None:
            _mark_due(my_task, resolve_date(my_task, self.expression))
        return _fired(my_task)


class LeanDuration(DurationTimerEventDefinition):  # type: ignore[misc]
    """A timer some calendar time or some working days after it starts waiting."""

    def has_fired(self, my_task: Any) -> bool:
        if my_task._get_internal_data("event_value") is None:
            context = current()
            deadline = resolve_deadline(my_task, self.expression)
            result = durations.due_after(context.now, deadline, context.calendar)
            _mark_due(my_task, result.at, result.provisional)
        return _fired(my_task)


class LeanCycle(CycleTimerEventDefinition):  # type: ignore[misc]
    """A repeating timer R[n]/[start/]period whose k-th firing is computed from the start (no month drift)."""

    def cycle_complete(self, my_task: Any) -> bool:
        value = my_task._get_internal_data("event_value")
        now = current().now
        if value is None:
            cycle = durations.parse_cycle(_unquote(self.expression))
            start = cycle.start or cycle.period.add_to(now)
            reps = -1 if cycle.repetitions is None else cycle.repetitions
            value = {"cycles": reps, "start": start.isoformat(), "k": 0, "period": cycle.period.iso(),
                     "next": start.isoformat()}
        ready = False
        if value["cycles"] != 0:
            if datetime.fromisoformat(value["next"]) <= now:
                period = durations.parse_duration(value["period"])
                value["k"] += 1
                value["next"] = _nth(datetime.fromisoformat(value["start"]), period, value["k"]).isoformat()
                value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=value)
        return ready


def _nth(start: datetime, period: durations.CalendarDuration, k: int) -> datetime:
    """The k-th repetition after start, each computed from the start so Jan 31 + P1M steps stay at month end."""
    return durations.CalendarDuration(
        years=period.years * k, months=period.months * k, weeks=period.weeks * k, days=period.days * k,
        hours=period.hours * k, minutes=period.minutes * k, seconds=period.seconds * k,
    ).add_to(start)


_REPLACEMENTS: dict[type, type] = {
    TimeDateEventDefinition: LeanTimeDate,
    DurationTimerEventDefinition: LeanDuration,
    CycleTimerEventDefinition: LeanCycle,
}
TIMER_CLASSES = tuple(_REPLACEMENTS.values())


def adopt_timers(specs: list[Any]) -> None:
    """Swap every stock timer definition in the parsed specs for its LeanFlow subclass."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            for item in _flatten(definition):
                replacement = _REPLACEMENTS.get(type(item))
                if replacement is not None:
                    item.__class__ = replacement


def _flatten(definition: Any) -> list[Any]:
    if definition is None:
        return []
    if isinstance(definition, MultipleEventDefinition):
        return [d for child in definition.event_definitions for d in _flatten(child)]
    return [definition]


def due_of(task: Any) -> datetime | None:
    """Return when a waiting timer task is due, whatever kind it is (event gateways included)."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles") != 0 else None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def is_timer(task_spec: Any) -> bool:
    """Tell whether a task spec waits on a timer."""
    definition = getattr(task_spec, "event_definition", None)
    return any(isinstance(d, TimerEventDefinition) for d in _flatten(definition))
