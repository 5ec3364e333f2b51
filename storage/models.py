"""Typed SQLAlchemy models: organisation, definitions, instances, the inbox projection and the history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints the same everywhere."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class OrgUnit(Base):
    """A node of the organisation tree: party committee → general branch → branch → party group."""

    __tablename__ = "org_unit"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    # Materialised path ("/c1/gb1/b2/") so ancestor and subtree queries are one LIKE or one IN.
    path: Mapped[str] = mapped_column(String(1000), index=True)


class Person(Base):
    """Someone who works in LeanFlow: a member, an applicant, an auditor."""

    __tablename__ = "person"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org_unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    membership: Mapped[str | None] = mapped_column(String(32))
    birth_date: Mapped[date | None] = mapped_column(Date)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RoleAssignment(Base):
    """A person holds a role at an org unit for a period."""

    __tablename__ = "role_assignment"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    role: Mapped[str] = mapped_column(String(64))
    org_unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    __table_args__ = (Index("ix_role_assignment_role_org", "role", "org_unit_id"),)


class ProcessDefinition(Base):
    """One deployed version of a procedure; the parsed spec is stored here once, never per instance."""

    __tablename__ = "process_definition"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    spec_json: Mapped[str] = mapped_column(Text)
    model: Mapped[dict[str, Any]] = mapped_column()
    lint_report: Mapped[list[Any]] = mapped_column()
    deployed_by: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column()
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        Index("ix_process_definition_process_sha", "process_id", "sha256"),
    )


class ProcessInstance(Base):
    """A running or finished case of a procedure at an org unit."""

    __tablename__ = "process_instance"
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    org_unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), index=True)
    # Set by the scheduler: which schedule and period this instance is for.
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule.id"), index=True)
    period: Mapped[str | None] = mapped_column(String(16))
    # Spiff state without the spec; opaque to storage.
    state_json: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(16))
    # Optimistic concurrency: every change bumps it, and an update names the version it read.
    version: Mapped[int] = mapped_column(Integer, default=1)
    started_by: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    next_timer_due: Mapped[datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)
    # Head of this instance's history chain, moved by the same UPDATE that saves each step.
    history_length: Mapped[int] = mapped_column(Integer, default=0)
    history_head: Mapped[str | None] = mapped_column(String(64))


class HumanTask(Base):
    """The inbox projection of one user task of an instance."""

    __tablename__ = "human_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    task_spec: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(64))
    role_scope: Mapped[str] = mapped_column(String(16), default="unit")
    org_unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"))
    assignee: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    ready_at: Mapped[datetime] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    completed_by: Mapped[str | None] = mapped_column(String(64))
    lean_class: Mapped[str | None] = mapped_column(String(8))
    sla: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        Index("ix_human_task_open_role", "state", "role", "org_unit_id"),
        Index("ix_human_task_assignee_state", "assignee", "state"),
        Index("ix_human_task_instance_state", "instance_id", "state"),
    )


class Event(Base):
    """One entry of the append-only history; each carries the hash of the previous entry of its chain."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(32))
    chain_seq: Mapped[int] = mapped_column(Integer)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("chain", "chain_seq"),)


class HistoryChain(Base):
    """The head of each chain not tied to an instance (deployments, imports, clock), so a lost tail shows."""

    __tablename__ = "history_chain"
    chain: Mapped[str] = mapped_column(String(32), primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))


class ClockSetting(Base):
    """The database's clock: the system clock, or a virtual time that tests and demos move."""

    __tablename__ = "clock_setting"
    id: Mapped[int] = mapped_column(primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    virtual_now: Mapped[datetime | None] = mapped_column()


class CalendarOverride(Base):
    """An admin's word on whether a date is a working day (for years chinesecalendar does not know)."""

    __tablename__ = "calendar_override"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(String(200))


class Schedule(Base):
    """A recurring procedure for an org unit: one instance per calendar period (month, quarter, year)."""

    __tablename__ = "schedule"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    org_unit_id: Mapped[str] = mapped_column(ForeignKey("org_unit.id"))
    months: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column()
    done_field: Mapped[str] = mapped_column(String(64))
    next_start: Mapped[datetime] = mapped_column(index=True)
    # The first day the schedule applies to: periods before it are not counted as missed.
    since: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiToken(Base):
    """A bearer token of an API client: only the sha256 of the token is kept, never the token itself."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 (hex) of the whole token; a presented token is found by its hash, so no secret is ever compared.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
