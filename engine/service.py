"""The front door: WorkflowService runs every operation as one transaction over storage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine import accounts, deployment, durations, organisation, schedules
from engine.clock import Clock, VirtualClock
from engine.errors import CheckFailed, Conflict, InvalidInput, LeanFlowError, LintIssue, LoadError, NotAllowed, NotFound
from engine.history import SYSTEM_CHAIN, NewEvent, StoredEvent, instance_chain, verify_chain
from engine.loader import DEFAULT_MAX_BYTES, load_bpmn, read_bpmn_file
from engine.model import FormField
from engine.runtime import Runtime
from engine.spiff.serializer import Serializer
from engine.unit_of_work import UnitOfWork
from engine.views import (
    ClockView,
    DefinitionView,
    EventView,
    InstanceView,
    LintReport,
    TaskView,
    TickResult,
    VerifyReport,
)
from engine.workdays import WorkCalendar
from storage import make_engine, make_session_factory, upgrade_to_head
from storage.models import Event


@dataclass(frozen=True)
class Settings:
    """Engine settings, passed in by the caller (the engine never reads the environment)."""

    max_bpmn_bytes: int = DEFAULT_MAX_BYTES
    hot_cache_size: int = 512
    prune: bool = True
    calendar_cache_seconds: float = 30.0


class WorkflowService:
    """Deploy procedures, run instances, list tasks, keep time and verify the history."""

    def __init__(self, *, session_factory: sessionmaker[Session], db_engine: Engine | None = None,
                 clock: Clock | None = None, settings: Settings | None = None) -> None:
        self.session_factory = session_factory
        self.db_engine = db_engine
        self.settings = settings or Settings()
        self._clock = clock
        self.serializer = Serializer()
        self.runtime = Runtime(serializer=self.serializer, cache_size=self.settings.hot_cache_size,
                               prune=self.settings.prune)
        self._calendar: tuple[float, WorkCalendar] | None = None

    # -- transactions -------------------------------------------------------------------------------------

    @contextmanager
    def unit(self, *, at: datetime | None = None) -> Iterator[UnitOfWork]:
        """Open one transaction; map database conflicts to Conflict."""
        session = self.session_factory()
        try:
            with session.begin():
                now = at or self._now(session)
                uow = UnitOfWork(session, now, self._work_calendar(session))
                yield uow
                uow.flush_history()
        except IntegrityError as bad:
            raise Conflict(f"a concurrent change won: {str(bad.orig).splitlines()[0]}") from None
        except OperationalError as bad:
            text = str(bad.orig)
            if "locked" in text or "could not serialize" in text or "deadlock" in text:
                raise Conflict(f"the database was busy with a concurrent change: {text.splitlines()[0]}") from None
            raise
        finally:
            session.close()

    def _now(self, session: Session) -> datetime:
        if self._clock is not None:
            return self._clock.now()
        from storage.repositories import ClockRepository

        mode, virtual = ClockRepository(session).get()
        if mode == "virtual" and virtual is not None:
            return virtual
        return datetime.now(UTC)

    def _work_calendar(self, session: Session) -> WorkCalendar:
        cached = self._calendar
        if cached is not None and time.monotonic() - cached[0] < self.settings.calendar_cache_seconds:
            return cached[1]
        from storage.repositories import CalendarRepository

        calendar = WorkCalendar(CalendarRepository(session).overrides())
        self._calendar = (time.monotonic(), calendar)
        return calendar

    def init_database(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        if self.db_engine is None:
            raise LeanFlowError("no database engine to migrate")
        upgrade_to_head(self.db_engine)

    # -- procedures ---------------------------------------------------------------------------------------

    def lint_file(self, path: str | Path) -> LintReport:
        """Lint a BPMN file; a file that cannot be read safely is reported, not raised."""
        try:
            document = read_bpmn_file(path, max_bytes=self.settings.max_bpmn_bytes)
        except LoadError as bad:
            return LintReport(str(path), None, "", [LintIssue("error", "load-error", bad.reason, None, bad.line)])
        return deployment.lint(document)

    def deploy_file(self, path: str | Path, *, actor: str | None = None) -> DefinitionView:
        """Deploy a BPMN file from disk."""
        document = read_bpmn_file(path, max_bytes=self.settings.max_bpmn_bytes)
        with self.unit() as uow:
            return deployment.deploy(uow, document, self.serializer, actor)

    def deploy_bytes(self, content: bytes, filename: str, *, actor: str | None = None) -> DefinitionView:
        """Deploy an uploaded BPMN document."""
        document = load_bpmn(content, filename=filename, max_bytes=self.settings.max_bpmn_bytes)
        with self.unit() as uow:
            return deployment.deploy(uow, document, self.serializer, actor)

    def definitions(self) -> list[DefinitionView]:
        """List every deployed version."""
        with self.unit() as uow:
            return [DefinitionView(d.id, d.process_id, d.version, d.name, d.sha256, d.deployed_by, d.deployed_at)
                    for d in uow.definitions.list()]

    # -- organisation -------------------------------------------------------------------------------------

    def import_org(self, text: str, filename: str = "<org>", *, actor: str | None = None) -> tuple[int, int]:
        """Import units, people and roles; return how many of each."""
        data = organisation.parse_org_document(text, filename)
        with self.unit() as uow:
            return organisation.import_org(uow, data, actor)

    # -- instances ----------------------------------------------------------------------------------------

    def start(self, process_id: str, *, org_unit_id: str, data: dict[str, Any] | None = None,
              actor: str | None = None, title: str | None = None, business_key: str | None = None) -> InstanceView:
        """Start the newest version of a procedure at an org unit."""
        with self.unit() as uow:
            row = uow.definitions.latest(process_id)
            if row is None:
                raise NotFound(f"procedure {process_id} is not deployed")
            if actor is not None and uow.orgs.get_person(actor) is None:
                raise NotFound(f"person {actor} does not exist")
            definition = self.runtime.definition(uow, row.id)
            instance_id = self.runtime.start(uow, definition, org_unit_id=org_unit_id, data=data or {},
                                             actor=actor, title=title, business_key=business_key)
        return self.instance(instance_id)

    def complete(self, task_id: int, *, person_id: str, data: dict[str, Any] | None = None) -> InstanceView:
        """Complete a task with form data; on failed checks record them and raise CheckFailed."""
        try:
            with self.unit() as uow:
                loaded = self.runtime.complete(uow, task_id, person_id, data or {})
                if loaded.open_before == 1 and loaded.new_tasks is not None:
                    # This was the only open task, so the open tasks now are exactly the ones the step created.
                    tasks = [_task_view(SimpleNamespace(opened_at=None, completed_at=None, completed_by=None, **t))
                             for t in loaded.new_tasks]
                else:
                    tasks = [_task_view(t) for t in uow.tasks.for_instance(loaded.instance_id, open_only=True)]
                row = {**(loaded.row or {}), **(loaded.saved or {}), "id": loaded.instance_id,
                       "version": loaded.version}
                return _instance_view(SimpleNamespace(**row), tasks, loaded.runner.data)
        except CheckFailed as failed:
            self._record_check_failed(task_id, person_id, failed)
            raise
        except LeanFlowError:
            self._forget_task_instance(task_id)
            raise

    def _record_check_failed(self, task_id: int, person_id: str, failed: CheckFailed) -> None:
        with self.unit() as uow:
            task = uow.tasks.get(task_id)
            if task is None:
                return
            uow.record(instance_chain(task.instance_id), task.instance_id, NewEvent(
                "check_failed", uow.now, person_id, task.spiff_task_id,
                {"task": task_id, "spec": task.task_spec,
                 "failures": [{"field": f.field, "rule": f.rule, "message": f.message} for f in failed.failures]}))

    def _forget_task_instance(self, task_id: int) -> None:
        with self.unit() as uow:
            task = uow.tasks.get(task_id)
            if task is not None:
                self.runtime.forget(task.instance_id)

    def claim(self, task_id: int, *, person_id: str) -> TaskView:
        """Claim a task offered to one's role."""
        with self.unit() as uow:
            self.runtime.claim(uow, task_id, person_id)
        return self.task(task_id)

    def unclaim(self, task_id: int, *, person_id: str) -> TaskView:
        """Give a claimed task back."""
        with self.unit() as uow:
            self.runtime.unclaim(uow, task_id, person_id)
        return self.task(task_id)

    def open_task(self, task_id: int, *, person_id: str) -> TaskView:
        """Record that work on a task started."""
        with self.unit() as uow:
            self.runtime.open(uow, task_id, person_id)
        return self.task(task_id)

    def cancel(self, instance_id: int, *, actor: str | None = None, reason: str = "") -> InstanceView:
        """Cancel a running instance."""
        try:
            with self.unit() as uow:
                self.runtime.cancel(uow, instance_id, actor, reason)
        except LeanFlowError:
            self.runtime.forget(instance_id)
            raise
        return self.instance(instance_id)

    # -- reading ------------------------------------------------------------------------------------------

    def tasks_for(self, person_id: str, *, include_done: bool = False) -> list[TaskView]:
        """List the tasks assigned to a person or offered to their roles, soonest due first."""
        with self.unit() as uow:
            if uow.orgs.get_person(person_id) is None:
                raise NotFound(f"person {person_id} does not exist")
            roles = uow.orgs.roles_of(person_id, uow.now.date())
            return [_task_view(t) for t in uow.tasks.inbox(person_id, roles, include_done=include_done)]

    def task(self, task_id: int) -> TaskView:
        """Return one task."""
        with self.unit() as uow:
            task = uow.tasks.get(task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist")
            return _task_view(task)

    def instance(self, instance_id: int | None) -> InstanceView:
        """Return an instance with its open tasks and current data."""
        if instance_id is None:
            raise NotFound("no instance")
        with self.unit() as uow:
            return self._instance_in(uow, instance_id)

    def _instance_in(self, uow: UnitOfWork, instance_id: int) -> InstanceView:
        row = uow.instances.get(instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} does not exist")
        tasks = [_task_view(t) for t in uow.tasks.for_instance(instance_id, open_only=True)]
        return _instance_view(row, tasks, self.runtime.peek(uow, instance_id).data)

    def instances(self, *, status: str | None = None, process_id: str | None = None) -> list[InstanceView]:
        """List instances, newest first."""
        with self.unit() as uow:
            return [_instance_view(r, [], {}) for r in uow.instances.list(status=status, process_id=process_id)]

    def history(self, instance_id: int) -> list[EventView]:
        """Return every event of an instance, in order."""
        with self.unit() as uow:
            if uow.instances.get(instance_id) is None:
                raise NotFound(f"instance {instance_id} does not exist")
            return [_stored(e) for e in uow.history.for_instance(instance_id)]

    def system_history(self) -> list[EventView]:
        """Return the events of the system chain (deployments, imports, clock)."""
        with self.unit() as uow:
            return [_stored(e) for e in uow.history.events(SYSTEM_CHAIN)]

    def verify(self) -> VerifyReport:
        """Check every chain of the history: links, hashes, order, heads, and that every instance has one."""
        with self.unit() as uow:
            heads = uow.history.heads()
            chains = sorted(set(uow.history.chains()) | set(heads))
            problems = []
            events = 0
            for chain in chains:
                stored = [_stored(e) for e in uow.history.events(chain)]
                events += len(stored)
                problems += verify_chain(chain, stored, heads.get(chain))
            from engine.history import ChainProblem

            for instance in uow.instances.list(limit=10**9):
                if instance_chain(instance.id) not in heads:
                    problems.append(ChainProblem(instance_chain(instance.id), None, None,
                                                 f"instance {instance.id} has no history (chain deleted)"))
            return VerifyReport(len(chains), events, problems)

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
                        self.runtime.start(uow, definition, org_unit_id=row.org_unit_id,
                                           data=schedules.period_data(row, period), actor=None,
                                           title=f"{definition.name} {period.label}",
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

    # == accounts and rights (for webui/ and the API) ====================================================
    # Each *_as method takes the acting person and checks their rights in engine.accounts before it acts;
    # the methods above stay as they were for the CLI and the tests.

    def authenticate(self, person_id: str, password: str) -> accounts.Principal | None:
        """Return the person if the password is theirs, else None."""
        with self.unit() as uow:
            return accounts.authenticate(uow, person_id, password)

    def principal(self, person_id: str) -> accounts.Principal | None:
        """Return the acting person with today's roles, or None when unknown or inactive."""
        with self.unit() as uow:
            return accounts.principal(uow, person_id)

    def set_password(self, person_id: str, password: str, *, actor: str | None = None) -> None:
        """Set a person's password (argon2id); the history records that it changed."""
        with self.unit() as uow:
            accounts.set_password(uow, person_id, password, actor)

    def users(self) -> list[accounts.AccountView]:
        """List every person as a login, with roles and whether a password is set."""
        with self.unit() as uow:
            return accounts.accounts(uow)

    def org_units(self) -> list[accounts.UnitView]:
        """List the org units in tree order."""
        with self.unit() as uow:
            return accounts.units(uow)

    def lint_bytes(self, content: bytes, filename: str) -> LintReport:
        """Lint an uploaded BPMN document; one that cannot be read safely is reported, not raised."""
        try:
            document = load_bpmn(content, filename=filename, max_bytes=self.settings.max_bpmn_bytes)
        except LoadError as bad:
            return LintReport(filename, None, "", [LintIssue("error", "load-error", bad.reason, None, bad.line)])
        return deployment.lint(document)

    def deploy_as(self, person_id: str, content: bytes, filename: str) -> DefinitionView:
        """Deploy an uploaded procedure for a committee member or an admin."""
        with self.unit() as uow:
            accounts.ensure_may_deploy(accounts.must_be(uow, person_id))
        return self.deploy_bytes(content, filename, actor=person_id)

    def start_as(self, person_id: str, process_id: str, *, org_unit_id: str, data: dict[str, Any] | None = None,
                 title: str | None = None, business_key: str | None = None) -> InstanceView:
        """Start a procedure at a unit where the person is on the committee (or an admin), or above it."""
        with self.unit() as uow:
            accounts.ensure_may_start(uow, accounts.must_be(uow, person_id), org_unit_id)
        return self.start(process_id, org_unit_id=org_unit_id, data=data, actor=person_id, title=title,
                          business_key=business_key)

    def _may_change(self, person_id: str) -> None:
        with self.unit() as uow:
            accounts.ensure_may_change(accounts.must_be(uow, person_id))

    def claim_as(self, person_id: str, task_id: int) -> TaskView:
        """Claim a task, unless the person is read-only."""
        self._may_change(person_id)
        return self.claim(task_id, person_id=person_id)

    def unclaim_as(self, person_id: str, task_id: int) -> TaskView:
        """Give a claimed task back, unless the person is read-only."""
        self._may_change(person_id)
        return self.unclaim(task_id, person_id=person_id)

    def open_task_as(self, person_id: str, task_id: int) -> TaskView:
        """Record that work on a task started, unless the person is read-only."""
        self._may_change(person_id)
        return self.open_task(task_id, person_id=person_id)

    def complete_as(self, person_id: str, task_id: int, data: dict[str, Any] | None = None) -> InstanceView:
        """Complete a task (theirs or their role's), unless the person is read-only."""
        self._may_change(person_id)
        return self.complete(task_id, person_id=person_id, data=data)

    def inbox_as(self, person_id: str) -> list[accounts.InboxEntry]:
        """List the person's open tasks with their instances, soonest due first (so overdue first)."""
        with self.unit() as uow:
            who = accounts.must_be(uow, person_id)
            rows = uow.tasks.inbox(person_id, [(r.role, r.org_unit_id, r.org_path) for r in who.roles])
            instances: dict[int, Any] = {}
            entries = []
            for t in rows:
                if t.instance_id not in instances:
                    instances[t.instance_id] = uow.instances.get(t.instance_id)
                row = instances[t.instance_id]
                definition = self.runtime.definition(uow, row.definition_id)
                model = definition.model.user_tasks.get(t.task_spec)
                entries.append(accounts.InboxEntry(
                    _task_view(t), _instance_view(row, [], {}), definition.name,
                    may_claim=not who.read_only and t.state == "ready",
                    may_unclaim=(not who.read_only and t.state == "claimed" and t.assignee == person_id
                                 and not (model and model.assignee))))
            return entries

    def next_task_as(self, person_id: str, instance_id: int) -> TaskView | None:
        """Return the person's next open task of an instance, if any."""
        return next((e.task for e in self.inbox_as(person_id) if e.instance.id == instance_id), None)

    def task_as(self, person_id: str, task_id: int) -> TaskView:
        """Return a task the person may work on or whose instance they may read."""
        with self.unit() as uow:
            who = accounts.must_be(uow, person_id)
            task = uow.tasks.get(task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist")
            if not self.runtime.may_do(uow, task, person_id):
                accounts.ensure_may_read(uow, who, task.instance_id)
            return _task_view(task)

    def may_work_on(self, person_id: str, task_id: int) -> bool:
        """Tell whether the person may claim or complete the task now."""
        with self.unit() as uow:
            who = accounts.principal(uow, person_id)
            task = uow.tasks.get(task_id)
            return (who is not None and not who.read_only and task is not None and task.state in ("ready", "claimed")
                    and self.runtime.may_do(uow, task, person_id))

    def task_form_as(self, person_id: str, task_id: int) -> tuple[list[FormField], dict[str, Any]]:
        """Return a task's form fields and their values: current ones if open, as submitted if completed."""
        task = self.task_as(person_id, task_id)
        with self.unit() as uow:
            row = uow.instances.row(task.instance_id)
            model = self.runtime.definition(uow, row.definition_id).model.user_tasks.get(task.task_spec)
            fields = list(model.form) if model else []
            if task.state in ("ready", "claimed"):
                values = self.runtime.peek(uow, task.instance_id).task_data(task.spiff_task_id)
            else:
                done = [e.payload for e in uow.history.for_instance(task.instance_id)
                        if e.type == "task_completed" and e.task_id == task.spiff_task_id]
                values = (done[-1].get("data") or {}) if done else {}
            return fields, {f.id: values[f.id] for f in fields if f.id in values}

    def instance_as(self, person_id: str, instance_id: int) -> InstanceView:
        """Return an instance the person may read, with its open tasks and data."""
        with self.unit() as uow:
            accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            return self._instance_in(uow, instance_id)

    def instance_tasks_as(self, person_id: str, instance_id: int) -> list[TaskView]:
        """Return every task of an instance the person may read (open, done and cancelled), in order."""
        with self.unit() as uow:
            accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            return [_task_view(t) for t in uow.tasks.for_instance(instance_id)]

    def history_as(self, person_id: str, instance_id: int) -> list[EventView]:
        """Return every event of an instance the person may read."""
        with self.unit() as uow:
            accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            return [_stored(e) for e in uow.history.for_instance(instance_id)]

    def verify_instance_as(self, person_id: str, instance_id: int) -> VerifyReport:
        """Check the hash chain of one instance the person may read."""
        with self.unit() as uow:
            row = accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            chain = instance_chain(instance_id)
            stored = [_stored(e) for e in uow.history.events(chain)]
            head = (row.history_length, row.history_head) if row.history_length else None
            return VerifyReport(1, len(stored), verify_chain(chain, stored, head))

    def instances_as(self, person_id: str, *, status: str | None = None,
                     process_id: str | None = None) -> list[InstanceView]:
        """List the instances the person may read, newest first."""
        with self.unit() as uow:
            who = accounts.must_be(uow, person_id)
            paths = {u.id: u.path for u in uow.orgs.units()}
            mine = {t.instance_id for t in uow.tasks.inbox(
                person_id, [(r.role, r.org_unit_id, r.org_path) for r in who.roles], include_done=True)}
            return [_instance_view(r, [], {}) for r in uow.instances.list(status=status, process_id=process_id)
                    if who.may_read_unit(paths.get(r.org_unit_id, "")) or r.started_by == person_id
                    or r.id in mine]

    def diagram_as(self, person_id: str, instance_id: int, *, highlight: str | None = None) -> str | None:
        """Return the SVG of an instance's diagram coloured by its history, or None when the file has no DI."""
        from engine import render

        with self.unit() as uow:
            row = accounts.ensure_may_read(uow, accounts.must_be(uow, person_id), instance_id)
            definition = uow.definitions.get(row.definition_id)
            events = [_stored(e) for e in uow.history.for_instance(instance_id)]
        if definition is None:
            return None
        document = load_bpmn(definition.bpmn_xml, filename=f"{definition.process_id}.bpmn",
                             max_bytes=self.settings.max_bpmn_bytes)
        try:
            return render.render_svg(document.root, states=render.element_states(events), highlight=highlight)
        except render.NoDiagram:
            return None


def open_service(url: str, *, clock: Clock | None = None, settings: Settings | None = None,
                 migrate: bool = True) -> WorkflowService:
    """Wire a service to a database URL, creating or upgrading its schema."""
    db_engine = make_engine(url)
    service = WorkflowService(session_factory=make_session_factory(db_engine), db_engine=db_engine, clock=clock,
                              settings=settings)
    if migrate:
        service.init_database()
    return service


def _task_view(t: Any) -> TaskView:
    return TaskView(t.id, t.instance_id, t.spiff_task_id, t.task_spec, t.name, t.lane, t.role, t.org_unit_id,
                    t.assignee, t.state, t.ready_at, t.claimed_at, t.opened_at, t.completed_at, t.due_at,
                    t.completed_by, t.lean_class, t.sla)


def _instance_view(r: Any, tasks: list[TaskView], data: dict[str, Any]) -> InstanceView:
    return InstanceView(r.id, r.process_id, r.definition_id, r.version, r.org_unit_id, r.title, r.business_key,
                        r.status, r.started_by, r.started_at, r.ended_at, r.next_timer_due, r.error, tasks, data)


def _stored(e: Event) -> StoredEvent:
    return StoredEvent(e.id, e.chain, e.chain_seq, e.instance_id, e.task_id, e.type, e.actor, e.at, e.payload,
                       e.prev_hash, e.hash)


__all__ = ["Settings", "WorkflowService", "open_service"]
