"""Recurring procedures: one instance per org unit and calendar period, and the compliance of each period."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from dateutil.relativedelta import relativedelta

from engine.errors import InvalidInput, NotFound
from engine.history import SYSTEM_CHAIN, NewEvent
from engine.unit_of_work import UnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
CADENCES = {1: "monthly", 3: "quarterly", 6: "half-yearly", 12: "yearly"}
# Cadences of 三会一课 and the theme party day (PROCEDURES.md §2.0); a schedule file may change them per unit.
MEETING_LABELS = {"branch_member_meeting": "支部党员大会", "committee_meeting": "支部委员会会议",
                  "group_meeting": "党小组会", "party_lecture": "党课", "theme_day": "主题党日"}
MEETING_CADENCE = {"branch_member_meeting": 3, "party_lecture": 3, "committee_meeting": 1, "group_meeting": 1,
                   "theme_day": 1}


@dataclass(frozen=True)
class Period:
    """A calendar period a recurring procedure must be done in."""

    label: str
    start: date
    end: date  # last day, inclusive


@dataclass(frozen=True)
class ScheduleView:
    """A recurring procedure at an org unit."""

    key: str
    process_id: str
    org_unit_id: str
    cadence: str
    params: dict[str, Any]
    next_start: datetime
    active: bool


@dataclass(frozen=True)
class ComplianceRow:
    """Whether one period's procedure was done on time, late, missed, or is still open."""

    schedule: str
    org_unit_id: str
    process_id: str
    params: dict[str, Any]
    period: str
    period_end: date
    status: str  # on_time | late | missed | open | not_started
    instance_id: int | None
    done_on: str | None


def period_of(day: date, months: int) -> Period:
    """Return the calendar period of a cadence (months 1, 3, 6 or 12) that contains the day."""
    if months not in CADENCES:
        raise InvalidInput(f"cadence must be 1, 3, 6 or 12 months, not {months}")
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    end = start + relativedelta(months=months) - timedelta(days=1)
    label = {1: f"{day.year}-{first_month:02d}", 3: f"{day.year}-Q{(first_month + 2) // 3}",
             6: f"{day.year}-H{(first_month + 5) // 6}", 12: f"{day.year}"}[months]
    return Period(label, start, end)


def start_of(day: date) -> datetime:
    """Midnight at the start of a day, Beijing time."""
    return datetime.combine(day, time(0), SHANGHAI)


def _months(value: Any) -> int:
    text = str(value).strip().upper()
    named = {"MONTHLY": 1, "P1M": 1, "QUARTERLY": 3, "P3M": 3, "HALF-YEARLY": 6, "P6M": 6, "YEARLY": 12,
             "ANNUAL": 12, "P1Y": 12, "P12M": 12}
    if text in named:
        return named[text]
    raise InvalidInput(f"unknown cadence '{value}' (monthly, quarterly, half-yearly, yearly or P1M/P3M/P6M/P1Y)")


def parse_schedule_document(text: str, filename: str = "<schedules>") -> list[dict[str, Any]]:
    """Read a schedule file: a list of {process, unit(s), cadence, params, done_field} entries."""
    try:
        data = json.loads(text) if filename.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as bad:
        raise InvalidInput(f"{filename}: not valid YAML/JSON: {str(bad).splitlines()[0]}") from None
    entries = data.get("schedules") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise InvalidInput(f"{filename}: expected a list of schedules (or a mapping with 'schedules')")
    return entries


def save_schedules(uow: UnitOfWork, entries: list[dict[str, Any]], actor: str | None) -> list[ScheduleView]:
    """Create or update schedules; each starts with the period containing today."""
    saved = []
    for entry in entries:
        if not isinstance(entry, dict) or "process" not in entry:
            raise InvalidInput(f"each schedule needs a process: {entry!r}")
        units = entry.get("units") or [entry.get("unit")]
        params = dict(entry.get("params") or {})
        meeting_type = params.get("meeting_type")
        months = _months(entry["cadence"]) if "cadence" in entry else MEETING_CADENCE.get(str(meeting_type), 0)
        if not months:
            raise InvalidInput(f"schedule for {entry['process']} needs a cadence")
        for unit_id in units:
            if unit_id is None or uow.orgs.get_unit(str(unit_id)) is None:
                raise NotFound(f"org unit {unit_id} does not exist")
            key = entry.get("key") or ":".join(
                [entry["process"], str(meeting_type or ""), str(unit_id)]).replace("::", ":")
            existing = uow.schedules.get_by_key(key)
            first = period_of(uow.now.astimezone(SHANGHAI).date(), months)
            next_start = existing.next_start if existing is not None else start_of(first.start)
            since = existing.since if existing is not None else first.start
            row = uow.schedules.save(key, process_id=entry["process"], org_unit_id=str(unit_id), months=months,
                                     params=params, done_field=entry.get("done_field", "held_on"),
                                     next_start=next_start, since=since, active=bool(entry.get("active", True)))
            saved.append(view(row))
    uow.record(SYSTEM_CHAIN, None, NewEvent("schedules_saved", uow.now, actor,
                                            payload={"keys": [s.key for s in saved]}))
    return saved


def view(row: Any) -> ScheduleView:
    """Turn a schedule row into its view."""
    return ScheduleView(row.key, row.process_id, row.org_unit_id, CADENCES[row.months], dict(row.params),
                        row.next_start, row.active)


def period_title(row: Any, procedure: str, unit: str, period: Period) -> str:
    """Name a period's instance so a list of them can be told apart: "支部委员会会议 · 综采一队党支部 · 2026-04"."""
    what = MEETING_LABELS.get(str(row.params.get("meeting_type")), procedure)
    return f"{what} · {unit} · {period.label}"


def period_data(row: Any, period: Period) -> dict[str, Any]:
    """The start data of one period's instance."""
    return {**row.params, "period": period.label, "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat()}


def compliance(uow: UnitOfWork, *, process_id: str | None, org_unit_id: str | None, first: date | None,
               last: date | None) -> list[ComplianceRow]:
    """Classify every period of every schedule (within the unit's subtree) as on time, late, missed or open."""
    today = uow.now.astimezone(SHANGHAI).date()
    units = {u.id: u.path for u in uow.orgs.units()}
    scope = units.get(org_unit_id) if org_unit_id else None
    if org_unit_id and scope is None:
        raise NotFound(f"org unit {org_unit_id} does not exist")
    schedules = [s for s in uow.schedules.list(process_id) if scope is None or units[s.org_unit_id].startswith(scope)]
    started = uow.schedules.instances([s.id for s in schedules])
    submitted = uow.schedules.submitted_data([r.id for r in started])
    by_period = {(r.schedule_id, r.period): r for r in started}
    rows = []
    for schedule in schedules:
        period = period_of(max(first or schedule.since, schedule.since), schedule.months)
        stop = min(last or today, today)
        while period.start <= stop:
            instance = by_period.get((schedule.id, period.label))
            forms = submitted.get(instance.id, []) if instance else []
            status, done_on = _status(instance, _last(forms, schedule.done_field), period, today)
            if instance is not None or status != "not_started" or period.start <= today:
                rows.append(ComplianceRow(schedule.key, schedule.org_unit_id, schedule.process_id,
                                          dict(schedule.params), period.label, period.end, status,
                                          instance.id if instance else None, done_on))
            period = period_of(period.end + timedelta(days=1), schedule.months)
    return [r for r in rows if r.instance_id is not None or r.status != "not_started"]


def _last(forms: list[dict[str, Any]], field: str) -> str | None:
    """The last value a person entered for the done field (e.g. the minutes' held_on), as YYYY-MM-DD."""
    for data in reversed(forms):
        if data.get(field):
            return str(data[field])[:10]
    return None


def _status(instance: Any, done_on: str | None, period: Period, today: date) -> tuple[str, str | None]:
    """Done when someone entered the done date (even if follow-ups still run); missed when it never came."""
    if instance is None:
        return ("missed" if period.end < today else "not_started"), None
    if done_on is not None:
        return ("on_time" if done_on <= period.end.isoformat() else "late"), done_on
    if instance.status != "running" or period.end < today:
        return "missed", None
    return "open", None
