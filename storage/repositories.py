"""One repository per aggregate; each takes a Session and never commits (the service owns the transaction)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    ApiToken,
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
    Schedule,
)


class _Repository:
    """A repository bound to one session (one transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._connection: Connection | None = None

    @property
    def conn(self) -> Connection:
        """The transaction's connection, for Core statements on the hot path (the ORM layer costs ~0.1 ms each)."""
        if self._connection is None:
            self._connection = self.session.connection()
        return self._connection


HT = HumanTask.__table__
PI = ProcessInstance.__table__
EV = Event.__table__
OU = OrgUnit.__table__
RA = RoleAssignment.__table__

# Hot-path statements built once: building and cache-keying an expression costs more than SQLite running it.
_ROLES_OF = (
    select(RA.c.role, OU.c.id, OU.c.path)
    .join(OU, OU.c.id == RA.c.org_unit_id)
    .where(
        RA.c.person_id == bindparam("person"),
        or_(RA.c.valid_from.is_(None), RA.c.valid_from <= bindparam("on")),
        or_(RA.c.valid_to.is_(None), RA.c.valid_to >= bindparam("on")),
    )
)
_TASK_WITH_PATH = select(HT, OU.c.path.label("org_path")).join(OU, OU.c.id == HT.c.org_unit_id).where(
    HT.c.id == bindparam("id"))
_CLOCK = select(ClockSetting.__table__.c.mode, ClockSetting.__table__.c.virtual_now).where(
    ClockSetting.__table__.c.id == 1)
_TASK_OU = OU.alias("task_unit")
_RA_OU = OU.alias("role_unit")
_OPEN = ("ready", "claimed")
_SIBLING = HT.alias("sibling")
# Everything a step reads, in one round trip: the task, its unit's path, its instance (without the state),
# whether the person holds the task's role there (or above it, for ancestor-scoped lanes), and how many
# tasks of the instance are open.
_STEP_CONTEXT = (
    select(
        HT,
        _TASK_OU.c.path.label("org_path"),
        *[c.label(f"instance_{c.name}") for c in PI.c if c.name not in ("id", "state_json")],
        select(RA.c.id).join(_RA_OU, _RA_OU.c.id == RA.c.org_unit_id).where(
            RA.c.person_id == bindparam("person"),
            RA.c.role == HT.c.role,
            or_(RA.c.valid_from.is_(None), RA.c.valid_from <= bindparam("on")),
            or_(RA.c.valid_to.is_(None), RA.c.valid_to >= bindparam("on")),
            or_(RA.c.org_unit_id == HT.c.org_unit_id,
                and_(HT.c.role_scope == "ancestor",
                     func.substr(_TASK_OU.c.path, 1, func.length(_RA_OU.c.path)) == _RA_OU.c.path)),
        ).exists().label("role_allowed"),
        select(func.count()).select_from(_SIBLING).where(
            _SIBLING.c.instance_id == HT.c.instance_id, _SIBLING.c.state.in_(_OPEN)
        ).scalar_subquery().label("open_count"),
    )
    .join(_TASK_OU, _TASK_OU.c.id == HT.c.org_unit_id)
    .join(PI, PI.c.id == HT.c.instance_id)
    .where(HT.c.id == bindparam("id"))
)
_SAVE_STEP = (
    update(PI)
    .where(PI.c.id == bindparam("instance"), PI.c.version == bindparam("expected"))
    .values(version=bindparam("expected") + 1, state_json=bindparam("state_json"), status=bindparam("status"),
            next_timer_due=bindparam("next_timer_due"), ended_at=bindparam("ended_at"),
            history_length=bindparam("history_length"), history_head=bindparam("history_head"))
)
_COMPLETE_TASK = update(HT).where(HT.c.id == bindparam("task")).values(
    state="completed", completed_at=bindparam("at"), completed_by=bindparam("by"), assignee=bindparam("assignee"))
_INSTANCE_ROW = select(PI).where(PI.c.id == bindparam("id"))
_OPEN_TASKS = select(HT).where(HT.c.instance_id == bindparam("instance"), HT.c.state.in_(("ready", "claimed"))
                               ).order_by(HT.c.id)


class OrgRepository(_Repository):
    """The organisation tree, its people and their roles."""

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
        rows = self.conn.execute(_ROLES_OF, {"person": person_id, "on": on})
        return [(r, u, p) for r, u, p in rows]

    def holders(self, role: str, unit_id: str, on: date) -> list[str]:
        """The ids of the people holding a role at exactly this unit on a date."""
        return list(self.conn.execute(
            select(RA.c.person_id).where(
                RA.c.role == role, RA.c.org_unit_id == unit_id,
                or_(RA.c.valid_from.is_(None), RA.c.valid_from <= on),
                or_(RA.c.valid_to.is_(None), RA.c.valid_to >= on),
            ).order_by(RA.c.person_id)).scalars())

    def person_exists(self, person_id: str) -> bool:
        """Tell whether a person id is known."""
        return self.conn.execute(select(Person.__table__.c.id).where(
            Person.__table__.c.id == person_id)).first() is not None


class DefinitionRepository(_Repository):
    """Deployed procedure versions."""

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


class InstanceRepository(_Repository):
    """Process instances; updates name the version they read (optimistic concurrency)."""

    def add(self, instance: ProcessInstance) -> ProcessInstance:
        """Store a new instance."""
        self.session.add(instance)
        self.session.flush()
        return instance

    def get(self, instance_id: int) -> ProcessInstance | None:
        """Return an instance by id."""
        return self.session.get(ProcessInstance, instance_id)

    def row(self, instance_id: int) -> Row[Any] | None:
        """Read an instance's columns without building an ORM object."""
        return self.conn.execute(_INSTANCE_ROW, {"id": instance_id}).first()

    def state_json(self, instance_id: int, version: int | None = None) -> str | None:
        """Read an instance's serialised state (only if it is still at the given version, when one is given)."""
        if version is not None:
            return self.session.scalar(select(ProcessInstance.state_json).where(
                ProcessInstance.id == instance_id, ProcessInstance.version == version))
        return self.session.scalar(select(ProcessInstance.state_json).where(ProcessInstance.id == instance_id))

    def update(self, instance_id: int, expected_version: int, **values: Any) -> bool:
        """Write new values if nobody changed the instance since it was read; bump its version."""
        result = self.conn.execute(
            update(PI).where(PI.c.id == instance_id, PI.c.version == expected_version)
            .values(version=expected_version + 1, **values)
        )
        return bool(result.rowcount == 1)

    def save_step(self, instance_id: int, expected_version: int, *, state_json: str, status: str,
                  next_timer_due: datetime | None, ended_at: datetime | None, history_length: int,
                  history_head: str) -> bool:
        """Save a step's state and history head if the version is still the one read; bump the version."""
        result = self.conn.execute(_SAVE_STEP, {
            "instance": instance_id, "expected": expected_version, "state_json": state_json, "status": status,
            "next_timer_due": next_timer_due, "ended_at": ended_at, "history_length": history_length,
            "history_head": history_head})
        return bool(result.rowcount == 1)

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


class TaskRepository(_Repository):
    """The inbox projection of user tasks."""

    def get(self, task_id: int) -> Row[Any] | None:
        """Return a human task's columns plus its org unit's path (for ancestor-scoped roles)."""
        return self.conn.execute(_TASK_WITH_PATH, {"id": task_id}).first()

    def step_context(self, task_id: int, person_id: str, on: date) -> Row[Any] | None:
        """Read a task, its unit path, its instance's columns, the person's right to it and the open count."""
        return self.conn.execute(_STEP_CONTEXT, {"id": task_id, "person": person_id, "on": on}).first()

    def add_many(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert new inbox rows in one statement and return their ids in order."""
        if not rows:
            return []
        result = self.conn.execute(insert(HT).returning(HT.c.id, sort_by_parameter_order=True), rows)
        return [r[0] for r in result]

    def open_for_instance(self, instance_id: int) -> list[Any]:
        """Return (id, spiff task id, state) of an instance's open tasks."""
        return list(self.conn.execute(
            select(HT.c.id, HT.c.spiff_task_id, HT.c.state).where(
                HT.c.instance_id == instance_id, HT.c.state.in_(("ready", "claimed")))
        ))

    def mark_completed(self, task_id: int, *, at: datetime, by: str, assignee: str) -> None:
        """Close a task as completed by someone."""
        self.conn.execute(_COMPLETE_TASK, {"task": task_id, "at": at, "by": by, "assignee": assignee})

    def set(self, task_id: int, **values: Any) -> None:
        """Update columns of one task."""
        self.conn.execute(update(HT).where(HT.c.id == task_id).values(**values))

    def for_instance(self, instance_id: int, *, open_only: bool = False) -> list[Row[Any]]:
        """The task rows of an instance (all, or only the open ones), in order."""
        if open_only:
            return list(self.conn.execute(_OPEN_TASKS, {"instance": instance_id}))
        return list(self.conn.execute(select(HT).where(HT.c.instance_id == instance_id).order_by(HT.c.id)))

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


class HistoryRepository(_Repository):
    """The append-only event table and the heads of its chains."""

    def head(self, chain: str) -> tuple[int, str] | None:
        """Return (length, head hash) of a chain not tied to an instance, locking its row where possible."""
        row = self.conn.execute(
            select(HistoryChain.__table__.c.length, HistoryChain.__table__.c.head)
            .where(HistoryChain.__table__.c.chain == chain).with_for_update()
        ).first()
        return (row[0], row[1]) if row else None

    def set_head(self, chain: str, head: tuple[int, str], existed: bool) -> None:
        """Move a chain's recorded head."""
        table = HistoryChain.__table__
        length, digest = head
        if existed:
            self.conn.execute(update(table).where(table.c.chain == chain).values(length=length, head=digest))
        else:
            self.conn.execute(insert(table).values(chain=chain, length=length, head=digest))

    def instance_head(self, instance_id: int) -> tuple[int, str | None]:
        """Return (length, head hash) of an instance's chain, locking the instance row where possible."""
        row = self.conn.execute(
            select(PI.c.history_length, PI.c.history_head).where(PI.c.id == instance_id).with_for_update()
        ).one()
        return int(row[0]), row[1]

    def set_instance_head(self, instance_id: int, head: tuple[int, str]) -> None:
        """Move an instance chain's recorded head."""
        self.conn.execute(
            update(PI).where(PI.c.id == instance_id).values(history_length=head[0], history_head=head[1]))

    def insert(self, rows: list[dict[str, Any]]) -> None:
        """Insert hashed event rows."""
        if rows:
            self.conn.execute(insert(EV), rows)

    def events(self, chain: str) -> Sequence[Event]:
        """Every event of a chain, in chain order."""
        return self.session.scalars(select(Event).where(Event.chain == chain).order_by(Event.chain_seq, Event.id)).all()

    def for_instance(self, instance_id: int) -> Sequence[Event]:
        """Every event about an instance, in order."""
        return self.session.scalars(
            select(Event).where(Event.instance_id == instance_id).order_by(Event.id)
        ).all()

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every recorded chain head: the system chains' and each instance's."""
        table = HistoryChain.__table__
        heads = {c: (n, h) for c, n, h in self.conn.execute(select(table.c.chain, table.c.length,
                                                                            table.c.head))}
        for instance_id, length, head in self.conn.execute(
                select(PI.c.id, PI.c.history_length, PI.c.history_head).where(PI.c.history_length > 0)):
            heads[f"instance:{instance_id}"] = (length, head)
        return heads

    def chains(self) -> list[str]:
        """Every chain that has events."""
        return list(self.session.scalars(select(Event.chain).distinct()))

    def count(self) -> int:
        """How many events there are."""
        return int(self.session.scalar(select(func.count()).select_from(Event)) or 0)


class ClockRepository(_Repository):
    """The stored clock setting."""

    def get(self) -> tuple[str, datetime | None]:
        """Return (mode, virtual now); read on every operation, so through a prebuilt Core statement."""
        row = self.conn.execute(_CLOCK).first()
        return (row[0], row[1]) if row else ("system", None)

    def set(self, mode: str, virtual_now: datetime | None) -> None:
        """Store the clock mode and virtual time."""
        row = self.session.get(ClockSetting, 1)
        if row is None:
            self.session.add(ClockSetting(id=1, mode=mode, virtual_now=virtual_now))
        else:
            row.mode, row.virtual_now = mode, virtual_now
        self.session.flush()


class CalendarRepository(_Repository):
    """Working-day overrides loaded by an admin."""

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


class ScheduleRepository(_Repository):
    """Recurring procedures per org unit."""

    def get_by_key(self, key: str) -> Schedule | None:
        """Return a schedule by its key."""
        return self.session.scalars(select(Schedule).where(Schedule.key == key)).first()

    def save(self, key: str, **fields: Any) -> Schedule:
        """Create or update a schedule."""
        schedule = self.get_by_key(key)
        if schedule is None:
            schedule = Schedule(key=key, **fields)
            self.session.add(schedule)
        else:
            for name, value in fields.items():
                setattr(schedule, name, value)
        self.session.flush()
        return schedule

    def list(self, process_id: str | None = None) -> Sequence[Schedule]:
        """Every schedule, by key."""
        query = select(Schedule).order_by(Schedule.key)
        if process_id:
            query = query.where(Schedule.process_id == process_id)
        return self.session.scalars(query).all()

    def due(self, until: datetime, limit: int = 100) -> Sequence[Schedule]:
        """Active schedules whose next period starts by then, earliest first."""
        return self.session.scalars(
            select(Schedule).where(Schedule.active.is_(True), Schedule.next_start <= until)
            .order_by(Schedule.next_start, Schedule.id).limit(limit)
        ).all()

    def next_start(self) -> datetime | None:
        """When the earliest active schedule starts its next period."""
        return self.session.scalar(select(func.min(Schedule.next_start)).where(Schedule.active.is_(True)))

    def instances(self, schedule_ids: list[int]) -> list[Row[Any]]:
        """(schedule id, period, instance id, status, ended at) of the instances the schedules started."""
        return list(self.conn.execute(
            select(PI.c.schedule_id, PI.c.period, PI.c.id, PI.c.status, PI.c.ended_at)
            .where(PI.c.schedule_id.in_(schedule_ids)).order_by(PI.c.id)))

    def submitted_data(self, instance_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """The form data of every completed task of each instance, in order (from the history)."""
        rows = self.session.execute(
            select(Event.instance_id, Event.payload).where(Event.instance_id.in_(instance_ids),
                                                          Event.type == "task_completed").order_by(Event.id))
        found: dict[int, list[dict[str, Any]]] = {}
        for instance_id, payload in rows:
            found.setdefault(instance_id, []).append((payload or {}).get("data") or {})
        return found




class ApiTokenRepository(_Repository):
    """API tokens of people, found by the sha256 of the presented token."""

    def add(self, token: ApiToken) -> ApiToken:
        """Add a new token row and give it its id."""
        self.session.add(token)
        self.session.flush()
        return token

    def get(self, token_id: int) -> ApiToken | None:
        """Return a token by id."""
        return self.session.get(ApiToken, token_id)

    def by_hash(self, token_hash: str) -> ApiToken | None:
        """Return the token whose sha256 this is (revoked or not)."""
        return self.session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).one_or_none()

    def for_person(self, person_id: str) -> Sequence[ApiToken]:
        """List a person's tokens, oldest first."""
        return self.session.scalars(select(ApiToken).where(ApiToken.person_id == person_id)
                                    .order_by(ApiToken.id)).all()


class MetricsRepository(_Repository):
    """Read-only queries for step and procedure metrics (engine/metrics.py): scope by metadata, times by events."""

    def unit_path(self, unit_id: str) -> str | None:
        """The materialised path of an org unit ("/c1/b1/"), or None when there is no such unit."""
        return self.conn.execute(select(OU.c.path).where(OU.c.id == unit_id)).scalar_one_or_none()

    def instances_in_scope(self, process_id: str, *, definition_id: int | None = None, path_prefix: str | None = None,
                           start: datetime | None = None, end: datetime | None = None) -> list[Row[Any]]:
        """(id, definition_id, org_unit_id) of a procedure's instances started in [start, end) under a subtree."""
        stmt = (select(PI.c.id, PI.c.definition_id, PI.c.org_unit_id)
                .join(OU, OU.c.id == PI.c.org_unit_id)
                .where(PI.c.process_id == process_id))
        if definition_id is not None:
            stmt = stmt.where(PI.c.definition_id == definition_id)
        if path_prefix is not None:
            stmt = stmt.where(OU.c.path.startswith(path_prefix, autoescape=True))
        if start is not None:
            stmt = stmt.where(PI.c.started_at >= start)
        if end is not None:
            stmt = stmt.where(PI.c.started_at < end)
        return list(self.conn.execute(stmt.order_by(PI.c.id)))

    def instance_events(self, instance_ids: Sequence[int], *, chunk: int = 500) -> list[Row[Any]]:
        """(instance_id, id, task_id, type, actor, at, payload) of the instances' events, by instance then id."""
        rows: list[Row[Any]] = []
        ids = sorted(instance_ids)
        for i in range(0, len(ids), chunk):
            rows += self.conn.execute(
                select(EV.c.instance_id, EV.c.id, EV.c.task_id, EV.c.type, EV.c.actor, EV.c.at, EV.c.payload)
                .where(EV.c.instance_id.in_(ids[i:i + chunk]))
                .order_by(EV.c.instance_id, EV.c.id))
        return rows
