"""Fixtures for procedure tests: a service on a SQLite file with the coal-mine organisation, virtual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.clock import VirtualClock
from engine.service import WorkflowService, open_service

PROCESSES = Path(__file__).parent.parent.parent / "processes"
COAL_MINE = Path(__file__).parent.parent.parent / "leanflow" / "demo" / "coal_mine.yaml"
# Monday 2026-03-02 09:00 Beijing time.
LIBRARY_START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def library_clock() -> VirtualClock:
    """A virtual clock at Monday 2026-03-02 09:00 Beijing time."""
    return VirtualClock(LIBRARY_START)


@pytest.fixture
def library(sqlite_url: str, library_clock: VirtualClock) -> Iterator[WorkflowService]:
    """A service with the coal-mine organisation (leanflow/demo/coal_mine.yaml) and nothing deployed."""
    service = open_service(sqlite_url, clock=library_clock)
    service.import_org(COAL_MINE.read_text(encoding="utf-8"), "coal_mine.yaml", actor="admin")
    yield service
    if service.db_engine is not None:
        service.db_engine.dispose()


@pytest.fixture
def deploy(library: WorkflowService) -> Callable[[str], None]:
    """Deploy processes/<process_id>.bpmn into the library service."""

    def _deploy(process_id: str) -> None:
        library.deploy_file(PROCESSES / f"{process_id}.bpmn", actor="zhoumin")

    return _deploy
