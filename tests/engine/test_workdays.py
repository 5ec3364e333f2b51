"""Tests for the Chinese working-day calendar."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar
import pytest

from engine.workdays import SHANGHAI, DayInfo, WorkCalendar


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    """A Beijing-time moment."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


# --- what chinesecalendar knows ------------------------------------------------------------------


def test_coverage_is_whole_years_chinesecalendar_supports(cal: WorkCalendar) -> None:
    first, last = cal.coverage()
    assert first == date(2004, 1, 1)
    assert last >= date(2026, 12, 31)
    assert (last.month, last.day) == (12, 31)
    chinese_calendar.is_workday(first)
    chinese_calendar.is_workday(last)
    for outside in (first - timedelta(days=1), last + timedelta(days=1)):
        with pytest.raises(NotImplementedError):
            chinese_calendar.is_workday(outside)


@pytest.mark.parametrize("year", [2004, 2015, 2020, 2025, 2026])
def test_agrees_with_chinesecalendar_inside_coverage(cal: WorkCalendar, year: int) -> None:
    d = date(year, 1, 1)
    while d.year == year:
        info = cal.day(d)
        assert info.is_workday == chinese_calendar.is_workday(d), d
        assert info.source == "chinesecalendar"
        assert not info.provisional
        d += timedelta(days=1)


def test_national_day_2026(cal: WorkCalendar) -> None:
    for day in range(1, 8):
        assert not cal.is_workday(date(2026, 10, day)), f"Oct {day} is a National Day holiday"
    # Mid-autumn Festival 2026 falls on Friday 25 September, just before.
    assert not cal.is_workday(date(2026, 9, 25))
    # 调休: Sunday 20 September and Saturday 10 October are working days.
    assert cal.is_workday(date(2026, 9, 20))
    assert cal.is_workday(date(2026, 10, 10))
    assert not cal.is_workday(date(2026, 10, 11))

    assert cal.add_working_days(at(2026, 9, 30), 1).at == at(2026, 10, 8)
    assert cal.add_working_days(at(2026, 9, 30), 3).at == at(2026, 10, 10)
    assert cal.add_working_days(at(2026, 9, 30), 4).at == at(2026, 10, 12)
    assert cal.add_working_days(at(2026, 9, 18), 1).at == at(2026, 9, 20)
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == (3, False)


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    for day in range(15, 24):
        assert not cal.is_workday(date(2026, 2, day)), f"Feb {day} is a Spring Festival holiday"
    assert cal.is_workday(date(2026, 2, 14))  # Saturday before, 调休
    assert cal.is_workday(date(2026, 2, 28))  # Saturday after, 调休

    start = at(2026, 2, 13, 17, 30)  # Friday afternoon before the holiday
    assert cal.add_working_days(start, 1).at == at(2026, 2, 14, 17, 30)
    assert cal.add_working_days(start, 2).at == at(2026, 2, 24, 17, 30)
    assert cal.add_working_days(start, 5).at == at(2026, 2, 27, 17, 30)
    result = cal.add_working_days(start, 6)
    assert result.at == at(2026, 2, 28, 17, 30)
    assert not result.provisional
    assert result.provisional_days == ()


# --- beyond the package: the required year-end public notice --------------------------------------


def test_five_day_notice_into_2027_is_provisional(cal: WorkCalendar) -> None:
    result = cal.add_working_days(at(2026, 12, 28), 5)
    # Dec 29, 30, 31 are known; Jan 1 (Fri) and Jan 4 (Mon) are only guessed by Mon–Fri.
    assert result.at == at(2027, 1, 4)
    assert result.provisional
    assert result.provisional_days == (date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3), date(2027, 1, 4))
    assert cal.working_days_between(date(2026, 12, 28), date(2027, 1, 4)) == (5, True)


def test_five_day_notice_with_one_override_still_provisional_after_it() -> None:
    cal = WorkCalendar({date(2027, 1, 1): False})
    result = cal.add_working_days(at(2026, 12, 28), 5)
    assert result.at == at(2027, 1, 5)
    assert result.provisional
    assert date(2027, 1, 1) not in result.provisional_days
    assert result.provisional_days == (date(2027, 1, 2), date(2027, 1, 3), date(2027, 1, 4), date(2027, 1, 5))


def test_five_day_notice_with_2027_overrides_is_not_provisional() -> None:
    # What an admin loads from the State Council notice for the days the count touches.
    cal = WorkCalendar(
        {
            date(2027, 1, 1): False,
            date(2027, 1, 2): False,
            date(2027, 1, 3): False,
            date(2027, 1, 4): True,
            date(2027, 1, 5): True,
        }
    )
    result = cal.add_working_days(at(2026, 12, 28), 5)
    assert result.at == at(2027, 1, 5)
    assert not result.provisional
    assert result.provisional_days == ()
    assert cal.day(date(2027, 1, 4)) == DayInfo(date(2027, 1, 4), True, False, "override")


# --- overrides and fallback ---------------------------------------------------------------------


def test_override_flips_a_day() -> None:
    holiday, weekday = date(2026, 10, 5), date(2026, 6, 15)
    cal = WorkCalendar({holiday: True, weekday: False})
    assert cal.day(holiday) == DayInfo(holiday, True, False, "override")
    assert cal.day(weekday) == DayInfo(weekday, False, False, "override")
    assert WorkCalendar().is_workday(weekday)
    # An extra 调休 Saturday in a future year counts as a working day.
    saturday = date(2027, 2, 20)
    assert WorkCalendar({saturday: True}).day(saturday) == DayInfo(saturday, True, False, "override")


def test_overrides_are_read_only_and_copied() -> None:
    source = {date(2027, 1, 1): False}
    cal = WorkCalendar(source)
    source[date(2027, 1, 1)] = True
    assert not cal.is_workday(date(2027, 1, 1))
    with pytest.raises(TypeError):
        cal.overrides[date(2027, 1, 1)] = True  # type: ignore[index]


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2027, 3, 5), True),  # Friday
        (date(2027, 3, 6), False),  # Saturday
        (date(2027, 3, 7), False),  # Sunday
        (date(2027, 3, 8), True),  # Monday
        (date(2003, 12, 31), True),  # before the package, Wednesday
        (date(2003, 12, 27), False),  # before the package, Saturday
    ],
)
def test_weekday_fallback(cal: WorkCalendar, d: date, expected: bool) -> None:
    assert cal.day(d) == DayInfo(d, expected, True, "weekday-fallback")


def test_bad_overrides_refused() -> None:
    with pytest.raises(TypeError):
        WorkCalendar({datetime(2027, 1, 1, tzinfo=SHANGHAI): False})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        WorkCalendar({date(2027, 1, 1): 0})  # type: ignore[dict-item]


def test_day_refuses_datetime(cal: WorkCalendar) -> None:
    with pytest.raises(TypeError):
        cal.day(datetime(2026, 1, 1, tzinfo=SHANGHAI))


# --- counting rules -----------------------------------------------------------------------------


def test_zero_returns_start_unchanged(cal: WorkCalendar) -> None:
    start = at(2026, 10, 3, 11, 15)  # even on a holiday
    result = cal.add_working_days(start, 0)
    assert result.at is start
    assert not result.provisional


def test_start_day_does_not_count(cal: WorkCalendar) -> None:
    # Monday 2026-06-08 is a working day, yet one working day later is Tuesday.
    assert cal.add_working_days(at(2026, 6, 8), 1).at == at(2026, 6, 9)
    # Starting on a Saturday, the first working day is Monday.
    assert cal.add_working_days(at(2026, 6, 13), 1).at == at(2026, 6, 15)


def test_negative_counts_backwards(cal: WorkCalendar) -> None:
    assert cal.add_working_days(at(2026, 10, 8), -1).at == at(2026, 9, 30)
    assert cal.add_working_days(at(2026, 10, 8), -2).at == at(2026, 9, 29)
    assert cal.add_working_days(at(2026, 2, 24), -1).at == at(2026, 2, 14)
    assert cal.working_days_between(date(2026, 10, 8), date(2026, 9, 30)) == (-1, False)


def test_negative_into_years_before_the_package(cal: WorkCalendar) -> None:
    result = cal.add_working_days(at(2004, 1, 2), -1)  # 2004-01-01 is New Year's Day
    assert result.at == at(2003, 12, 31)
    assert result.provisional_days == (date(2003, 12, 31),)


def test_naive_datetime_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="no time zone"):
        cal.add_working_days(datetime(2026, 6, 8, 9, 0), 1)


def test_counts_local_dates_and_keeps_start_tz(cal: WorkCalendar) -> None:
    # 18:00 UTC on 30 September is already 02:00 on 1 October in Beijing, a holiday.
    start = datetime(2026, 9, 30, 18, 0, tzinfo=UTC)
    result = cal.add_working_days(start, 1)
    assert result.at == at(2026, 10, 8, 2, 0)
    assert result.at.tzinfo is UTC
    plus8 = timezone(timedelta(hours=8))
    other = cal.add_working_days(datetime(2026, 9, 30, 10, 0, tzinfo=plus8), 1)
    assert other.at.tzinfo is plus8
    assert other.at == at(2026, 10, 8, 10, 0)


@pytest.mark.parametrize("start", [at(2026, 2, 10), at(2026, 9, 19, 14), at(2026, 12, 20), at(2025, 12, 31)])
def test_between_inverts_add(cal: WorkCalendar, start: datetime) -> None:
    for n in range(1, 40):
        result = cal.add_working_days(start, n)
        assert cal.is_workday(result.at.date())
        count, provisional = cal.working_days_between(start.date(), result.at.date())
        assert count == n
        assert provisional == result.provisional


def test_between_empty_range(cal: WorkCalendar) -> None:
    assert cal.working_days_between(date(2026, 6, 8), date(2026, 6, 8)) == (0, False)


def test_bulk_speed(cal: WorkCalendar) -> None:
    began = time.perf_counter()
    start = at(2026, 1, 5)
    for i in range(2000):
        cal.add_working_days(start + timedelta(days=i % 300), 20)
    far = cal.add_working_days(at(2004, 1, 5), 3650)
    count, provisional = cal.working_days_between(date(2004, 1, 1), date(2030, 12, 31))
    elapsed = time.perf_counter() - began
    assert far.at.year == 2018
    assert provisional  # 2027–2030 come from the fallback
    assert 6000 < count < 7000
    assert elapsed < 3.0, f"took {elapsed:.2f}s"
