"""Log in with a person id and password, log out, choose the language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from webui.i18n import LANGUAGES
from webui.login import User
from webui.workflow import workflow

bp = Blueprint("auth", __name__)


def safe_next(target: str | None, default: str) -> str:
    """Return a local path to go on to, never another site."""
    if not target:
        return default
    parts = urlsplit(target)
    # Browsers read "/\host" as "//host", so a backslash anywhere is refused along with schemes and hosts.
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Show the login form; on a right password start a session that expires."""
    if request.method == "GET":
        return render_template("auth/login.html", person_id="", next=request.args.get("next", ""))
    person_id = request.form.get("person_id", "").strip()
    principal = workflow().authenticate(person_id, request.form.get("password", ""))
    if principal is None:
        error = _("账号或密码不正确。")
        return render_template("auth/login.html", person_id=person_id, next=request.form.get("next", ""),
                               error=error), 401
    language = session.get("language")
    session.clear()  # a fresh session for the new login
    if language:
        session["language"] = language
    session.permanent = True
    login_user(User(principal))
    return redirect(safe_next(request.form.get("next"), url_for("inbox.index")))


@bp.post("/logout")
def logout() -> Response:
    """End the session."""
    logout_user()
    session.clear()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> Response:
    """Switch the page language for this session."""
    chosen = request.form.get("language", "")
    if chosen in LANGUAGES:
        session["language"] = chosen
    return redirect(safe_next(request.form.get("next"), url_for("inbox.index")))
