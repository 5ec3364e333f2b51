"""Flask-Login over engine accounts: the session keeps the person id and a stamp of their password.

A new password changes the stamp, so every session opened with the old one ends at its next request. Sessions
are permanent cookies signed with SECRET_KEY that expire PERMANENT_SESSION_LIFETIME after the last request.
"""

from __future__ import annotations

from typing import cast

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user

from engine.accounts import Principal
from webui.workflow import workflow


class User(UserMixin):
    """The logged-in person as Flask-Login sees them."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def get_id(self) -> str:
        """Return what the session keeps: the person id and their password stamp."""
        return f"{self.principal.id}:{self.principal.stamp}"


def load_user(session_id: str) -> User | None:
    """Return the session's person while their password (stamp) and account are unchanged."""
    person_id, _, stamp = session_id.partition(":")
    principal = workflow().principal(person_id)
    if principal is None or principal.stamp != stamp:
        return None
    return User(principal)


def me() -> Principal:
    """Return the logged-in person (views call this under login_required)."""
    return cast(User, current_user).principal


def init_app(app: Flask) -> None:
    """Register Flask-Login: where to log in, how to load the person."""
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = _l("请先登录。")
    manager.login_message_category = "info"
    manager.user_loader(load_user)
