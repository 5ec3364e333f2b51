"""Translations: Chinese is the source language (msgids are Chinese), English comes from a compiled catalog.

With Chinese msgids the templates read as the page does and zh_CN needs no catalog; translations/en holds the
English .po and the .mo compiled from it, both shipped in the package (tests/webui/test_i18n.py checks that
every message has an English translation and that the .mo matches the .po).
"""

from __future__ import annotations

from flask import Flask, current_app, session
from flask_babel import Babel, get_locale

LANGUAGES = {"zh_CN": "中文", "en": "English"}


def select_locale() -> str:
    """Return the person's chosen language, else the app's default."""
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    default = current_app.config["LANGUAGE"]
    return default if default in LANGUAGES else "zh_CN"


def is_chinese() -> bool:
    """Tell whether the page is shown in Chinese."""
    return str(get_locale()).startswith("zh")


def init_app(app: Flask) -> None:
    """Register Flask-Babel with the locale selector."""
    Babel(app, locale_selector=select_locale, default_timezone=app.config["TIMEZONE"])
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.add_template_global(get_locale)
