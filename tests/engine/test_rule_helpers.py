"""Tests for the helper functions check rules, conditions and scripts may call."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from engine.errors import SandboxError
from engine.rule_helpers import make_helpers
from engine.sandbox import SandboxEnvironment
from engine.workdays import SHANGHAI, WorkCalendar

CALENDAR = WorkCalendar()
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 on Monday 2026-03-02 in Shanghai
PEOPLE: dict[str, dict[str, Any]] = {
    "zhang": {"id": "zhang", "name": "张书记", "membership": "full", "attributes": {"birthday": "1980-05-04"}},
    "li": {"id": "li", "name": "李委员", "membership": "probationary", "attributes": {}},
}


def lookup(person_id: str) -> dict[str, Any] | None:
    return PEOPLE.get(person_id)


def helpers(now: datetime = NOW, person: Any = lookup) -> dict[str, Any]:
    return make_helpers(now, CALENDAR, person)


H = helpers()


def test_the_helper_names() -> None:
    assert set(H) == {"today", "age", "years_between", "months_between", "days_between", "add_months",
                      "add_days", "working_days_between", "person", "people", "unit", "holders", "roles_of",
                      "is_workday", "add_working_days"}


# -- today and time zones ----------------------------------------------------------------------------------


def test_today_is_the_shanghai_date_of_now() -> None:
    assert helpers(datetime(2026, 3, 1, 17, 0, tzinfo=UTC))["today"]() == "2026-03-02"
    assert helpers(datetime(2026, 3, 1, 15, 59, tzinfo=UTC))["today"]() == "2026-03-01"
    assert helpers(datetime(2026, 3, 1, 23, 59, tzinfo=SHANGHAI))["today"]() == "2026-03-01"
    new_york = timezone(timedelta(hours=-5))
    assert helpers(datetime(2026, 3, 1, 12, 0, tzinfo=new_york))["today"]() == "2026-03-02"


def test_today_follows_the_now_passed_in_not_the_wall_clock() -> None:
    assert helpers(datetime(2030, 12, 31, 16, 0, tzinfo=UTC))["today"]() == "2031-01-01"
    assert helpers(datetime(2001, 1, 1, tzinfo=SHANGHAI))["today"]() == "2001-01-01"


def test_defaults_to_today_use_the_shanghai_date() -> None:
    late = helpers(datetime(2026, 3, 1, 17, 0, tzinfo=UTC))  # already 2026-03-02 in Shanghai
    assert late["days_between"]("2026-03-01") == 1
    assert late["age"]("2008-03-02") == 18


def test_datetimes_count_by_their_shanghai_date() -> None:
    instant = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 2026-03-02 01:00 in Shanghai
    assert H["days_between"](instant, "2026-03-02") == 0
    # The same instant stored as text (a datetime form field) counts the same way.
    assert H["days_between"]("2026-03-01T17:00:00+00:00", "2026-03-02") == 0
    assert H["days_between"]("2026-03-02T01:00:00+08:00", "2026-03-02") == 0
    assert H["days_between"]("2026-03-01T09:00", "2026-03-02") == 1  # no offset: the wall date as written


# -- ages and years ----------------------------------------------------------------------------------------


def test_age_the_day_before_the_18th_birthday_is_17() -> None:
    birthday = "2008-03-02"
    assert H["age"](birthday, "2026-03-01") == 17
    assert H["age"](birthday, "2026-03-02") == 18
    assert helpers(datetime(2026, 2, 28, 16, 0, tzinfo=UTC))["age"](birthday) == 17  # 2026-03-01 in Shanghai
    assert helpers(datetime(2026, 3, 1, 16, 0, tzinfo=UTC))["age"](birthday) == 18  # 2026-03-02 in Shanghai


def test_years_between_accepts_dates_datetimes_and_text() -> None:
    assert H["years_between"](date(2020, 7, 1), date(2026, 6, 30)) == 5
    assert H["years_between"]("2020-07-01", datetime(2026, 7, 1, 0, 0, tzinfo=SHANGHAI)) == 6
    assert H["years_between"]("2020-07-01T00:00:00+08:00", "2026-07-01") == 6
    assert H["age"]("1980-05-04") == 45
    assert H["years_between"]("2027-01-01") == 0  # future start: not negative whole years yet


def test_bad_dates_raise_value_error() -> None:
    with pytest.raises(ValueError):
        H["age"]("not a date")
    with pytest.raises(ValueError):
        H["days_between"]("2026-02-30", "2026-03-01")


# -- months and days ---------------------------------------------------------------------------------------


def test_months_between() -> None:
    mb = H["months_between"]
    assert mb("2025-03-02", "2026-03-02") == 12
    assert mb("2025-03-02", "2026-03-01") == 11
    assert mb("2026-01-15", "2026-02-14") == 0
    assert mb("2026-01-15", "2026-02-15") == 1
    assert mb("2024-01-01") == 26  # to today (2026-03-02)
    assert mb("2026-03-02", "2026-01-02") == -2


def test_add_months_clamps_to_the_month_end() -> None:
    am = H["add_months"]
    assert am("2026-01-31", 1) == "2026-02-28"
    assert am("2028-01-31", 1) == "2028-02-29"  # leap year
    assert am("2026-01-31", 2) == "2026-03-31"  # counted from the start, not from Feb 28
    assert am("2026-03-31", -1) == "2026-02-28"
    assert am("2025-03-01", 12) == "2026-03-01"
    assert am(date(2026, 8, 31), "1") == "2026-09-30"  # months given as text from a form still works


def test_months_between_inverts_add_months() -> None:
    for start in ("2026-01-31", "2026-01-15", "2025-12-31"):
        for n in (1, 2, 6, 12):
            assert H["months_between"](start, H["add_months"](start, n)) == n


def test_add_days_and_days_between() -> None:
    assert H["add_days"]("2026-02-27", 2) == "2026-03-01"
    assert H["add_days"]("2026-03-01", -1) == "2026-02-28"
    assert H["days_between"]("2026-02-27", "2026-03-01") == 2
    assert H["days_between"]("2026-03-01") == 1


# -- working days ------------------------------------------------------------------------------------------


def test_working_days_between_across_national_day_2026() -> None:
    wdb = H["working_days_between"]
    # Holiday 1-7 October (Thursday to Wednesday); Saturday 10 October is a make-up working day.
    assert wdb("2026-09-30", "2026-10-07") == 0
    assert wdb("2026-09-30", "2026-10-08") == 1
    assert wdb("2026-09-30", "2026-10-10") == 3  # 8, 9 and the make-up Saturday 10
    assert wdb("2026-09-30", "2026-10-11") == 3  # Sunday 11 is a rest day
    assert wdb("2026-09-28", "2026-10-12") == 6  # 29, 30, 8, 9, 10, 12
    assert wdb("2026-10-12", "2026-09-28") == -6


def test_working_days_between_an_ordinary_week_and_to_today() -> None:
    assert H["working_days_between"]("2026-03-02", "2026-03-09") == 5
    # Friday 27 Feb -> Monday 2 Mar (today): Saturday 28 Feb is a Spring Festival make-up working day.
    assert H["working_days_between"]("2026-02-27") == 2
    assert H["working_days_between"]("2026-03-06", "2026-03-09") == 1  # an ordinary weekend counts nothing


# -- people ------------------------------------------------------------------------------------------------


def test_person_looks_up_a_public_record() -> None:
    assert H["person"]("zhang") == PEOPLE["zhang"]
    assert H["person"]("zhang")["name"] == "张书记"
    assert H["person"]("nobody") == {}
    assert H["person"](None) == {}
    assert H["person"](42) == {}


def test_person_returns_a_copy_so_rules_cannot_change_the_source() -> None:
    record = H["person"]("li")
    record["membership"] = "full"
    assert PEOPLE["li"]["membership"] == "probationary"


def test_people_looks_up_several() -> None:
    assert H["people"](["zhang", "ghost", "li"]) == [PEOPLE["zhang"], {}, PEOPLE["li"]]
    assert H["people"]([]) == [] and H["people"](None) == []


def test_without_a_lookup_everyone_is_unknown() -> None:
    plain = make_helpers(NOW, CALENDAR)
    assert plain["person"]("zhang") == {}
    assert plain["people"](["zhang"]) == [{}]


# -- the helpers inside the sandbox ------------------------------------------------------------------------


def test_helpers_work_from_sandboxed_expressions() -> None:
    sandbox = SandboxEnvironment(H)
    assert sandbox.eval_expression("age(birthday) >= 18", {"birthday": "2008-03-02"}) is True
    assert sandbox.eval_expression("age(birthday) >= 18", {"birthday": "2008-03-03"}) is False
    assert sandbox.eval_expression("person(p)['name']", {"p": "zhang"}) == "张书记"
    assert sandbox.eval_expression("person(p).get('membership') == 'full'", {"p": "li"}) is False
    assert sandbox.eval_expression("[x['name'] for x in people(ids)]", {"ids": ["li", "zhang"]}) == ["李委员",
                                                                                                    "张书记"]
    assert sandbox.eval_expression("working_days_between('2026-09-30', '2026-10-10')", {}) == 3
    assert sandbox.eval_expression("today()", {}) == "2026-03-02"


def test_a_helper_failing_in_the_sandbox_becomes_a_sandbox_error() -> None:
    with pytest.raises(SandboxError, match="ValueError"):
        SandboxEnvironment(H).eval_expression("age(birthday)", {"birthday": "昨天"})


def test_working_day_helpers_know_the_holidays() -> None:
    assert H["is_workday"]("2026-10-08") is True and H["is_workday"]("2026-10-01") is False
    assert H["is_workday"]("2026-10-10") is True  # the make-up Saturday
    # A 5-working-day notice published Monday 2026-09-28, counting the day it is published, ends 2026-10-09.
    assert H["add_working_days"]("2026-09-28", 4) == "2026-10-09"
    assert H["add_working_days"]("2026-09-30", 1) == "2026-10-08"
