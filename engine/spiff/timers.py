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
from SpiffWorkflow.bpmn.util.event import PendingBpmnEvent  # type: ignore[import-untyped]

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


# A task whose event definition is a MultipleEventDefinition (an event-based gateway, a multiple catch event)
# holds several timers. Stock Spiff keeps every timer's due in the same event_value / event_fired keys, so the
# first timer evaluated sets the due of all and the first listed always wins; LeanFlow gives each its own slot.
SLOT_VALUE = "event_value_"
SLOT_FIRED = "event_fired_"


def _siblings(task: Any, definition: Any) -> tuple[int | None, list[Any]]:
    """Return the definition's index among the task's multiple event definitions (None when it is alone)."""
    multiple = getattr(task.task_spec, "event_definition", None)
    if isinstance(multiple, MultipleEventDefinition):
        for index, item in enumerate(multiple.event_definitions):
            if item is definition:
                return index, list(multiple.event_definitions) if not multiple.parallel else []
    return None, []


def _keys(index: int | None) -> tuple[str, str]:
    if index is None:
        return "event_value", "event_fired"
    return f"{SLOT_VALUE}{index}", f"{SLOT_FIRED}{index}"


def _mark_due(task: Any, due: datetime, provisional: bool = False, key: str = "event_value") -> None:
    # Stored in UTC so every due time in the history compares and sorts the same way.
    task._set_internal_data(**{key: due.astimezone(UTC).isoformat()})
    if provisional:
        task._set_internal_data(provisional_calendar=True)


def _fired(task: Any, definition: Any) -> bool:
    index, siblings = _siblings(task, definition)
    value_key, fired_key = _keys(index)
    due = datetime.fromisoformat(task._get_internal_data(value_key))
    # Due at or before now: a clock moved exactly to the due time fires it (stock Spiff needs now > due).
    if due <= current().now and not task._get_internal_data(fired_key, False):
        # Of several timers past due at once (a gateway woken late), only the earliest fires (ties: the first).
        for other_index, other in enumerate(siblings):
            if other is definition or not isinstance(other, LeanTimeDate | LeanDuration):
                continue
            other._ensure_due(task)
            other_due = datetime.fromisoformat(task._get_internal_data(_keys(other_index)[0]))
            if other_due < due or (other_due == due and other_index < (index or 0)):
                return False
        task._set_internal_data(**{fired_key: True})
    return bool(task._get_internal_data(fired_key, False))


class LeanTimeDate(TimeDateEventDefinition):  # type: ignore[misc]
    """A timer at a fixed date or a date taken from the process data."""

    def _ensure_due(self, my_task: Any) -> None:
        key = _keys(_siblings(my_task, self)[0])[0]
        if my_task._get_internal_data(key) is None and not _legacy(my_task, key):
            _mark_due(my_task, resolve_date(my_task, self.expression), key=key)

    def has_fired(self, my_task: Any) -> bool:
        self._ensure_due(my_task)
        return _fired(my_task, self)

    def details(self, my_task: Any) -> Any:
        return _details(self, my_task)


class LeanDuration(DurationTimerEventDefinition):  # type: ignore[misc]
    """A timer some calendar time or some working days after it starts waiting."""

    def _ensure_due(self, my_task: Any) -> None:
        key = _keys(_siblings(my_task, self)[0])[0]
        if my_task._get_internal_data(key) is None and not _legacy(my_task, key):
            context = current()
            deadline = resolve_deadline(my_task, self.expression)
            result = durations.due_after(context.now, deadline, context.calendar)
            _mark_due(my_task, result.at, result.provisional, key=key)

    def has_fired(self, my_task: Any) -> bool:
        self._ensure_due(my_task)
        return _fired(my_task, self)

    def details(self, my_task: Any) -> Any:
        return _details(self, my_task)


def _legacy(task: Any, key: str) -> bool:
    """A gateway that started waiting before timers had slots keeps the one due it was given then."""
    legacy = task.internal_data.get("event_value")
    if key == "event_value" or not isinstance(legacy, str):
        return False
    task._set_internal_data(**{key: legacy})
    return True


def _details(definition: Any, task: Any) -> Any:
    """What waiting_events() reports: this timer's own due, also inside an event-based gateway."""
    key = _keys(_siblings(task, definition)[0])[0]
    return PendingBpmnEvent(definition.name, type(definition).__name__, task._get_internal_data(key))


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
    if value is None:
        # Several timers on one task (an event-based gateway): the earliest is the one that fires.
        slots = [_as_due(v) for k, v in task.internal_data.items() if k.startswith(SLOT_VALUE)]
        dues = [d for d in slots if d is not None]
        return min(dues) if dues else None
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles") != 0 else None
    return _as_due(value)


def _as_due(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def cycle_fired(task: Any) -> int:
    """How many times a cycle timer task has fired so far (0 for any other task)."""
    value = task.internal_data.get("event_value")
    return int(value.get("k", 0)) if isinstance(value, dict) else 0


def cycle_due(task: Any, k: int) -> datetime | None:
    """The due time of a cycle timer's k-th firing (k from 1)."""
    value = task.internal_data.get("event_value")
    if not isinstance(value, dict) or "start" not in value:
        return None
    return _nth(datetime.fromisoformat(value["start"]), durations.parse_duration(value["period"]), k - 1)


def is_cycle(task_spec: Any) -> bool:
    """Tell whether a task spec waits on a repeating timer (it fires without changing state)."""
    return isinstance(getattr(task_spec, "event_definition", None), CycleTimerEventDefinition)


def is_timer(task_spec: Any) -> bool:
    """Tell whether a task spec waits on a timer."""
    definition = getattr(task_spec, "event_definition", None)
    return any(isinstance(d, TimerEventDefinition) for d in _flatten(definition))
