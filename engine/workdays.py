"""The Chinese working-day calendar: admin overrides, then chinesecalendar, then a provisional Mon–Fri guess.

Counting rules, shared by ``add_working_days`` and ``working_days_between``:

* Days are local calendar dates in the calendar's time zone (Asia/Shanghai by default).
* The start day itself never counts: "5 working days after Monday 10:00" looks at Tuesday first, so a
  notice posted on a working day still runs five full working days. A start on a holiday or weekend
  simply lands on the n-th working day after it.
* ``add_working_days(start, n)`` ends on the n-th working day after start's local date, at start's local
  time of day; n=0 returns start unchanged; negative n counts the same way backwards.
* ``working_days_between(a, b)`` counts working days in (a, b], so it inverts ``add_working_days``:
  ``working_days_between(s.date(), add_working_days(s, n).at.date())[0] == n`` for n > 0.

chinesecalendar knows whole years (it ships each year's State Council notice); a date in a year it does not
know is decided by the Mon–Fri fallback and reported as provisional, because the real notice may add a
holiday or a 调休 working weekend once it is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Final, Literal
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")

Source = Literal["override", "chinesecalendar", "weekday-fallback"]

_ONE_DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class DayInfo:
    """Whether a date is a working day, and whether that answer is only provisional."""

    day: date
    is_workday: bool
    provisional: bool  # True when neither an override nor chinesecalendar knew the date (Mon–Fri fallback)
    source: Source


@dataclass(frozen=True)
class WorkdayResult:
    """A moment computed by counting working days, with the days only the fallback could decide."""

    at: datetime
    provisional: bool
    provisional_days: tuple[date, ...]  # every fallback-decided day that was looked at, in counting order


def _plain_date(d: date, name: str) -> date:
    # datetime is a subclass of date but never equals one as a dict key, so it would silently miss overrides.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"{name} must be a date, not {type(d).__name__}")
    return d


class WorkCalendar:
    """Working days from admin overrides, then chinesecalendar, then a Mon–Fri fallback marked provisional."""

    __slots__ = ("_overrides", "_tz", "_first", "_last", "_holidays", "_workdays")

    def __init__(self, overrides: Mapping[date, bool] | None = None, *, tz: tzinfo = SHANGHAI) -> None:
        """Build a calendar; an override maps a date to True (working day, e.g. 调休) or False (holiday)."""
        if not isinstance(tz, tzinfo):
            raise TypeError(f"tz must be a tzinfo, not {type(tz).__name__}")
        checked: dict[date, bool] = {}
        for key, value in (overrides or {}).items():
            _plain_date(key, "override key")
            if not isinstance(value, bool):
                raise TypeError(f"override for {key.isoformat()} must be True or False, not {value!r}")
            checked[key] = value
        self._overrides: Mapping[date, bool] = MappingProxyType(checked)
        self._tz = tz
        # chinesecalendar supports exactly the years between its first and last listed holiday; computed
        # once here because its own is_workday recomputes min/max of the whole table on every call.
        self._holidays = chinese_calendar.holidays
        self._workdays = chinese_calendar.workdays
        self._first = date(min(self._holidays).year, 1, 1)
        self._last = date(max(self._holidays).year, 12, 31)

    @property
    def tz(self) -> tzinfo:
        """The time zone whose local dates are counted."""
        return self._tz

    @property
    def overrides(self) -> Mapping[date, bool]:
        """The admin overrides, read-only."""
        return self._overrides

    def coverage(self) -> tuple[date, date]:
        """Return the first and last date chinesecalendar knows (whole years, inclusive)."""
        return self._first, self._last

    def _decide(self, d: date) -> tuple[bool, Source]:
        override = self._overrides.get(d)
        if override is not None:
            return override, "override"
        if self._first <= d <= self._last:
            # Same rule as chinese_calendar.is_workday, without its per-call table scan.
            if d in self._workdays:
                return True, "chinesecalendar"
            return d.weekday() < 5 and d not in self._holidays, "chinesecalendar"
        return d.weekday() < 5, "weekday-fallback"

    def day(self, d: date) -> DayInfo:
        """Describe one date: working day or not, who decided, and whether that is provisional."""
        _plain_date(d, "day")
        workday, source = self._decide(d)
        return DayInfo(day=d, is_workday=workday, provisional=source == "weekday-fallback", source=source)

    def is_workday(self, d: date) -> bool:
        """Tell whether a date is a working day (fallback answers included)."""
        _plain_date(d, "day")
        return self._decide(d)[0]

    def add_working_days(self, start: datetime, n: int) -> WorkdayResult:
        """Return the moment n working days after start (see the module docstring for the counting rules).

        start must be tz-aware (ValueError otherwise); the count runs over local dates in self.tz and the
        result keeps start's local time of day there, then is expressed in start's own tzinfo.
        """
        if not isinstance(start, datetime):
            raise TypeError(f"start must be a datetime, not {type(start).__name__}")
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"start {start.isoformat()} has no time zone; give an aware datetime")
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if n == 0:
            return WorkdayResult(at=start, provisional=False, provisional_days=())
        local = start.astimezone(self._tz)
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        current = local.date()
        fallback_days: list[date] = []
        while remaining:
            current += step
            workday, source = self._decide(current)
            if source == "weekday-fallback":
                fallback_days.append(current)
            if workday:
                remaining -= 1
        # Rebuild from wall-clock parts so the local time of day is kept, then normalise through UTC in
        # case the zone has a DST gap on that date (Asia/Shanghai has none).
        wall = datetime.combine(current, local.timetz().replace(tzinfo=None), tzinfo=self._tz)
        at = wall.astimezone(UTC).astimezone(start.tzinfo)
        return WorkdayResult(at=at, provisional=bool(fallback_days), provisional_days=tuple(fallback_days))

    def working_days_between(self, start: date, end: date) -> tuple[int, bool]:
        """Count working days in (start, end] and say whether any day there was a fallback guess.

        If end is before start the count is negative: minus the working days in (end, start].
        """
        _plain_date(start, "start")
        _plain_date(end, "end")
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count = 0
        provisional = False
        current = start
        while current < end:
            current += _ONE_DAY
            workday, source = self._decide(current)
            count += workday
            provisional = provisional or source == "weekday-fallback"
        return sign * count, provisional
