"""The dependency rule, checked: webui and the CLI call engine, engine calls storage, never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

FORBIDDEN = {
    "storage": {"SpiffWorkflow", "engine", "webui", "leanflow", "flask"},
    "engine": {"webui", "leanflow", "flask"},
}
# Only the adapter package and the sandbox may touch SpiffWorkflow.
SPIFF_ALLOWED = ("engine/spiff/", "engine/sandbox.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_the_rule(package: str) -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & FORBIDDEN[package]) for p in _files(package)}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_spiffworkflow_stays_behind_the_adapter() -> None:
    users = [str(p.relative_to(ROOT)) for p in _files("engine") if "SpiffWorkflow" in _imports(p)]
    assert users and all(u.startswith(SPIFF_ALLOWED) for u in users), users


def test_engine_never_reads_the_environment() -> None:
    readers = [str(p.relative_to(ROOT)) for p in _files("engine") + _files("storage")
               if "os.environ" in p.read_text(encoding="utf-8") or "getenv" in p.read_text(encoding="utf-8")]
    assert readers == []
