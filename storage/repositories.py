"""One repository per aggregate; each takes a Session and never commits (the service owns the transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    CalendarOverride,
    ClockSetting,
    Event,
    HistoryChain,
    HumanTask,
    OrgUnit,
    Person,
    ProcessDefinition,
    ProcessInstance,
    RoleAssignment,
)


class OrgRepository:
    """The organisation tree, its people and their roles."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_unit(self, unit_id: str) -> OrgUnit | None:
        """Return an org unit by id."""
        return self.session.get(OrgUnit, unit_id)

    def units(self) -> Sequence[OrgUnit]:
        """List every org unit in tree order."""
        return self.session.scalars(select(OrgUnit).order_by(OrgUnit.path)).all()

    def save_unit(self, unit_id: str, *, name: str, kind: str, parent_id: str | None) -> OrgUnit:
        """Create or update an org unit, keeping its materialised path right."""
        parent = self.get_unit(parent_id) if parent_id else None
        path = (parent.path if parent else "/") + unit_id + "/"
        unit = self.get_unit(unit_id)
        if unit is None:
            unit = OrgUnit(id=unit_id, name=name, kind=kind, parent_id=parent_id, path=path)
            self.session.add(unit)
        else:
            unit.name, unit.kind, unit.parent_id, unit.path = name, kind, parent_id, path
        self.session.flush()
        return unit

    def get_person(self, person_id: str) -> Person | None:
        """Return a person by id."""
        return self.session.get(Person, person_id)

    def people(self) -> Sequence[Person]:
        """List everyone."""
        return self.session.scalars(select(Person).order_by(Person.id)).all()

    def save_person(self, person_id: str, **fields: Any) -> Person:
        """Create or update a person."""
        person = self.get_person(person_id)
        if person is None:
            person = Person(id=person_id, **fields)
            self.session.add(person)
        else:
            for key, value in fields.items():
                setattr(person, key, value)
        self.session.flush()
        return person

    def replace_roles(self, person_id: str, roles: Iterable[tuple[str, str, date | None, date | None]]) -> None:
        """Set a person's role assignments to exactly these (role, org unit, from, to)."""
        for old in self.session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == person_id)):
            self.session.delete(old)
        self.session.flush()
        for role, unit_id, valid_from, valid_to in roles:
            self.session.add(RoleAssignment(person_id=person_id, role=role, org_unit_id=unit_id,
                                            valid_from=valid_from, valid_to=valid_to))
        self.session.flush()

    def roles_of(self, person_id: str, on: date) -> list[tuple[str, str, str]]:
        """Return (role, org unit id, org unit path) the person holds on a date."""
        rows = self.session.execute(
            select(RoleAssignment.role, OrgUnit.id, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == RoleAssignment.org_unit_id)
            .where(
                RoleAssignment.person_id == person_id,
                or_(RoleAssignment.valid_from.is_(None), RoleAssignment.valid_from <= on),
                or_(RoleAssignment.valid_to.is_(None), RoleAssignment.valid_to >= on),
            )
        )
        return [(r, u, p) for r, u, p in rows]


class DefinitionRepository:
    """Deployed procedure versions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, definition_id: int) -> ProcessDefinition | None:
        """Return a definition version by its row id."""
        return self.session.get(ProcessDefinition, definition_id)

    def latest(self, process_id: str) -> ProcessDefinition | None:
        """Return the newest version of a procedure."""
        return self.session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        ).first()

    def list(self) -> Sequence[ProcessDefinition]:
        """List every version of every procedure."""
        return self.session.scalars(
            select(ProcessDefinition).order_by(ProcessDefinition.process_id, ProcessDefinition.version)
        ).all()

    def add(self, definition: ProcessDefinition) -> ProcessDefinition:
        """Store a new version."""
        self.session.add(definition)
        self.session.flush()
        return definition


class InstanceRepository:
    """Process instances; updates name the version they read (optimistic concurrency)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, instance: ProcessInstance) -> ProcessInstance:
        """Store a new instance."""
        self.session.add(instance)
        self.session.flush()
        return instance

    def get(self, instance_id: int) -> ProcessInstance | None:
        """Return an instance by id."""
        return self.session.get(ProcessInstance, instance_id)

    def row(self, instance_id: int) -> Any:
        """Read the columns a step needs without building an ORM object."""
        return self.session.execute(
            select(ProcessInstance.__table__).where(ProcessInstance.id == instance_id)
        ).first()

    def state_json(self, instance_id: int) -> str | None:
        """Read an instance's serialised state."""
        return self.session.scalar(select(ProcessInstance.state_json).where(ProcessInstance.id == instance_id))

    def update(self, instance_id: int, expected_version: int, **values: Any) -> bool:
        """Write new values if nobody changed the instance since it was read; bump its version."""
        result = self.session.execute(
            update(ProcessInstance.__table__)
            .where(ProcessInstance.id == instance_id, ProcessInstance.version == expected_version)
            .values(version=expected_version + 1, **values)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def list(self, *, status: str | None = None, process_id: str | None = None, limit: int = 1000) -> Sequence[Any]:
        """List instances, newest first."""
        query = select(ProcessInstance).order_by(ProcessInstance.id.desc()).limit(limit)
        if status:
            query = query.where(ProcessInstance.status == status)
        if process_id:
            query = query.where(ProcessInstance.process_id == process_id)
        return self.session.scalars(query).all()

    def due(self, until: datetime, limit: int = 100) -> list[tuple[int, datetime]]:
        """Return running instances with a timer due by then, earliest first."""
        rows = self.session.execute(
            select(ProcessInstance.id, ProcessInstance.next_timer_due)
            .where(ProcessInstance.status == "running", ProcessInstance.next_timer_due <= until)
            .order_by(ProcessInstance.next_timer_due, ProcessInstance.id)
            .limit(limit)
        )
        return [(i, d) for i, d in rows]


class TaskRepository:
    """The inbox projection of user tasks."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, task_id: int) -> HumanTask | None:
        """Return a human task by id."""
        return self.session.get(HumanTask, task_id)

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert new inbox rows in one statement."""
        if rows:
            self.session.execute(insert(HumanTask.__table__), rows)

    def open_for_instance(self, instance_id: int) -> list[Any]:
        """Return (id, spiff task id, state) of an instance's open tasks."""
        return list(
            self.session.execute(
                select(HumanTask.id, HumanTask.spiff_task_id, HumanTask.state).where(
                    HumanTask.instance_id == instance_id, HumanTask.state.in_(("ready", "claimed"))
                )
            )
        )

    def set(self, task_id: int, **values: Any) -> None:
        """Update columns of one task."""
        self.session.execute(update(HumanTask.__table__).where(HumanTask.id == task_id).values(**values))

    def for_instance(self, instance_id: int) -> Sequence[HumanTask]:
        """Every task row of an instance, in order."""
        return self.session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)
        ).all()

    def inbox(self, person_id: str, roles: list[tuple[str, str, str]], *, include_done: bool = False,
              limit: int = 500) -> Sequence[HumanTask]:
        """Tasks assigned to the person, or offered to a role they hold at the task's unit or an ancestor."""
        offers = []
        for role, unit_id, path in roles:
            offers.append(and_(HumanTask.role == role, HumanTask.org_unit_id == unit_id))
            offers.append(and_(HumanTask.role == role, HumanTask.role_scope == "ancestor",
                               OrgUnit.path.startswith(path)))
        mine = HumanTask.assignee == person_id
        offered = and_(HumanTask.assignee.is_(None), or_(*offers)) if offers else None
        who = or_(mine, offered) if offered is not None else mine
        states = ("ready", "claimed", "completed") if include_done else ("ready", "claimed")
        query = (
            select(HumanTask)
            .join(OrgUnit, OrgUnit.id == HumanTask.org_unit_id)
            .where(HumanTask.state.in_(states), who)
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id)
            .limit(limit)
        )
        return self.session.scalars(query).all()


class HistoryRepository:
    """The append-only event table and the head of each chain."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def head(self, chain: str, *, lock: bool = True) -> tuple[int, str] | None:
        """Return (length, head hash) of a chain, locking its row on backends that can."""
        query = select(HistoryChain.length, HistoryChain.head).where(HistoryChain.chain == chain)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).first()
        return (row[0], row[1]) if row else None

    def append(self, chain: str, rows: list[dict[str, Any]], new_head: tuple[int, str], had_head: bool) -> None:
        """Insert hashed event rows and move the chain's head in the same transaction."""
        self.session.execute(insert(Event.__table__), rows)
        length, head = new_head
        if had_head:
            self.session.execute(
                update(HistoryChain.__table__).where(HistoryChain.chain == chain).values(length=length, head=head)
            )
        else:
            self.session.execute(insert(HistoryChain.__table__).values(chain=chain, length=length, head=head))

    def events(self, chain: str) -> Sequence[Event]:
        """Every event of a chain, in chain order."""
        return self.session.scalars(select(Event).where(Event.chain == chain).order_by(Event.chain_seq, Event.id)).all()

    def for_instance(self, instance_id: int) -> Sequence[Event]:
        """Every event about an instance, in order."""
        return self.session.scalars(
            select(Event).where(Event.instance_id == instance_id).order_by(Event.id)
        ).all()

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every recorded chain head."""
        return {c: (n, h) for c, n, h in self.session.execute(select(HistoryChain.chain, HistoryChain.length,
                                                                         HistoryChain.head))}

    def chains(self) -> list[str]:
        """Every chain that has events."""
        return list(self.session.scalars(select(Event.chain).distinct()))

    def count(self) -> int:
        """How many events there are."""
        return int(self.session.scalar(select(func.count()).select_from(Event)) or 0)


class ClockRepository:
    """The stored clock setting."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self) -> tuple[str, datetime | None]:
        """Return (mode, virtual now)."""
        row = self.session.get(ClockSetting, 1)
        return (row.mode, row.virtual_now) if row else ("system", None)

    def set(self, mode: str, virtual_now: datetime | None) -> None:
        """Store the clock mode and virtual time."""
        row = self.session.get(ClockSetting, 1)
        if row is None:
            self.session.add(ClockSetting(id=1, mode=mode, virtual_now=virtual_now))
        else:
            row.mode, row.virtual_now = mode, virtual_now
        self.session.flush()


class CalendarRepository:
    """Working-day overrides loaded by an admin."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def overrides(self) -> dict[date, bool]:
        """Every override as {date: is working day}."""
        return {d: w for d, w in self.session.execute(select(CalendarOverride.day, CalendarOverride.is_workday))}

    def save(self, day: date, is_workday: bool, note: str | None) -> None:
        """Create or replace one override."""
        row = self.session.get(CalendarOverride, day)
        if row is None:
            self.session.add(CalendarOverride(day=day, is_workday=is_workday, note=note))
        else:
            row.is_workday, row.note = is_workday, note
        self.session.flush()
