"""Login, logout, CSRF, sessions that expire and end with a new password, language choice."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner

from engine.service import WorkflowService
from tests.webui.conftest import PASSWORD, AuthActions, TaskActions, csrf, soup, text


def test_pages_need_a_login(client: FlaskClient) -> None:
    for path in ("/inbox/", "/tasks/1", "/instances/1", "/library/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/").headers["Location"] == "/inbox/"


def test_login_and_logout(client: FlaskClient, auth: AuthActions) -> None:
    response = auth.login("wangqiang")
    assert response.status_code == 302 and response.headers["Location"] == "/inbox/"
    page = client.get("/inbox/")
    assert page.status_code == 200 and "王强" in text(page)
    cookie = page.headers.get("Set-Cookie", "") or response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Expires=" in cookie and "SameSite=Lax" in cookie
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/inbox/").status_code == 302


def test_wrong_password_or_unknown_person_is_refused_alike(client: FlaskClient, auth: AuthActions) -> None:
    for person, password in (("wangqiang", "not-the-password"), ("nobody", PASSWORD), ("liming", "")):
        response = auth.login(person, password)
        assert response.status_code == 401
        assert "账号或密码不正确" in text(response)
    assert auth.login("qianyong", PASSWORD).status_code == 401  # no password set for this person
    assert client.get("/inbox/").status_code == 302


def test_login_goes_on_to_a_local_page_only(client: FlaskClient) -> None:
    token = csrf(client.get("/login"))
    form = {"person_id": "wangqiang", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data={**form, "next": "/instances/"}).headers["Location"] == "/instances/"
    client.post("/logout", data={"csrf_token": csrf(client.get("/inbox/"))})
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example/x", "javascript:alert(1)"):
        token = csrf(client.get("/login"))
        response = client.post("/login", data={**form, "csrf_token": token, "next": evil})
        assert response.headers["Location"] == "/inbox/"


def test_posts_without_a_csrf_token_are_rejected(client: FlaskClient, auth: AuthActions,
                                                 service: WorkflowService) -> None:
    response = client.post("/login", data={"person_id": "wangqiang", "password": PASSWORD})
    assert response.status_code == 400 and "安全令牌" in text(response)
    auth.login("wangqiang")
    [entry] = service.inbox_as("wangqiang")
    for path in (f"/tasks/{entry.task.id}/claim", f"/tasks/{entry.task.id}", "/logout", "/library/lint"):
        assert client.post(path, data={"agenda": "x"}).status_code == 400
        assert client.post(path, data={"agenda": "x", "csrf_token": "forged"}).status_code == 400
    assert service.task(entry.task.id).state == "ready"
    assert client.get("/inbox/").status_code == 200  # still logged in


def test_sessions_expire_after_the_lifetime(client: FlaskClient, auth: AuthActions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    auth.login("wangqiang")
    assert client.get("/inbox/").status_code == 200
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) - 9 * 3600)
    auth.login("wangqiang")  # a session cookie signed nine hours ago
    monkeypatch.undo()
    response = client.get("/inbox/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_new_password_ends_open_sessions(client: FlaskClient, auth: AuthActions, service: WorkflowService) -> None:
    auth.login("wangqiang")
    assert client.get("/inbox/").status_code == 200
    service.set_password("wangqiang", "a brand new password", actor="admin")
    assert client.get("/inbox/").status_code == 302
    assert auth.login("wangqiang", "a brand new password").status_code == 302


def test_language_switch_to_english_and_back(client: FlaskClient, auth: AuthActions, actions: TaskActions,
                                             app: Flask) -> None:
    auth.login("wangqiang")
    actions.post("/language", {"language": "en", "next": "/inbox/"})
    page = client.get("/inbox/")
    assert soup(page).html["lang"] == "en"  # type: ignore[index]
    assert "My tasks" in text(page) and "due in 3 days" in text(page) and "Branch secretary" in text(page)
    actions.post("/language", {"language": "zh_CN"})
    assert "3 天后到期" in text(client.get("/inbox/"))
    assert app.config["LANGUAGE"] == "zh_CN"  # the default for a new session
