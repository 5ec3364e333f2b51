"""Run a step's check rules in the sandbox and collect every failure with its Chinese message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import FieldError, SandboxError
from engine.model import CheckRule
from engine.sandbox import SandboxEnvironment


def run_checks(rules: list[CheckRule], names: Mapping[str, Any], sandbox: SandboxEnvironment) -> list[FieldError]:
    """Evaluate each rule against the data; a false or failing rule yields its message."""
    failures = []
    for rule in rules:
        try:
            passed = bool(sandbox.eval_expression(rule.rule, names))
        except SandboxError as error:
            failures.append(FieldError(f"{rule.message}（规则无法判断：{error.message}）", rule.field, rule.name))
            continue
        if not passed:
            failures.append(FieldError(rule.message, rule.field, rule.name))
    return failures
