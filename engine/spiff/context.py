"""The time and calendar a Spiff operation runs under, passed to timer code through a context variable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from engine.workdays import WorkCalendar


@dataclass(frozen=True)
class RunContext:
    """The instant an engine operation happens at, and the working-day calendar it uses."""

    now: datetime
    calendar: WorkCalendar


_current: ContextVar[RunContext | None] = ContextVar("leanflow_run_context", default=None)


@contextmanager
def running_at(context: RunContext) -> Iterator[RunContext]:
    """Make every Spiff timer and timestamp inside the block read this context's time."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current() -> RunContext:
    """Return the active context; outside one, the system clock with the default calendar."""
    context = _current.get()
    if context is None:
        return RunContext(now=datetime.now(UTC), calendar=WorkCalendar())
    return context


def current_timestamp() -> float:
    """Seconds since the epoch at the current context's time (for Spiff's last_state_change)."""
    return current().now.timestamp()
