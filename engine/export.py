"""Event-log export for process mining: IEEE 1849 XES and a flat CSV, one trace per instance.

Both formats are read from the hash-chained history (never from the inbox projection), so what a mining tool
sees is exactly what the audit trail holds. lxml and the csv module do all escaping.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from lxml import etree
from sqlalchemy import select

from engine.unit_of_work import UnitOfWork
from storage.models import OrgUnit, ProcessInstance

XES_NS = "http://www.xes-standard.org/"
XES_VERSION = "1849-2016"
# Our own attributes live under one prefix, declared as an extension (ANALYTICS.md §5 export rule).
LEANFLOW_PREFIX = "leanflow"
LEANFLOW_URI = "urn:leanflow:xes:leanflow"

EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("LeanFlow", LEANFLOW_PREFIX, LEANFLOW_URI),
)
CLASSIFIERS = (
    ("Activity", "concept:name"),
    ("Activity and transition", "concept:name lifecycle:transition"),
    ("Resource", "org:resource"),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# History event type -> lifecycle:transition (standard lifecycle model).
TRANSITIONS = {
    "task_ready": "schedule",
    "task_claimed": "assign",
    "task_unclaimed": "reassign",
    "task_opened": "start",
    "task_completed": "complete",
    "timer_fired": "complete",
    "check_failed": "unknown",
}
CSV_COLUMNS = ("case_id", "activity", "lifecycle", "timestamp", "resource", "role", "org_unit", "lean_class",
               "due_at", "spec", "event_type")


@dataclass(frozen=True)
class LogEvent:
    """One event of an exported trace, format-neutral."""

    activity: str
    transition: str
    at: datetime
    event_type: str
    spec: str | None = None
    resource: str | None = None
    role: str | None = None
    org_unit: str | None = None
    lean_class: str | None = None
    due_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LogTrace:
    """One instance as a trace: its case attributes and events in history order."""

    instance_id: int
    process_id: str
    definition_id: int
    definition_version: int | None
    org_unit: str
    title: str
    status: str
    business_key: str | None
    started_at: datetime
    ended_at: datetime | None
    events: list[LogEvent]


# -- reading the history --------------------------------------------------------------------------------------


@contextmanager
def _unit(source: Any) -> Iterator[UnitOfWork]:
    """Accept a UnitOfWork or anything with .unit() (the WorkflowService)."""
    if isinstance(source, UnitOfWork):
        yield source
    else:
        with source.unit() as uow:
            yield uow


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return _aware(datetime.fromisoformat(str(value)))
    except ValueError:
        return None


def traces(uow: UnitOfWork, *, process_id: str, org_unit_id: str | None = None, start: datetime | None = None,
           end: datetime | None = None, include_data: bool = False) -> Iterator[LogTrace]:
    """Yield the traces of one procedure's instances, oldest first.

    org_unit_id keeps instances at that unit or below it (materialised path prefix); start/end keep instances
    started in [start, end).
    """
    pi, ou = ProcessInstance.__table__, OrgUnit.__table__
    # Only the columns a trace needs (never the serialised state), filtered in SQL, oldest first.
    query = (select(pi.c.id, pi.c.definition_id, pi.c.process_id, pi.c.org_unit_id, pi.c.title, pi.c.status,
                    pi.c.business_key, pi.c.started_at, pi.c.ended_at)
             .where(pi.c.process_id == process_id).order_by(pi.c.id))
    if org_unit_id is not None:
        unit = uow.orgs.get_unit(org_unit_id)
        if unit is None:
            return
        query = query.join(ou, ou.c.id == pi.c.org_unit_id).where(ou.c.path.startswith(unit.path, autoescape=True))
    if start is not None:
        query = query.where(pi.c.started_at >= _aware(start))
    if end is not None:
        query = query.where(pi.c.started_at < _aware(end))
    versions: dict[int, int | None] = {}
    for row in uow.session.execute(query).all():
        if row.definition_id not in versions:
            definition = uow.definitions.get(row.definition_id)
            versions[row.definition_id] = definition.version if definition else None
        events = _events(uow.history.for_instance(row.id), row.org_unit_id, include_data)
        yield LogTrace(row.id, row.process_id, row.definition_id, versions[row.definition_id], row.org_unit_id,
                       row.title, row.status, row.business_key, row.started_at, _aware(row.ended_at), events)


def _events(stored: Any, org_unit: str, include_data: bool) -> list[LogEvent]:
    """Map one instance's history to log events; a task's later events take its name from task_ready."""
    tasks: dict[str, dict[str, Any]] = {}
    started: set[str] = set()
    out: list[LogEvent] = []
    for e in stored:
        payload = e.payload or {}
        at = e.at if e.at.tzinfo is not None else e.at.replace(tzinfo=UTC)
        task = tasks.get(e.task_id or "", {})
        if e.type == "task_ready":
            task = tasks[e.task_id] = {"spec": payload.get("spec"), "name": payload.get("name"),
                                       "role": payload.get("role"), "lean_class": payload.get("lean_class"),
                                       "due_at": _parse_time(payload.get("due_at")),
                                       "org_unit": payload.get("org_unit") or org_unit}
        if e.type in ("task_ready", "task_claimed", "task_unclaimed", "task_opened", "task_completed",
                      "task_cancelled", "check_failed"):
            spec = task.get("spec") or payload.get("spec")
            name = task.get("name") or payload.get("name") or spec or "?"
            if e.type == "task_opened" and e.task_id:
                started.add(e.task_id)
            if e.type == "task_cancelled":
                # Cancelled after work started is an abort; before it, the offer is withdrawn.
                transition = "ate_abort" if e.task_id in started else "withdraw"
            else:
                transition = TRANSITIONS[e.type]
            extra: dict[str, str] = {}
            if e.type == "check_failed":
                extra["failures"] = json.dumps(payload.get("failures") or [], ensure_ascii=False)
            if e.type == "task_completed" and include_data:
                extra["data"] = json.dumps(payload.get("data") or {}, ensure_ascii=False, sort_keys=True)
            out.append(LogEvent(str(name), transition, at, e.type, spec, e.actor, task.get("role"),
                                task.get("org_unit") or org_unit, task.get("lean_class"), task.get("due_at"), extra))
        elif e.type == "timer_fired":
            name = payload.get("name") or payload.get("spec") or "timer"
            extra = {k: str(payload[k]) for k in ("attached_to",) if payload.get(k)}
            out.append(LogEvent(str(name), "complete", at, e.type, payload.get("spec"), e.actor, None, org_unit,
                                None, _parse_time(payload.get("due")), extra))
    return out


# -- XES ------------------------------------------------------------------------------------------------------


def _xes_time(value: datetime) -> str:
    """xs:dateTime with its offset; milliseconds unless the history holds finer time (which then round-trips)."""
    return value.isoformat(timespec="milliseconds" if value.microsecond % 1000 == 0 else "microseconds")


def _attr(parent: etree._Element, kind: str, key: str, value: Any) -> None:
    if value is None:
        return
    if kind == "date":
        value = _xes_time(value)
    etree.SubElement(parent, kind, key=key, value=str(value))


def _trace_element(trace: LogTrace) -> etree._Element:
    el = etree.Element("trace")
    _attr(el, "string", "concept:name", trace.instance_id)
    _attr(el, "string", "leanflow:process_id", trace.process_id)
    _attr(el, "int", "leanflow:definition_id", trace.definition_id)
    _attr(el, "int", "leanflow:definition_version", trace.definition_version)
    _attr(el, "string", "leanflow:org_unit", trace.org_unit)
    _attr(el, "string", "leanflow:title", trace.title)
    _attr(el, "string", "leanflow:status", trace.status)
    _attr(el, "string", "leanflow:business_key", trace.business_key)
    _attr(el, "date", "leanflow:started_at", trace.started_at)
    _attr(el, "date", "leanflow:ended_at", trace.ended_at)
    for event in trace.events:
        ev = etree.SubElement(el, "event")
        _attr(ev, "string", "concept:name", event.activity)
        _attr(ev, "string", "lifecycle:transition", event.transition)
        _attr(ev, "date", "time:timestamp", event.at)
        _attr(ev, "string", "org:resource", event.resource)
        _attr(ev, "string", "org:role", event.role)
        _attr(ev, "string", "org:group", event.org_unit)
        _attr(ev, "string", "leanflow:event_type", event.event_type)
        _attr(ev, "string", "leanflow:spec", event.spec)
        _attr(ev, "string", "leanflow:lean_class", event.lean_class)
        _attr(ev, "date", "leanflow:due_at", event.due_at)
        for key, value in event.extra.items():
            _attr(ev, "string", f"leanflow:{key}", value)
    return el


def export_xes(source: Any, *, process_id: str, org_unit_id: str | None = None, start: datetime | None = None,
               end: datetime | None = None, out: BinaryIO, include_data: bool = False) -> int:
    """Write an IEEE 1849 XES log of a procedure's instances to a binary stream; return the number of traces.

    source is a UnitOfWork or the WorkflowService. Traces are streamed one at a time. include_data adds each
    completed step's form data as JSON text (leanflow:data): off by default, since it may hold personal data.
    """
    count = 0
    with _unit(source) as uow, etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("log", {"xes.version": XES_VERSION}, nsmap={None: XES_NS}):
            for name, prefix, uri in EXTENSIONS:
                xf.write(etree.Element("extension", name=name, prefix=prefix, uri=uri))
            xf.write(*_globals())
            for name, keys in CLASSIFIERS:
                xf.write(etree.Element("classifier", name=name, keys=keys))
            xf.write(etree.Element("string", key="concept:name", value=f"LeanFlow {process_id}"),
                     etree.Element("string", key="lifecycle:model", value="standard"))
            for trace in traces(uow, process_id=process_id, org_unit_id=org_unit_id, start=start, end=end,
                                include_data=include_data):
                xf.write(_trace_element(trace))
                xf.flush()
                count += 1
    return count


def _globals() -> list[etree._Element]:
    """Global declarations: attributes every trace / every event carries, with defaults."""
    trace = etree.Element("global", scope="trace")
    _attr(trace, "string", "concept:name", "__INVALID__")
    event = etree.Element("global", scope="event")
    _attr(event, "string", "concept:name", "__INVALID__")
    _attr(event, "string", "lifecycle:transition", "complete")
    _attr(event, "date", "time:timestamp", EPOCH)
    _attr(event, "string", "leanflow:event_type", "__INVALID__")
    return [trace, event]


# -- CSV ------------------------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """Keep a spreadsheet from reading a step or person name as a formula (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_csv(source: Any, *, process_id: str, org_unit_id: str | None = None, start: datetime | None = None,
               end: datetime | None = None, out: BinaryIO) -> int:
    """Write one CSV row per event (UTF-8, header first) to a binary stream; return the number of rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    rows = 0
    try:
        writer = csv.writer(text)
        writer.writerow(CSV_COLUMNS)
        with _unit(source) as uow:
            for trace in traces(uow, process_id=process_id, org_unit_id=org_unit_id, start=start, end=end):
                for e in trace.events:
                    writer.writerow([_cell(v) for v in (
                        trace.instance_id, e.activity, e.transition, _xes_time(e.at), e.resource or "", e.role or "",
                        e.org_unit or "", e.lean_class or "", _xes_time(e.due_at) if e.due_at else "", e.spec or "",
                        e.event_type)])
                    rows += 1
        text.flush()
    finally:
        text.detach()  # leave the caller's stream open
    return rows


__all__ = ["CSV_COLUMNS", "LogEvent", "LogTrace", "export_csv", "export_xes", "traces"]
