"""One database transaction with the repositories, the instant and the calendar it runs under."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from engine.history import NewEvent, hash_events, instance_chain
from engine.workdays import WorkCalendar
from storage.repositories import (
    CalendarRepository,
    ClockRepository,
    DefinitionRepository,
    HistoryRepository,
    InstanceRepository,
    OrgRepository,
    ScheduleRepository,
    TaskRepository,
)


@dataclass
class UnitOfWork:
    """Repositories over one session, plus the events collected for the history."""

    session: Session
    now: datetime
    calendar: WorkCalendar
    pending: dict[tuple[str, int | None], list[NewEvent]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.orgs = OrgRepository(self.session)
        self.definitions = DefinitionRepository(self.session)
        self.instances = InstanceRepository(self.session)
        self.tasks = TaskRepository(self.session)
        self.history = HistoryRepository(self.session)
        self.clock = ClockRepository(self.session)
        self.calendars = CalendarRepository(self.session)
        self.schedules = ScheduleRepository(self.session)

    def record(self, chain: str, instance_id: int | None, event: NewEvent) -> None:
        """Queue an event for its chain; written when the unit of work flushes."""
        self.pending.setdefault((chain, instance_id), []).append(event)

    def flush_history(self) -> None:
        """Append every queued event to its chain (inside the same transaction)."""
        for (chain, instance_id), events in self.pending.items():
            if instance_id is not None and chain == instance_chain(instance_id):
                rows, head = hash_events(chain, instance_id, events, self.history.instance_head(instance_id))
                self.history.insert(rows)
                self.history.set_instance_head(instance_id, head)
            else:
                old = self.history.head(chain)
                rows, head = hash_events(chain, instance_id, events, old)
                self.history.insert(rows)
                self.history.set_head(chain, head, old is not None)
        self.pending.clear()

    def take_instance_history(self, instance_id: int, head: tuple[int, str | None]) -> tuple[int, str]:
        """Write an instance's queued events onto a head the caller read; the caller saves the new head."""
        chain = instance_chain(instance_id)
        rows, new_head = hash_events(chain, instance_id, self.pending.pop((chain, instance_id), []), head)
        self.history.insert(rows)
        return new_head
