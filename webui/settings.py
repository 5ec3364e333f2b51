"""The web UI's settings, declared once as data (name, default, help); webui/README.md lists each one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask


@dataclass(frozen=True)
class Setting:
    """One setting of the web UI."""

    name: str
    default: Any
    help: str


SETTINGS = (
    Setting("DATABASE_URL", "sqlite:///leanflow.db", "Database URL: a SQLite file or postgresql+psycopg://..."),
    Setting("MIGRATE", True, "Create or upgrade the schema when the app starts."),
    Setting("SECRET_KEY", None, "Signs the session cookie, CSRF tokens and upload tokens; required unless TESTING."),
    Setting("PERMANENT_SESSION_LIFETIME", timedelta(hours=8),
            "How long a login lasts without a request; each request starts the period again."),
    Setting("SESSION_COOKIE_SECURE", False, "Send the session cookie over HTTPS only (turn on behind TLS)."),
    Setting("SESSION_COOKIE_SAMESITE", "Lax", "SameSite attribute of the session cookie."),
    Setting("WTF_CSRF_TIME_LIMIT", None, "Seconds a CSRF token lasts; None ties it to the session."),
    Setting("LANGUAGE", "zh_CN", "Default language: zh_CN or en (each person can switch)."),
    Setting("TIMEZONE", "Asia/Shanghai", "Time zone dates are shown in and date-times are entered in."),
    Setting("MAX_CONTENT_LENGTH", 16 * 1024 * 1024, "Largest request body in bytes (uploads included)."),
    Setting("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, "Largest attachment a form field accepts, in bytes."),
    Setting("UPLOAD_FOLDER", None, "Where attachments and staged BPMN uploads are kept; default instance/files."),
)


def init_app(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Apply the defaults, then the caller's overrides; refuse to run without a secret key outside tests."""
    for setting in SETTINGS:
        app.config[setting.name] = setting.default
    app.config.update(overrides or {})
    if not app.config["SECRET_KEY"]:
        if not app.config.get("TESTING"):
            raise RuntimeError("set SECRET_KEY: it signs sessions and CSRF tokens (e.g. python -c "
                               "'import secrets; print(secrets.token_hex(32))')")
        app.config["SECRET_KEY"] = "testing-only-secret"
    if app.config["UPLOAD_FOLDER"] is None:
        app.config["UPLOAD_FOLDER"] = f"{app.instance_path}/files"
