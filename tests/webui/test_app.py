"""The app as a whole: settings documented, secret key required, import boundaries, translations complete."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from tests.webui.conftest import AuthActions, text
from webui import create_app
from webui.settings import SETTINGS

WEBUI = Path(__file__).parent.parent.parent / "webui"
CATALOG = WEBUI / "translations" / "en" / "LC_MESSAGES"
FORBIDDEN = {"storage", "sqlalchemy", "SpiffWorkflow", "alembic", "leanflow"}


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (WEBUI / "README.md").read_text(encoding="utf-8")
    assert [s.name for s in SETTINGS if f"`{s.name}`" not in readme] == []


def test_the_app_refuses_to_run_without_a_secret_key(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


def test_webui_never_touches_storage_sql_or_spiffworkflow() -> None:
    offenders = {}
    for path in sorted(WEBUI.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        if names & FORBIDDEN:
            offenders[path.name] = sorted(names & FORBIDDEN)
    assert offenders == {}


def test_every_message_has_english_and_the_shipped_mo_matches_the_po() -> None:
    keywords = {"_": None, "_l": None, "gettext": None, "ngettext": (1, 2)}
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    found = {m[2] if isinstance(m[2], str) else m[2][0]
             for m in extract_from_dir(str(WEBUI), method_map, keywords=keywords)}
    with (CATALOG / "messages.po").open("rb") as handle:
        po = read_po(handle)
    with (CATALOG / "messages.mo").open("rb") as handle:
        mo = read_mo(handle)
    translated = {_key(m.id): _strings(m.string) for m in po if m.id}
    assert sorted(found - set(translated)) == []
    assert [k for k, v in translated.items() if not all(v)] == []
    assert {_key(m.id): _strings(m.string) for m in mo if m.id} == translated


def _key(msgid: str | tuple[str, ...] | list[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _strings(msgstr: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (msgstr,) if isinstance(msgstr, str) else tuple(msgstr)


def test_unknown_pages_get_a_chinese_not_found_page(client: FlaskClient, auth: AuthActions, app: Flask) -> None:
    auth.login("wangqiang")
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "未找到" in text(response)
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 8 * 3600
