"""Timer and SLA expressions: ISO 8601 durations, dates and cycles, plus working_days(N).

Calendar parts (years, months, weeks, days) move the local wall clock, clamping to month end, so
2026-01-31 + P1M is 2026-02-28 and P1D keeps the time of day. Time parts (hours, minutes, seconds) are
elapsed time, so PT24H is always exactly 24 hours even in a zone with DST (Asia/Shanghai has none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from dateutil.relativedelta import relativedelta

from engine.errors import InvalidInput
from engine.workdays import SHANGHAI, WorkCalendar, WorkdayResult

MAX_WORKING_DAYS: Final = 3650
_MAX_TEXT: Final = 200  # longer than any sensible timer; keeps error messages and regex work bounded
_MAX_DIGITS: Final = 9
_MAX_FRACTION: Final = 9  # nanoseconds; datetime keeps microseconds anyway, and iso() can print it exactly

_DURATION_HINT: Final = "expected an ISO 8601 duration such as P14D, P1M, P1Y2M, P1W or PT24H"
_DEADLINE_HINT: Final = _DURATION_HINT + ", or working_days(N)"

_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION_RE: Final = re.compile(
    rf"P(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?(?P<t>T(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
_UNITS: Final = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
_LETTERS: Final = ("Y", "M", "W", "D", "H", "M", "S")
_WORKING_DAYS_RE: Final = re.compile(r"working_days\s*\(\s*(\d{1,9})\s*\)")


@dataclass(frozen=True)
class CalendarDuration:
    """An ISO 8601 duration kept as calendar parts (years, months, days...) so months clamp to month end."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0

    def __post_init__(self) -> None:
        for name in _UNITS:
            value = getattr(self, name)
            allowed = (int, float) if name == "seconds" else (int,)
            if isinstance(value, bool) or not isinstance(value, allowed):
                kind = "a number" if name == "seconds" else "an int"
                raise TypeError(f"{name} must be {kind}, not {value!r}")
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")

    def is_zero(self) -> bool:
        """Tell whether the duration adds nothing."""
        return all(getattr(self, name) == 0 for name in _UNITS)

    def add_to(self, start: datetime) -> datetime:
        """Return start plus this duration: calendar parts on the wall clock, time parts as elapsed time."""
        if not isinstance(start, datetime):
            raise TypeError(f"start must be a datetime, not {type(start).__name__}")
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"start {start.isoformat()} has no time zone; give an aware datetime")
        try:
            # relativedelta clamps the day to the target month's length (Jan 31 + 1 month = Feb 28/29).
            moved = start + relativedelta(
                years=self.years, months=self.months, weeks=self.weeks, days=self.days
            )
            elapsed = timedelta(hours=self.hours, minutes=self.minutes, seconds=self.seconds)
            # Going through UTC makes time parts elapsed time and repairs a wall time in a DST gap.
            return (moved.astimezone(UTC) + elapsed).astimezone(start.tzinfo)
        except (OverflowError, ValueError) as exc:
            raise ValueError(f"{start.isoformat()} + {self.iso()} is outside the supported dates") from exc

    def iso(self) -> str:
        """Return the canonical ISO 8601 text, e.g. "P1Y2M" or "PT36H"; parse_duration reads it back."""
        values = [getattr(self, name) for name in _UNITS]
        date_part = "".join(f"{_number(v)}{u}" for v, u in zip(values[:4], _LETTERS[:4], strict=True) if v)
        time_part = "".join(f"{_number(v)}{u}" for v, u in zip(values[4:], _LETTERS[4:], strict=True) if v)
        if not date_part and not time_part:
            return "P0D"
        return "P" + date_part + ("T" + time_part if time_part else "")

    def __str__(self) -> str:
        return self.iso()


@dataclass(frozen=True)
class WorkingDays:
    """n Chinese working days, written working_days(n) in a procedure."""

    n: int

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int):
            raise TypeError(f"n must be an int, not {self.n!r}")

    def add_to(self, start: datetime, calendar: WorkCalendar) -> WorkdayResult:
        """Return the moment n working days after start, by the calendar's counting rules."""
        return calendar.add_working_days(start, self.n)

    def text(self) -> str:
        """Return the procedure spelling, e.g. "working_days(5)"; parse_deadline reads it back."""
        return f"working_days({self.n})"

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class Cycle:
    """An ISO 8601 repeating interval R[n]/[start/]duration."""

    repetitions: int | None  # None = unbounded
    start: datetime | None
    period: CalendarDuration

    def occurrence(self, k: int) -> datetime:
        """Return the k-th firing (k=0 is start), computed from start so month ends do not drift.

        Jan 31 monthly gives Feb 28 then Mar 31, where adding P1M repeatedly would stick at the 28th.
        """
        if self.start is None:
            raise ValueError("this cycle has no start; occurrences count from when the timer starts waiting")
        if k < 0 or (self.repetitions is not None and k >= self.repetitions):
            raise ValueError(f"occurrence {k} is outside this cycle of {self.repetitions} repetitions")
        p = self.period
        scaled = CalendarDuration(
            years=p.years * k,
            months=p.months * k,
            weeks=p.weeks * k,
            days=p.days * k,
            hours=p.hours * k,
            minutes=p.minutes * k,
            seconds=p.seconds * k,
        )
        return scaled.add_to(self.start)

    def iso(self) -> str:
        """Return the canonical ISO 8601 text, e.g. "R3/P1W"; parse_cycle reads it back."""
        reps = "" if self.repetitions is None else str(self.repetitions)
        start = f"{self.start.isoformat()}/" if self.start is not None else ""
        return f"R{reps}/{start}{self.period.iso()}"


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        text = repr(value)
        # repr turns tiny values into 1e-05, which is not ISO 8601; parsing allows at most 9 decimals.
        return f"{value:.{_MAX_FRACTION}f}".rstrip("0") if "e" in text else text
    return str(int(value))


def _unquote(text: str) -> str:
    # Spiff timer expressions are Python, so procedures often carry "P14D"; Camunda-style ones carry P14D.
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].strip()
    return text


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text, not {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise InvalidInput(f"{what} {text[:40]!r}... is too long ({len(text)} characters)")
    return _unquote(text)


def _parse_duration(raw: str, inner: str, hint: str) -> CalendarDuration:
    if not inner:
        raise InvalidInput(f"empty duration {raw!r}: {hint}")
    text = inner.upper()
    if not text.startswith("P"):
        raise InvalidInput(f"duration {raw!r} must start with P: {hint}")
    match = _DURATION_RE.fullmatch(text)
    if match is None:
        raise InvalidInput(f"{raw!r} is not a valid duration: {hint}")
    groups = match.groups()
    t_part = groups[4]
    numbers = [g for i, g in enumerate(groups) if i != 4]
    if all(n is None for n in numbers):
        if t_part:
            raise InvalidInput(f"duration {raw!r} has a T but no hours, minutes or seconds after it: {hint}")
        raise InvalidInput(f"duration {raw!r} has no number in it: {hint}")
    if t_part == "T":
        raise InvalidInput(f"duration {raw!r} has a T but no hours, minutes or seconds after it: {hint}")
    parts: dict[str, float] = {}
    for name, value in zip(_UNITS, numbers, strict=True):
        if value is None:
            continue
        whole, _, fraction = value.replace(",", ".").partition(".")
        if len(whole) > _MAX_DIGITS:
            raise InvalidInput(f"duration {raw!r} has a number too large for a timer")
        if fraction and name != "seconds":
            raise InvalidInput(
                f"duration {raw!r}: only seconds may have a fraction; use a smaller unit (PT90M, not PT1.5H)"
            )
        if len(fraction) > _MAX_FRACTION:
            raise InvalidInput(f"duration {raw!r} has more than {_MAX_FRACTION} decimal places")
        parts[name] = float(f"{whole}.{fraction}") if fraction else int(whole)
        if name == "seconds" and isinstance(parts[name], float) and parts[name].is_integer():
            parts[name] = int(parts[name])
    return CalendarDuration(**parts)  # type: ignore[arg-type]


def parse_duration(text: str) -> CalendarDuration:
    """Read an ISO 8601 duration such as P1M, P1Y, P3D, PT24H, P1W or P0D (quotes and case ignored)."""
    inner = _check_text(text, "duration")
    return _parse_duration(text, inner, _DURATION_HINT)


def parse_deadline(text: str) -> CalendarDuration | WorkingDays:
    """Read what an SLA or duration timer may say: an ISO 8601 duration or working_days(N), N in 0..3650."""
    inner = _check_text(text, "deadline")
    if inner.lower().startswith("working_days"):
        match = _WORKING_DAYS_RE.fullmatch(inner.lower())
        if match is None or int(match.group(1)) > MAX_WORKING_DAYS:
            raise InvalidInput(
                f"bad deadline {text!r}: write working_days(N), N a whole number from 0 to {MAX_WORKING_DAYS}"
            )
        return WorkingDays(int(match.group(1)))
    return _parse_duration(text, inner, _DEADLINE_HINT)


def parse_date(text: str) -> datetime:
    """Read an ISO 8601 datetime with a UTC offset, or a plain date meaning 00:00 Asia/Shanghai that day."""
    inner = _check_text(text, "date")
    if not inner:
        raise InvalidInput(f"empty date {text!r}: expected e.g. 2026-07-01 or 2026-07-01T09:00:00+08:00")
    try:
        # A bare date is a whole day; the party's procedures all run on Beijing time.
        return datetime.combine(date.fromisoformat(inner), time(0), tzinfo=SHANGHAI)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(inner)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not an ISO 8601 date or datetime: expected 2026-07-01 or 2026-07-01T09:00+08:00"
        ) from None
    if value.tzinfo is None:
        raise InvalidInput(
            f"datetime {text!r} has no UTC offset; add one, e.g. {value.isoformat()}+08:00 for Beijing time"
        )
    return value


def parse_cycle(text: str) -> Cycle:
    """Read an ISO 8601 repeating interval: R3/P1W, R/P1M or R12/2026-01-01T09:00:00+08:00/P1M."""
    hint = "expected R[n]/[start/]duration, e.g. R3/P1W, R/P1M or R12/2026-01-01T09:00:00+08:00/P1M"
    inner = _check_text(text, "cycle")
    pieces = inner.split("/")
    if len(pieces) not in (2, 3) or not pieces[0].upper().startswith("R"):
        raise InvalidInput(f"{text!r} is not a repeating interval: {hint}")
    count = pieces[0][1:]
    repetitions: int | None = None
    if count:
        if not count.isascii() or not count.isdigit() or len(count) > _MAX_DIGITS:
            raise InvalidInput(f"cycle {text!r} has a bad repetition count {count!r}: {hint}")
        repetitions = int(count)
        if repetitions == 0:
            raise InvalidInput(f"cycle {text!r} repeats zero times; use R1 or more, or R for no limit")
    if pieces[-1].strip()[:1].upper() != "P":
        # ISO also allows start/end and duration/end forms; timers here need a period.
        raise InvalidInput(f"cycle {text!r} must end with a duration: {hint}")
    start: datetime | None = None
    if len(pieces) == 3:
        try:
            start = parse_date(pieces[1])
        except InvalidInput as exc:
            raise InvalidInput(f"cycle {text!r} has a bad start: {exc.message}") from None
    period = _parse_duration(pieces[-1], pieces[-1].strip(), _DURATION_HINT)
    if period.is_zero():
        raise InvalidInput(f"cycle {text!r} has a zero period and would fire forever at once")
    return Cycle(repetitions=repetitions, start=start, period=period)


def due_after(
    start: datetime, deadline: CalendarDuration | WorkingDays, calendar: WorkCalendar
) -> WorkdayResult:
    """Return when a deadline starting at start falls due; calendar durations are never provisional."""
    if isinstance(deadline, WorkingDays):
        return deadline.add_to(start, calendar)
    if isinstance(deadline, CalendarDuration):
        return WorkdayResult(at=deadline.add_to(start), provisional=False, provisional_days=())
    raise TypeError(f"deadline must be CalendarDuration or WorkingDays, not {type(deadline).__name__}")
