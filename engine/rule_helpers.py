"""Safe functions that check rules, conditions and scripts may call (dates, ages, working days, people)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from engine.workdays import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
PersonLookup = Callable[[str], dict[str, Any] | None]
RoleLookup = Callable[[str, str], list[str]]  # (role, unit) -> person ids
RolesOf = Callable[[str], list[tuple[str, str]]]  # person -> (role, unit) pairs


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if len(text) > 10:
        # A stored datetime field ("2026-03-01T17:00:00+00:00") names an instant: take its Shanghai date, as above.
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(SHANGHAI).date()
    return date.fromisoformat(text[:10])


def make_helpers(now: datetime, calendar: WorkCalendar, person: PersonLookup | None = None, *,
                 org_unit: str | None = None, holders: RoleLookup | None = None,
                 roles: RolesOf | None = None) -> dict[str, Any]:
    """Build the helper functions bound to one operation's time, calendar, organisation and instance unit."""
    today = now.astimezone(SHANGHAI).date()

    def years_between(start: Any, end: Any = None) -> int:
        """Whole years from start to end (default today), as ages are counted."""
        return relativedelta(_day(end) if end is not None else today, _day(start)).years

    def months_between(start: Any, end: Any = None) -> int:
        """Whole calendar months from start to end (default today)."""
        delta = relativedelta(_day(end) if end is not None else today, _day(start))
        return delta.years * 12 + delta.months

    def days_between(start: Any, end: Any = None) -> int:
        """Calendar days from start to end (default today)."""
        return ((_day(end) if end is not None else today) - _day(start)).days

    def add_months(start: Any, months: int) -> str:
        """The date some months later, clamped to the month's end."""
        return (_day(start) + relativedelta(months=int(months))).isoformat()

    def add_days(start: Any, days: int) -> str:
        """The date some days later."""
        return (_day(start) + relativedelta(days=int(days))).isoformat()

    def working_days_between(start: Any, end: Any = None) -> int:
        """Chinese working days after start up to and including end."""
        count, _provisional = calendar.working_days_between(_day(start), _day(end) if end is not None else today)
        return count

    def is_workday(day: Any) -> bool:
        """Whether a date is a Chinese working day (holidays and make-up days included)."""
        return calendar.is_workday(_day(day))

    def add_working_days(start: Any, n: int) -> str:
        """The date n working days after start (the start day itself is not counted)."""
        begin = datetime.combine(_day(start), datetime.min.time(), SHANGHAI)
        return calendar.add_working_days(begin, int(n)).at.date().isoformat()

    def lookup(person_id: Any) -> dict[str, Any]:
        """The person's public record (id, name, membership, attributes), or {} when unknown."""
        if person is None or not isinstance(person_id, str):
            return {}
        return dict(person(person_id) or {})

    def people(ids: Any) -> list[dict[str, Any]]:
        """The records of several people."""
        return [lookup(i) for i in (ids or [])]

    def unit() -> str | None:
        """The org unit the instance runs at."""
        return org_unit

    def role_holders(role: str, at: str | None = None) -> list[str]:
        """Who holds a role at a unit (default: the instance's unit)."""
        where = at or org_unit
        return holders(str(role), str(where)) if holders is not None and where else []

    def roles_of(person_id: Any) -> list[list[str]]:
        """The [role, unit] pairs a person holds today."""
        return [[r, u] for r, u in roles(person_id)] if roles is not None and isinstance(person_id, str) else []

    return {
        "unit": unit,
        "holders": role_holders,
        "roles_of": roles_of,
        "today": lambda: today.isoformat(),
        "age": years_between,
        "years_between": years_between,
        "months_between": months_between,
        "days_between": days_between,
        "add_months": add_months,
        "add_days": add_days,
        "working_days_between": working_days_between,
        "is_workday": is_workday,
        "add_working_days": add_working_days,
        "person": lookup,
        "people": people,
    }
