"""Timekeeping for the service: the clock, firing timers and scheduled periods in due order, the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine import durations, schedules
from engine.clock import VirtualClock
from engine.errors import Conflict, InvalidInput, LeanFlowError, NotAllowed, NotFound
from engine.history import SYSTEM_CHAIN, NewEvent, instance_chain
from engine.views import ClockView, TickResult
from engine.workdays import WorkCalendar


def unit_name(uow: Any, unit_id: str) -> str:
    """The name of an org unit, or its id when unknown."""
    unit = uow.orgs.get_unit(unit_id)
    return unit.name if unit is not None else unit_id


class Timekeeping:
    """Mixin of WorkflowService: what moves with time (uses its unit(), runtime and clock)."""

    # -- time ---------------------------------------------------------------------------------------------

    def clock(self) -> ClockView:
        """Say which clock runs and what time it is."""
        with self.unit() as uow:
            if self._clock is not None:
                mode = "virtual" if isinstance(self._clock, VirtualClock) else "system"
            else:
                mode = uow.clock.get()[0]
            return ClockView(mode, uow.now)

    def set_clock(self, when: datetime, *, actor: str | None = None) -> ClockView:
        """Switch to the virtual clock at a given time (timers are not fired; see tick and advance)."""
        if when.tzinfo is None:
            raise InvalidInput("give the time with an offset, e.g. 2026-07-01T09:00:00+08:00")
        self._move_clock(when, actor, reason="set")
        return self.clock()

    def use_system_clock(self, *, actor: str | None = None) -> ClockView:
        """Go back to the system clock."""
        if self._clock is not None:
            raise NotAllowed("this service was given its clock; it cannot switch")
        with self.unit() as uow:
            uow.clock.set("system", None)
            uow.record(SYSTEM_CHAIN, None, NewEvent("clock_set", uow.now, actor, payload={"mode": "system"}))
        return self.clock()

    def _move_clock(self, when: datetime, actor: str | None, reason: str) -> None:
        when = when.astimezone(UTC)
        if self._clock is not None:
            if not isinstance(self._clock, VirtualClock):
                raise NotAllowed("the system clock cannot be moved")
            self._clock.set(when)
            return
        with self.unit(at=when) as uow:
            uow.clock.set("virtual", when)
            if reason == "set":
                uow.record(SYSTEM_CHAIN, None, NewEvent("clock_set", when, actor,
                                                        payload={"mode": "virtual", "now": when.isoformat()}))

    def advance(self, duration: str | timedelta, *, actor: str | None = None) -> TickResult:
        """Move the virtual clock forward, firing every timer that falls due on the way, in due order."""
        start = self.clock()
        if start.mode != "virtual":
            raise NotAllowed("only the virtual clock can be advanced; use 'clock set' first")
        if isinstance(duration, timedelta):
            target = start.now + duration
        else:
            target = durations.parse_duration(duration).add_to(start.now)
        fired, touched, failed = 0, set(), []
        seen: set[tuple[int, datetime]] = set()
        seen_schedules: set[tuple[str, datetime]] = set()
        while True:
            # The next thing due on the way: a timer or the start of a scheduled period, not yet handled.
            with self.unit() as uow:
                timers = [d for i, d in uow.instances.due(target, limit=200) if (i, d) not in seen]
                periods = [s.next_start for s in uow.schedules.due(target) if (s.key, s.next_start) not in
                           seen_schedules]
            pending = timers[:1] + periods[:1]
            if not pending:
                break
            at = max(min(pending), start.now)
            self._move_clock(at, actor, reason="advance")
            _, schedule_failures = self._fire_schedules(at, seen_schedules)
            result = self._fire_due(at, seen)
            fired += result.timers_fired
            touched |= {i for i, _ in seen}
            failed += schedule_failures + result.failed
        self._move_clock(target, actor, reason="advance")
        return TickResult(len(touched), fired, failed, target)

    def tick(self) -> TickResult:
        """Start every scheduled period that has begun and fire every timer due now (what a worker runs)."""
        now = self.clock().now
        _, failed = self._fire_schedules(now, set())
        result = self._fire_due(now, set())
        return TickResult(result.instances, result.timers_fired, failed + result.failed, now)

    def _fire_due(self, at: datetime, seen: set[tuple[int, datetime]]) -> TickResult:
        fired, touched, failed = 0, 0, []
        while True:
            with self.unit(at=at) as uow:
                due = [(i, d) for i, d in uow.instances.due(at, limit=200) if (i, d) not in seen]
            if not due:
                break
            for instance_id, due_at in due:
                seen.add((instance_id, due_at))
                touched += 1
                try:
                    with self.unit(at=at) as uow:
                        fired += self.runtime.fire_timers(uow, instance_id)
                except Conflict:
                    self.runtime.forget(instance_id)  # someone else handled it; it shows up again if still due
                except LeanFlowError as bad:
                    self.runtime.forget(instance_id)
                    failed.append((instance_id, bad.message))
                    self._incident(instance_id, at, bad.message)
        return TickResult(touched, fired, failed, at)

    def _incident(self, instance_id: int, at: datetime, message: str) -> None:
        """Mark an instance whose timer step failed, so it is shown and not retried in a loop."""
        with self.unit(at=at) as uow:
            row = uow.instances.row(instance_id)
            if row is None or not uow.instances.update(instance_id, row.version, status="error", error=message):
                return
            uow.record(instance_chain(instance_id), instance_id,
                       NewEvent("incident", at, None, payload={"message": message}))

    # -- schedules ----------------------------------------------------------------------------------------

    def import_schedules(self, text: str, filename: str = "<schedules>", *,
                         actor: str | None = None) -> list[schedules.ScheduleView]:
        """Create or update recurring procedures from a YAML or JSON file."""
        entries = schedules.parse_schedule_document(text, filename)
        with self.unit() as uow:
            return schedules.save_schedules(uow, entries, actor)

    def schedules(self, process_id: str | None = None) -> list[schedules.ScheduleView]:
        """List the recurring procedures."""
        with self.unit() as uow:
            return [schedules.view(s) for s in uow.schedules.list(process_id)]

    def compliance(self, *, process_id: str | None = None, org_unit_id: str | None = None,
                   first: date | None = None, last: date | None = None) -> list[schedules.ComplianceRow]:
        """Say for each scheduled unit and period: done on time, late, missed, or still open."""
        with self.unit() as uow:
            return schedules.compliance(uow, process_id=process_id, org_unit_id=org_unit_id, first=first,
                                        last=last)

    def _fire_schedules(self, at: datetime, seen: set[tuple[str, datetime]]) -> tuple[int, list[tuple[int, str]]]:
        """Start every period that has begun by then; one transaction per period."""
        started, failed = 0, []
        while True:
            with self.unit(at=at) as uow:
                due = [(s.key, s.next_start) for s in uow.schedules.due(at) if (s.key, s.next_start) not in seen]
            if not due:
                return started, failed
            for key, next_start in due:
                seen.add((key, next_start))
                try:
                    with self.unit(at=at) as uow:
                        row = uow.schedules.get_by_key(key)
                        if row is None:
                            continue
                        period = schedules.period_of(row.next_start.astimezone(schedules.SHANGHAI).date(), row.months)
                        definition_row = uow.definitions.latest(row.process_id)
                        if definition_row is None:
                            raise NotFound(f"schedule {key}: procedure {row.process_id} is not deployed")
                        definition = self.runtime.definition(uow, definition_row.id)
                        title = schedules.period_title(row, definition.name, unit_name(uow, row.org_unit_id),
                                                       period)
                        self.runtime.start(uow, definition, org_unit_id=row.org_unit_id,
                                           data=schedules.period_data(row, period), actor=None, title=title,
                                           business_key=f"{key}@{period.label}", schedule_id=row.id,
                                           period=period.label)
                        row.next_start = schedules.start_of(period.end + timedelta(days=1))
                        started += 1
                except LeanFlowError as bad:
                    failed.append((0, bad.message))

    # -- calendar -----------------------------------------------------------------------------------------

    def set_calendar_day(self, day: date, *, is_workday: bool, note: str | None = None,
                         actor: str | None = None) -> None:
        """Record an admin's override for a date (e.g. from the State Council's holiday notice)."""
        with self.unit() as uow:
            uow.calendars.save(day, is_workday, note)
            uow.record(SYSTEM_CHAIN, None, NewEvent("calendar_override", uow.now, actor,
                                                    payload={"day": day.isoformat(), "workday": is_workday,
                                                             "note": note}))
        self._calendar = None

    def calendar(self) -> WorkCalendar:
        """Return the working-day calendar in force."""
        with self.unit() as uow:
            return uow.calendar

