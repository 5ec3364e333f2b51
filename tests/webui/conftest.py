"""Web UI fixtures: the real app over a real SQLite file, a logged-in client, and helpers to act as a person.

The coal-mine organisation with the procedure library and a few running cases is built once per session
(datasette's immutable expensive setup) and copied for each test, so each test starts from the same file.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine.service import WorkflowService, open_service
from webui import create_app
from webui.workflow import close

ROOT = Path(__file__).parent.parent.parent
DEMO = ROOT / "leanflow" / "demo"
PROCESSES = ROOT / "processes"
START = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # Monday morning, Beijing time
PASSWORD = "leanflow-test-pw"
LOGINS = ("wangqiang", "liming", "zhangwei", "sungang", "majun", "liujianguo", "zhoumin", "heping", "admin",
          "shenyu")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the organisation, passwords, the library and three running cases."""
    path = tmp_path_factory.mktemp("template") / "leanflow.db"
    service = open_service(f"sqlite:///{path}")
    service.import_org((DEMO / "coal_mine.yaml").read_text(encoding="utf-8"), "coal_mine.yaml", actor="admin")
    service.set_clock(START, actor="admin")
    for bpmn in [DEMO / "branch_meeting.bpmn", *sorted(PROCESSES.glob("*.bpmn"))]:
        service.deploy_file(bpmn, actor="zhoumin")
    for person in LOGINS:
        service.set_password(person, PASSWORD, actor="admin")
    service.start("branch_meeting", org_unit_id="zongcai1", actor="zhoumin", title="综采一队三月党员大会")
    service.start("branch_meeting", org_unit_id="juejin2", actor="zhoumin", title="掘进二队三月党员大会")
    service.start("member_development", org_unit_id="zongcai1", data={"applicant": "shenyu"}, actor="zhoumin")
    assert service.db_engine is not None
    service.db_engine.dispose()
    return path


@pytest.fixture
def app(template_db: Path, tmp_path: Path) -> Iterator[Flask]:
    """The real app on a fresh copy of the template database."""
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{template_db}{suffix}").exists():
            shutil.copy(f"{template_db}{suffix}", tmp_path / f"leanflow.db{suffix}")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": f"sqlite:///{tmp_path}/leanflow.db",
                      "UPLOAD_FOLDER": str(tmp_path / "files")})
    yield app
    close(app)


@pytest.fixture
def service(app: Flask) -> WorkflowService:
    """The app's engine service, to arrange and inspect state directly."""
    return app.extensions["leanflow"]  # type: ignore[no-any-return]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser without a session."""
    return app.test_client()


def soup(response: TestResponse) -> BeautifulSoup:
    """Parse a response's HTML."""
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text(response: TestResponse) -> str:
    """The visible text of a page, whitespace collapsed."""
    return re.sub(r"\s+", " ", soup(response).get_text(" "))


def csrf(response: TestResponse) -> str:
    """The CSRF token a page carries."""
    meta = soup(response).find("meta", attrs={"name": "csrf-token"})
    assert meta is not None, "page has no CSRF token"
    return str(meta["content"])


class AuthActions:
    """Log in and out as a person, through the login form, with its CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, person_id: str = "wangqiang", password: str = PASSWORD) -> TestResponse:
        """Post the login form."""
        token = csrf(self.client.get("/login"))
        return self.client.post("/login", data={"person_id": person_id, "password": password, "csrf_token": token})

    def logout(self) -> TestResponse:
        """Post the logout button of the inbox page."""
        token = csrf(self.client.get("/inbox/"))
        return self.client.post("/logout", data={"csrf_token": token})


class TaskActions:
    """Open a task page and submit its form the way a browser does."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def submit(self, task_id: int, data: dict[str, Any]) -> TestResponse:
        """Post the task's form with the page's CSRF token."""
        token = csrf(self.client.get(f"/tasks/{task_id}"))
        return self.client.post(f"/tasks/{task_id}", data={**data, "csrf_token": token},
                                content_type="multipart/form-data")

    def post(self, path: str, data: dict[str, Any] | None = None, page: str = "/inbox/") -> TestResponse:
        """Post to any action with a token taken from a page."""
        token = csrf(self.client.get(page))
        return self.client.post(path, data={**(data or {}), "csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    """Log the client in and out."""
    return AuthActions(client)


@pytest.fixture
def actions(client: FlaskClient) -> TaskActions:
    """Act on tasks as the logged-in person."""
    return TaskActions(client)
