"""Tests for timer and SLA expressions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from engine.durations import (
    CalendarDuration,
    Cycle,
    WorkingDays,
    due_after,
    parse_cycle,
    parse_date,
    parse_deadline,
    parse_duration,
)
from engine.errors import InvalidInput
from engine.workdays import SHANGHAI, WorkCalendar

PLUS8 = timezone(timedelta(hours=8))


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    """A Beijing-time moment."""
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


# --- calendar arithmetic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "text", "expected"),
    [
        (at(2026, 1, 31), "P1M", at(2026, 2, 28)),
        (at(2024, 1, 31), "P1M", at(2024, 2, 29)),
        (at(2026, 3, 31), "P1M", at(2026, 4, 30)),
        (at(2025, 8, 31), "P6M", at(2026, 2, 28)),
        (at(2026, 1, 15), "P1M", at(2026, 2, 15)),
        (at(2024, 2, 29), "P1Y", at(2025, 2, 28)),
        (at(2024, 2, 29), "P4Y", at(2028, 2, 29)),
        (at(2026, 1, 31), "P1Y1M", at(2027, 2, 28)),
        (at(2026, 1, 1), "P1W", at(2026, 1, 8)),
        (at(2026, 1, 1), "P2W3D", at(2026, 1, 18)),
        (at(2026, 12, 25), "P14D", at(2027, 1, 8)),
        (at(2026, 3, 7, 22), "PT36H", at(2026, 3, 9, 10)),
        (at(2026, 3, 7, 22), "P1DT12H", at(2026, 3, 9, 10)),
        (at(2026, 3, 7, 22), "PT90M", at(2026, 3, 7, 23, 30)),
        (at(2026, 3, 7, 22), "P0D", at(2026, 3, 7, 22)),
    ],
)
def test_add_to(start: datetime, text: str, expected: datetime) -> None:
    result = parse_duration(text).add_to(start)
    assert result == expected
    assert result.tzinfo is start.tzinfo


def test_hours_in_shanghai_equal_days() -> None:
    # Shanghai has had no DST since 1991, so PT24H and P1D agree all year round.
    for month in range(1, 13):
        start = at(2026, month, 10, 1, 30)
        assert parse_duration("PT24H").add_to(start) == parse_duration("P1D").add_to(start)
        assert parse_duration("PT24H").add_to(start) - start == timedelta(hours=24)


def test_days_follow_wall_clock_and_hours_elapsed_time_under_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=berlin)  # clocks go forward on 29 March
    assert parse_duration("P1D").add_to(start) == datetime(2026, 3, 29, 12, 0, tzinfo=berlin)
    assert parse_duration("PT24H").add_to(start) == datetime(2026, 3, 29, 13, 0, tzinfo=berlin)


def test_fixed_offset_kept() -> None:
    start = datetime(2026, 1, 31, 9, 0, tzinfo=PLUS8)
    result = parse_duration("P1M").add_to(start)
    assert result == datetime(2026, 2, 28, 9, 0, tzinfo=PLUS8)
    assert result.tzinfo is PLUS8


def test_fractional_seconds() -> None:
    assert parse_duration("PT1.5S").add_to(at(2026, 1, 1)) == at(2026, 1, 1) + timedelta(seconds=1.5)
    assert parse_duration("PT0,5S") == CalendarDuration(seconds=0.5)


def test_naive_start_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_duration("P1D").add_to(datetime(2026, 1, 1))


def test_out_of_range_is_value_error() -> None:
    with pytest.raises(ValueError, match="outside"):
        parse_duration("P9000Y").add_to(at(2026, 1, 1))


def test_negative_parts_refused() -> None:
    with pytest.raises(ValueError):
        CalendarDuration(days=-1)


# --- parsing durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1M", CalendarDuration(months=1)),
        ("P1Y", CalendarDuration(years=1)),
        ("P3D", CalendarDuration(days=3)),
        ("PT24H", CalendarDuration(hours=24)),
        ("P1W", CalendarDuration(weeks=1)),
        ("P0D", CalendarDuration()),
        ("P1Y2M3DT4H5M6S", CalendarDuration(1, 2, 0, 3, 4, 5, 6)),
        ("PT5M", CalendarDuration(minutes=5)),
        ("  p3d ", CalendarDuration(days=3)),
        ('"P3D"', CalendarDuration(days=3)),
    ],
)
def test_parse_duration(text: str, expected: CalendarDuration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("P7X", "not a valid duration"),
        ("", "empty duration"),
        ("1M", "must start with P"),
        ("P", "no number"),
        ("PT", "T but no hours"),
        ("P1DT", "T but no hours"),
        ("P1M1Y", "not a valid duration"),
        ("P-1D", "not a valid duration"),
        ("PT1.5H", "only seconds may have a fraction"),
        ("P1234567890D", "too large"),
        ("P" + "1" * 300 + "D", "too long"),
    ],
)
def test_parse_duration_errors_are_readable(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert fragment in message
    assert repr(text)[:20] in message or "too long" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "text", ["P1M", "P1Y", "P1Y2M", "PT36H", "P1W", "P2W3D", "P0D", "P1DT12H30M", "PT0.5S", "PT0.00001S"]
)
def test_iso_round_trip(text: str) -> None:
    duration = parse_duration(text)
    assert duration.iso() == text
    assert parse_duration(duration.iso()) == duration
    assert str(duration) == text


def test_iso_is_canonical() -> None:
    assert parse_duration("p1y2m").iso() == "P1Y2M"
    assert parse_duration("PT0H").iso() == "P0D"
    assert CalendarDuration(hours=36).iso() == "PT36H"


# --- deadlines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P14D", CalendarDuration(days=14)),
        ('"P14D"', CalendarDuration(days=14)),
        ("'P14D'", CalendarDuration(days=14)),
        (" ' P14D ' ", CalendarDuration(days=14)),
        ("working_days(5)", WorkingDays(5)),
        ("working_days( 5 )", WorkingDays(5)),
        ("working_days (5)", WorkingDays(5)),
        ('"working_days(5)"', WorkingDays(5)),
        ("working_days(0)", WorkingDays(0)),
        ("working_days(3650)", WorkingDays(3650)),
    ],
)
def test_parse_deadline(text: str, expected: CalendarDuration | WorkingDays) -> None:
    assert parse_deadline(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "working_days(3651)",
        "working_days(-1)",
        "working_days(1.5)",
        "working_days()",
        "working_days(5",
        "'P14D\"",
    ],
)
def test_parse_deadline_errors(text: str) -> None:
    with pytest.raises(InvalidInput, match="working_days|duration"):
        parse_deadline(text)


def test_deadline_error_mentions_both_forms() -> None:
    with pytest.raises(InvalidInput, match=r"P14D.*working_days\(N\)"):
        parse_deadline("two weeks")


def test_working_days_text_round_trip() -> None:
    assert parse_deadline(WorkingDays(12).text()) == WorkingDays(12)


# --- due_after ----------------------------------------------------------------------------------


def test_due_after_calendar_duration_never_provisional() -> None:
    result = due_after(at(2026, 12, 20), parse_deadline("P1M"), WorkCalendar())
    assert result.at == at(2027, 1, 20)
    assert not result.provisional
    assert result.provisional_days == ()


def test_working_days_through_spring_festival_2026() -> None:
    # Friday 13 Feb; Sat 14 is a 调休 working day, 15–23 are holidays.
    result = due_after(at(2026, 2, 13, 17, 30), parse_deadline("working_days(5)"), WorkCalendar())
    assert result.at == at(2026, 2, 27, 17, 30)
    assert not result.provisional


def test_working_days_through_national_day_2026() -> None:
    # Oct 1–7 are holidays; Sat 10 Oct is a 调休 working day.
    result = due_after(at(2026, 9, 30, 10), parse_deadline("'working_days(3)'"), WorkCalendar())
    assert result.at == at(2026, 10, 10, 10)
    result = due_after(at(2026, 9, 24, 10), WorkingDays(5), WorkCalendar())
    # Sep 25 (Mid-autumn), weekend, then Sep 28, 29, 30, Oct 8, 9.
    assert result.at == at(2026, 10, 9, 10)


def test_working_days_into_2027_provisional_until_overridden() -> None:
    deadline = parse_deadline("working_days(5)")
    guessed = due_after(at(2026, 12, 28), deadline, WorkCalendar())
    assert guessed.provisional
    assert guessed.provisional_days[0] == date(2027, 1, 1)
    known = WorkCalendar({date(2027, 1, d): d >= 4 for d in range(1, 6)})
    confirmed = due_after(at(2026, 12, 28), deadline, known)
    assert confirmed.at == at(2027, 1, 5)
    assert not confirmed.provisional


def test_due_after_refuses_naive_start() -> None:
    with pytest.raises(ValueError):
        due_after(datetime(2026, 1, 1), WorkingDays(1), WorkCalendar())
    with pytest.raises(ValueError):
        due_after(datetime(2026, 1, 1), CalendarDuration(days=1), WorkCalendar())


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-01", datetime(2026, 7, 1, 0, 0, tzinfo=SHANGHAI)),
        ('"2026-07-01"', datetime(2026, 7, 1, 0, 0, tzinfo=SHANGHAI)),
        ("2026-07-01T09:00:00+08:00", datetime(2026, 7, 1, 9, 0, tzinfo=PLUS8)),
        ("2026-07-01T01:00:00Z", datetime(2026, 7, 1, 9, 0, tzinfo=PLUS8)),
        ("2026-07-01T09:00+08:00", datetime(2026, 7, 1, 9, 0, tzinfo=PLUS8)),
    ],
)
def test_parse_date(text: str, expected: datetime) -> None:
    value = parse_date(text)
    assert value == expected
    assert value.tzinfo is not None


def test_parse_date_plain_date_is_shanghai_midnight() -> None:
    value = parse_date("2026-07-01")
    assert value.tzinfo is SHANGHAI
    assert value.astimezone(UTC) == datetime(2026, 6, 30, 16, 0, tzinfo=UTC)


def test_parse_date_refuses_naive_with_hint() -> None:
    with pytest.raises(InvalidInput, match=r"no UTC offset.*\+08:00"):
        parse_date("2026-07-01T09:00:00")


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01", "2026-07-01T25:00+08:00"])
def test_parse_date_errors(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_date(text)


# --- cycles -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R3/P1W", Cycle(3, None, CalendarDuration(weeks=1))),
        ("R/P1M", Cycle(None, None, CalendarDuration(months=1))),
        (
            "R12/2026-01-01T09:00:00+08:00/P1M",
            Cycle(12, datetime(2026, 1, 1, 9, 0, tzinfo=PLUS8), CalendarDuration(months=1)),
        ),
        ('"R/PT12H"', Cycle(None, None, CalendarDuration(hours=12))),
        ("R2/2026-07-01/P1D", Cycle(2, datetime(2026, 7, 1, tzinfo=SHANGHAI), CalendarDuration(days=1))),
    ],
)
def test_parse_cycle(text: str, expected: Cycle) -> None:
    assert parse_cycle(text) == expected


@pytest.mark.parametrize("text", ["R3/P1W", "R/P1M", "R12/2026-01-01T09:00:00+08:00/P1M"])
def test_cycle_iso_round_trip(text: str) -> None:
    assert parse_cycle(text).iso() == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("P1W", "not a repeating interval"),
        ("R3", "not a repeating interval"),
        ("R0/P1D", "zero times"),
        ("Rx/P1D", "repetition count"),
        ("R/P0D", "zero period"),
        ("R3/P1W/2026-01-01T09:00:00+08:00", "must end with a duration"),
        ("R3/2026-01-01T09:00:00/P1D", "no UTC offset"),
        ("R3/P1X", "not a valid duration"),
    ],
)
def test_parse_cycle_errors(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        parse_cycle(text)


def test_cycle_occurrences_do_not_drift_at_month_end() -> None:
    cycle = parse_cycle("R4/2026-01-31T09:00:00+08:00/P1M")
    fired = [cycle.occurrence(k) for k in range(4)]
    assert [d.date() for d in fired] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    with pytest.raises(ValueError):
        cycle.occurrence(4)
    with pytest.raises(ValueError):
        parse_cycle("R/P1M").occurrence(1)
