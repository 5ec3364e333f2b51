"""Shared fixtures: a real SQLite file or a fresh PostgreSQL schema, a virtual clock, the test organisation."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.clock import VirtualClock
from engine.service import WorkflowService, open_service

FIXTURES = Path(__file__).parent / "fixtures"
DEMO = Path(__file__).parent.parent / "leanflow" / "demo"
POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _postgres_base() -> str:
    url = os.environ.get("LEANFLOW_TEST_POSTGRES_URL") or POSTGRES_DEFAULT
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as bad:  # any failure to reach the server
        message = f"PostgreSQL not reachable at {url}: {str(bad).splitlines()[0]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: a missing server is a failure)")
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The PostgreSQL server's URL; skips on a laptop without one, fails under CI."""
    return _postgres_base()


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema, dropped afterwards."""
    schema = "lf_" + uuid.uuid4().hex[:12]
    admin = create_engine(postgres_base_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in postgres_base_url else "?"
    yield f"{postgres_base_url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a new SQLite file."""
    return f"sqlite:///{tmp_path / 'leanflow.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock at Monday 2026-03-02 17:00 Beijing time."""
    return VirtualClock(START)


@pytest.fixture
def service(database_url: str, clock: VirtualClock) -> Iterator[WorkflowService]:
    """A service on a migrated database with the test organisation and the fixture procedures deployed."""
    svc = open_service(database_url, clock=clock)
    svc.import_org((DEMO / "org.yaml").read_text(encoding="utf-8"), "org.yaml", actor="zhao")
    svc.deploy_file(DEMO / "branch_meeting.bpmn", actor="zhao")
    svc.deploy_file(FIXTURES / "rework_loop.bpmn", actor="zhao")
    yield svc
    if svc.db_engine is not None:
        svc.db_engine.dispose()
