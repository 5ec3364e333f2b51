"""The front door: WorkflowService runs every operation as one transaction over storage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine import deployment, organisation
from engine.acting import Acting
from engine.clock import Clock
from engine.errors import CheckFailed, Conflict, LeanFlowError, LintIssue, LoadError, NotFound
from engine.history import SYSTEM_CHAIN, NewEvent, instance_chain, stored_event, verify_chain
from engine.loader import DEFAULT_MAX_BYTES, load_bpmn, read_bpmn_file
from engine.runtime import Runtime
from engine.spiff.serializer import Serializer
from engine.timekeeping import Timekeeping
from engine.unit_of_work import UnitOfWork
from engine.views import (
    DefinitionView,
    EventView,
    InstanceView,
    LintReport,
    TaskView,
    VerifyReport,
    instance_view,
    task_view,
)
from engine.workdays import WorkCalendar
from storage import make_engine, make_session_factory, upgrade_to_head


@dataclass(frozen=True)
class Settings:
    """Engine settings, passed in by the caller (the engine never reads the environment)."""

    max_bpmn_bytes: int = DEFAULT_MAX_BYTES
    hot_cache_size: int = 512
    prune: bool = True
    calendar_cache_seconds: float = 30.0


class WorkflowService(Timekeeping, Acting):
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
                    tasks = [task_view(SimpleNamespace(opened_at=None, completed_at=None, completed_by=None, **t))
                             for t in loaded.new_tasks]
                else:
                    tasks = [task_view(t) for t in uow.tasks.for_instance(loaded.instance_id, open_only=True)]
                row = {**(loaded.row or {}), **(loaded.saved or {}), "id": loaded.instance_id,
                       "version": loaded.version}
                return instance_view(SimpleNamespace(**row), tasks, loaded.runner.data)
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
            return [task_view(t) for t in uow.tasks.inbox(person_id, roles, include_done=include_done)]

    def task(self, task_id: int) -> TaskView:
        """Return one task."""
        with self.unit() as uow:
            task = uow.tasks.get(task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist")
            return task_view(task)

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
        tasks = [task_view(t) for t in uow.tasks.for_instance(instance_id, open_only=True)]
        return instance_view(row, tasks, self.runtime.peek(uow, instance_id).data)

    def instances(self, *, status: str | None = None, process_id: str | None = None) -> list[InstanceView]:
        """List instances, newest first."""
        with self.unit() as uow:
            return [instance_view(r, [], {}) for r in uow.instances.list(status=status, process_id=process_id)]

    def history(self, instance_id: int) -> list[EventView]:
        """Return every event of an instance, in order."""
        with self.unit() as uow:
            if uow.instances.get(instance_id) is None:
                raise NotFound(f"instance {instance_id} does not exist")
            return [stored_event(e) for e in uow.history.for_instance(instance_id)]

    def metrics(self, process_id: str, *, org_unit_id: str | None = None, start: datetime | None = None,
                end: datetime | None = None, definition_id: int | None = None) -> Any:
        """Lean metrics of a procedure from its history: queue/hold/touch per step, SLA, rework, lead time, PCE."""
        from engine.metrics import compute_metrics

        with self.unit() as uow:
            return compute_metrics(uow, process_id=process_id, org_unit_id=org_unit_id, start=start, end=end,
                                   now=uow.now, definition_id=definition_id)

    def wastes(self, process_id: str, *, org_unit_id: str | None = None, start: datetime | None = None,
               end: datetime | None = None, metrics: Any = None) -> list[Any]:
        """The eight wastes (DOWNTIME) the history shows for a procedure, each with its steps and cases.

        Pass the procedure's metrics when they are already computed, so the history is not read twice.
        """
        from engine.metrics import compute_metrics
        from engine.wastes import find_wastes

        with self.unit() as uow:
            figures = metrics if metrics is not None else compute_metrics(
                uow, process_id=process_id, org_unit_id=org_unit_id, start=start, end=end, now=uow.now)
            latest = uow.definitions.latest(process_id)
            model = self.runtime.definition(uow, latest.id).model if latest is not None else None
        lean = {k: t.lean_class for k, t in model.user_tasks.items() if t.lean_class} if model else {}
        return find_wastes(figures, lean_classes=lean)

    def system_history(self) -> list[EventView]:
        """Return the events of the system chain (deployments, imports, clock)."""
        with self.unit() as uow:
            return [stored_event(e) for e in uow.history.events(SYSTEM_CHAIN)]

    def verify(self) -> VerifyReport:
        """Check every chain of the history: links, hashes, order, heads, and that every instance has one."""
        with self.unit() as uow:
            heads = uow.history.heads()
            chains = sorted(set(uow.history.chains()) | set(heads))
            problems = []
            events = 0
            for chain in chains:
                stored = [stored_event(e) for e in uow.history.events(chain)]
                events += len(stored)
                problems += verify_chain(chain, stored, heads.get(chain))
            from engine.history import ChainProblem

            for instance in uow.instances.list(limit=10**9):
                if instance_chain(instance.id) not in heads:
                    problems.append(ChainProblem(instance_chain(instance.id), None, None,
                                                 f"instance {instance.id} has no history (chain deleted)"))
            return VerifyReport(len(chains), events, problems)

def open_service(url: str, *, clock: Clock | None = None, settings: Settings | None = None,
                 migrate: bool = True) -> WorkflowService:
    """Wire a service to a database URL, creating or upgrading its schema."""
    db_engine = make_engine(url)
    service = WorkflowService(session_factory=make_session_factory(db_engine), db_engine=db_engine, clock=clock,
                              settings=settings)
    if migrate:
        service.init_database()
    return service



__all__ = ["Settings", "WorkflowService", "open_service"]
